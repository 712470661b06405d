import Foundation
import Postgres

/// Parsers shared by CLI options and CSV cells, so a value is judged the same way wherever it comes from.
public enum FieldParsing {
  /// A new code: 2–32 characters, letters, digits and dashes, starting with a letter or digit; stored upper-case.
  public static func newCode(_ text: String, field: String) throws(FieldError) -> String {
    let code = CodeLookup.normalize(text)
    guard code.count >= 2, code.count <= 32, let first = code.unicodeScalars.first,
      isCodeCharacter(first) && first != "-", code.unicodeScalars.allSatisfy(isCodeCharacter)
    else {
      throw FieldError(
        field: field,
        problem: "'\(text)' is not a valid code (2–32 letters, digits or dashes, starting with a letter or digit)")
    }
    return code
  }

  private static func isCodeCharacter(_ scalar: Unicode.Scalar) -> Bool {
    ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "-"
  }

  public static func requiredText(_ text: String, field: String, maxLength: Int = 200) throws(FieldError) -> String {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard !trimmed.isEmpty else { throw FieldError(field: field, problem: "must not be empty") }
    guard trimmed.count <= maxLength else {
      throw FieldError(field: field, problem: "is longer than \(maxLength) characters")
    }
    guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
      throw FieldError(field: field, problem: "contains a control character")
    }
    return trimmed
  }

  public static func integer(_ text: String, field: String, range: ClosedRange<Int>) throws(FieldError) -> Int {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard let value = Int(trimmed) else {
      throw FieldError(field: field, problem: "'\(text)' is not a whole number")
    }
    guard range.contains(value) else {
      throw FieldError(field: field, problem: "\(value) is out of range (\(describe(range)))")
    }
    return value
  }

  public static func decimal(
    _ text: String, field: String, range: ClosedRange<Decimal>, maxFractionDigits: Int = 4
  ) throws(FieldError) -> Decimal {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let pattern = /^-?[0-9]+(\.[0-9]+)?$/
    guard trimmed.wholeMatch(of: pattern) != nil,
      let value = Decimal(string: trimmed, locale: Locale(identifier: "en_US_POSIX"))
    else {
      throw FieldError(field: field, problem: "'\(text)' is not a number")
    }
    if let dot = trimmed.firstIndex(of: "."), trimmed[trimmed.index(after: dot)...].count > maxFractionDigits {
      throw FieldError(field: field, problem: "'\(text)' has more than \(maxFractionDigits) decimal places")
    }
    guard range.contains(value) else {
      throw FieldError(field: field, problem: "\(trimmed) is out of range (\(range.lowerBound)–\(range.upperBound))")
    }
    return value
  }

  public static func boolean(_ text: String, field: String) throws(FieldError) -> Bool {
    switch text.trimmingCharacters(in: .whitespaces).lowercased() {
    case "true", "yes", "y", "1", "t": return true
    case "false", "no", "n", "0", "f": return false
    default: throw FieldError(field: field, problem: "'\(text)' is not true or false")
    }
  }

  public static func date(_ text: String, field: String) throws(FieldError) -> CalendarDate {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard let date = CalendarDate(trimmed) else {
      throw FieldError(field: field, problem: "'\(text)' is not a date (YYYY-MM-DD)")
    }
    return date
  }

  /// A date option that may be left out (nil: the command's default day).
  public static func date(_ text: String?, field: String) throws(FieldError) -> CalendarDate? {
    guard let text else { return nil }
    let day: CalendarDate = try date(text, field: field)
    return day
  }

  /// One of a fixed set of lower-case words.
  public static func choice(_ text: String, field: String, noun: String, from choices: [String]) throws(FieldError)
    -> String
  {
    let word = text.trimmingCharacters(in: .whitespaces).lowercased()
    guard choices.contains(word) else {
      throw FieldError(field: field, problem: "'\(text)' is not a \(noun) (\(choices.joined(separator: ", ")))")
    }
    return word
  }

  private static func describe(_ range: ClosedRange<Int>) -> String {
    range.upperBound == Int.max ? "at least \(range.lowerBound)" : "\(range.lowerBound)–\(range.upperBound)"
  }
}
