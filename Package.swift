// swift-tools-version: 6.0
import Foundation
import PackageDescription

// Kernels are plain loops over unsafe buffers: overflow checks stop the
// compiler from vectorising them (platform-notes.md), so release builds of
// the engine use -Ounchecked. On x86-64 we build for Haswell-class CPUs
// (AVX2 + FMA, every x86-64 server since 2013); the default SSE2 target turns
// each fused multiply-add into a call to fmaf.
#if arch(x86_64)
let cpuFlags = ["-target-cpu", "haswell"]
#else
let cpuFlags: [String] = []
#endif
// Swift 5 language mode for the engine, the data loader and the cells: a
// notebook is single-threaded code over shared mutable state (the current
// session, the seeded generator), which strict concurrency checking would
// reject cell by cell.
let kernelSettings: [SwiftSetting] = [
  .unsafeFlags(["-Ounchecked"] + cpuFlags, .when(configuration: .release)),
  .unsafeFlags(cpuFlags, .when(configuration: .debug)),
  .swiftLanguageMode(.v5),
]

let package = Package(
  name: "ModernCNNs",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "chapter", targets: ["chapter"]),
    .executable(name: "chapter-preview", targets: ["chapter-preview"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    // `chapter preview`'s HTTP and WebSocket server: small (no SwiftNIO), ~40 s of a first
    // release build on 2 cores, where Hummingbird and its NIO stack take minutes.
    .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
  ],
  targets: [
    // C libraries from Debian packages.
    .systemLibrary(name: "CCmark", pkgConfig: "libcmark", providers: [.apt(["libcmark-dev"])]),
    .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

    // The machine's FMA peak, measured with the widest vectors the CPU has (C, for
    // per-function AVX-512 and AVX2 targets that Swift cannot express).
    .target(name: "CMachinePeak"),
    // Stride-1 convolutions of small planes with AVX-512 (C for the same reason).
    .target(name: "CDirectConvolution", cSettings: [.unsafeFlags(["-O3"])]),
    // Fully connected layers' forward pass for batches of up to 64 (AVX-512, C likewise).
    .target(name: "CDenseKernel", cSettings: [.unsafeFlags(["-O3"])]),
    .target(name: "CCrashTrace"),
    // The engine's worker threads, which spin between a step's parallel regions (C for its
    // atomics and condition variables without Swift's concurrency checking).
    .target(name: "CWorkerPool", cSettings: [.unsafeFlags(["-O2"])]),
    // The helpers every module shares: `require`, the monotonic clock, number formats.
    .target(name: "Common"),
    // The deep-learning engine: tensors, autograd, layers, kernels, training.
    .target(
      name: "Engine", dependencies: [
        "Common", "COpenBLAS", "CMachinePeak", "CDirectConvolution", "CDenseKernel",
        "CWorkerPool",
      ],
      swiftSettings: kernelSettings),
    // Fashion-MNIST: IDX files, checks, resizing, shuffled batches.
    .target(name: "Datasets", dependencies: ["Common", "CZlib"], swiftSettings: kernelSettings),
    // The chapter format: Markdown cells, parameters, outputs, variants; tangling to Swift.
    .target(name: "ChapterFormat", dependencies: ["CCmark"]),
    // Running a section: parameters, cell capture, profiles, reports.
    .target(
      name: "Notebook",
      dependencies: [
        "Common", "ChapterFormat", "CCmark", "CCrashTrace", .product(name: "Yams", package: "Yams"),
      ]),
    // What the book's `d2l` package gives its cells: data loading, train_ch6, plots.
    .target(
      name: "D2L", dependencies: ["Common", "Engine", "Datasets", "Notebook"], swiftSettings: kernelSettings,
      plugins: ["EngineIdentity"]),
    // Host tool run by the Tangle plugin: Chapters/*.md -> Swift.
    .executableTarget(name: "Tangler", dependencies: ["ChapterFormat"]),
    .plugin(name: "Tangle", capability: .buildTool(), dependencies: ["Tangler"]),
    // Host tool run by the EngineIdentity plugin: a hash of the sources that decide a
    // training's numbers, which the training cache keys on.
    .executableTarget(name: "SourceFingerprint"),
    .plugin(
      name: "EngineIdentity", capability: .buildTool(), dependencies: ["SourceFingerprint"]),
    // The generated cells of every section (no hand-written cell code here).
    // Cells keep Swift's run-time checks (no -Ounchecked): an index out of
    // range in a reader's cell must stop at its line, not corrupt memory.
    .target(
      name: "Chapters", dependencies: ["Engine", "D2L", "Notebook"],
      swiftSettings: [.unsafeFlags(cpuFlags), .swiftLanguageMode(.v5)], plugins: ["Tangle"]),
    // `chapter preview`: watch the chapter files, rebuild, re-run, serve the live page.
    // What `chapter` needs of the preview: its settings, where it builds, how it starts the
    // server (a program of its own: FlyingFox links FoundationNetworking, whose libraries
    // would load at every start of `chapter`).
    .target(name: "PreviewSetup", dependencies: ["Common"]),
    .target(
      name: "ChapterPreview",
      dependencies: ["Common", "PreviewSetup", .product(name: "FlyingFox", package: "FlyingFox")]),
    .executableTarget(name: "chapter-preview", dependencies: ["ChapterPreview", "PreviewSetup"]),
    .executableTarget(
      name: "chapter",
      dependencies: [
        "Chapters", "Notebook", "ChapterFormat", "Engine", "D2L", "PreviewSetup",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    // A section whose cells trap on purpose, tangled like the chapters, for the tests of
    // the crash report (`CrashReportTests`); not part of the product.
    .executableTarget(
      name: "trap-probe", dependencies: ["Engine", "D2L", "Notebook"], path: "Tests/TrapProbe",
      exclude: ["9.1-traps.md"], swiftSettings: [.swiftLanguageMode(.v5)], plugins: ["Tangle"]),

    // The trait that makes the suites running the engine in-process (EngineTests, D2LTests)
    // take turns across targets.
    .target(name: "EngineTurn", path: "Tests/EngineTurn"),
    .testTarget(
      name: "EngineTests", dependencies: ["Engine", "EngineTurn"], swiftSettings: kernelSettings),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets"]),
    .testTarget(name: "ChapterFormatTests", dependencies: ["ChapterFormat"]),
    .testTarget(name: "NotebookTests", dependencies: ["Notebook", "ChapterFormat", "Common"]),
    .testTarget(name: "ChapterCLITests", dependencies: ["Notebook"]),
    .testTarget(
      name: "ChapterPreviewTests",
      dependencies: [
        "ChapterPreview", "PreviewSetup", .product(name: "FlyingFox", package: "FlyingFox"),
      ]),
    .testTarget(
      name: "D2LTests",
      dependencies: ["D2L", "Engine", "Datasets", "Notebook", "ChapterFormat", "EngineTurn"]),
  ]
)

// libFuzzer's target for the parsers (scripts/fuzz.sh): only in that build, which compiles
// every module with -sanitize=fuzzer and -enable-testing; a plain build has no use for it,
// and without libFuzzer's main it would not link.
if ProcessInfo.processInfo.environment["CHAPTER_FUZZ"] == "1" {
  package.targets.append(
    .executableTarget(
      name: "fuzz-parsers", dependencies: ["ChapterFormat", "Notebook"], path: "Tests/Fuzz/LibFuzzer"))
}
