import Foundation
import PackagePlugin

/// Tangles the package's `Chapters/N.M-slug.md` files (or, when the target's own folder has
/// such files, those) into Swift for the target that uses this plugin: one `<slug>.swift`
/// per chapter plus `AllSections.swift`, which also carries `index.md` (the chapter's own page)
/// when the folder has one.
///
/// One command handles every chapter, so `AllSections.swift` always lists exactly the
/// chapters there are; the `.md` files are its inputs, so editing one reruns it, and the
/// Tangler rewrites only files whose content changed.
@main
struct Tangle: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
    // The target's own chapters when its folder has any (the trap probe's fixture, which
    // the tests run), else the package's `Chapters/`.
    func chapterFiles(in dir: URL) -> [String] {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path(percentEncoded: false))) ?? []
      // The plugin cannot use ChapterFormat (plugins depend only on tools), so it repeats
      // SectionFileName's rule: N.M-slug.md.
      return names.filter(isSectionFile).sorted()
    }
    let packageChapters = context.package.directoryURL.appending(path: "Chapters")
    let ownDir = (target as? SwiftSourceModuleTarget)?.directoryURL
    let chaptersDir = ownDir.map { chapterFiles(in: $0).isEmpty ? packageChapters : $0 }
      ?? packageChapters
    let chapters = chapterFiles(in: chaptersDir)
    let index = chaptersDir.appending(path: "index.md")
    let hasIndex = FileManager.default.fileExists(atPath: index.path(percentEncoded: false))
    let indexArguments = hasIndex ? ["--index", index.path(percentEncoded: false)] : []
    let inputs = chapters.map { chaptersDir.appending(path: $0) } + (hasIndex ? [index] : [])
    let outputDir = context.pluginWorkDirectoryURL.appending(path: "Generated")
    let outputs =
      chapters.map { outputDir.appending(path: String($0.dropLast(3)) + ".swift") }
      + [outputDir.appending(path: "AllSections.swift")]
    return [
      .buildCommand(
        displayName: "Tangling \(chapters.count) chapter(s) into Swift",
        executable: try context.tool(named: "Tangler").url,
        arguments: ["--output-dir", outputDir.path(percentEncoded: false)] + indexArguments
          + chapters.map { chaptersDir.appending(path: $0).path(percentEncoded: false) },
        inputFiles: inputs,
        outputFiles: outputs)
    ]
  }

  /// `N.M-slug.md`: digits with at least one dot, a dash, then letters, digits, `-`, `_`.
  func isSectionFile(_ name: String) -> Bool {
    guard name.hasSuffix(".md"), let dash = name.firstIndex(of: "-") else { return false }
    let number = name[..<dash].split(separator: ".", omittingEmptySubsequences: false)
    let title = name[name.index(after: dash)...].dropLast(3)
    return number.count >= 2
      && number.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
      && !title.isEmpty
      && title.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
  }
}
