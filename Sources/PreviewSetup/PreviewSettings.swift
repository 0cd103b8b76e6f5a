import Foundation

/// What `chapter preview` builds, runs and serves.
public struct PreviewSettings: Codable, Sendable {
  /// The package's folder (Package.swift, Chapters/).
  public var packageRoot: String
  /// The section as `chapter run` takes it (7.5, a slug or a path).
  public var section: String
  /// The section's number and title, for the page's heading.
  public var title: String
  /// The report's file name in the output folder (`7.5-batch-norm.html`).
  public var reportName: String
  /// What follows `chapter run SECTION` (profile, --set, --variant, seed, threads, output).
  public var runArguments: [String]
  /// The Swift toolchain's `swift`, and where and how the running binary was built: the
  /// rebuild uses the same scratch folder and configuration, so it only recompiles what a
  /// save changed.
  public var swift: String
  public var scratchPath: String
  public var configuration: String
  /// Whether the running binary has the Swift runtime linked in (`make build` passes
  /// `--static-swift-stdlib`). The flag changes every module's compile command, so a
  /// rebuild without it would recompile the whole package, and the next `make build` again.
  public var staticSwiftStdlib: Bool
  public var outputFolder: String

  public init(
    packageRoot: String, section: String, title: String, reportName: String,
    runArguments: [String], swift: String, scratchPath: String, configuration: String,
    staticSwiftStdlib: Bool, outputFolder: String
  ) {
    self.packageRoot = packageRoot
    self.section = section
    self.title = title
    self.reportName = reportName
    self.runArguments = runArguments
    self.swift = swift
    self.scratchPath = scratchPath
    self.configuration = configuration
    self.staticSwiftStdlib = staticSwiftStdlib
    self.outputFolder = outputFolder
  }

  public var chaptersFolder: String { packageRoot + "/Chapters" }
  public var binary: String { scratchPath + "/" + configuration + "/chapter" }

  /// `swift build` for `product` with the running binary's scratch folder, configuration and
  /// linking, so that it shares every module already built: `chapter` on each save, and once
  /// `chapter-preview` before the server starts.
  public func buildCommand(product: String) -> [String] {
    [
      swift, "build", "--package-path", packageRoot, "--scratch-path", scratchPath,
      "-c", configuration, "--product", product,
    ] + (staticSwiftStdlib ? ["--static-swift-stdlib"] : [])
  }
}

/// A problem the preview reports to its user and stops on (exit 2): bad input or an
/// environment it cannot work in.
public struct PreviewError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
