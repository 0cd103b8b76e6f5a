import Foundation
import Testing
@testable import Notebook

/// The index page starts from the chapter's own page: its title, its introduction, not its
/// list of contents (the table of runs stands in for it).
@Suite struct SectionIndexTests {
  static let page = """
    # 7 Modern <Networks>

    Prose about *the* chapter.

    - a list that stays

    ## Contents

    1. [7.1 AlexNet](7.1-alexnet.md)
    """

  @Test func chapterPageTakesTitleAndIntroductionUpToContents() {
    let chapter = ChapterPage(markdown: Self.page)
    #expect(chapter.title == "7 Modern <Networks>")
    #expect(chapter.introduction == "Prose about *the* chapter.\n\n- a list that stays")
    #expect(ChapterPage(markdown: nil).introduction.isEmpty)
    #expect(ChapterPage(markdown: "no heading here\n").introduction == "no heading here")
  }

  @Test func indexPagesShowTheChapterPageThenTheTable() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let sections = [SectionLink(number: "9.1", title: "Testing the Runner", slug: "9.1-test")]
    try SectionIndex.write(sections: sections, chapter: ChapterPage(markdown: Self.page), folder: folder)
    let html = Fixture.read(folder + "/index.html"), markdown = Fixture.read(folder + "/index.md")
    #expect(html.contains("<title>7 Modern &lt;Networks&gt;</title>"))
    #expect(html.contains("<h1>7 Modern &lt;Networks&gt;</h1>"))
    #expect(html.contains("<p>Prose about <em>the</em> chapter.</p>"))
    #expect(!html.contains("7.1-alexnet.md") && !markdown.contains("7.1-alexnet.md"))
    #expect(markdown.hasPrefix("# 7 Modern <Networks>\n\nProse about *the* chapter."))
    #expect(markdown.contains("[9.1 Testing the Runner](9.1-test.md)"))
  }
}
