import CLibPQ
import Foundation

/// One libpq connection, owned by exactly one task at a time.
///
/// `Connection` is deliberately not `Sendable`: Swift 6's region checking then proves that no two
/// tasks ever use the same connection concurrently, which libpq does not allow. Hand one to another
/// task with `sending`; share a database between tasks by opening a connection in each.
public final class Connection {
  let handle: OpaquePointer
  /// What it connected with, so that work split over several connections can open the others alike.
  public let conninfo: String
  let noticeLog = NoticeLog()
  /// Statements sent to the server so far (each one round trip), so tests can hold a hot path to a budget.
  public private(set) var statementsSent = 0
  let cancelRequest = CancelRequest()
  /// Server-side statements made by `preparedQuery` and `repeatedQuery`, by their text and parameter types.
  private var preparedStatements: [PreparedKey: String] = [:]
  private var preparedStatementsMade = 0
  /// Statements `repeatedQuery` has run once, unprepared.
  private var runsUnprepared: Set<PreparedKey> = []

  /// Connects with a `postgres://` URL or a `key=value` conninfo string; an empty string lets libpq
  /// read the `PG*` environment variables.
  ///
  /// The session starts in UTC with ISO dates and UTF-8, so values come back in the text shapes the
  /// decoders read whatever the server's defaults are. A caller may move the session to another time
  /// zone: `timestamptz` text then carries that zone's offset, which the decoder applies. Server notices
  /// are collected in `notices` rather than printed (see `PostgresNotice`).
  public init(connectingTo conninfo: String) throws {
    // The session settings travel with the start-up packet: no statement, no round trip. The caller's conninfo is
    // expanded as the first parameter and a later keyword replaces what it set, so kpstock's `options` are appended to
    // the caller's (the later `-c` of a setting wins) instead of dropping them.
    let keywords = ["dbname", "options", "client_encoding"]
    let values = [
      conninfo, [Self.callerOptions(conninfo), Self.sessionOptions].compactMap { $0 }.joined(separator: " "), "UTF8",
    ]
    let connected = Self.withCStrings(keywords) { keywords in
      Self.withCStrings(values) { values in PQconnectdbParams(keywords, values, 1) }
    }
    guard let handle = connected else {
      throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
    }
    // Store the handle only once it is known good: after every stored property is set, a throwing
    // init runs deinit, whose PQfinish would free the handle a second time.
    guard PQstatus(handle) == CONNECTION_OK else {
      let message = Connection.lastErrorMessage(handle)
      PQfinish(handle)
      throw PostgresError(kind: .connection, message: message)
    }
    self.handle = handle
    self.conninfo = conninfo
    installNoticeReceiver()
  }

  static let sessionOptions = "-c DateStyle=ISO,YMD -c IntervalStyle=postgres -c TimeZone=UTC -c extra_float_digits=3"

  /// The `options` that the conninfo sets, or else `PGOPTIONS`: libpq would have used them had kpstock not passed
  /// `options` of its own (a `search_path`, a `statement_timeout`, a pooler's `-c` settings).
  static func callerOptions(_ conninfo: String) -> String? {
    var error: UnsafeMutablePointer<CChar>?
    if let parsed = PQconninfoParse(conninfo, &error) {
      defer { PQconninfoFree(parsed) }
      var option = parsed
      while let keyword = option.pointee.keyword {
        if String(cString: keyword) == "options", let value = option.pointee.val {
          return String(cString: value)
        }
        option += 1
      }
    } else if let error {
      // Not a conninfo (a bare database name); PQconnectdbParams words anything truly wrong with it.
      PQfreemem(error)
    }
    return ProcessInfo.processInfo.environment["PGOPTIONS"].flatMap { $0.isEmpty ? nil : $0 }
  }

