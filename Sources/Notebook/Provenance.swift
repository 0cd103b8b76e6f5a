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

  /// Collects the facts for a chapter at `sourcePath` whose reports go to `reportFolder`.
  public static func collect(
    sourcePath: String, reportFolder: String? = nil, mathLibrary: String? = nil,
    now: Date = Date()
  ) -> Provenance {
    start(sourcePath: sourcePath, reportFolder: reportFolder, mathLibrary: mathLibrary, now: now)
      .finish()
  }

  /// Starts collecting on a thread of its own (the two `git` processes, the CPU's name), so
  /// that the runner can run the cells meanwhile and read the answer for the report: a
  /// re-run whose trainings all come from the cache lasts only a few times as long as git.
  public static func start(
    sourcePath: String, reportFolder: String? = nil, mathLibrary: String? = nil,
    now: Date = Date()
  ) -> Pending {
    let folder = (sourcePath as NSString).deletingLastPathComponent
    let pending = Pending(date: format(now))
    let thread = Thread {
      pending.commit = commit(of: folder, ignoring: reportFolder)
      pending.machine = machineDescription() + (mathLibrary.map { ", " + $0 } ?? "")
      pending.done.signal()
    }
    thread.name = "provenance"
    thread.start()
    return pending
  }

  /// A collection under way; `finish` waits for it.
  public final class Pending: @unchecked Sendable {
    // Written by the collecting thread before it signals `done`, read after `finish` waited.
    fileprivate var commit = "unknown"
    fileprivate var machine = ""
    fileprivate let done = DispatchSemaphore(value: 0)
    private let date: String

    fileprivate init(date: String) { self.date = date }

    public func finish() -> Provenance {
      done.wait()
      // For the next call, if any: the collection stays finished.
      done.signal()
      return Provenance(commit: commit, date: date, machine: machine)
    }
  }

  /// The short hash of the commit checked out in `folder`'s repository, with ` (modified)`
  /// when tracked files outside `reportFolder` differ from it; `unknown` outside a
  /// repository.
  static func commit(of folder: String, ignoring reportFolder: String?) -> String {
    // Both at once. rev-parse prints the top folder (an option) before the revision it
    // resolves; diff lists the tracked files that differ from HEAD (staged or not), from
    // the top folder.
    let revision = startGit(["rev-parse", "--show-toplevel", "--short", "HEAD"], in: folder)
    let changes = startGit(["diff", "--name-only", "HEAD"], in: folder)
    let changed = changes?.finish()
    guard let lines = revision?.finish()?.split(separator: "\n").map(String.init), lines.count == 2,
      !lines[1].isEmpty
    else { return "unknown" }
    let top = lines[0]
    guard let changed else { return lines[1] }
    let ignored = reportFolder.flatMap { relativePath(of: $0, under: top) }.map { $0 + "/" }
    let modified = changed.split(separator: "\n").contains { path in
      ignored.map { !path.hasPrefix($0) } ?? true
    }
    return lines[1] + (modified ? " (modified)" : "")
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

  /// `2025-05-01 14:03 UTC`. From the C library's calendar rather than a `DateFormatter`,
  /// whose first use loads the time zone database and ICU: milliseconds of every run.
  public static func format(_ date: Date) -> String {
    var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
    var t = tm()
    gmtime_r(&seconds, &t)
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(t.tm_year + 1900)-\(two(t.tm_mon + 1))-\(two(t.tm_mday)) "
      + "\(two(t.tm_hour)):\(two(t.tm_min)) UTC"
  }

  /// Starts git in `folder`.
  static func startGit(_ arguments: [String], in folder: String) -> ChildOutput? {
    ChildOutput(["git", "-C", folder] + arguments)
  }

  /// Runs git in `folder`; its trimmed standard output, or nil if it failed.
  static func git(_ arguments: [String], in folder: String) -> String? {
    startGit(arguments, in: folder)?.finish()
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
}

/// A child process started with its standard output on a pipe (its input and errors on
/// /dev/null); `finish` reads that output and waits for it. posix_spawn rather than
/// Foundation's `Process`, whose start and wait cost tens of milliseconds here.
final class ChildOutput {
  private let pid: pid_t
  private let output: Int32

  /// nil when the process cannot be started (no such program).
  init?(_ arguments: [String]) {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { return nil }
    // Close-on-exec, so that processes started later (the next git) do not inherit the
    // pipe; the child's copy of the write end, its standard output by dup2, stays open.
    // The runner starts its processes (the two gits) from one thread, so none can start
    // between pipe and fcntl and inherit the pipe.
    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addclose(&actions, ends[0])
    posix_spawn_file_actions_addclose(&actions, ends[1])
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
    close(ends[1])
    guard spawned == 0 else {
      close(ends[0])
      return nil
    }
    self.pid = pid
    self.output = ends[0]
  }

  /// The trimmed standard output, or nil when the process failed. Call it once.
  func finish() -> String? {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
      if n > 0 {
        bytes += chunk[..<n]
      } else if n == 0 || errno != EINTR {
        break
      }
    }
    close(output)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    guard status == 0 else { return nil }
    return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
