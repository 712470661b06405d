import CLibPQ

/// Buffers rows for `COPY … FROM STDIN` and hands them to libpq in large chunks.
public final class CopyWriter {
  private let connection: Connection
  private var buffer: [UInt8] = []
  private let chunkSize = 1 << 16

  init(connection: Connection) {
    self.connection = connection
    buffer.reserveCapacity(chunkSize)
  }

  public func write(_ bytes: some Sequence<UInt8>) throws {
    buffer.append(contentsOf: bytes)
    if buffer.count >= chunkSize { try flush() }
  }

  public func write(_ text: String) throws {
    try write(text.utf8)
  }

  func flush() throws {
    guard !buffer.isEmpty else { return }
    // The server learns of a cancel only once the copy ends, so streaming stops here instead.
    try connection.throwIfCancelled()
    let status = buffer.withUnsafeBufferPointer { bytes in
      bytes.withMemoryRebound(to: CChar.self) {
        PQputCopyData(connection.handle, $0.baseAddress, Int32($0.count))
      }
    }
    guard status == 1 else {
      throw PostgresError(kind: .connection, message: Connection.lastErrorMessage(connection.handle))
    }
    buffer.removeAll(keepingCapacity: true)
  }
}

@available(*, unavailable)
extension CopyWriter: Sendable {}

extension Connection {
  /// Streams data into `COPY … FROM STDIN` and returns the number of rows the server stored.
  ///
  /// If `produce` throws, the copy is aborted with that error's text, so the server discards every
  /// row it has seen; the original error is rethrown.
  @discardableResult
  public func copyFrom(_ statement: Query, _ produce: (CopyWriter) throws -> Void) throws -> Int {
    try throwIfCancelled()
    let (sql, binds) = statement.rendered
    guard binds.isEmpty else {
      throw PostgresError(kind: .usage, message: "COPY cannot take parameters; name only trusted tables and columns")
    }
    guard let start = PQexec(handle, sql) else {
      throw PostgresError(kind: .connection, message: Connection.lastErrorMessage(handle))
    }
    guard PQresultStatus(start) == PGRES_COPY_IN else {
      defer { PQclear(start) }
      if PQresultStatus(start) == PGRES_FATAL_ERROR { throw error(from: start) }
      if PQresultStatus(start) == PGRES_COPY_OUT { drainCopyOut() }
      throw PostgresError(kind: .usage, message: "statement did not start COPY FROM STDIN: \(sql)")
    }
    PQclear(start)

    let writer = CopyWriter(connection: self)
    var failure: (any Error)?
    do {
      try produce(writer)
      try writer.flush()
    } catch {
      failure = error
    }
    let reason = failure.map { "aborted by client: \($0)" }
    if PQputCopyEnd(handle, reason) != 1 {
      failure = failure ?? PostgresError(kind: .connection, message: Connection.lastErrorMessage(handle))
    }
    var rows = 0
    var serverError: PostgresError?
    while let result = PQgetResult(handle) {
      if PQresultStatus(result) == PGRES_COMMAND_OK {
        rows = Int(String(cString: PQcmdTuples(result))) ?? 0
      } else if serverError == nil {
        serverError = error(from: result)
      }
      PQclear(result)
    }
    if let failure { throw failure }
    if let serverError { throw serverError }
    return rows
  }
}

extension Connection {
  /// Reads and discards a COPY TO STDOUT someone started by mistake, so the connection is usable again.
  fileprivate func drainCopyOut() {
    var buffer: UnsafeMutablePointer<CChar>?
    while PQgetCopyData(handle, &buffer, 0) > 0 {
      PQfreemem(buffer)
      buffer = nil
    }
    while let result = PQgetResult(handle) { PQclear(result) }
  }
}
