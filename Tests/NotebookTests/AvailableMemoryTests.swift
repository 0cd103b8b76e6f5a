import Testing

@testable import Notebook

/// What the memory pre-flight compares its estimates with: the kernel's figure, a cgroup's
/// limit when it is lower, and the override the tests and curious readers use.
@Suite struct AvailableMemoryTests {
  @Test func sizesWithAndWithoutUnits() {
    #expect(AvailableMemory.parseSize("123") == 123)
    #expect(AvailableMemory.parseSize("512MiB") == 512 << 20)
    #expect(AvailableMemory.parseSize("2GiB") == 2 << 30)
    #expect(AvailableMemory.parseSize("3GB") == 3_000_000_000)
    #expect(AvailableMemory.parseSize("1.5 G") == 1_500_000_000)
    #expect(AvailableMemory.parseSize("lots") == nil)
    #expect(AvailableMemory.parseSize("2 parsecs") == nil)
    #expect(AvailableMemory.parseSize("-1") == nil)
  }

  @Test func memAvailableIsReadInKiB() {
    let meminfo = "MemTotal:       24568320 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"
    #expect(AvailableMemory.memAvailable(meminfo) == 20_000_000 * 1024)
    #expect(AvailableMemory.memAvailable("MemTotal: 1 kB\n") == nil)
  }

  /// cgroup v2 (one `0::/path` line): limit less usage; "max" means no limit.
  @Test func cgroupV2LimitLessUsage() {
    let files = [
      "/sys/fs/cgroup/ci/job/memory.max": "4294967296\n",
      "/sys/fs/cgroup/ci/job/memory.current": "1073741824\n",
    ]
    let room = AvailableMemory.cgroupRoom(membership: "0::/ci/job\n", read: { files[$0] })
    #expect(room == 3 << 30)
    let unlimited = AvailableMemory.cgroupRoom(
      membership: "0::/\n", read: { $0 == "/sys/fs/cgroup/memory.max" ? "max\n" : "0\n" })
    #expect(unlimited == nil)
  }

  /// cgroup v1: the memory controller's line; its "no limit" is a huge number.
  @Test func cgroupV1MemoryController() {
    let membership = "12:cpu,cpuacct:/x\n11:memory:/docker/abc\n"
    let files = [
      "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "2147483648",
      "/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes": "536870912",
    ]
    #expect(AvailableMemory.cgroupRoom(membership: membership, read: { files[$0] }) == 1536 << 20)
    let huge = AvailableMemory.cgroupRoom(
      membership: membership, read: { $0.hasSuffix("limit_in_bytes") ? "9223372036854771712" : "0" })
    #expect(huge == nil)
  }

  @Test func theSmallerFigureWinsAndIsNamed() {
    let cgroup = AvailableMemory.combine(memAvailable: 20 << 30, cgroupRoom: 3 << 30)
    #expect(cgroup == AvailableMemory(bytes: 3 << 30, source: "the cgroup's memory limit"))
    let kernel = AvailableMemory.combine(memAvailable: 2 << 30, cgroupRoom: 3 << 30)
    #expect(kernel == AvailableMemory(bytes: 2 << 30, source: "MemAvailable"))
    #expect(AvailableMemory.combine(memAvailable: nil, cgroupRoom: nil) == nil)
  }

  @Test func theEnvironmentOverrides() {
    let override = AvailableMemory.current(environment: ["CHAPTER_MEMORY_AVAILABLE": "1GiB"])
    #expect(override == AvailableMemory(bytes: 1 << 30, source: "CHAPTER_MEMORY_AVAILABLE"))
    #expect((AvailableMemory.current(environment: [:])?.bytes ?? 0) > 0)
  }

  @Test func sizesAreWrittenInBinaryUnits() {
    #expect(AvailableMemory.describe(512) == "512 bytes")
    #expect(AvailableMemory.describe(3 << 29) == "1.5 GiB")
    #expect(AvailableMemory.describe(23 << 30) == "23 GiB")
  }
}
