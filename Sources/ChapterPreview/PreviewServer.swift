import FlyingFox
import FlyingSocks
import Foundation
import PreviewSetup

/// The preview's HTTP server, on 127.0.0.1 only (FlyingFox).
///
/// - `/`: the preview page (`PreviewPage`), which frames the report and shows the live state;
/// - `/_preview/app.js`, `/_preview/app.css`: its script and style;
/// - `/_preview/live`: the WebSocket that streams `LiveChannel`'s messages;
/// - `/report/NAME`: a file of the output folder (`ServedFolder` decides which); anything
///   else is 404.
///
/// Requests whose `Host` is not this loopback address and port are refused, and so is a
/// WebSocket opened from another origin: a web page elsewhere cannot read the preview
/// through the browser (DNS rebinding, cross-site WebSocket).
public final class PreviewServer: Sendable {
  private let server: HTTPServer
  private let handler: PreviewRequestHandler

  /// A server for `settings` on `port` (0: a free one), not yet listening.
  public init(settings: PreviewSettings, channel: LiveChannel, port: UInt16) throws {
    let folder = try ServedFolder(path: settings.outputFolder)
    handler = PreviewRequestHandler(
      folder: folder, page: PreviewPage(title: settings.title, reportName: settings.reportName),
      socket: WebSocketHTTPHandler(handler: MessageFrameWSHandler(handler: LiveSocket(channel: channel))))
    let address = try sockaddr_in.inet(ip4: "127.0.0.1", port: port)
    server = HTTPServer(address: address, timeout: 60, logger: .disabled, handler: handler)
  }

  /// Starts listening and returns the port, or throws when the port cannot be had (taken,
  /// or not allowed).
  public func start() async throws -> UInt16 {
    let failure = Locked<Error?>(nil)
    let server = self.server
    Task {
      do { try await server.run() } catch { failure.set(error) }
    }
    while true {
      if let error = failure.get() { throw error }
      if case .ip4(_, let port)? = await server.listeningAddress {
        handler.port.set(port)
        return port
      }
      try await Task.sleep(nanoseconds: 20_000_000)
    }
  }

  public func stop() async {
    await server.stop(timeout: 1)
  }

  /// Whether `error` from `start` says the port is in use.
  public static func isAddressInUse(_ error: Error) -> Bool {
    if case SocketError.failed(_, let errno, _) = error { return errno == EADDRINUSE }
    return false
  }
}

struct PreviewRequestHandler: HTTPHandler {
  let folder: ServedFolder
  let page: PreviewPage
  let socket: WebSocketHTTPHandler
  let port = Locked<UInt16>(0)

  func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
    guard request.method == .GET || request.method == .HEAD else {
      return Self.text(.methodNotAllowed, "only GET and HEAD")
    }
    let port = self.port.get()
    let hosts = ["127.0.0.1:\(port)", "localhost:\(port)"]
    guard let host = request.headers[.host], hosts.contains(host.lowercased()) else {
      return Self.text(.forbidden, "the preview answers on http://127.0.0.1:\(port)/ only")
    }
    let path = request.target.path(percentEncoded: true)
    switch path {
    case "/":
      return Self.response(
        Data(page.html(reportExists: folder.file(forEncodedPath: page.reportPath) != nil).utf8),
        type: "text/html; charset=utf-8", policy: PreviewPage.contentSecurityPolicy)
    case "/_preview/app.js":
      return Self.response(Data(PreviewPage.script.utf8), type: "text/javascript; charset=utf-8")
    case "/_preview/app.css":
      return Self.response(Data(PreviewPage.style.utf8), type: "text/css; charset=utf-8")
    case "/_preview/live":
      let origin = request.headers[HTTPHeader("Origin")]?.lowercased()
      guard let origin, hosts.map({ "http://" + $0 }).contains(origin) else {
        return Self.text(.forbidden, "the live channel is for the preview page only")
      }
      return try await socket.handleRequest(request)
    default:
      guard path.hasPrefix("/report/"),
        let file = folder.file(forEncodedPath: String(path.dropFirst("/report/".count))),
        let data = FileManager.default.contents(atPath: file)
      else {
        return Self.text(.notFound, "not found")
      }
      // The reports' own policy (no script) again as a header, which also covers the
      // SVG figures and any file without a <meta> of its own.
      return Self.response(
        data, type: Self.contentType(of: file),
        policy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
    }
  }

  static func contentType(of file: String) -> String {
    switch (file as NSString).pathExtension.lowercased() {
    case "html": "text/html; charset=utf-8"
    case "svg": "image/svg+xml"
    case "json": "application/json"
    case "css": "text/css; charset=utf-8"
    case "png": "image/png"
    default: "text/plain; charset=utf-8"
    }
  }

  static func response(_ body: Data, type: String, policy: String? = nil) -> HTTPResponse {
    var headers: HTTPHeaders = [
      .contentType: type, .cacheControl: "no-store",
      HTTPHeader("X-Content-Type-Options"): "nosniff",
    ]
    if let policy { headers[HTTPHeader("Content-Security-Policy")] = policy }
    return HTTPResponse(statusCode: .ok, headers: headers, body: body)
  }

  static func text(_ status: HTTPStatusCode, _ message: String) -> HTTPResponse {
    HTTPResponse(
      statusCode: status,
      headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
      body: Data((message + "\n").utf8))
  }
}
