import Foundation

/// The machine-readable summary of a section's last run, `<slug>.json` beside its reports:
/// the index page and `chapter list` read it, so neither has to parse HTML.
public struct RunRecord: Codable, Sendable, Equatable {
  public var number: String
  public var slug: String
  public var title: String
  public var profile: String
  public var seed: UInt64
  public var threads: Int
  public var variant: String?
  public var trainSubset: Int?
  public var testSubset: Int?
  /// `ok` or `failed`.
  public var status: String
  public var failedCell: String?
  public var commit: String
  public var date: String
  public var machine: String
  public var wallSeconds: Double
  /// Parameters that differ from the book, as `name: literal`.
  public var changedParameters: [String: String]
  public var trainings: [TrainingSummary]

  init(model: ReportModel) {
    let plan = model.plan
    number = plan.program.number
    slug = plan.program.slug
    title = plan.title
    profile = model.settings.profile
    seed = model.settings.seed
    threads = model.settings.threads
    variant = plan.options.variant
    trainSubset = model.settings.trainSubset
    testSubset = model.settings.testSubset
    status = model.succeeded ? "ok" : "failed"
    failedCell = model.failed?.id
    commit = model.provenance.commit
    date = model.provenance.date
    machine = model.provenance.machine
    wallSeconds = model.totalSeconds
    changedParameters = Dictionary(
      uniqueKeysWithValues: model.parameterRows.filter(\.differs).map { ($0.name, $0.value) })
    trainings = model.trainings
  }

  func write(to folder: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    // Non-finite numbers (a loss that went NaN) must not make the record unwritable.
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let data = try encoder.encode(self)
    try AtomicFile.write([UInt8](data), to: folder + "/" + slug + ".json")
  }

  /// The last run of `slug` in `folder`, if its record is there and readable.
  public static func read(slug: String, folder: String) -> RunRecord? {
    guard let data = FileManager.default.contents(atPath: folder + "/" + slug + ".json") else {
      return nil
    }
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try? decoder.decode(RunRecord.self, from: data)
  }
}
