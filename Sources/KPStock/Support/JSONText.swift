/// JSON string literals, for the batches the domain sends `ledger_post` and the listings the CLI prints: one escaper,
/// so both say the same thing about a control character or a line separator in a note.
public enum JSONText {
  /// `text` as a JSON string literal, quotes included.
  public static func quoted(_ text: String) -> String {
    var result = ""
    appendQuoted(text, to: &result)
    return result
  }

  static func appendQuoted(_ value: String, to text: inout String) {
    text += "\""
    // Nearly every value (a code, a key, a date) has nothing to escape: appended whole, not a character at a time,
    // which was a fifth of a simulation's client time. 0xE2 leads U+2028 and U+2029 (and other characters, which
    // then take the careful way).
    if value.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && $0 != 0xE2 }) {
      text += value
      text += "\""
      return
    }
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": text += "\\\""
      case "\\": text += "\\\\"
      case "\n": text += "\\n"
      case "\r": text += "\\r"
      case "\t": text += "\\t"
      case _ where scalar.value < 0x20 || scalar == "\u{2028}" || scalar == "\u{2029}":
        let hex = String(scalar.value, radix: 16)
        text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: text.unicodeScalars.append(scalar)
      }
    }
    text += "\""
  }
}
