import Foundation
import PackagePlugin

/// Gives the target that uses it `engineSourceFingerprint`: a hash of the sources of every
/// module that decides a training's numbers (the engine and its C kernels, the data loader,
/// and the target itself, which holds `trainCh6`). The training cache keys on it, so that a
/// change to a kernel invalidates the trainings it computed, while a change to a chapter's
/// prose, or to the report code, does not (the built binary's hash would change for both:
/// the chapters are compiled into it).
@main
struct EngineIdentity: BuildToolPlugin {
  /// The modules whose sources make the fingerprint, besides the target's own.
  /// (The math library's version and kernel set are read at run time: `CachedTraining`.)
  static let modules = ["Engine", "CMachinePeak", "CDirectConvolution", "Datasets"]

  func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
    let targets = context.package.targets.filter {
      Self.modules.contains($0.name) || $0.name == target.name
    }
    var sources: [URL] = []
    for case let module as SourceModuleTarget in targets {
      sources += module.sourceFiles.map(\.url)
    }
    sources = sources.filter { ["swift", "c", "h"].contains($0.pathExtension) }.sorted { $0.path(percentEncoded: false) < $1.path(percentEncoded: false) }
    let output = context.pluginWorkDirectoryURL.appending(path: "EngineSourceFingerprint.swift")
    var root = context.package.directoryURL.path(percentEncoded: false)
    if !root.hasSuffix("/") { root += "/" }
    return [
      .buildCommand(
        displayName: "Fingerprinting the engine's \(sources.count) source files",
        executable: try context.tool(named: "SourceFingerprint").url,
        arguments: [
          "--output", output.path(percentEncoded: false), "--name", "engineSourceFingerprint",
          "--root", root,
        ] + sources.map { $0.path(percentEncoded: false) },
        inputFiles: sources,
        outputFiles: [output])
    ]
  }
}
