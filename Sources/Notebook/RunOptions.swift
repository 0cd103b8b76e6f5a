import Foundation

/// What a run of a section is asked to do, as the command line says it.
public struct RunOptions: Sendable {
  /// `book`, `quick`, `smoke` or another declared profile; `nil` means `quick` when the
  /// chapter declares it and `book` otherwise.
  public var profile: String?
  /// `--set NAME=VALUE`, the value still as typed; parsed against the parameter's type.
  public var overrides: [String: String]
  /// `--variant NAME`: an exercise's ```` ```variant ```` block.
  public var variant: String?
  public var seed: UInt64
  public var threads: Int
  /// Folder of the reports; created when missing.
  public var outputDirectory: String
  /// No echo of cell output, no progress bar.
  public var quiet: Bool
  /// Every section of the book in order, for the report's previous/next links and the
  /// index page; empty: no neighbours, and no index is written.
  public var sections: [SectionLink]
  /// The chapter's own page (`Chapters/index.md`): the index page's title and introduction.
  public var chapterIndexMarkdown: String?
  /// `chapter check`: run the cells but skip training (see `RunSettings.skipTraining`).
  public var skipTraining = false
  /// `--resume`: trainings continue from their checkpoints (see `RunSettings.resume`).
  public var resume = false
  /// `--no-cache`: every training runs, none is loaded from the cache (see
  /// `RunSettings.useCache`).
  public var noCache = false
  /// The math library's kernel set (e.g. `OpenBLAS SkylakeX`), appended to the report's
  /// machine line: on this machine kind it decides the speed as much as the CPU does.
  public var mathLibrary: String?
  /// `--cell-timeout SECONDS`: a cell running longer stops the run (`CellWatchdog`).
  public var cellTimeout: Double?
  /// `--events FILE`: the run's progress as JSON lines (`RunEventLog`), for a watching program.
  public var eventsPath: String?

  public init(
    profile: String? = nil, overrides: [String: String] = [:], variant: String? = nil,
    seed: UInt64 = 0, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
    outputDirectory: String = "Output", quiet: Bool = false,
    sections: [SectionLink] = []
  ) {
    self.profile = profile
    self.overrides = overrides
    self.variant = variant
    self.seed = seed
    self.threads = threads
    self.outputDirectory = outputDirectory
    self.quiet = quiet
    self.sections = sections
  }

  /// Splits repeated `NAME=VALUE` arguments. Splits at the first `=` (a String value may
  /// contain more); a name given twice is an error rather than a silent last-one-wins.
  public static func parseSetArguments(_ arguments: [String]) throws -> [String: String] {
    var result: [String: String] = [:]
    for argument in arguments {
      guard let eq = argument.firstIndex(of: "=") else {
        throw NotebookError("--set '\(argument)': expected NAME=VALUE")
      }
      let name = argument[..<eq].trimmingCharacters(in: .whitespaces)
      let value = String(argument[argument.index(after: eq)...])
      guard !name.isEmpty else { throw NotebookError("--set '\(argument)': the name is empty") }
      guard result[name] == nil else {
        throw NotebookError("--set \(name) is given twice")
      }
      result[name] = value
    }
    return result
  }
}
