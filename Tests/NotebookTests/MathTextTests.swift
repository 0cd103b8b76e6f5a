import Testing

@testable import Notebook

@Suite struct MathTextTests {
  @Test func inlineMathBecomesUnicodeHTML() {
    let html = MathText.render("\\hat{\\mu}_\\mathcal{B} + \\gamma \\odot \\mathbf{x}")
    #expect(html.contains("μ\u{0302}<sub>𝓑</sub>"))
    #expect(html.contains("γ"))
    #expect(html.contains("⊙"))
    #expect(html.contains("<b><i>x</i></b>"))
  }

  @Test func fractionsScriptsAndDelimiters() {
    #expect(MathText.render("\\lfloor (224 - 11) / 4 \\rfloor") == "⌊ (224 - 11) / 4 ⌋")
    #expect(MathText.render("\\frac{1}{n}") == "1/<i>n</i>")
    #expect(MathText.render("x^2").contains("<sup>2</sup>"))
    #expect(MathText.render("\\text{subject to } f").contains("subject to"))
  }

  @Test func proseKeepsCodeAndEscapedDollarsAndRendersMath() {
    let prose = """
      The mean $\\hat{\\mu}$ and `let x = $0` stay apart; a price of \\$5.

      $$f(x) = x_1 + x_2$$

      ```text
      $not math$
      ```
      """
    let (protected, spans) = MathText.protect(prose)
    #expect(spans.count == 2)
    #expect(protected.contains("`let x = $0`"))
    #expect(protected.contains("$not math$"))
    let html = MathText.restore(MarkdownHTML.render(protected), spans)
    #expect(html.contains("<span class=\"math\">μ\u{0302}</span>"))
    #expect(html.contains("<span class=\"math display\">"))
    #expect(html.contains("<sub>1</sub>"))
    #expect(!html.contains("<em>"))
  }
}