  /// A NULL-terminated C array of the strings, alive for the duration of `body`.
  private static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
  }

  deinit { PQfinish(handle) }

  /// The server's version number, e.g. 150018 for 15.18.
  public var serverVersion: Int { Int(PQserverVersion(handle)) }

  public var isInTransaction: Bool { PQtransactionStatus(handle) != PQTRANS_IDLE }

  /// Runs one statement and returns its rows.
  @discardableResult
  public func query(_ query: Query) throws -> QueryResult {
    let (sql, binds) = query.rendered
    return try run(sql: sql, binds: binds)
  }

  private func run(sql: String, binds: [PostgresBind]) throws -> QueryResult {
    try throwIfCancelled()
    statementsSent += 1
    let result = try withParameters(binds) { types, values, lengths, formats in
      PQexecParams(handle, sql, Int32(binds.count), types, values, lengths, formats, 0)
    }
    return QueryResult(handle: try check(result))
  }

  /// Runs one statement through a server-side prepared statement, made on first use and kept for the life of
  /// the connection, so a statement run thousands of times is parsed and planned once.
  ///
  /// For the hot paths only: a cached statement fixes its parameter types and result shape, and the cache
  /// holds at most `preparedStatementLimit` statements (further ones run unprepared).
  @discardableResult
  public func preparedQuery(_ query: Query) throws -> QueryResult {
    let (key, binds) = query.keyed
    return try runPrepared(key, binds: binds)
  }

  /// Prepares the statement on its first run (its text rendered from `key` then, and only then); once the cache is
  /// full, further statements run unprepared.
  private func runPrepared(_ key: PreparedKey, binds: [PostgresBind]) throws -> QueryResult {
    try throwIfCancelled()
    guard let name = try preparedStatement(for: key) else { return try run(sql: key.sql, binds: binds) }
    return try runPrepared(key, named: name, binds: binds)
  }

  private func runPrepared(_ key: PreparedKey, named name: String, binds: [PostgresBind]) throws -> QueryResult {
    try throwIfCancelled()
    statementsSent += 1
    let result = try withParameters(binds) { _, values, lengths, formats in
      PQexecPrepared(handle, name, Int32(binds.count), values, lengths, formats, 0)
    }
    do {
      return QueryResult(handle: try check(result))
    } catch let error as PostgresError where error.sqlState == .invalidSQLStatementName {
      // The session lost its statements (DISCARD ALL, a pooler): make it again, once.
      preparedStatements.removeAll()
      guard !isInTransaction else { throw error }
      return try runPrepared(key, binds: binds)
    }
  }

  public static let preparedStatementLimit = 64

  /// Runs one statement unprepared the first time and through `preparedQuery` from its second run on, so a process
  /// that runs it once (a command) sends one round trip and a session that runs it again and again (a benchmark, a
  /// long-lived service) has it parsed and planned once.
  @discardableResult
  public func repeatedQuery(_ query: Query) throws -> QueryResult {
    let (key, binds) = query.keyed
    // One lookup for a statement already prepared, the case a long session repeats, by its key: its text is
    // rendered only to be sent.
    if let name = preparedStatements[key] { return try runPrepared(key, named: name, binds: binds) }
    if runsUnprepared.contains(key) { return try runPrepared(key, binds: binds) }
    if runsUnprepared.count < Self.preparedStatementLimit { runsUnprepared.insert(key) }
    return try run(sql: key.sql, binds: binds)
  }

  private func preparedStatement(for key: PreparedKey) throws -> String? {
    if let name = preparedStatements[key] { return name }
    guard preparedStatements.count < Self.preparedStatementLimit else { return nil }
    preparedStatementsMade += 1
    let name = "kpstock_\(preparedStatementsMade)"
    let types = key.types.map { Oid($0) }
    statementsSent += 1
    let result = types.withUnsafeBufferPointer { types in
      PQprepare(handle, name, key.sql, Int32(types.count), types.baseAddress)
    }
    _ = try check(result)
    preparedStatements[key] = name
    return name
  }

  /// Runs one statement and returns how many rows it touched.
  @discardableResult
  public func execute(_ query: Query) throws -> Int {
    try self.query(query).affectedRows
  }

  /// Runs SQL that may hold several statements and no parameters, such as a migration file.
  public func executeScript(unsafeSQL sql: String) throws {
    try throwIfCancelled()
    guard !sql.utf8.contains(0) else {
      throw PostgresError(kind: .bind, message: "SQL text contains a NUL byte")
    }
    statementsSent += 1
    _ = try check(PQexec(handle, sql))
  }

  func check(_ result: OpaquePointer?) throws -> ResultHandle {
    guard let result else {
      throw PostgresError(kind: .connection, message: Connection.lastErrorMessage(handle))
    }
    let owned = ResultHandle(result)
    switch PQresultStatus(result) {
    case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
      return owned
    default:
      throw error(from: result)
    }
  }

  func error(from result: OpaquePointer) -> PostgresError {
    func field(_ code: Int32) -> String? {
      guard let value = PQresultErrorField(result, code) else { return nil }
      return String(cString: value)
    }
    let sqlState = field(CLIBPQ_DIAG_SQLSTATE).map(SQLState.init)
    // A cancel request has done its work once a statement fails from it.
    if sqlState == .queryCanceled { cancelRequest.clear() }
    let message =
      field(CLIBPQ_DIAG_MESSAGE_PRIMARY)
      ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
    let broken = PQstatus(handle) != CONNECTION_OK
    return PostgresError(
      kind: broken ? .connection : .server,
      sqlState: sqlState,
      message: message.isEmpty ? Connection.lastErrorMessage(handle) : message,
      detail: field(CLIBPQ_DIAG_MESSAGE_DETAIL),
      hint: field(CLIBPQ_DIAG_MESSAGE_HINT),
      constraint: field(CLIBPQ_DIAG_CONSTRAINT_NAME),
      table: field(CLIBPQ_DIAG_TABLE_NAME),
      column: field(CLIBPQ_DIAG_COLUMN_NAME),
      schema: field(CLIBPQ_DIAG_SCHEMA_NAME),
      dataType: field(CLIBPQ_DIAG_DATATYPE_NAME),
      severity: field(CLIBPQ_DIAG_SEVERITY_NONLOCALIZED),
      context: field(CLIBPQ_DIAG_CONTEXT))
  }

  static func lastErrorMessage(_ handle: OpaquePointer) -> String {
    let text = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    return text.isEmpty ? "connection failed" : text.replacingOccurrences(of: "\n", with: " ")
  }

  /// Lays the parameters out as the C arrays PQexecParams wants, checking each text value first. The values are
  /// copied, each ending in a NUL as libpq reads text, into one buffer, and the four arrays live on the stack: the
  /// everyday dispense binds fifteen values at each post (the absent ones NULL), and a buffer, a String for the UTF-8
  /// check and an array each made them a third of what the client spent on a post.
  private func withParameters(
    _ binds: [PostgresBind],
    _ body: (
      UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?
    ) -> OpaquePointer?
  ) throws -> OpaquePointer? {
    var size = 0
    for (offset, bind) in binds.enumerated() {
      guard let bytes = bind.bytes else { continue }
      if bind.format == .text { try Self.checkText(bytes, parameter: offset + 1) }
      size += bytes.count + 1
    }
    let count = binds.count
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: max(size, 1)) { buffer in
      withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: max(count, 1)) { values in
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: max(count, 1) * 2) { numbers in
          withUnsafeTemporaryAllocation(of: Oid.self, capacity: max(count, 1)) { types in
            var end = 0
            for (index, bind) in binds.enumerated() {
              types[index] = Oid(bind.typeOID)
              numbers[count + index] = bind.format.rawValue
              guard let bytes = bind.bytes else {
                values[index] = nil
                numbers[index] = 0
                continue
              }
              let start = buffer.baseAddress! + end
              bytes.withUnsafeBytes { source in
                // An empty value's buffer may have no address; there is nothing to copy then.
                if let source = source.baseAddress {
                  UnsafeMutableRawPointer(start).copyMemory(from: source, byteCount: bytes.count)
                }
              }
              start[bytes.count] = 0
              values[index] = UnsafePointer(start)
              numbers[index] = Int32(bytes.count)
              end += bytes.count + 1
            }
            let numbersBase = UnsafePointer(numbers.baseAddress!)
            return body(
              UnsafePointer(types.baseAddress), UnsafePointer(values.baseAddress), numbersBase, numbersBase + count)
          }
        }
      }
    }
  }

  /// A text value must be UTF-8 without NUL bytes; checked byte by byte, and only text that is not ASCII decoded.
  private static func checkText(_ bytes: [UInt8], parameter: Int) throws {
    var ascii = true
    for byte in bytes {
      if byte == 0 {
        throw PostgresError(kind: .bind, message: "parameter $\(parameter) contains a NUL byte, which text cannot hold")
      }
      if byte >= 0x80 { ascii = false }
    }
    if !ascii && String(validating: bytes, as: UTF8.self) == nil {
      throw PostgresError(kind: .bind, message: "parameter $\(parameter) is not valid UTF-8 text")
    }
  }
}

