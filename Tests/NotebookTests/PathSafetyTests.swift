import ChapterFormat
import Foundation
import Testing

@testable import Notebook

/// Nothing in a chapter or a `--set` value steers a write outside the output folder and its
/// cache: file names come from validated slugs and cell ids, and checkpoint names are made
/// of safe characters whatever they are given.
// Nested in RunnerTests, which is serialized: a section run sets the global
// `NotebookSession.current`, and RunnerTests checks that it is nil after its own runs.
extension RunnerTests {
@Suite struct PathSafetyTests {
  @Test func safeNamesCannotLeaveTheirFolder() {
    for name in ["../../etc/passwd", "/abs/path", ".hidden", "..", "", "a b\u{0}c/d", "ü/ä", "x\\y"] {
      let safe = CheckpointLocation.safeName(name)
      #expect(!safe.isEmpty)
      #expect(!safe.contains("/") && !safe.contains("\\") && !safe.contains("\u{0}"), "\(safe)")
      #expect(!safe.hasPrefix("."), "\(safe)")
    }
    #expect(CheckpointLocation.safeName("train-scratch_2") == "train-scratch_2")
  }

  @Test func sectionFileNamesAndCellIdsAreValidated() {
    for bad in ["7.5-../../x.md", "7.5-a b.md", "../7.5-x.md/..", "7.5-x/y.md", "..-x.md"] {
      let parsed = SectionFileName(fileName: bad)
      #expect(parsed == nil || !(parsed!.slug.contains("/") || parsed!.slug.contains("..")), "\(bad)")
    }
    for bad in ["../x", "a/b", "", ".", "a b"] {
      #expect(!ChapterParser.isValidID(bad), "\(bad)")
    }
  }

  @Test func fingerprintsAreStable() {
    // FNV-1a 64 test vectors.
    #expect(CheckpointLocation.fingerprint("") == "cbf29ce484222325")
    #expect(CheckpointLocation.fingerprint("a") == "af63dc4c8601ec8c")
  }

  /// A whole run, with string overrides that look like paths: every file it writes is under
  /// the output folder, and checkpoint paths stay in its cache.
  @Test func aRunWritesOnlyUnderItsOutputFolder() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let output = folder + "/Output"
    final class Box: @unchecked Sendable { var path = "" }
    let box = Box()
    let base = Fixture.program(folder: folder)
    let program = SectionProgram(
      number: base.number, slug: base.slug, sourcePath: base.sourcePath, markdown: base.markdown
    ) { nb in
      try base.run(nb)
      box.path = nb.nextCheckpointPath()
    }
    var options = RunOptions(profile: "smoke", outputDirectory: output, quiet: true)
    options.overrides = ["names": #"["../../escape", "/tmp/x"]"#]
    let result = try SectionRunner.run(program, options: options)
    #expect(result.exitCode == 0, "\(result.failureMessage ?? "")")
    let checkpoint = box.path
    #expect(checkpoint.hasPrefix(output + "/.cache/checkpoints/9.1-test/"), "\(checkpoint)")
    #expect(!checkpoint.dropFirst(output.count).contains(".."), "\(checkpoint)")

    let written = FileManager.default.enumerator(atPath: folder)?.compactMap { $0 as? String } ?? []
    #expect(!written.isEmpty)
    for path in written where path != "Output" {
      #expect(path.hasPrefix("Output/"), "wrote \(path) outside the output folder")
    }
  }
}
}
