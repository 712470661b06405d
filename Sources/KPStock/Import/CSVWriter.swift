/// Writes CSV that CSVReader and spreadsheets read back: RFC 4180 quoting, and text a spreadsheet would run as a
/// formula defused with a leading quote.
public enum CSVWriter {
  /// One record and its line break.
  public static func record(_ fields: [String], defusingFormulas: Bool) -> String {
    fields.map { field($0, defusingFormulas: defusingFormulas) }.joined(separator: ",") + "\n"
  }

  public static func field(_ text: String, defusingFormulas: Bool) -> String {
    var text = text
    if defusingFormulas, let first = text.first, "=+@\t\r".contains(first) || (first == "-" && text.count > 1) {
      text = "'" + text
    }
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}
