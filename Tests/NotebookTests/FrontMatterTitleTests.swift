import Foundation
import Testing

@testable import Notebook

/// Every run lists every section's title, read without the YAML parser where the front matter
/// gives it plainly; the two readers must agree, and the quick one must step aside otherwise.
@Suite struct FrontMatterTitleTests {
  @Test func theChaptersTitlesAreReadQuicklyAndAsYAMLReadsThem() throws {
    let folder = FuzzCorpus.packageRoot.appendingPathComponent("Chapters").path
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("7.") }
    #expect(names.count == 7)
    for name in names {
      let markdown = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
      let quick = FrontMatter.plainTitle(ofChapter: markdown)
      #expect(quick != nil, "\(name)")
      #expect(quick == FrontMatter.yamlTitle(ofChapter: markdown), "\(name)")
    }
  }

  @Test func anythingButAPlainOneLineTitleGoesToTheYAMLParser() {
    func chapter(_ yaml: String) -> String { "---\n" + yaml + "\n---\n\n# Heading\n" }
    #expect(FrontMatter.plainTitle(ofChapter: chapter("section: \"7.1\"\ntitle: Deep CNNs (AlexNet)"))
      == "Deep CNNs (AlexNet)")
    #expect(FrontMatter.plainTitle(ofChapter: chapter("note: 'quoted'\nranges: {a: [1, \"b\"]}\nother: it's plain\ntitle: T")) == "T")
    #expect(FrontMatter.title(ofChapter: chapter("title: \"Quoted: yes\"")) == "Quoted: yes")
    let declined = [
      "title: \"Quoted\"",  // quoted
      "title: Two\n  lines",  // continued
      "title: a: b",  // not a plain scalar
      "title: x # a comment",
      "title: one\ntitle: two",  // a repeated key
      "{title: Flow}",  // not a block mapping
      "description: \"opens\nand closes\"\ntitle: T",  // a quote left open on its line
      "description: \"ends in an escaped quote\\\"\ntitle: T\"",
      "ranges: { a: \"}\ntitle: T\" }",  // a bracket that seems to close inside a quote
      "ranges: {a: 'x''}\ntitle: T'}",  // an escaped quote that seems to close one
      "- title: in a list",
      "\"title\": T",
      // Line breaks to YAML inside a line (found by the fuzzer): YAML folds them to a space.
      "title: Two\r lines", "title: Two\u{85} lines", "title: Two\u{2028} lines",
      "title: Two\u{2029} lines", "note: x\rtitle: T",
    ]
    for yaml in declined {
      #expect(FrontMatter.plainTitle(ofChapter: chapter(yaml)) == nil, "\(yaml)")
    }
    #expect(FrontMatter.title(ofChapter: chapter("title: Two\n  lines")) == "Two lines")
    #expect(FrontMatter.title(ofChapter: chapter("title: Two\r lines")) == "Two lines")
    #expect(FrontMatter.title(ofChapter: "# No front matter\n") == nil)
  }
}
