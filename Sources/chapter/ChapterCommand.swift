import ArgumentParser
import ChapterFormat
import Chapters
import D2L
import Foundation
import Engine
import Notebook
import PreviewSetup

/// `chapter`: runs the sections of the chapter and lists them. All logic lives in Notebook;
/// this file parses arguments and maps errors to exit codes (0 ok, 1 a cell failed, 2 bad
/// usage or input — ArgumentParser's own usage errors included, which it would make 64).
@main
struct Chapter: ParsableCommand {
  // Every command gives its name: ArgumentParser would otherwise derive it from the type's
  // name, by reflection, at every start.
  static let configuration = CommandConfiguration(
    commandName: "chapter",
    abstract: "Run the sections of 'Dive into Deep Learning', chapter 7, and write their reports.",
    subcommands: [
      Run.self, Build.self, Check.self, Sweep.self, List.self, Show.self, Cache.self,
      Bench.self, CrossCheck.self, PreviewCommand.self,
    ])

  static func main() {
    // Before anything else: this may replace the process (see BLASKernel).
    BLASKernel.correctFallbackByReexecuting()
    ComputeThreads.stopOpenBLASThreads()
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch let code as ExitCode {
      Foundation.exit(code.rawValue)
    } catch {
      if let message = NotebookError.inputErrorDescription(error) {
        FileHandle.standardError.write(Data(("chapter: " + message + "\n").utf8))
        Foundation.exit(2)
      }
      if exitCode(for: error) == .success {
        exit(withError: error)  // --help, --version
      }
      FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
      Foundation.exit(2)
    }
  }
}

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run one section and write Output/<section>.html and .md.")

  @OptionGroup var choice: SectionChoice

  @OptionGroup var common: RunFlags

  func run() throws {
    let catalog = SectionCatalog(Chapters.allSections)
    let program = try catalog.find(choice.section)
    var options = common.options(profile: choice.profile, sections: catalog.links())
    try choice.apply(to: &options)
    // Everything is checked before the engine starts: bad input exits 2 having run nothing.
    let plan = try SectionRunner.plan(program, options: options)
    let result = try common.run(plan)
    if !common.quiet {
      let note = "chapter: wrote \(result.htmlPath) and \(result.markdownPath)\n"
      FileHandle.standardError.write(Data(note.utf8))
    }
    if result.exitCode != 0 { throw ExitCode(result.exitCode) }
  }
}

/// `chapter preview 7.5`: the section's report on http://127.0.0.1:PORT/, rebuilt and re-run
/// on every save of a chapter file (see `PreviewController`). The rebuild reuses the build
/// folder and configuration this binary comes from, and the chapters' folder it was built
/// from, so the preview always runs the code a plain `swift build` would make of the files.
struct PreviewCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "preview",
    abstract: "Serve a section's report on 127.0.0.1 and re-run the section on every save of Chapters/*.md.")

  @OptionGroup var choice: SectionChoice

  @Option(help: "Port on 127.0.0.1 (0: any free one).")
  var port: Int = 7070

  @Option(
    name: .customLong("seed"), parsing: .unconditional,
    help: "Seed of weight init, shuffling and dropout.", transform: parseSeed)
  var seed: UInt64 = 0

  @Option(help: "Threads for the engine (default: all cores).")
  var threads: Int = ProcessInfo.processInfo.activeProcessorCount

  @Option(help: "Folder of the reports, which the preview serves.")
  var output: String = "Output"

  @Flag(help: "Train every network, even those whose result is in the training cache.")
  var noCache = false

  @Option(help: "Stop a run when one cell has run this many seconds.")
  var cellTimeout: Double?

  func validate() throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
    try RunFlags.validate(threads: threads, cellTimeout: cellTimeout)
  }

  func run() throws {
    let catalog = SectionCatalog(Chapters.allSections)
    let program = try catalog.find(choice.section)
    let outputFolder = URL(fileURLWithPath: output).standardizedFileURL.path
    // The same checks as `chapter run` (profile, --set, --variant) before serving anything.
    var options = RunOptions(
      profile: choice.profile, seed: seed, threads: threads, outputDirectory: outputFolder,
      quiet: true, sections: catalog.links())
    try choice.apply(to: &options)
    _ = try SectionRunner.plan(program, options: options)

    var arguments = ["--seed", String(seed), "--threads", String(threads), "--output", outputFolder]
    if let profile = choice.profile { arguments += ["--profile", profile] }
    for set in choice.sets { arguments += ["--set", set] }
    if let variant = choice.variant { arguments += ["--variant", variant] }
    if noCache { arguments.append("--no-cache") }
    if let cellTimeout { arguments += ["--cell-timeout", String(cellTimeout)] }
    let link = catalog.links().first { $0.slug == program.slug }
    do {
      let build = try PreviewBuild.locate(chapterFile: program.sourcePath)
      let settings = PreviewSettings(
        packageRoot: build.packageRoot, section: program.number,
        title: program.number + " " + (link?.title ?? program.shortSlug),
        reportName: program.slug + ".html", runArguments: arguments, swift: build.swift,
        scratchPath: build.scratchPath, configuration: build.configuration,
        staticSwiftStdlib: build.staticSwiftStdlib, outputFolder: outputFolder)
      try PreviewLaunch.exec(settings, port: UInt16(port))
    } catch let error as PreviewError {
      FileHandle.standardError.write(Data(("chapter: " + error.description + "\n").utf8))
      throw ExitCode(2)
    }
  }
}

