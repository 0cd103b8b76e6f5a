import Common
import Foundation

/// The page the preview serves at `/`: a status line, the problems of the last save (a
/// compile error at its `.md` line, a failed run's messages), the live state of the run
/// (progress, one training curve per network growing point by point, each cell's output as
/// it ends) and, below, the report itself in a frame, reloaded when the run writes it anew.
///
/// Its script (`script`) is the only one: the reports stay script-free (their own
/// Content-Security-Policy, repeated by the server as a header), and the script writes
/// every text it receives with `textContent`, never as markup, so a cell's output is shown,
/// never executed.
struct PreviewPage: Sendable {
  var title: String
  var reportName: String

  /// The report's path under `/report/`, percent-encoded.
  var reportPath: String {
    reportName.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? reportName
  }

  static let contentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    + "frame-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"

  func html(reportExists: Bool) -> String {
    let frameSource = reportExists ? " src=\"/report/\(HTML.escape(reportPath))\"" : ""
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>preview · \(HTML.escape(title))</title>
      <link rel="icon" href="data:,">
      <link rel="stylesheet" href="/_preview/app.css">
      <script src="/_preview/app.js" defer></script>
      </head>
      <body data-cycle="0" data-report-cycle="0">
      <header>
      <h1>\(HTML.escape(title))</h1>
      <p id="status" role="status">connecting to the preview…</p>
      </header>
      <section id="problems" hidden>
      <h2 id="problems-title"></h2>
      <div id="problem-list"></div>
      </section>
      <section id="live" aria-label="the run in progress">
      <p id="progress"></p>
      <div id="curves"></div>
      <details id="cell-outputs"><summary>cell outputs (<span id="cell-count">0</span>)</summary><ol id="cells"></ol></details>
      </section>
      <p id="no-report"\(reportExists ? " hidden" : "")>No report yet: the first run writes it.</p>
      <iframe id="report" title="the section's report"\(frameSource)\(reportExists ? "" : " hidden")></iframe>
      </body>
      </html>

      """
  }
}
