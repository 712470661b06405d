import CLibPQ

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Owns one libpq result and frees it exactly once.
final class ResultHandle {
  let pointer: OpaquePointer
  let columnCount: Int32

  init(_ pointer: OpaquePointer) {
    self.pointer = pointer
    columnCount = PQnfields(pointer)
  }

  /// The column with this name: the one at `expected` when it has the name, else the first. Looked up in libpq's own
  /// field names at each use: a dictionary of them, built for every result, cost more than the few comparisons of
  /// short names a row's decoding makes.
  func position(of name: String, expectedAt expected: Int? = nil) -> Int? {
    name.withCString { wanted in
      if let expected, expected >= 0, expected < columnCount, strcmp(PQfname(pointer, Int32(expected)), wanted) == 0 {
        return expected
      }
      for column in 0..<columnCount where strcmp(PQfname(pointer, column), wanted) == 0 { return Int(column) }
      return nil
    }
  }

  func columnName(at position: Int) -> String { String(cString: PQfname(pointer, Int32(position))) }

  var columnNames: [String] { (0..<Int(columnCount)).map(columnName(at:)) }

  deinit { PQclear(pointer) }
}

/// The rows a statement returned, read lazily from libpq's buffer.
public struct QueryResult: RandomAccessCollection {
  let handle: ResultHandle
  /// Rows inserted, updated, deleted or copied, as the server's command tag reports them.
  public let affectedRows: Int

  init(handle: ResultHandle) {
    self.handle = handle
    affectedRows = Int(String(cString: PQcmdTuples(handle.pointer))) ?? 0
  }

  public var columns: [String] { handle.columnNames }
  /// The position of the first column with this name: found once, for decoding many rows by position. A caller that
  /// knows where the column is (a function's result type) names that place, which is taken when the column is there,
  /// even if an earlier column has the same name.
  public func position(of column: String, expectedAt expected: Int? = nil) -> Int? {
    handle.position(of: column, expectedAt: expected)
  }
  public var startIndex: Int { 0 }
  public var endIndex: Int { Int(PQntuples(handle.pointer)) }
  public subscript(position: Int) -> Row { Row(handle: handle, index: Int32(position)) }
}

/// One row; values are decoded on demand, and a failure names the column.
public struct Row {
  let handle: ResultHandle
  let index: Int32

  public var columns: [String] { handle.columnNames }

  public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
    guard let position = handle.position(of: column) else {
      throw RowDecodingError(column: column, expectedType: "\(T.self)", value: "<no such column>")
    }
    return try decode(at: position, as: type)
  }

  /// Inlinable, so a caller decoding a concrete type gets a copy specialised for it: called across the module
  /// boundary as a generic, each call looked up the type's metadata and conformances at run time (for an optional,
  /// its metadata was instantiated anew), a third of what decoding a posted event cost the client.
  @inlinable
  public func decode<T: PostgresDecodable>(at position: Int, as type: T.Type = T.self) throws -> T {
    guard let text = text(at: position) else {
      guard let null = T.postgresNull else { throw decodingError(at: position, expected: "\(T.self)", text: nil) }
      return null
    }
    guard let value = T(postgresText: text) else {
      throw decodingError(at: position, expected: "\(T.self)", text: text)
    }
    return value
  }

  @usableFromInline
  func decodingError(at position: Int, expected: String, text: String?) -> RowDecodingError {
    RowDecodingError(
      column: handle.columnName(at: position), expectedType: expected, value: text.map { String($0.prefix(60)) })
  }

  /// The value as the server's text, nil for SQL NULL.
  public func text(at position: Int) -> String? {
    let column = Int32(position)
    if PQgetisnull(handle.pointer, index, column) == 1 { return nil }
    let length = Int(PQgetlength(handle.pointer, index, column))
    let start = PQgetvalue(handle.pointer, index, column)!
    return start.withMemoryRebound(to: UInt8.self, capacity: length) {
      String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
    }
  }

  public func text(_ column: String) -> String? {
    guard let position = handle.position(of: column) else { return nil }
    return text(at: position)
  }
}
