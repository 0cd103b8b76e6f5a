import ChapterFormat
import Foundation

/// The state of one section run, as the tangled cells and D2L see it: which cell runs, the
/// parameters in force, and what each cell produced (output, time, figures, trainings,
/// error). `SectionRunner` creates it, sets `current`, and turns it into reports.
///
/// Not thread-safe: a section runs its cells on one thread, as a notebook does.
public final class NotebookSession {
  /// The session of the section that is running; `nil` outside a run. D2L reads it to
  /// attach figures and trainings without the cells passing it around.
  /// Safe unguarded: `SectionRunner` sets and clears it around one section's cells, which run
  /// on one thread, one section at a time; the engine's worker threads never read it.
  nonisolated(unsafe) public static var current: NotebookSession?

  public var settings: RunSettings
  public let plan: RunPlan
  /// One record per cell, in document order (cells the program never begins stay `notRun`).
  public private(set) var records: [CellRecord]
  /// Figures and trainings recorded while no cell was running.
  public private(set) var sectionFigures: [Figure] = []
  public private(set) var sectionTrainings: [TrainingSummary] = []
  /// An error thrown outside any cell.
  public private(set) var sectionError: String?
  /// Set when SIGINT or SIGTERM stopped the run.
  public private(set) var interruption: RunInterrupted?
  /// What a training left here for the caller when `settings.captureNetwork` asked for it
  /// (the network and its data, for `chapter bench`). Typed by the module that stores it:
  /// this one knows nothing of networks.
  public var capturedTraining: Any?
  /// Where the run's progress goes as JSON lines (`--events`); nil when nobody watches.
  public var events: RunEventLog?

  /// Trainings started so far per cell, for checkpoint names.
  var trainingsStarted: [String: Int] = [:]
  /// The checkpoint files of this run's trainings.
  var checkpointPaths: [String] = []
  private var currentIndex: Int?
  private var capture: OutputCapture?
  private var cellStart = 0.0
  private let echo: Bool
  /// Stops a cell past `--cell-timeout` (armed only when the option is given).
  private let watchdog = CellWatchdog()

  init(plan: RunPlan, echo: Bool) {
    self.plan = plan
    self.settings = plan.settings
    self.echo = echo
    records = plan.document.cells.map { CellRecord(id: $0.id, line: $0.line) }
  }

  /// The id of the running cell.
  public var currentCell: String? { currentIndex.map { records[$0].id } }

  // MARK: Cells

  /// Starts a cell: its timer, the capture of its standard output, its crash message.
  public func beginCell(_ id: String) {
    if currentIndex != nil { endCell() }
    let index: Int
    if let i = records.firstIndex(where: { $0.id == id && $0.status == .notRun }) {
      index = i
    } else {
      // A cell the parsed document does not know (generated code out of date): keep it.
      records.append(CellRecord(id: id, line: 0))
      index = records.count - 1
    }
    currentIndex = index
    records[index].status = .running
    capture = try? OutputCapture()
    let line = records[index].line
    let place = line > 0 ? "\(plan.document.path):\(line)" : plan.document.path
    CrashReporter.setCell(
      message: "\nchapter: section \(plan.program.number) crashed in cell '\(id)' (\(place)): ",
      savedFD: capture?.savedFD ?? -1, captureFD: capture?.fileFD ?? -1)
    if let limit = plan.options.cellTimeout {
      let seconds = ReportModel.seconds(limit)
      watchdog.arm(
        seconds: limit,
        message: "\nchapter: section \(plan.program.number): cell '\(id)' (\(place)) ran past "
          + "--cell-timeout \(seconds) and was stopped after \(seconds). The section's report "
          + "was not written; reports written before are unchanged.\n",
        savedFD: capture?.savedFD ?? -1, captureFD: capture?.fileFD ?? -1)
    }
    cellStart = ProgressBar.now()
  }

  /// Ends the running cell: its time, its output (echoed to the terminal unless quiet).
  public func endCell() {
    guard let i = currentIndex else { return }
    closeCell(i)
    if records[i].status == .running { records[i].status = .ok }
    emitCell(i)
  }

  /// Records an error thrown by the section on the running cell (or on the section when no
  /// cell runs). The cells after it stay "not run".
  func fail(_ error: Error) {
    if let stop = error as? RunInterrupted { interruption = stop }
    let text = Self.describe(error)
    guard let i = currentIndex else {
      sectionError = text
      return
    }
    closeCell(i)
    records[i].status = .failed(text)
    emitCell(i)
  }

