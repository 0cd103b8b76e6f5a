import ChapterFormat
import Common
import Foundation

/// What a run produced and how the command should exit.
public struct RunResult: Sendable {
  /// 0: every cell ran; 1: a cell failed (the reports say which and why); 2: a cell threw a
  /// `BadInput` error (a missing data set, say): the input was bad, not the code.
  public var exitCode: Int32
  public var htmlPath: String
  public var markdownPath: String
  public var figurePaths: [String]
  public var records: [CellRecord]
  public var trainings: [TrainingSummary]
  /// The failing cell's id, if any.
  public var failedCell: String?
  /// For the terminal: which cell failed, where, and why (`nil` when all went well).
  public var failureMessage: String?
  /// SIGINT or SIGTERM stopped the run: no report was written (the previous ones stay) and
  /// the trainings' checkpoints are kept for `--resume`.
  public var interrupted = false
}

/// The outcome of `chapter check` for one section.
public struct CheckResult: Sendable {
  /// 0: every checked block matched; 1: a mismatch or a failed cell; 2: bad input.
  public var exitCode: Int32
  public var checkedBlocks: Int
  public var mismatches: [OutputMismatch]
  public var failureMessage: String?
}

/// Runs one section: checks everything first (`plan`), then runs the cells with output
/// capture and crash reporting, then writes the reports.
///
/// Bad input (unknown profile, parameter or variant, a value of the wrong type or out of
/// range, bad front matter, an unwritable output folder) throws `ChapterError` or
/// `NotebookError` before any cell runs: exit code 2. A cell that throws is not an error of
/// the runner: it is recorded at its cell, the report is written, and the result says 1.
public enum SectionRunner {
  /// Parses and checks; runs nothing. Also makes sure the output folder is writable.
  public static func plan(_ program: SectionProgram, options: RunOptions) throws -> RunPlan {
    let plan = try RunPlan(program: program, options: options)
    try AtomicFile.prepareFolder(options.outputDirectory)
    // Bad input, like an unwritable output folder: refused before any cell runs.
    if let path = options.eventsPath { _ = try RunEventLog(path: path) }
    return plan
  }

  /// `plan` then `run(plan)`.
  public static func run(_ program: SectionProgram, options: RunOptions) throws -> RunResult {
    try run(plan(program, options: options))
  }

  /// Runs a checked plan and writes `<slug>.html`, `<slug>.md`, `<slug>-figN.svg` and
  /// `<slug>.json` (the run's summary, read by the index and `chapter list`).
  public static func run(_ plan: RunPlan) throws -> RunResult {
    let program = plan.program
    let options = plan.options
    // git answers while the cells run.
    let pendingProvenance = Provenance.start(
      sourcePath: program.sourcePath, reportFolder: options.outputDirectory,
      mathLibrary: options.mathLibrary)
    let (session, total, badInput) = execute(plan)
    let provenance = pendingProvenance.finish()
    if session.interruption != nil {
      // The reports of the last complete run stay as they are.
      let paths = reportPaths(slug: program.slug, folder: options.outputDirectory)
      return RunResult(
        exitCode: 1, htmlPath: paths.html, markdownPath: paths.markdown, figurePaths: [],
        records: session.records, trainings: session.trainings,
        failedCell: session.failedCell?.id, failureMessage: failureMessage(session, plan),
        interrupted: true)
    }

    let navigation = ReportNavigation(
      previous: ReportNavigation.neighbours(of: program.slug, in: options.sections).previous,
      next: ReportNavigation.neighbours(of: program.slug, in: options.sections).next,
      index: !options.sections.isEmpty)
    let model = ReportModel(
      session: session, provenance: provenance, totalSeconds: total, navigation: navigation)
    let paths = try writeReports(model, slug: program.slug, folder: options.outputDirectory)

    let record = RunRecord(model: model)
    try record.write(to: options.outputDirectory)
    if !options.sections.isEmpty {
      try SectionIndex.write(
        sections: options.sections, chapter: ChapterPage(markdown: options.chapterIndexMarkdown),
        folder: options.outputDirectory)
    }

    if model.succeeded { session.removeCheckpoints() }
    let failed = session.failedCell
    let message = failureMessage(session, plan)
    let exitCode: Int32 = model.succeeded ? 0 : (badInput ? 2 : 1)
    session.events?.emit("report", [
      "html": paths.html, "markdown": paths.markdown, "exitCode": Int(exitCode),
    ])
    return RunResult(
      exitCode: exitCode, htmlPath: paths.html,
      markdownPath: paths.markdown, figurePaths: paths.figures, records: session.records,
      trainings: session.trainings, failedCell: failed?.id, failureMessage: message)
  }

