import ChapterFormat
import Foundation

/// A section run, fully checked: the document, its front matter, the effective overrides and
/// settings. Building one runs nothing; every bad input is found here.
public struct RunPlan: Sendable {
  public let program: SectionProgram
  public let document: ChapterDocument
  public let frontMatter: FrontMatter
  public let title: String
  public var settings: RunSettings
  public let parameters: [ParameterInfo]
  public let overrides: [String: ParameterOverride]
  public var options: RunOptions
  /// Set when the profile's subsets came from a profile description (for the report).
  public var profileDescription: String?

  /// Parses `program.markdown` and checks the options against it.
  public init(program: SectionProgram, options: RunOptions) throws {
    let document = try ChapterParser.parse(program.markdown, path: program.sourcePath)
    try self.init(program: program, document: document, options: options)
  }

  /// As above, from an already parsed document (tests build documents by hand).
  public init(program: SectionProgram, document: ChapterDocument, options: RunOptions) throws {
    self.program = program
    self.document = document
    self.options = options
    let frontMatter = try FrontMatter.parse(document)
    self.frontMatter = frontMatter
    self.title = frontMatter.title ?? Self.firstHeading(document) ?? program.slug

    var parameters: [ParameterInfo] = []
    for cell in document.cells {
      for decl in cell.parameters {
        if let i = parameters.firstIndex(where: { $0.name == decl.name }) {
          parameters[i].declarations.append(decl)
        } else {
          parameters.append(ParameterInfo(name: decl.name, declarations: [decl]))
        }
      }
    }
    self.parameters = parameters
    let path = document.path

    // Profile.
    let profileName = options.profile ?? (frontMatter.profile(named: "quick") != nil ? "quick" : "book")
    let profile = frontMatter.profile(named: profileName)
    if profile == nil && profileName != "book" {
      let declared = ["book"] + frontMatter.profiles.map(\.name).filter { $0 != "book" }
      throw ChapterError(
        path: path, line: frontMatter.line,
        message: "unknown profile '\(profileName)': this chapter's profiles are "
          + declared.joined(separator: ", "))
    }
    self.profileDescription = profile?.description

    var settings = RunSettings(
      profile: profileName, seed: options.seed, threads: options.threads, quiet: options.quiet)
    settings.skipTraining = options.skipTraining
    settings.resume = options.resume
    settings.useCache = !options.noCache

    // Profile, then variant, then --set: a later source overrides an earlier one.
    var requests: [OverrideRequest] = []
    if let profile { requests += profile.entries.map { OverrideRequest(profile: profile.name, $0) } }
    if let variantName = options.variant {
      let variants = document.blocks.compactMap { b -> Variant? in
        if case .variant(let v) = b { v } else { nil }
      }
      guard let variant = variants.first(where: { $0.name == variantName }) else {
        let names = variants.map(\.name)
        throw NotebookError(
          "unknown variant '\(variantName)' in \(path): "
            + (names.isEmpty ? "it declares none" : "its variants are " + names.joined(separator: ", ")))
      }
      requests += variant.assignments.map { OverrideRequest(variant: variantName, $0) }
    }
    // --set in name order, so that the first error reported does not depend on hashing.
    requests += options.overrides.sorted(by: { $0.key < $1.key }).map(OverrideRequest.init(set:))
    let resolved = try ParameterOverrides.resolve(
      requests, parameters: parameters, frontMatter: frontMatter, path: path)
    if let n = resolved.trainSubset { settings.trainSubset = n }
    if let n = resolved.testSubset { settings.testSubset = n }
    self.overrides = resolved.overrides
    self.settings = settings
  }

  static func firstHeading(_ document: ChapterDocument) -> String? {
    for block in document.blocks {
      guard case .prose(let p) = block else { continue }
      for line in p.markdown.split(separator: "\n") where line.hasPrefix("# ") {
        return line.dropFirst(2).trimmingCharacters(in: .whitespaces)
      }
    }
    return nil
  }
}


