import Foundation

/// Where and when a run happened, for the top of its report: the project's commit, the
/// date, the machine.
public struct Provenance: Sendable, Equatable {
  /// `git rev-parse --short HEAD` of the repository holding the chapter, with
  /// ` (modified)` when tracked files outside the report folder differ from it; `unknown`
  /// outside a repository. The reports themselves do not count: `chapter build` rewrites
  /// the committed ones section by section, and would otherwise call every section after
  /// the first "modified".
  public var commit: String
  /// UTC, `2025-05-01 14:03 UTC`.
  public var date: String
  /// CPU model and core count, e.g. `AMD EPYC 7B13, 2 cores`, then the math library's
  /// kernel set when the caller gave one (`…, 2 cores, OpenBLAS Zen`).
  public var machine: String

  public init(commit: String, date: String, machine: String) {
    self.commit = commit
    self.date = date
    self.machine = machine
  }

  /// Collects the facts for a chapter at `sourcePath` whose reports go to `reportFolder`
  /// (run it before output is captured: it starts `git`).
  public static func collect(
    sourcePath: String, reportFolder: String? = nil, mathLibrary: String? = nil,
    now: Date = Date()
  ) -> Provenance {
    let folder = (sourcePath as NSString).deletingLastPathComponent
    var commit = "unknown"
    if let head = run(["git", "rev-parse", "--short", "HEAD"], in: folder), !head.isEmpty {
      commit = head
      // Tracked files that differ from HEAD (staged or not), as paths from the top folder.
      if let changes = run(["git", "diff", "--name-only", "HEAD"], in: folder),
        let top = run(["git", "rev-parse", "--show-toplevel"], in: folder)
      {
        let ignored = reportFolder.flatMap { relativePath(of: $0, under: top) }.map { $0 + "/" }
        let modified = changes.split(separator: "\n").contains { path in
          ignored.map { !path.hasPrefix($0) } ?? true
        }
        if modified { commit += " (modified)" }
      }
    }
    let machine = machineDescription() + (mathLibrary.map { ", " + $0 } ?? "")
    return Provenance(commit: commit, date: format(now), machine: machine)
  }

  /// `path` relative to the folder `top` ("Output" for `<top>/Output`), or nil when it is not
  /// inside it. Both are resolved first (symbolic links, `..`).
  static func relativePath(of path: String, under top: String) -> String? {
    func resolved(_ p: String) -> String {
      URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path
    }
    let (p, t) = (resolved(path), resolved(top))
    guard p.hasPrefix(t + "/") else { return nil }
    return String(p.dropFirst(t.count + 1))
  }

  public static func format(_ date: Date) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
    return f.string(from: date)
  }

  /// The CPU as /proc/cpuinfo names it, with its family, model and stepping numbers (a
  /// hypervisor may call very different CPUs "Intel(R) Xeon(R) Processor" or "AMD EPYC"),
  /// and the core count: "Intel(R) Xeon(R) Processor (family 6, model 207, stepping 2),
  /// 2 cores".
  static func machineDescription() -> String {
    machineDescription(
      cpuinfo: try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
      cores: ProcessInfo.processInfo.activeProcessorCount)
  }

  static func machineDescription(cpuinfo: String?, cores: Int) -> String {
    var fields: [String: String] = [:]
    // The first processor's block is enough: the fields are the same for every core.
    for line in (cpuinfo ?? "").split(separator: "\n", omittingEmptySubsequences: false) {
      if line.trimmingCharacters(in: .whitespaces).isEmpty { break }
      guard let colon = line.firstIndex(of: ":") else { continue }
      let key = line[..<colon].trimmingCharacters(in: .whitespaces)
      if fields[key] == nil {
        fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      }
    }
    var model = fields["model name"] ?? "unknown CPU"
    let numbers = [("family", "cpu family"), ("model", "model"), ("stepping", "stepping")]
      .compactMap { name, key in fields[key].map { "\(name) \($0)" } }
    if !numbers.isEmpty { model += " (" + numbers.joined(separator: ", ") + ")" }
    return "\(model), \(cores) core\(cores == 1 ? "" : "s")"
  }

  /// Runs a command in `folder`; its trimmed standard output, or `nil` if it failed.
  static func run(_ arguments: [String], in folder: String) -> String? {
    guard FileManager.default.fileExists(atPath: folder) else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    do {
      try process.run()
    } catch {
      return nil
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
