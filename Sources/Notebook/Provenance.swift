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
    // One `git` for the commit and the top folder, one for the changes: this runs before
    // every section, and each process costs milliseconds.
    // rev-parse prints the top folder (an option) before the revision it resolves.
    if let lines = git(["rev-parse", "--show-toplevel", "--short", "HEAD"], in: folder)?
      .split(separator: "\n").map(String.init), lines.count == 2, !lines[1].isEmpty
    {
      let top = lines[0]
      commit = lines[1]
      // Tracked files that differ from HEAD (staged or not), as paths from the top folder.
      if let changes = git(["diff", "--name-only", "HEAD"], in: folder) {
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
  static func git(_ arguments: [String], in folder: String) -> String? {
    guard FileManager.default.fileExists(atPath: folder) else { return nil }
    // posix_spawn rather than Foundation's Process, whose start and wait cost tens of
    // milliseconds here: most of a re-run whose trainings all come from the cache.
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { return nil }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addclose(&actions, ends[0])
    posix_spawn_file_actions_addclose(&actions, ends[1])
    let argv = (["git", "-C", folder] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let spawned = posix_spawnp(&pid, "git", &actions, nil, argv, environ)
    close(ends[1])
    defer { close(ends[0]) }
    guard spawned == 0 else { return nil }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
      if n > 0 {
        output += chunk[..<n]
      } else if n == 0 || errno != EINTR {
        break
      }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    guard status == 0 else { return nil }
    return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