  /// The `cell` event of a cell that has just ended.
  private func emitCell(_ i: Int) {
    guard let events else { return }
    let r = records[i]
    var fields: [String: Any] = [
      "id": r.id, "line": r.line, "output": r.output, "seconds": r.seconds,
    ]
    if case .failed(let message) = r.status {
      fields["status"] = "failed"
      fields["message"] = message
    } else {
      fields["status"] = "ok"
    }
    events.emit("cell", fields)
  }

  private func closeCell(_ i: Int) {
    watchdog.disarm()
    records[i].seconds = ProgressBar.now() - cellStart
    CrashReporter.setCell(message: nil, savedFD: -1, captureFD: -1)
    if let capture {
      let text = capture.finish()
      records[i].output = text
      if echo, !text.isEmpty { OutputCapture.writeToStandardOutput(text) }
    }
    capture = nil
    currentIndex = nil
  }

  static func describe(_ error: Error) -> String {
    String(describing: error)
  }

  // MARK: Parameters

  /// The value of a parameter for this run: the override in force (profile, variant,
  /// `--set`, all checked before the run) or the cell's literal.
  public func param<T: CellParameter>(_ name: String, _ defaultValue: T) -> T {
    let value = effective(name, defaultValue.parameterValue)
    return T(parameterValue: value) ?? defaultValue
  }

  /// VGG's `[(1, 64), (1, 128)]`: tuples cannot conform to protocols, hence an overload.
  public func param(_ name: String, _ defaultValue: [(Int, Int)]) -> [(Int, Int)] {
    let book = ParameterValue.intPairArray(defaultValue.map { IntPair($0.0, $0.1) })
    guard case .intPairArray(let pairs) = effective(name, book) else { return defaultValue }
    return pairs.map { ($0.first, $0.second) }
  }

  private func effective(_ name: String, _ book: ParameterValue) -> ParameterValue {
    let o = plan.overrides[name]
    let value = o.flatMap { book.accepts($0.value) ? $0.value : nil } ?? book
    let cell = currentCell ?? ""
    let used = UsedParameter(
      name: name, cell: cell, value: value, bookValue: book, source: o?.source)
    if let i = currentIndex {
      if !records[i].parameters.contains(used) { records[i].parameters.append(used) }
    }
    return value
  }

  // MARK: What cells produce

  /// Attaches an SVG figure to the running cell.
  public func addFigure(svg: String, caption: String) {
    let figure = Figure(svg: svg, caption: caption)
    if let i = currentIndex { records[i].figures.append(figure) } else { sectionFigures.append(figure) }
  }

  /// Attaches a training's summary to the running cell (the header and the index list it).
  /// The book's test accuracy for it comes from the reference blocks after the cell: the
  /// cell's k-th training gets the k-th `test acc` they state.
  public func recordTraining(_ summary: TrainingSummary) {
    if let i = currentIndex {
      var summary = summary
      let book = plan.document.blocks.flatMap { b -> [Double] in
        guard case .output(let o) = b, o.isReference, o.cell == records[i].id else { return [] }
        return testAccuracies(in: o.text)
      }
      let k = records[i].trainings.count
      if summary.bookTestAccuracy == nil, k < book.count { summary.bookTestAccuracy = book[k] }
      records[i].trainings.append(summary)
    } else {
      sectionTrainings.append(summary)
    }
  }

  /// A progress bar on standard error (silent when quiet).
  public func makeProgressBar(label: String) -> ProgressBar {
    ProgressBar(label: label, quiet: settings.quiet)
  }

  /// Every training of the section, in order.
  public var trainings: [TrainingSummary] { records.flatMap(\.trainings) + sectionTrainings }

  /// The first failure, if any.
  public var failedCell: CellRecord? {
    records.first { if case .failed = $0.status { true } else { false } }
  }

  /// No cell failed and nothing was thrown outside a cell.
  public var succeeded: Bool { failedCell == nil && sectionError == nil }
}

/// What one cell did in a run.
public struct CellRecord: Sendable, Equatable {
  public enum Status: Sendable, Equatable {
    case notRun, running, ok
    case failed(String)
  }
  public var id: String
  /// `.md` line of the cell's first code line (0 if unknown).
  public var line: Int
  public var status: Status = .notRun
  public var output = ""
  public var seconds = 0.0
  public var figures: [Figure] = []
  public var trainings: [TrainingSummary] = []
  public var parameters: [UsedParameter] = []

  public init(id: String, line: Int) {
    self.id = id
    self.line = line
  }
}

/// A parameter as a cell read it during the run.
public struct UsedParameter: Sendable, Equatable {
  public var name: String
  public var cell: String
  public var value: ParameterValue
  /// The literal in the `.md`.
  public var bookValue: ParameterValue
  /// Where the override came from; `nil` when the book's value is used.
  public var source: String?
  public var differsFromBook: Bool { value != bookValue }
}
