import Common
import Testing

@testable import Notebook

/// The reports' text escaping, heading ids and the highlighter's escaping of code.
@Suite struct HTMLTextTests {
  @Test func escapingChangesOnlyWhatHTMLReads() {
    #expect(HTML.escape("plain text, tabs\tand\nnew lines") == "plain text, tabs\tand\nnew lines")
    #expect(HTML.escape("a < b && c > \"d\" 'e'") == "a &lt; b &amp;&amp; c &gt; &quot;d&quot; &#39;e&#39;")
    #expect(HTML.escape("bell\u{07}") == "bell\u{FFFD}")
    for text in ["", "x", "<script>alert('1')</script>", "&amp; stays text", "é < ü"] {
      #expect(HTML.unescape(HTML.escape(text)) == text, "\(text)")
    }
    // One pass: an escaped entity comes back as the entity's text, not as its character.
    #expect(HTML.unescape("&amp;lt;") == "&lt;")
    #expect(HTML.unescape("&nbsp; & &#39;") == "&nbsp; & '")
  }

  @Test func headingIDsFollowGitHubsRule() {
    var used = Set<String>()
    let (html, headings) = MarkdownHTML.addHeadingIDs(
      "<h2>Batch &amp; Layer Norm</h2><p>x</p><h2>Batch &amp; Layer Norm</h2><h7>no</h7>",
      used: &used)
    #expect(headings.map(\.id) == ["batch--layer-norm", "batch--layer-norm-1"])
    #expect(html.hasPrefix("<h2 id=\"batch--layer-norm\">Batch &amp; Layer Norm</h2>"))
    #expect(html.hasSuffix("<h7>no</h7>"))
  }

  @Test func highlightedCodeIsEscaped() {
    let html = SwiftHighlighter.html("let s = \"<b>\" // a < b\nx = a<b")
    #expect(!html.contains("<b>") && html.contains("&lt;b&gt;"))
    #expect(html.contains("<span class=\"kw\">let</span>"))
    #expect(html.hasSuffix("x = a&lt;b"))
  }
}
