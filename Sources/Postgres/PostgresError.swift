/// An error reported by libpq or by the server, with every diagnostic field the server sent.
///
/// Callers turn these into sentences a user understands: a `constraint` name on a 23505 says which
/// uniqueness rule was broken, a `table` and `column` on a 23502 say which value was missing.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
  public enum Kind: Sendable, Equatable {
    /// Could not connect, or the connection broke.
    case connection
    /// The server refused a statement; `sqlState` says why.
    case server
    /// A value could not be sent as a parameter (NUL byte, invalid UTF-8).
    case bind
    /// The library was used in a way the protocol does not allow (e.g. parameters on COPY).
    case usage
  }

  public var kind: Kind
  public var sqlState: SQLState?
  public var message: String
  public var detail: String?
  public var hint: String?
  public var constraint: String?
  public var table: String?
  public var column: String?
  public var schema: String?
  public var dataType: String?
  public var severity: String?
  public var context: String?

  public init(
    kind: Kind, sqlState: SQLState? = nil, message: String, detail: String? = nil, hint: String? = nil,
    constraint: String? = nil, table: String? = nil, column: String? = nil, schema: String? = nil,
    dataType: String? = nil, severity: String? = nil, context: String? = nil
  ) {
    self.kind = kind
    self.sqlState = sqlState
    self.message = message
    self.detail = detail
    self.hint = hint
    self.constraint = constraint
    self.table = table
    self.column = column
    self.schema = schema
    self.dataType = dataType
    self.severity = severity
    self.context = context
  }

  /// True for the two failures a transaction may simply try again: serialization failure and deadlock.
  public var isTransient: Bool {
    sqlState == .serializationFailure || sqlState == .deadlockDetected
  }

  public var description: String {
    var text = message
    if let sqlState { text = "\(text) [SQLSTATE \(sqlState.code)]" }
    if let detail { text += " — \(detail)" }
    return text.replacingOccurrences(of: "\n", with: " ")
  }
}

/// A five-character SQLSTATE code, with names for the ones kpstock reacts to.
public struct SQLState: Hashable, Sendable, CustomStringConvertible {
  public let code: String

  public init(_ code: String) { self.code = code }

  /// The two-character class, e.g. "23" for every integrity constraint violation.
  public var errorClass: String { String(code.prefix(2)) }

  public var description: String { code }

  public static let uniqueViolation = SQLState("23505")
  public static let foreignKeyViolation = SQLState("23503")
  public static let checkViolation = SQLState("23514")
  public static let notNullViolation = SQLState("23502")
  public static let exclusionViolation = SQLState("23P01")
  public static let serializationFailure = SQLState("40001")
  public static let deadlockDetected = SQLState("40P01")
  public static let invalidTextRepresentation = SQLState("22P02")
  public static let numericValueOutOfRange = SQLState("22003")
  public static let invalidDatetimeFormat = SQLState("22007")
  public static let datetimeFieldOverflow = SQLState("22008")
  public static let characterNotInRepertoire = SQLState("22021")
  public static let raiseException = SQLState("P0001")
  public static let invalidSQLStatementName = SQLState("26000")
  public static let undefinedTable = SQLState("42P01")
  public static let undefinedColumn = SQLState("42703")
  public static let syntaxError = SQLState("42601")
  public static let insufficientPrivilege = SQLState("42501")
  public static let queryCanceled = SQLState("57014")
  public static let adminShutdown = SQLState("57P01")
  public static let lockNotAvailable = SQLState("55P03")
  public static let invalidCatalogName = SQLState("3D000")

  public var isIntegrityConstraintViolation: Bool { errorClass == "23" }
  public var isDataException: Bool { errorClass == "22" }
}

/// A column's value could not be turned into the Swift type asked for.
public struct RowDecodingError: Error, Sendable, CustomStringConvertible {
  public var column: String
  public var expectedType: String
  /// The text the server sent, cut to 60 characters; nil when it was SQL NULL.
  public var value: String?

  public var description: String {
    if let value {
      return "column '\(column)': cannot read '\(value)' as \(expectedType)"
    }
    return "column '\(column)': NULL where \(expectedType) was expected"
  }
}
