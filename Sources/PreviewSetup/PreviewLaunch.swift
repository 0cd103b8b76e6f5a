import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How `chapter preview` hands over to its server, `chapter-preview`, a program of its own.
///
/// Why a second program: the HTTP library (FlyingFox) links FoundationNetworking, which loads
/// libcurl, GnuTLS, Kerberos and LDAP, some 35 shared objects, at the start of any program
/// that links it. In `chapter` itself every command paid for them, a cached re-run included
/// (BENCHMARKS.md, "The preview's server as a program of its own"). So `chapter` checks the
/// arguments and works out the settings, builds `chapter-preview` in its own build folder
/// (once; later a no-op), and replaces itself with it (`execv`), which keeps the process,
/// its terminal, its signals and its exit status.
public enum PreviewLaunch {
  /// The server's product name, built beside `chapter`.
  public static let product = "chapter-preview"

  /// The arguments `chapter-preview` takes: the settings as JSON, then the port.
  public static func arguments(_ settings: PreviewSettings, port: UInt16) throws -> [String] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    guard let json = String(data: try encoder.encode(settings), encoding: .utf8) else {
      throw PreviewError("cannot encode the preview's settings")
    }
    return [json, String(port)]
  }

  /// Reads what `arguments` wrote (`chapter-preview`'s command line after its name).
  public static func decode(_ arguments: [String]) throws -> (PreviewSettings, UInt16) {
    guard arguments.count == 2, let port = UInt16(arguments[1]),
      let settings = try? JSONDecoder().decode(PreviewSettings.self, from: Data(arguments[0].utf8))
    else {
      throw PreviewError(
        "chapter-preview is started by `chapter preview SECTION`, which passes it its settings")
    }
    return (settings, port)
  }

  /// Builds `chapter-preview` where `chapter` was built and replaces this process with it.
  /// Returns only by throwing: the build failed, or the program could not be started.
  public static func exec(_ settings: PreviewSettings, port: UInt16) throws -> Never {
    let server = settings.scratchPath + "/" + settings.configuration + "/" + product
    if !FileManager.default.isExecutableFile(atPath: server) {
      FileHandle.standardError.write(
        Data("chapter preview: building its server (\(product)) once, in \(settings.scratchPath)\n".utf8))
    }
    try build(settings)
    let argv = [server] + (try arguments(settings, port: port))
    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
    cArgs.append(nil)
    execv(server, cArgs)
    let reason = String(cString: strerror(errno))
    throw PreviewError("cannot start \(server): \(reason)")
  }

  /// `swift build --product chapter-preview` for the package, with the same scratch folder and
  /// configuration as `chapter`, so that it shares every module already built. Its output is
  /// shown only when it fails.
  static func build(_ settings: PreviewSettings) throws {
    let log = FileManager.default.temporaryDirectory
      .appendingPathComponent("chapter-preview-build-\(getpid()).log").path
    defer { try? FileManager.default.removeItem(atPath: log) }
    guard FileManager.default.createFile(atPath: log, contents: nil),
      let output = FileHandle(forWritingAtPath: log)
    else { throw PreviewError("cannot write the build log \(log)") }
    let command = settings.buildCommand(product: product)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    process.standardOutput = output
    process.standardError = output
    do {
      try process.run()
    } catch {
      throw PreviewError("cannot start \(settings.swift): \(error.localizedDescription)")
    }
    process.waitUntilExit()
    try? output.close()
    guard process.terminationStatus == 0 else {
      let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
      let tail = text.split(separator: "\n").suffix(30).joined(separator: "\n")
      throw PreviewError("building \(product) failed (exit \(process.terminationStatus)):\n\(tail)")
    }
  }
}
