import Foundation

/// A calendar day with no time or zone: PostgreSQL's `date`.
///
/// Stock happens on a day in the programme's time zone, not at an instant; keeping the day as its own
/// type stops a midnight-UTC `Date` from sliding into the previous day in Nairobi.
public struct CalendarDate: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
  public let year: Int
  public let month: Int
  public let day: Int

  /// nil when the day does not exist (2026-02-30).
  public init?(year: Int, month: Int, day: Int) {
    guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
      day <= CalendarDate.daysIn(month: month, year: year)
    else { return nil }
    self.year = year
    self.month = month
    self.day = day
  }

  /// Parses exactly `YYYY-MM-DD`.
  public init?(_ text: String) {
    // Read from the UTF-8 bytes: every event a query returns carries a date, and splitting the string cost a fifth
    // of decoding a posted dispense.
    var text = text
    let parsed: (Int, Int, Int)? = text.withUTF8 { bytes in
      guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
      func number(_ range: Range<Int>) -> Int? {
        var value = 0
        for index in range {
          let digit = Int(bytes[index]) - Int(UInt8(ascii: "0"))
          guard (0...9).contains(digit) else { return nil }
          value = value * 10 + digit
        }
        return value
      }
      guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
      return (year, month, day)
    }
    guard let (year, month, day) = parsed else { return nil }
    self.init(year: year, month: month, day: day)
  }

  /// Days since 1970-01-01.
  public var daysSinceEpoch: Int { CivilCalendar.days(year: year, month: month, day: day) }

  public init(daysSinceEpoch days: Int) {
    let (year, month, day) = CivilCalendar.civil(days: days)
    self.year = year
    self.month = month
    self.day = day
  }

  public func adding(days: Int) -> CalendarDate { CalendarDate(daysSinceEpoch: daysSinceEpoch + days) }

  public var description: String {
    func padded(_ value: Int, to width: Int) -> String {
      let digits = String(value)
      return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
    return padded(year, to: 4) + "-" + padded(month, to: 2) + "-" + padded(day, to: 2)
  }

  public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
    (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
  }

  static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let date = CalendarDate(text) else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a date: \(text)"))
    }
    self = date
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

extension CalendarDate: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind { .text(description, typeOID: PostgresOID.date) }
  public init?(postgresText text: String) { self.init(text) }
}

/// Instants travel as ISO text with an offset (`DateStyle` is pinned to ISO); binds are sent in UTC.
extension Date: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind {
    let microseconds = (timeIntervalSince1970 * 1_000_000).rounded()
    let totalSeconds = Int((microseconds / 1_000_000).rounded(.down))
    let fraction = Int(microseconds - Double(totalSeconds) * 1_000_000)
    let day = CalendarDate(daysSinceEpoch: Int((Double(totalSeconds) / 86_400).rounded(.down)))
    let secondOfDay = totalSeconds - day.daysSinceEpoch * 86_400
    let text = String(
      format: "%@ %02d:%02d:%02d.%06d+00", day.description, secondOfDay / 3600, secondOfDay / 60 % 60,
      secondOfDay % 60, fraction)
    return .text(text, typeOID: PostgresOID.timestamptz)
  }

  /// Reads `timestamptz` (with its offset), `date` (midnight UTC) and `timestamp` without a zone, which
  /// has no offset to apply and is taken as UTC: store instants as `timestamptz`.
  public init?(postgresText text: String) {
    guard let interval = TimestampParser.parse(text) else { return nil }
    self.init(timeIntervalSince1970: interval)
  }
}

enum TimestampParser {
  /// Seconds since the epoch for `YYYY-MM-DD[ HH:MM:SS[.ffffff]][±HH[:MM[:SS]]]`.
  static func parse(_ text: String) -> Double? {
    let bytes = Array(text.utf8)
    guard bytes.count >= 10, let day = CalendarDate(String(decoding: bytes[0..<10], as: UTF8.self)) else {
      return nil
    }
    var seconds = Double(day.daysSinceEpoch) * 86_400
    if bytes.count == 10 { return seconds }
    guard bytes.count >= 19, bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T"),
      let hour = number(bytes, 11, 2), bytes[13] == UInt8(ascii: ":"), let minute = number(bytes, 14, 2),
      bytes[16] == UInt8(ascii: ":"), let second = number(bytes, 17, 2), hour < 24, minute < 60, second < 61
    else { return nil }
    seconds += Double(hour * 3600 + minute * 60 + second)
    var index = 19
    var fraction = 0.0
    if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
      index += 1
      // Gather the digits into one integer and add the fraction once: adding digit by digit to the
      // large seconds value rounded at every step and could land on a neighbouring microsecond.
      var numerator = 0
      var denominator = 1
      let start = index
      while index < bytes.count, let digit = digitValue(bytes[index]) {
        if denominator < 1_000_000_000_000 {  // further digits cannot change a Double of this size
          numerator = numerator * 10 + digit
          denominator *= 10
        }
        index += 1
      }
      if index == start { return nil }
      fraction = Double(numerator) / Double(denominator)
    }
    if index == bytes.count { return seconds + fraction }
    let sign: Double
    switch bytes[index] {
    case UInt8(ascii: "+"): sign = 1
    case UInt8(ascii: "-"): sign = -1
    default: return nil
    }
    index += 1
    var offset = 0
    var unit = 3600
    while unit >= 1 {
      guard let part = number(bytes, index, 2) else { return nil }
      offset += part * unit
      index += 2
      if index == bytes.count { break }
      guard bytes[index] == UInt8(ascii: ":") else { return nil }
      index += 1
      unit /= 60
    }
    guard index == bytes.count else { return nil }
    return (seconds - sign * Double(offset)) + fraction
  }

  private static func number(_ bytes: [UInt8], _ start: Int, _ length: Int) -> Int? {
    guard start + length <= bytes.count else { return nil }
    var value = 0
    for byte in bytes[start..<start + length] {
      guard let digit = digitValue(byte) else { return nil }
      value = value * 10 + digit
    }
    return value
  }

  private static func digitValue(_ byte: UInt8) -> Int? {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
  }
}

/// Proleptic Gregorian day arithmetic (H. Hinnant's civil-from-days), free of Foundation's Calendar.
enum CivilCalendar {
  static func days(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let monthIndex = (month + 9) % 12
    let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  static func civil(days: Int) -> (Int, Int, Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }
}
