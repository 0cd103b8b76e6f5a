import COpenBLAS
import Foundation

/// Which of OpenBLAS's CPU-specific kernel sets this process uses, and the
/// correction `chapter` makes when the library picked a generic one.
///
/// Debian's OpenBLAS is built with every x86-64 kernel set and chooses one at
/// load time from the CPU's family and model numbers. A CPU newer than the
/// library (0.3.21 does not know Sapphire or Emerald Rapids) or one a hypervisor presents as
/// a generic model gets the `Prescott` set: SSE3 kernels, about a third of
/// the SGEMM speed the CPU has. The choice happens in the library's load-time
/// constructor and cannot be changed afterwards, so the fix is to set
/// `OPENBLAS_CORETYPE` and re-execute the program before any work is done.
/// Only a fallback below the AVX2 level is corrected: a set the library chose
/// for a CPU it recognised is left as it is, and so is any
/// `OPENBLAS_CORETYPE` the user set.
public enum BLASKernel {
  /// The kernel set in use, as OpenBLAS names it (`Haswell`, `SkylakeX`, `Prescott`, ...).
  public static var current: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }

  /// Set when this process was re-executed with a corrected kernel set: the
  /// set OpenBLAS had chosen on its own. Reports and `chapter bench` show it.
  public static let replacedVariable = "D2L_OPENBLAS_DETECTED_CORE"

  /// The kernel OpenBLAS chose by itself, when `chapter` replaced it.
  public static var replaced: String? {
    ProcessInfo.processInfo.environment[replacedVariable]
  }

  /// A one-line description for reports, e.g. `SkylakeX (OpenBLAS detected Prescott)`.
  public static var description: String {
    if let replaced { return "\(current) (OpenBLAS detected \(replaced))" }
    return current
  }

  /// The vector level of an OpenBLAS x86-64 kernel set: 0 SSE, 1 AVX, 2 AVX2, 3 AVX-512.
  static func level(ofCore core: String) -> Int {
    switch core.lowercased() {
    case "skylakex", "cooperlake", "sapphirerapids": return 3
    case "haswell", "zen", "steamroller", "excavator": return 2
    case "sandybridge", "bulldozer", "piledriver": return 1
    default: return 0
    }
  }

  /// The kernel set to use instead of `detected` on a CPU with `flags` (the
  /// `flags` line of /proc/cpuinfo, which lists only features the kernel has
  /// enabled, register state included), or nil to keep the library's choice.
  public static func correction(detected: String, cpuFlags flags: Set<String>) -> String? {
    let detectedLevel = level(ofCore: detected)
    guard detectedLevel < 2 else { return nil }
    let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
    if avx512.allSatisfy(flags.contains) { return "SkylakeX" }
    if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
    return nil
  }

  /// The CPU's feature flags from /proc/cpuinfo (empty where there is none).
  public static func cpuFlags() -> Set<String> {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
    guard let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
      let colon = line.firstIndex(of: ":")
    else { return [] }
    return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
  }

  /// Re-executes this program with `OPENBLAS_CORETYPE` set when OpenBLAS fell
  /// back to a generic kernel set on a CPU with AVX2 or AVX-512. Returns when
  /// nothing needs correcting, the user chose a set, or the re-execution
  /// fails (the program then carries on with the library's choice). Call it
  /// first thing in `main`, before any thread starts.
  public static func correctFallbackByReexecuting() {
    #if os(Linux)
      // getenv, not ProcessInfo, which copies the whole environment into a dictionary.
      if let chosen = getenv("OPENBLAS_CORETYPE"), chosen.pointee != 0 { return }
      let detected = current
      // Most starts end here, without reading /proc/cpuinfo.
      guard level(ofCore: detected) < 2,
        let better = correction(detected: detected, cpuFlags: cpuFlags())
      else { return }
      setenv("OPENBLAS_CORETYPE", better, 1)
      setenv(replacedVariable, detected, 1)
      // The resolved path, not /proc/self/exe itself, which would rename the process "exe".
      let program =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? "/proc/self/exe"
      execv(program, CommandLine.unsafeArgv)
      // Only reached when execv failed: keep going as we were.
      unsetenv("OPENBLAS_CORETYPE")
      unsetenv(replacedVariable)
    #endif
  }
}