struct List: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list",
    abstract: "List the sections with their titles and last runs.")

  @Option(help: "Folder of the reports (for the last runs).")
  var output: String = "Output"

  func run() throws {
    print(SectionCatalog(Chapters.allSections).listing(outputFolder: output), terminator: "")
  }
}

struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Check the ```output blocks of one section (or all) without training.",
    discussion: """
      Runs the cells with the book's settings but skips training, then compares what each \
      cell printed with the ```output block after it. Prints a unified diff for each \
      mismatch. Exit code 0: all match; 1: a mismatch or a failed cell; 2: bad input.
      """)

  @Argument(help: "The section (7.5, batch-norm, or a path); all sections when omitted.")
  var section: String?

  func run() throws {
    let catalog = SectionCatalog(Chapters.allSections)
    let programs = try section.map { [try catalog.find($0)] } ?? Chapters.allSections
    var worst: Int32 = 0
    for program in programs {
      var options = RunOptions(profile: "book", quiet: true)
      options.skipTraining = true
      // Given a path, the expected outputs are read from that file as it is now (the
      // code is the compiled one): an edited ```output block needs no rebuild.
      let plan: RunPlan
      if let path = section, path.hasSuffix(".md"), FileManager.default.fileExists(atPath: path) {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let document = try ChapterParser.parse(text, path: path)
        plan = try RunPlan(program: program, document: document, options: options)
      } else {
        plan = try RunPlan(program: program, options: options)
      }
      D2L.prepareEngine(seed: 0, threads: ProcessInfo.processInfo.activeProcessorCount)
      let result = SectionRunner.check(plan)
      for m in result.mismatches { print(m.diff) }
      if let failure = result.failureMessage {
        FileHandle.standardError.write(Data(("chapter: " + failure + "\n").utf8))
      }
      let status = result.exitCode == 0 ? "ok" : result.failureMessage != nil ? "FAILED" : "MISMATCH"
      print("\(program.number) \(status): \(result.checkedBlocks - result.mismatches.count) of "
        + "\(result.checkedBlocks) output blocks match")
      worst = max(worst, result.exitCode)
    }
    if worst != 0 { throw ExitCode(worst) }
  }
}

struct Build: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "build",
    abstract: "Run every section with one profile and regenerate Output/ and its index.")

  @Option(help: "Run profile for every section: quick (default), reproduce, book or smoke.")
  var profile: String = "quick"

  @OptionGroup var common: RunFlags

  func run() throws {
    let catalog = SectionCatalog(Chapters.allSections)
    let options = common.options(profile: profile, sections: catalog.links())
    // Check every section's input first: a typo in the last chapter should not surface
    // after an hour of training.
    let plans = try Chapters.allSections.map { try SectionRunner.plan($0, options: options) }
    var worst: Int32 = 0
    for plan in plans {
      let start = Date()
      let result = try common.run(plan)
      let seconds = Date().timeIntervalSince(start)
      let cached = result.trainings.filter { $0.cachedAt != nil }.count
      let note = cached == 0 ? ""
        : cached == result.trainings.count ? " (cached)"
        : " (\(cached) of \(result.trainings.count) trainings cached)"
      let line = String(format: "chapter: %@ %@ in %.0f s%@ -> %@\n", plan.program.number,
        result.exitCode == 0 ? "ok" : "FAILED", seconds, note, result.htmlPath)
      FileHandle.standardError.write(Data(line.utf8))
      worst = max(worst, result.exitCode)
    }
    if worst != 0 { throw ExitCode(worst) }
  }
}

struct Cache: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cache",
    abstract: "List or clear the training cache (<output>/.cache/trainings).",
    discussion: """
      A training whose code, parameters, seed, threads, engine and data are those of a \
      finished one is loaded from the cache instead of run (`--no-cache` retrains). The \
      cache keeps at most CHAPTER_CACHE_LIMIT bytes (default 4GiB), and removes the entries \
      used longest ago first.
      """,
    subcommands: [CacheList.self, CacheClear.self])
}

/// What `chapter cache list` and `clear` act on: an output folder's cache, or one section's.
struct CacheSelection: ParsableArguments {
  @Argument(help: "Only this section's (its number, slug or .md path).")
  var section: String?

  @Option(help: "Folder of the reports whose cache it is.")
  var output: String = "Output"

  /// The section's slug, when one is named.
  func slug() throws -> String? {
    try section.map { try SectionCatalog(Chapters.allSections).find($0).slug }
  }
}

struct CacheList: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "Show the cached trainings: size, date and key.")

  @OptionGroup var selection: CacheSelection

  func run() throws {
    let output = selection.output
    let entries = TrainingCache.entries(output: output, section: try selection.slug())
    if entries.isEmpty {
      print("no cached trainings in \(TrainingCache.folder(output: output))")
      return
    }
    var total: UInt64 = 0
    for entry in entries {
      total += entry.bytes
      print("\(entry.section)  \(AvailableMemory.describe(Int(entry.bytes)))  "
        + "last used \(Provenance.format(entry.modified))  \(entry.path)")
      for part in CachedTraining.keyParts(at: entry.path) {
        print("    \(part.name): \(part.value)")
      }
    }
    print("\(entries.count) entr\(entries.count == 1 ? "y" : "ies"), "
      + "\(AvailableMemory.describe(Int(total))) of at most "
      + AvailableMemory.describe(Int(TrainingCache.limitBytes())))
  }
}

struct CacheClear: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clear", abstract: "Remove the cached trainings, or one section's.")

  @OptionGroup var selection: CacheSelection

  func run() throws {
    let (count, bytes) = TrainingCache.clear(output: selection.output, section: try selection.slug())
    print("removed \(count) cached training\(count == 1 ? "" : "s") "
      + "(\(AvailableMemory.describe(Int(bytes))))")
  }
}

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure training and inference throughput of a chapter's network.",
    discussion: """
      The network is the one its section trains, built by the section's own cells (which \
      run up to its training, with training skipped). Inputs are random; the defaults are \
      the book's image size and batch. See BENCHMARKS.md.
      """)

  /// Each benchmark model: its section, text identifying its training in that section,
  /// and the book's image size and batch.
  static let models: [String: (section: String, network: String, resize: Int, batch: Int)] = [
    "lenet-bn": ("7.5", "engine BatchNorm", 28, 256),
    "alexnet": ("7.1", "AlexNet", 224, 128),
    "vgg11-small": ("7.2", "VGG", 224, 128),
    "nin": ("7.3", "NiN", 224, 128),
    "googlenet": ("7.4", "GoogLeNet", 96, 128),
    "resnet18": ("7.6", "ResNet", 96, 256),
    "densenet": ("7.7", "DenseNet", 96, 256),
  ]

  @Option(help: "One of: \(Bench.models.keys.sorted().joined(separator: ", ")).")
  var model: String

  @Option(help: "Image height and width (default: the book's).")
  var resize: Int?

  @Option(help: "Batch size (default: the book's).")
  var batch: Int?

  @Option(help: "Timed steps after two warm-up steps; the median is reported.")
  var steps: Int = 5

  @Option(help: "Threads (default: all cores).")
  var threads: Int = ProcessInfo.processInfo.activeProcessorCount

  @Flag(help: "Print one JSON object.")
  var json = false

  @Flag(help: "Forward and backward time per layer.")
  var layers = false

  func validate() throws {
    try Bench.validate(model: model, counts: [steps, threads, batch ?? 1, resize ?? 1])
  }

  /// A known model, and `--steps`, `--threads`, `--batch` and `--resize` of at least 1.
  static func validate(model: String, counts: [Int]) throws {
    guard models[model] != nil else {
      throw ValidationError("unknown model '\(model)'; one of \(models.keys.sorted().joined(separator: ", "))")
    }
    guard counts.allSatisfy({ $0 >= 1 }) else {
      throw ValidationError("--steps, --threads, --batch and --resize must be at least 1")
    }
  }

  /// The network `model`'s section trains, built by the section's own cells, run with the
  /// book's settings and `overrides` (trainings skipped), with the data and learning rate
  /// that training would have had.
  static func capture(
    model: String, overrides: [String: String] = [:], seed: UInt64 = 0, threads: Int
  ) throws -> CapturedTraining {
    let spec = models[model]!
    let program = try SectionCatalog(Chapters.allSections).find(spec.section)
    var options = RunOptions(profile: "book", overrides: overrides, seed: seed, threads: threads, quiet: true)
    options.skipTraining = true
    let plan = try RunPlan(program: program, options: options)
    D2L.prepareEngine(seed: seed, threads: threads)
    guard let found = try CapturedTraining.capture(network: spec.network, plan) else {
      throw NotebookError("section \(spec.section) trained no network named like '\(spec.network)'")
    }
    return found
  }

  func run() throws {
    let spec = Bench.models[model]!
    let net = try Bench.capture(model: model, threads: threads).network
    let result = D2L.benchmark(
      net, model: model, resize: resize ?? spec.resize, batch: batch ?? spec.batch, steps: steps,
      perLayer: layers)
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      print(String(decoding: try encoder.encode(result), as: UTF8.self))
    } else {
      print(result)
    }
  }
}

struct CrossCheck: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crosscheck",
    abstract: "Write a network's initial state, real batches and SGD steps, for a PyTorch comparison.",
    discussion: """
      The engine's half of scripts/crosscheck-pytorch.py, which runs this and then takes \
      the same steps in PyTorch from the same weights. The network is the one its section \
      trains, at the section's learning rate, on the first --steps batches of its shuffled \
      training data (the section's resize at --resize), with dropout switched off. See \
      docs/CROSSCHECK.md.
      """)

  /// Each model's image size and batch for the comparison: small, so that the check runs in
  /// seconds, but with at least 64 values per channel (batch × plane) in the last
  /// convolutions. Below that a bias gradient or a batch norm's statistics rest on a handful
  /// of numbers, one ReLU that rounding tips over moves them by percents, and training at the
  /// book's rates amplifies that: PyTorch in float32 and in float64 then part ways within 20
  /// steps (docs/CROSSCHECK.md). nil: the section has no resize parameter (LeNet's 28×28).
  static let sizes: [String: (resize: Int?, batch: Int)] = [
    "lenet-bn": (nil, 64), "alexnet": (67, 16), "vgg11-small": (32, 16), "nin": (67, 64),
    "googlenet": (64, 16), "resnet18": (64, 32), "densenet": (64, 16),
  ]

  @Option(help: "One of: \(Bench.models.keys.sorted().joined(separator: ", ")).")
  var model: String

  @Option(help: "Folder for initial.safetensors, batches.safetensors and after.safetensors.")
  var output: String

  @Option(help: "SGD steps, one batch each.")
  var steps: Int = 20

  @Option(help: "Image height and width (default: the model's comparison size).")
  var resize: Int?

  @Option(help: "Batch size (default: the model's comparison batch).")
  var batch: Int?

  @Option(
    parsing: .unconditional, help: "Seed of the weights and of the batches' order.",
    transform: parseSeed)
  var seed: UInt64 = 0

  @Option(help: "Threads (default: all cores).")
  var threads: Int = ProcessInfo.processInfo.activeProcessorCount

  func validate() throws {
    try Bench.validate(model: model, counts: [steps, threads, batch ?? 1, resize ?? 1])
    if resize != nil && CrossCheck.sizes[model]!.resize == nil {
      throw ValidationError("\(model)'s section trains at the data set's 28×28; it takes no --resize")
    }
  }

  func run() throws {
    let size = CrossCheck.sizes[model]!
    let batch = batch ?? size.batch
    var overrides = [
      "batchSize": "\(batch)", "numEpochs": "1", "trainSubset": "\(steps * batch)",
      "testSubset": "\(batch)",
    ]
    if let r = resize ?? size.resize { overrides["resize"] = "\(r)" }
    let captured = try Bench.capture(model: model, overrides: overrides, seed: seed, threads: threads)
    try D2L.writeCrossCheck(
      captured.network, batches: captured.trainIter, steps: steps, lr: captured.lr, model: model,
      to: output)
  }
}

struct Sweep: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sweep",
    abstract: "Run a section for every combination of parameter values, variants and seeds; write one comparison report.",
    discussion: """
      Examples: chapter sweep 7.5 --set lr=0.1,0.5,1.0 --set batchSize=128,256; \
      chapter sweep 7.5 --variant base,without-bn --seed 0,1,2 (base: no variant). With \
      several seeds the report gives each combination's mean test accuracy and its \
      spread. Every run goes through the training cache.
      """)

  @Argument(help: "The section: its number, slug or .md path.")
  var section: String

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp("A parameter and its values (repeatable).", valueName: "name=v1,v2,..."))
  var sets: [String] = []

  @Option(help: ArgumentHelp(
    "Variants to run, comma-separated; `base` is the chapter without one.", valueName: "v1,v2,..."))
  var variant: String?

  @Option(help: "Run profile: book, reproduce, quick (default) or smoke.")
  var profile: String?

  @OptionGroup var common: RunFlags

  func validate() throws {
    guard !sets.isEmpty || variant != nil || common.seeds.values.count > 1 else {
      throw ValidationError(
        "give at least one --set NAME=V1,V2,..., --variant V1,V2,... or --seed S1,S2,...")
    }
  }

  func run() throws {
    let program = try SectionCatalog(Chapters.allSections).find(section)
    let result: (html: String, markdown: String, runs: [SectionSweep.Run])
    let common = self.common
    do {
      result = try SectionSweep.run(
        program, options: common.options(profile: profile, sections: []),
        axes: try SectionSweep.axes(sets), variants: try SectionSweep.variants(variant),
        seeds: common.seeds.values,
        prepare: { D2L.prepareEngine(seed: $0, threads: common.threads) })
    } catch let stop as RunInterrupted {
      FileHandle.standardError.write(Data("chapter: \(stop)\n".utf8))
      RunFlags.explainInterruption()
      throw ExitCode(1)
    }
    FileHandle.standardError.write(Data("chapter: wrote \(result.html) and \(result.markdown)\n".utf8))
    if result.runs.contains(where: { $0.failure != nil }) { throw ExitCode(1) }
  }
}

struct Show: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show",
    abstract: "Show a section's cells, parameters, variants and profiles.")

  @OptionGroup var choice: SectionChoice

  func run() throws {
    let program = try SectionCatalog(Chapters.allSections).find(choice.section)
    var options = RunOptions(profile: choice.profile)
    try choice.apply(to: &options)
    print(SectionOverview.describe(try RunPlan(program: program, options: options)), terminator: "")
  }
}

/// Which section to run, and how its cells are set: what `run` and `show` share.
struct SectionChoice: ParsableArguments {
  @Argument(help: "The section: its number (7.5), slug (batch-norm, 7.5-batch-norm) or .md path.")
  var section: String

  @Option(help: "Run profile: book (the book's settings), reproduce (the book's results in minutes), quick (default) or smoke.")
  var profile: String?

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp("Override a cell parameter (repeatable), e.g. --set lr=0.5.", valueName: "name=value"))
  var sets: [String] = []

  @Option(help: "Run an exercise's variant block.")
  var variant: String?

  /// Puts the overrides and the variant into `options` (the profile goes in with the rest
  /// of the flags, where the options are made).
  func apply(to options: inout RunOptions) throws {
    options.overrides = try RunOptions.parseSetArguments(sets)
    options.variant = variant
  }
}

/// A seed as typed: a whole number from 0 to 2^64 - 1. Parsed unconditionally, so that
/// `--seed -1` reaches here and is told what a seed is, instead of ArgumentParser taking
/// `-1` for an option and reporting the seed's value missing.
func parseSeed(_ text: String) throws -> UInt64 {
  guard let seed = UInt64(text) else {
    throw ValidationError(
      "--seed must be a whole number from 0 to \(UInt64.max), not '\(text)'")
  }
  return seed
}

/// `--seed 0` or, for `chapter sweep`, `--seed 0,1,2`.
struct SeedList: Equatable {
  var values: [UInt64]
}

func parseSeeds(_ text: String) throws -> SeedList {
  let seeds = try text.split(separator: ",", omittingEmptySubsequences: false).map {
    try parseSeed($0.trimmingCharacters(in: .whitespaces))
  }
  guard Set(seeds).count == seeds.count else {
    throw ValidationError("--seed lists a seed twice: '\(text)'")
  }
  return SeedList(values: seeds)
}

/// The options every command that runs sections takes.
struct RunFlags: ParsableArguments {
  @Option(
    name: .customLong("seed"), parsing: .unconditional,
    help: "Seed of weight init, shuffling and dropout (the same for every run); `chapter sweep` takes a list, e.g. 0,1,2.",
    transform: parseSeeds)
  var seeds = SeedList(values: [0])

  /// The seed of a command that runs each section once.
  var seed: UInt64 { seeds.values[0] }

  @Option(help: "Threads for the engine (default: all cores).")
  var threads: Int = ProcessInfo.processInfo.activeProcessorCount

  @Option(help: "Folder of the reports (sweeps go to its sweeps/ subfolder).")
  var output: String = "Output"

  @Flag(help: "No cell output on the terminal, no progress bar.")
  var quiet = false

  @Flag(help: """
    Continue trainings from their checkpoints (saved in <output>/.cache/checkpoints at the \
    end of every epoch and on Ctrl-C), with the same parameters, seed and threads.
    """)
  var resume = false

  @Flag(help: """
    Train every network, even those whose result is in the training cache \
    (<output>/.cache/trainings), and store nothing there.
    """)
  var noCache = false

  @Option(help: """
    Stop the run when one cell has run this many seconds (default: no limit); the \
    section's report is not written, and the exit status is 1.
    """)
  var cellTimeout: Double?

  @Option(help: """
    `chapter run` only: write the run's progress to this file as JSON lines, for a program \
    watching the run: each cell's output as it ends, the training's progress and curve \
    points, the reports.
    """)
  var events: String?

  func validate() throws {
    try Self.validate(threads: threads, cellTimeout: cellTimeout)
    guard seeds.values.count == 1 || allowsSeedList else {
      throw ValidationError("--seed takes one seed here; `chapter sweep` runs a list of them")
    }
    guard events == nil || subcommand == "run" else {
      // One file per run: `build` and `sweep` run several, which would overwrite each other's.
      throw ValidationError("--events is for `chapter run` (one section, one run)")
    }
  }

  /// The checks of `--threads` and `--cell-timeout`, which `chapter preview` shares.
  static func validate(threads: Int, cellTimeout: Double?) throws {
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    if let cellTimeout, !(cellTimeout > 0 && cellTimeout.isFinite) {
      throw ValidationError("--cell-timeout must be a number of seconds above 0")
    }
  }

  func options(profile: String?, sections: [SectionLink]) -> RunOptions {
    var options = RunOptions(
      profile: profile, seed: seed, threads: threads, outputDirectory: output, quiet: quiet,
      sections: sections)
    options.resume = resume
    options.noCache = noCache
    options.cellTimeout = cellTimeout
    options.eventsPath = events
    options.mathLibrary = "OpenBLAS " + BLASKernel.description
    options.chapterIndexMarkdown = Chapters.chapterIndexMarkdown
    return options
  }

  /// After SIGINT or SIGTERM: the reports are unchanged and this command, with `--resume`,
  /// goes on where training stopped.
  static func explainInterruption() {
    var arguments = CommandLine.arguments
    if !arguments.contains("--resume") { arguments.append("--resume") }
    let command = arguments.map(shellQuoted).joined(separator: " ")
    let text = "chapter: the reports of the last complete run are unchanged. To continue "
      + "where training stopped:\n  \(command)\n"
    FileHandle.standardError.write(Data(text.utf8))
  }

  static func shellQuoted(_ word: String) -> String {
    let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=,:+@".contains($0) }
    return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  /// Runs a planned section on a freshly seeded engine. A cell's failure goes to standard
  /// error even when quiet (the exit code alone says too little); an interruption ends
  /// the command with exit status 1 and the way to resume.
  func run(_ plan: RunPlan) throws -> RunResult {
    D2L.prepareEngine(seed: seed, threads: threads)
    let result = try SectionRunner.run(plan)
    if let failure = result.failureMessage {
      FileHandle.standardError.write(Data(("chapter: " + failure + "\n").utf8))
    }
    if result.interrupted {
      RunFlags.explainInterruption()
      throw ExitCode(1)
    }
    return result
  }

  /// Whether `--seed` may list several seeds: set by `chapter sweep` only. ArgumentParser
  /// builds this group for each command; the sweep command's own options cannot reach it
  /// during `validate`, hence the command line.
  var allowsSeedList: Bool { subcommand == "sweep" }

  /// The subcommand on the command line (`run`, `sweep`, …), for checks that depend on it.
  var subcommand: String? { CommandLine.arguments.dropFirst().first }
}
