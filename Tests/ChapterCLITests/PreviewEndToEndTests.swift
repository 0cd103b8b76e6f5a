import Foundation
import Testing

/// `chapter preview` as a reader uses it: on a copy of the package (the preview edits its
/// chapters and rebuilds it), with the page open in headless Chromium. The steps and checks
/// are in `Tests/Browser/preview_e2e.py`; this test builds the copy and runs the script.
@Suite(.serialized) struct PreviewEndToEndTests {
  @Test func editsShowUpLiveAndErrorsAtTheirLine() throws {
    let work = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: work) }
    let binary = try CLI.buildCopy(in: work)
    let script = CLI.packageRoot.appendingPathComponent("Tests/Browser/preview_e2e.py").path
    var arguments = ["python3", script, "--binary", binary.path,
                     "--package", work.appendingPathComponent("package").path]
    if let folder = ProcessInfo.processInfo.environment["PREVIEW_SCREENSHOTS"] {
      arguments += ["--screenshots", folder]
    }
    let result = try CLI.run(
      arguments, environment: ["SWIFT": CLI.swift], executable: URL(fileURLWithPath: "/usr/bin/env"))
    #expect(result.exitCode == 0, "\(result.stdout)\n\(result.stderr)")
    #expect(result.stdout.contains("\"ok\": true"), "\(result.stdout)")
  }
}
