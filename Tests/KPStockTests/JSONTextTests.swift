import Foundation
import KPStock
import Testing

@Suite("JSON text")
struct JSONTextTests {
  @Test func plainTextIsQuotedAsItIs() {
    #expect(JSONText.quoted("DICE-UKUNDA") == "\"DICE-UKUNDA\"")
    #expect(JSONText.quoted("") == "\"\"")
    #expect(JSONText.quoted("Ñandú – 5 €") == "\"Ñandú – 5 €\"")
  }

  @Test func quotesBackslashesControlCharactersAndLineSeparatorsAreEscaped() {
    #expect(JSONText.quoted("say \"hi\"") == #""say \"hi\"""#)
    #expect(JSONText.quoted(#"C:\temp"#) == #""C:\\temp""#)
    #expect(JSONText.quoted("a\nb\tc\u{1}") == #""a\nb\tc\u0001""#)
    #expect(JSONText.quoted("one\u{2028}two\u{2029}") == #""one\u2028two\u2029""#)
  }

  @Test func whatIsQuotedReadsBackAsTheSameText() throws {
    for text in ["plain", "say \"hi\"", "a\nb", "one\u{2028}two", "– €", "\u{7f}\u{0}"] {
      let decoded = try JSONDecoder().decode([String].self, from: Data("[\(JSONText.quoted(text))]".utf8))
      #expect(decoded == [text])
    }
  }
}
