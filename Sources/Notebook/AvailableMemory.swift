import Foundation

/// How much more memory this process can have before the system (or its container) runs
/// out: the kernel's `MemAvailable`, lowered to what the cgroup's limit leaves when one is
/// set (a container, or a CI job with a memory cap), which is where the OOM killer would
/// strike first. `CHAPTER_MEMORY_AVAILABLE` (bytes, or with a suffix: `512MiB`, `2GiB`,
/// `3GB`) overrides both: to try the pre-flight's refusal, and for the tests.
public struct AvailableMemory: Equatable, Sendable {
  public var bytes: Int
  /// Where the figure comes from, for messages: "MemAvailable", "the cgroup's limit", ...
  public var source: String

  public init(bytes: Int, source: String) {
    self.bytes = bytes
    self.source = source
  }

  /// The environment variable that overrides the figure.
  public static let overrideVariable = "CHAPTER_MEMORY_AVAILABLE"

  /// What this process can have now; nil when nothing can be read (not Linux, no /proc).
  public static func current(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> AvailableMemory? {
    if let text = environment[overrideVariable], let bytes = parseSize(text) {
      return AvailableMemory(bytes: bytes, source: overrideVariable)
    }
    let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
    let cgroup = cgroupRoom(
      membership: try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
      read: { try? String(contentsOfFile: $0, encoding: .utf8) })
    return combine(memAvailable: meminfo.flatMap(memAvailable), cgroupRoom: cgroup)
  }

  /// The smaller of the two figures, named by where it came from.
  static func combine(memAvailable: Int?, cgroupRoom: Int?) -> AvailableMemory? {
    switch (memAvailable, cgroupRoom) {
    case let (m?, c?) where c < m: AvailableMemory(bytes: c, source: "the cgroup's memory limit")
    case let (m?, _): AvailableMemory(bytes: m, source: "MemAvailable")
    case let (nil, c?): AvailableMemory(bytes: c, source: "the cgroup's memory limit")
    default: nil
    }
  }

  /// `MemAvailable` of `/proc/meminfo`, in bytes.
  static func memAvailable(_ meminfo: String) -> Int? {
    for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count >= 2, let kib = Int(fields[1]) else { return nil }
      return kib * 1024
    }
    return nil
  }

  /// Limit less usage of the cgroup this process is in (v2's unified hierarchy, else v1's
  /// memory controller); nil without a limit. `read` gives a file's text.
  static func cgroupRoom(membership: String?, read: (String) -> String?) -> Int? {
    guard let membership else { return nil }
    for line in membership.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard parts.count == 3 else { continue }
      let path = String(parts[2])
      let directory: String
      let (limitFile, usageFile): (String, String)
      if parts[0] == "0" && parts[1].isEmpty {
        directory = "/sys/fs/cgroup" + (path == "/" ? "" : path)
        (limitFile, usageFile) = ("memory.max", "memory.current")
      } else if parts[1].split(separator: ",").contains("memory") {
        directory = "/sys/fs/cgroup/memory" + (path == "/" ? "" : path)
        (limitFile, usageFile) = ("memory.limit_in_bytes", "memory.usage_in_bytes")
      } else {
        continue
      }
      func number(_ file: String) -> Int? {
        read(directory + "/" + file).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
      }
      // "max" (v2) does not parse: no limit. v1 writes "no limit" as a huge number.
      guard let limit = number(limitFile), limit < 1 << 60 else { return nil }
      return max(limit - (number(usageFile) ?? 0), 0)
    }
    return nil
  }

  /// `"123"`, `"512MiB"`, `"2GiB"`, `"3GB"`, `"1.5 G"` in bytes; nil if it is none of these.
  public static func parseSize(_ text: String) -> Int? {
    let t = text.trimmingCharacters(in: .whitespaces)
    let digits = t.prefix { $0.isNumber || $0 == "." }
    guard let value = Double(digits), value >= 0 else { return nil }
    let unit = t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
    let scale: Double
    switch unit {
    case "", "b": scale = 1
    case "k", "kb": scale = 1e3
    case "kib": scale = 1024
    case "m", "mb": scale = 1e6
    case "mib": scale = Double(1 << 20)
    case "g", "gb": scale = 1e9
    case "gib": scale = Double(1 << 30)
    case "t", "tb": scale = 1e12
    case "tib": scale = Double(1 << 40)
    default: return nil
    }
    return Int(value * scale)
  }

  /// `1_288_490_189` -> "1.2 GiB", in the binary units `free -h` and `top` use.
  public static func describe(_ bytes: Int) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(bytes), unit = 0
    while value >= 1024 && unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    if unit == 0 { return "\(bytes) bytes" }
    return String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
  }
}
