// Tangler: the host tool the Tangle build plugin runs.
//
//   Tangler --output-dir DIR [--index INDEX.md] CHAPTER.md...
//
// writes DIR/<slug>.swift for each chapter and DIR/AllSections.swift (with INDEX.md's text,
// the chapter's own page, for the index report). A file is written
// only when its content changes, so an edit to one chapter recompiles only that chapter.
// Errors are printed as `path:line: error: message`, the form build logs and editors
// link to the Markdown line, and the tool exits 1 so the build stops.
import ChapterFormat
import Foundation

func fail(_ message: String, code: Int32 = 2) -> Never {
  FileHandle.standardError.write(Data((message + "\n").utf8))
  exit(code)
}

let usage = "usage: Tangler --output-dir DIR [--index INDEX.md] CHAPTER.md..."
var outputDir: String?
var indexPath: String?
var inputs: [String] = []
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
  switch argument {
  case "--output-dir":
    guard let dir = arguments.next() else { fail("Tangler: --output-dir needs a folder\n\(usage)") }
    outputDir = dir
  case "--index":
    guard let path = arguments.next() else { fail("Tangler: --index needs a file\n\(usage)") }
    indexPath = path
  case "-h", "--help":
    print(usage)
    exit(0)
  default:
    if argument.hasPrefix("-") { fail("Tangler: unknown option \(argument)\n\(usage)") }
    inputs.append(argument)
  }
}
guard let outputDir else { fail("Tangler: missing --output-dir\n\(usage)") }

/// Writes `content` to `path` unless the file already holds exactly that.
func writeIfChanged(_ content: String, to path: String) throws {
  let data = Data(content.utf8)
  if let existing = FileManager.default.contents(atPath: path), existing == data { return }
  try data.write(to: URL(fileURLWithPath: path), options: .atomic)
}

var programs: [(number: String, identifier: String)] = []
var failed = false
do {
  try FileManager.default.createDirectory(
    atPath: outputDir, withIntermediateDirectories: true)
  for input in inputs {
    let path = URL(fileURLWithPath: input).standardizedFileURL.path
    guard let section = SectionFileName(fileName: path) else {
      FileHandle.standardError.write(Data(
        "\(path):1: error: a chapter file must be named N.M-slug.md (e.g. 7.5-batch-norm.md)\n"
          .utf8))
      failed = true
      continue
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      fail("\(path):1: error: cannot read the file", code: 1)
    }
    let markdown = String(decoding: data, as: UTF8.self)
    do {
      let document = try ChapterParser.parse(markdown, path: path)
      let swift = SwiftTangler.tangle(
        document, markdown: markdown, sourcePath: path, section: section)
      try writeIfChanged(swift, to: outputDir + "/" + section.slug + ".swift")
      programs.append((section.number, section.programIdentifier))
    } catch let error as ChapterError {
      // Keep going: one build shows the errors of every chapter.
      FileHandle.standardError.write(Data((error.description + "\n").utf8))
      failed = true
    }
  }
  if failed { exit(1) }
  let indexMarkdown = indexPath.map { path -> String in
    guard let data = FileManager.default.contents(atPath: path) else {
      fail("\(path):1: error: cannot read the file", code: 1)
    }
    return String(decoding: data, as: UTF8.self)
  }
  try writeIfChanged(
    SwiftTangler.allSections(programs, indexMarkdown: indexMarkdown),
    to: outputDir + "/AllSections.swift")
} catch {
  fail("Tangler: \(error)", code: 1)
}
