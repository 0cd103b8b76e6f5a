import Foundation
import Testing

@testable import Notebook

/// The commit in a report's header says "(modified)" when the project differs from it, but
/// not because of the reports themselves, which `chapter build` rewrites one by one.
@Suite struct ProvenanceTests {
  @Test func reportsDoNotMarkTheCommitModified() throws {
    let top = FileManager.default.temporaryDirectory
      .appendingPathComponent("provenance-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: top) }
    let chapters = top + "/Chapters", output = top + "/Output"
    for folder in [chapters, output] {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }
    let chapter = chapters + "/7.5-batch-norm.md", report = output + "/7.5-batch-norm.md"
    try "# text\n".write(toFile: chapter, atomically: true, encoding: .utf8)
    try "old report\n".write(toFile: report, atomically: true, encoding: .utf8)
    for arguments in [["init", "-q"], ["add", "."],
                      ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"]] {
      #expect(Provenance.git(arguments, in: top) != nil, "git \(arguments)")
    }
    let head = try #require(Provenance.git(["rev-parse", "--short", "HEAD"], in: top))

    #expect(Provenance.collect(sourcePath: chapter, reportFolder: output).commit == head)
    try "new report\n".write(toFile: report, atomically: true, encoding: .utf8)
    #expect(Provenance.collect(sourcePath: chapter, reportFolder: output).commit == head)
    // Without the report folder, or with another one, the changed report counts.
    #expect(Provenance.collect(sourcePath: chapter).commit == head + " (modified)")
    #expect(Provenance.collect(sourcePath: chapter, reportFolder: top + "/Elsewhere").commit
      == head + " (modified)")
    try "# edited\n".write(toFile: chapter, atomically: true, encoding: .utf8)
    #expect(Provenance.collect(sourcePath: chapter, reportFolder: output).commit
      == head + " (modified)")
  }
}

/// Report dates are UTC to the minute, cut (not rounded) as a clock shows them.
@Suite struct ReportDateTests {
  @Test func formatsUTCToTheMinute() {
    #expect(Provenance.format(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00 UTC")
    // 2025-05-01 14:03:59 UTC.
    #expect(Provenance.format(Date(timeIntervalSince1970: 1_746_108_239)) == "2025-05-01 14:03 UTC")
    // 2024-12-31 23:59:59.9 UTC, the last moment of a leap year.
    #expect(Provenance.format(Date(timeIntervalSince1970: 1_735_689_599.9)) == "2024-12-31 23:59 UTC")
  }
}

/// The machine line names the CPU by its numbers too: a hypervisor's "Intel(R) Xeon(R)
/// Processor" covers generations whose arithmetic and speed differ.
@Suite struct MachineDescriptionTests {
  @Test func namesFamilyModelAndStepping() {
    let cpuinfo = """
      processor\t: 0
      vendor_id\t: GenuineIntel
      cpu family\t: 6
      model\t\t: 207
      model name\t: Intel(R) Xeon(R) Processor
      stepping\t: 2

      processor\t: 1
      model\t\t: 99
      """
    #expect(Provenance.machineDescription(cpuinfo: cpuinfo, cores: 2)
      == "Intel(R) Xeon(R) Processor (family 6, model 207, stepping 2), 2 cores")
    #expect(Provenance.machineDescription(cpuinfo: nil, cores: 1) == "unknown CPU, 1 core")
  }
}

