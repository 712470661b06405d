import Foundation

/// A Swift value that can be sent as a query parameter.
public protocol PostgresEncodable {
  var postgresBind: PostgresBind { get }
}

/// A Swift value that can be read from a column sent in text format.
public protocol PostgresDecodable {
  /// nil when the text is not a valid value of this type.
  init?(postgresText text: String)
  /// The value for SQL NULL, or nil when NULL is an error for this type.
  static var postgresNull: Self? { get }
}

extension PostgresDecodable {
  public static var postgresNull: Self? { nil }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
  public var postgresBind: PostgresBind { self?.postgresBind ?? .null }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
  public init?(postgresText text: String) {
    guard let wrapped = Wrapped(postgresText: text) else { return nil }
    self = .some(wrapped)
  }
  public static var postgresNull: Self? { .some(.none) }
}

extension String: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind { .text(self) }
  public init?(postgresText text: String) { self = text }
}

extension Int: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind { .text(String(self), typeOID: PostgresOID.int8) }
  public init?(postgresText text: String) { self.init(text) }
}

extension Int64: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind { .text(String(self), typeOID: PostgresOID.int8) }
  public init?(postgresText text: String) { self.init(text) }
}

extension Int32: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind { .text(String(self), typeOID: PostgresOID.int4) }
  public init?(postgresText text: String) { self.init(text) }
}

extension Double: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind {
    let text: String
    if isNaN {
      text = "NaN"
    } else if isInfinite {
      text = self < 0 ? "-Infinity" : "Infinity"
    } else {
      text = String(self)
    }
    return .text(text, typeOID: PostgresOID.float8)
  }
  public init?(postgresText text: String) { self.init(text) }
}

extension Decimal: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind {
    .text(isNaN ? "NaN" : description, typeOID: PostgresOID.numeric)
  }
  public init?(postgresText text: String) {
    if text == "NaN" {
      self = .nan
      return
    }
    guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
    self = value
  }
}

extension Bool: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind { .text(self ? "t" : "f", typeOID: PostgresOID.bool) }
  public init?(postgresText text: String) {
    switch text {
    case "t": self = true
    case "f": self = false
    default: return nil
    }
  }
}

extension UUID: PostgresEncodable, PostgresDecodable {
  public var postgresBind: PostgresBind { .text(uuidString.lowercased(), typeOID: PostgresOID.uuid) }
  public init?(postgresText text: String) { self.init(uuidString: text) }
}

/// bytea, sent in binary format so every byte value round-trips.
extension Array: PostgresEncodable where Element == UInt8 {
  public var postgresBind: PostgresBind { PostgresBind(bytes: self, format: .binary, typeOID: PostgresOID.bytea) }
}

extension Array: PostgresDecodable where Element == UInt8 {
  /// Reads bytea's hex output format (`\x0a1b…`), the server default since 9.0.
  public init?(postgresText text: String) {
    let utf8 = Array(text.utf8)
    guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
      return nil
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity((utf8.count - 2) / 2)
    var index = 2
    while index < utf8.count {
      guard let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else { return nil }
      bytes.append(high << 4 | low)
      index += 2
    }
    self = bytes
  }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
  switch byte {
  case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
  case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
  case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
  default: nil
  }
}

/// A list bound as one array parameter, for `= ANY(\(codes))` instead of building an IN list.
public struct PostgresArray<Element: PostgresArrayElement>: PostgresEncodable, Sendable {
  public var elements: [Element]
  public init(_ elements: [Element]) { self.elements = elements }

  public var postgresBind: PostgresBind {
    let body = elements.map(\.arrayLiteralElement).joined(separator: ",")
    return .text("{\(body)}", typeOID: Element.arrayTypeOID)
  }
}

public protocol PostgresArrayElement: Sendable {
  static var arrayTypeOID: UInt32 { get }
  var arrayLiteralElement: String { get }
}

extension String: PostgresArrayElement {
  public static var arrayTypeOID: UInt32 { PostgresOID.textArray }
  public var arrayLiteralElement: String {
    "\"" + replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
  }
}

extension Int: PostgresArrayElement {
  public static var arrayTypeOID: UInt32 { PostgresOID.int8Array }
  public var arrayLiteralElement: String { String(self) }
}