  /// Runs the cells of a checked plan: sets `NotebookSession.current`, installs the crash
  /// reporter, records a thrown error at its cell.
  public static func execute(_ plan: RunPlan) -> (session: NotebookSession, seconds: Double, badInput: Bool) {
    let session = NotebookSession(plan: plan, echo: !plan.options.quiet)
    if let path = plan.options.eventsPath {
      session.events = try? RunEventLog(path: path)
      session.events?.emit("start", [
        "section": plan.program.number, "slug": plan.program.slug,
        "cells": plan.document.cells.map(\.id),
      ])
    }
    let previous = NotebookSession.current
    NotebookSession.current = session
    CrashReporter.install(
      backtraceLog: plan.options.outputDirectory + "/.cache/crash/\(plan.program.slug).log")
    Interruption.install()
    let start = ProgressBar.now()
    var badInput = false
    do {
      try plan.program.run(session)
      session.endCell()
    } catch {
      session.fail(error)
      badInput = error is BadInput
    }
    let total = ProgressBar.now() - start
    CrashReporter.uninstall()
    NotebookSession.current = previous
    return (session, total, badInput)
  }

  /// Runs the cells of a checked plan quietly, writing nothing, and lets a thrown error
  /// through (`chapter bench` stops a section this way once its network is built).
  @discardableResult
  public static func runCellsUnreported(_ plan: RunPlan) throws -> NotebookSession {
    var plan = plan
    plan.options.quiet = true
    plan.settings.quiet = true
    let session = NotebookSession(plan: plan, echo: false)
    let previous = NotebookSession.current
    NotebookSession.current = session
    defer {
      session.endCell()
      NotebookSession.current = previous
    }
    try plan.program.run(session)
    return session
  }

  /// Which cell failed, where and why; nil when every cell ran.
  public static func failureMessage(_ session: NotebookSession, _ plan: RunPlan) -> String? {
    if let failed = session.failedCell, case .failed(let text) = failed.status {
      let place = failed.line > 0 ? "\(plan.document.path):\(failed.line)" : plan.document.path
      return "cell '\(failed.id)' (\(place)) failed: \(text)"
    }
    if let text = session.sectionError { return "section \(plan.program.number) failed: \(text)" }
    return nil
  }

  /// `chapter check`: runs the cells with training skipped, writes no report, and compares
  /// each ```` ```output ```` block with what its cell printed.
  public static func check(_ plan: RunPlan) -> CheckResult {
    var plan = plan
    plan.settings.skipTraining = true
    let (session, _, badInput) = execute(plan)
    let mismatches = OutputCheck.mismatches(document: plan.document, records: session.records)
    let failure = failureMessage(session, plan)
    let checked = plan.document.blocks.filter {
      if case .output(let b) = $0 { !b.isReference } else { false }
    }.count
    let code: Int32 = failure != nil ? (badInput ? 2 : 1) : (mismatches.isEmpty ? 0 : 1)
    return CheckResult(
      exitCode: code, checkedBlocks: checked, mismatches: mismatches, failureMessage: failure)
  }

  static func writeReports(_ model: ReportModel, slug: String, folder: String) throws
    -> (html: String, markdown: String, figures: [String])
  {
    let (html, markdown) = reportPaths(slug: slug, folder: folder)
    let (text, figures) = MarkdownReport.render(model) { "\(slug)-fig\($0).svg" }
    var figurePaths: [String] = []
    // Figures first: once the Markdown appears, the files it links are there.
    for f in figures {
      let path = folder + "/" + f.name
      try AtomicFile.write(f.svg, to: path)
      figurePaths.append(path)
    }
    try AtomicFile.write(text, to: markdown)
    try AtomicFile.write(HTMLReport.render(model), to: html)
    removeStaleFigures(slug: slug, keep: figures.count, folder: folder)
    return (html, markdown, figurePaths)
  }

  /// Where a section's HTML and Markdown reports go.
  static func reportPaths(slug: String, folder: String) -> (html: String, markdown: String) {
    (folder + "/" + slug + ".html", folder + "/" + slug + ".md")
  }

  /// A previous run with more figures left `<slug>-figN.svg` files nothing links any more.
  static func removeStaleFigures(slug: String, keep: Int, folder: String) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
    let prefix = slug + "-fig"
    for name in names where name.hasPrefix(prefix) && name.hasSuffix(".svg") {
      let number = name.dropFirst(prefix.count).dropLast(4)
      if let n = Int(number), n > keep {
        try? FileManager.default.removeItem(atPath: folder + "/" + name)
      }
    }
  }
}
