import Foundation

/// One parameter value as it goes over the wire.
///
/// Text-format values are validated before sending: libpq passes them as C strings, so a NUL
/// byte would silently truncate the value, and the server rejects invalid UTF-8 with a message
/// that does not say which parameter was wrong.
public struct PostgresBind: Sendable, Equatable {
  public enum Format: Int32, Sendable { case text = 0, binary = 1 }

  /// nil is SQL NULL.
  public var bytes: [UInt8]?
  public var format: Format
  /// The type's OID, or 0 to let the server infer it from context.
  public var typeOID: UInt32

  public init(bytes: [UInt8]?, format: Format = .text, typeOID: UInt32 = 0) {
    self.bytes = bytes
    self.format = format
    self.typeOID = typeOID
  }

  public static let null = PostgresBind(bytes: nil)

  /// Text the caller built from raw bytes; used as-is, and refused at send time if it is not valid UTF-8.
  public static func text(bytes: [UInt8], typeOID: UInt32 = 0) -> PostgresBind {
    PostgresBind(bytes: bytes, format: .text, typeOID: typeOID)
  }

  public static func text(_ string: String, typeOID: UInt32 = 0) -> PostgresBind {
    PostgresBind(bytes: Array(string.utf8), format: .text, typeOID: typeOID)
  }
}

/// Well-known type OIDs from pg_type.
public enum PostgresOID {
  public static let bool: UInt32 = 16
  public static let bytea: UInt32 = 17
  public static let int8: UInt32 = 20
  public static let int4: UInt32 = 23
  public static let text: UInt32 = 25
  public static let float8: UInt32 = 701
  public static let textArray: UInt32 = 1009
  public static let int8Array: UInt32 = 1016
  public static let date: UInt32 = 1082
  public static let timestamptz: UInt32 = 1184
  public static let numeric: UInt32 = 1700
  public static let uuid: UInt32 = 2950
}
