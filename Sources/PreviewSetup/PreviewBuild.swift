import Common
import Foundation

/// Where the running `chapter` binary was built, which the preview rebuilds in place.
public struct PreviewBuild: Sendable {
  public var packageRoot: String
  public var scratchPath: String
  public var configuration: String
  /// Whether this binary has the Swift runtime linked in rather than loaded.
  public var staticSwiftStdlib: Bool
  public var swift: String

  /// Reads the package from the chapter file's compiled-in path (`…/Chapters/X.md`), and
  /// the build folder from this executable's path (`SCRATCH[/TRIPLE]/CONFIGURATION/chapter`).
  /// The toolchain is `$SWIFT`, else `swift` on the `PATH`, else `/opt/swift/usr/bin/swift`.
  /// - Throws: `PreviewError` when one of them is missing.
  public static func locate(chapterFile: String) throws -> PreviewBuild {
    let fm = FileManager.default
    let root = URL(fileURLWithPath: chapterFile).deletingLastPathComponent()
      .deletingLastPathComponent().path
    guard fm.fileExists(atPath: root + "/Package.swift"), fm.fileExists(atPath: root + "/Chapters")
    else {
      throw PreviewError(
        "this binary was built from \(root), which has no Package.swift and Chapters/ any more; "
          + "build the package again where it is now")
    }
    guard let executable = resolvedPath("/proc/self/exe") ?? Bundle.main.executablePath
    else { throw PreviewError("cannot tell where this executable lies") }
    let configurationFolder = URL(fileURLWithPath: executable).deletingLastPathComponent()
    let configuration = configurationFolder.lastPathComponent
    var scratch = configurationFolder.deletingLastPathComponent()
    // SwiftPM builds into SCRATCH/TRIPLE/CONFIGURATION and links SCRATCH/CONFIGURATION to it.
    if !fm.fileExists(atPath: scratch.appendingPathComponent("workspace-state.json").path) {
      scratch = scratch.deletingLastPathComponent()
    }
    guard ["debug", "release"].contains(configuration),
      fm.fileExists(atPath: scratch.appendingPathComponent("workspace-state.json").path)
    else {
      throw PreviewError(
        "chapter preview rebuilds the binary it runs from, but \(executable) is not in a "
          + "SwiftPM build folder; run it as .build/release/chapter (after `make build`)")
    }
    guard let swift = findSwift() else {
      throw PreviewError(
        "chapter preview needs the Swift toolchain to rebuild the chapters: set SWIFT, or put "
          + "swift on the PATH")
    }
    return PreviewBuild(
      packageRoot: root, scratchPath: scratch.path, configuration: configuration,
      staticSwiftStdlib: !isSwiftRuntimeShared(), swift: swift)
  }

  /// Whether the Swift runtime was loaded as a shared library: not so when the binary was
  /// linked with `--static-swift-stdlib`. Asks the loader without loading anything.
  static func isSwiftRuntimeShared() -> Bool {
    #if os(Linux)
      guard let handle = dlopen("libswiftCore.so", RTLD_NOLOAD | RTLD_LAZY) else { return false }
      dlclose(handle)
      return true
    #else
      return true
    #endif
  }

  static func findSwift() -> String? {
    let environment = ProcessInfo.processInfo.environment
    if let swift = environment["SWIFT"], !swift.isEmpty {
      return swift.contains("/") ? swift : search(swift, in: environment["PATH"] ?? "")
    }
    if let found = search("swift", in: environment["PATH"] ?? "") { return found }
    let fallback = "/opt/swift/usr/bin/swift"
    return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
  }

  static func search(_ name: String, in path: String) -> String? {
    for folder in path.split(separator: ":") {
      let candidate = folder + "/" + name
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }
}