/// A statement's text and parameter types, by which a session finds the statement it prepared. A literal of the
/// source is known by its address and length: its text lives in the binary, never moves and never changes. The same
/// text reached another way (spliced SQL, a literal written twice) is another key, prepared again: harmless.
///
/// Its parts are plain integers, so a key is built, hashed and compared as a block of memory: hashing thirty parts
/// as enum values, one at a time, cost the everyday dispense as much as rendering its text had.
struct PreparedKey: Hashable {
  /// A literal (its address and length), a parameter (address 0, its type's OID) or spliced SQL (address 1, its
  /// place in `spliced`).
  struct Part: Equatable {
    var address: UInt
    var value: Int
  }

  var parts: [Part] = []
  var spliced: [String] = []

  mutating func appendLiteral(_ literal: StaticString) {
    guard literal.hasPointerRepresentation else { return appendSQL(literal.description) }
    parts.append(Part(address: UInt(bitPattern: literal.utf8Start), value: literal.utf8CodeUnitCount))
  }

  mutating func appendSQL(_ sql: String) {
    parts.append(Part(address: 1, value: spliced.count))
    spliced.append(sql)
  }

  mutating func appendParameter(type: UInt32) {
    parts.append(Part(address: 0, value: Int(type)))
  }

  func hash(into hasher: inout Hasher) {
    parts.withUnsafeBytes { hasher.combine(bytes: $0) }
    hasher.combine(spliced)
  }

  var types: [UInt32] { parts.filter { $0.address == 0 }.map { UInt32($0.value) } }

  /// The text sent to the server, with `$1…$n` in place of the values; rendered as UTF-8 bytes and made a String
  /// once.
  var sql: String {
    var text: [UInt8] = []
    text.reserveCapacity(256)
    var parameters = 0
    for part in parts {
      switch part.address {
      case 0:
        parameters += 1
        text.append(UInt8(ascii: "$"))
        Self.appendDecimal(parameters, to: &text)
      case 1: text.append(contentsOf: spliced[part.value].utf8)
      default:
        text.append(
          contentsOf: UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: part.address), count: part.value))
      }
    }
    return String(decoding: text, as: UTF8.self)
  }

  private static func appendDecimal(_ number: Int, to text: inout [UInt8]) {
    if number >= 10 { appendDecimal(number / 10, to: &text) }
    text.append(UInt8(ascii: "0") + UInt8(number % 10))
  }
}

@available(*, unavailable, message: "a connection belongs to one task; open another for concurrent work")
extension Connection: Sendable {}
