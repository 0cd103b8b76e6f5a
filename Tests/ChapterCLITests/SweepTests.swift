import Foundation
import Testing

/// `chapter sweep` over variants and seeds: each combination's mean and spread over the seeds
/// beside the book's, curves of the means in bands, every run through the training cache.
@Suite(.serialized) struct SweepTests {
  static let arguments = [
    "sweep", "7.5", "--profile", "smoke", "--variant", "base,lr-0.1", "--seed", "0,1", "--quiet",
  ]

  @Test func variantsAndSeedsGiveMeansAndSpreads() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(Self.arguments + ["--output", dir.path])
    #expect(result.exitCode == 0, "\(result.stderr)")
    let sweeps = dir.appendingPathComponent("sweeps")
    let name = "7.5-batch-norm-variant-seed"
    let md = try String(contentsOf: sweeps.appendingPathComponent(name + ".md"), encoding: .utf8)
    #expect(md.contains("| variant | network | seeds | test acc (mean) | min–max | the book |"), "\(md)")
    // Two variants times the section's two networks, two seeds each; the book's figure
    // beside each (0.874 and 0.814 for 7.5's two trainings).
    let summary = md.split(separator: "\n").filter { $0.hasPrefix("| base |") || $0.hasPrefix("| lr-0.1 |") }
    let means = summary.filter { $0.contains("| 2 |") }
    #expect(means.count == 4, "\(md)")
    #expect(means.filter { $0.contains("| 0.874 |") }.count == 2, "\(means)")
    // Each mean lies within its min–max, and the per-run table has the four runs' eight trainings.
    for row in means {
      let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      let mean = try #require(Double(cells[3]))
      let range = cells[4].split(separator: "–").compactMap { Double($0) }
      #expect(range.count == 2 && range[0] <= mean && mean <= range[1], "\(row)")
    }
    let runs = md.split(separator: "\n").filter { $0.hasPrefix("| base | 0 |") || $0.hasPrefix("| base | 1 |")
      || $0.hasPrefix("| lr-0.1 | 0 |") || $0.hasPrefix("| lr-0.1 | 1 |") }
    #expect(runs.count == 8, "\(md)")
    let svg = try String(contentsOf: sweeps.appendingPathComponent(name + ".svg"), encoding: .utf8)
    #expect(svg.components(separatedBy: "fill-opacity=\"0.15\"").count - 1 == 8, "a band per mean curve")

    // Again: every run comes from the cache, with the same table of means.
    let again = try CLI.run(Self.arguments + ["--output", dir.path])
    #expect(again.exitCode == 0, "\(again.stderr)")
    let md2 = try String(contentsOf: sweeps.appendingPathComponent(name + ".md"), encoding: .utf8)
    let summary2 = md2.split(separator: "\n").filter { $0.hasPrefix("| base |") || $0.hasPrefix("| lr-0.1 |") }
      .filter { $0.contains("| 2 |") }
    #expect(summary2.map { $0.split(separator: "|").prefix(8) } == means.map { $0.split(separator: "|").prefix(8) })
    #expect(md2.components(separatedBy: "cached from").count - 1 == 8, "\(md2)")
  }

  @Test func runAndBuildTakeOneSeed() throws {
    let result = try CLI.run(["run", "7.5", "--profile", "smoke", "--seed", "0,1"])
    #expect(result.exitCode == 2)
    #expect(result.stderr.contains("--seed takes one seed here"), "\(result.stderr)")
    let unknown = try CLI.run(
      ["sweep", "7.5", "--profile", "smoke", "--variant", "base,no-such-variant", "--output", "/tmp/unused-sweep"])
    #expect(unknown.exitCode == 2, "\(unknown.stderr)")
    #expect(unknown.stderr.contains("no-such-variant"), "\(unknown.stderr)")
  }
}
