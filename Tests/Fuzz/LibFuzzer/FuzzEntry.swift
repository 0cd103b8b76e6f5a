// libFuzzer's entry point for the parsers' fuzz targets (`FuzzTargets.swift`, a link to the
// file the seeded mutation loop of `FuzzTests` uses). The first byte of an input picks the
// parser, the rest is its text: 0 a whole chapter, 1 front matter, 2 a parameter literal,
// 3 `--set` arguments one per line. `scripts/fuzz.sh` builds this with
// `-sanitize=fuzzer` (the target exists in Package.swift only with CHAPTER_FUZZ=1) and
// turns the committed corpus (`Tests/Fuzz/corpus/`) into such inputs.
import Foundation

/// A broken contract is a crash, which is what libFuzzer looks for.
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String = "") {
  if !condition { fatalError("fuzz contract broken: " + message()) }
}

func fuzzFailure(_ message: String) { fatalError("fuzz contract broken: " + message) }

/// libFuzzer's driver, which its own `main` would call (LLVM 11 and later).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<CInt>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable target's entry point as `<module>_main` (so that tests can
/// import it) and points `main` at it, which leaves libFuzzer's own `main` out: this is
/// the entry point, and it hands over to libFuzzer's driver.
@_cdecl("fuzz_parsers_main")
public func fuzzParsersMain(
  _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
  var count = argc
  var vector = argv
  return LLVMFuzzerRunDriver(&count, &vector, fuzzOneInput)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  guard let data, size >= 1 else { return 0 }
  let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)
  switch data[0] % 4 {
  case 0: FuzzTargets.chapter(text)
  case 1: FuzzTargets.frontMatter(text)
  case 2: FuzzTargets.literal(text)
  default: FuzzTargets.setArguments(text)
  }
  return 0
}
