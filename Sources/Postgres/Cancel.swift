import CLibPQ
import Foundation

/// Stops what a connection is doing on the server, from another thread (a signal watcher, say) while the
/// connection's own thread waits for a statement or streams a COPY.
///
/// A request holds until it takes effect: if it reaches the server between two statements, where the server
/// ignores it, the connection's next statement fails instead, and a COPY stops streaming at its next chunk. Either
/// way the caller sees one `PostgresError` with SQLSTATE 57014 (`query_canceled`), as for a statement the server
/// cancelled, and the connection is usable again afterwards, to roll back.
public final class QueryCanceller: @unchecked Sendable {
  /// libpq's PGcancel, which PQcancel only reads, so any thread may use it (libpq documents this).
  private let handle: OpaquePointer
  private let pending: CancelRequest

  init?(connection: OpaquePointer, pending: CancelRequest) {
    guard let handle = PQgetCancel(connection) else { return nil }
    self.handle = handle
    self.pending = pending
  }

  deinit { PQfreeCancel(handle) }

  /// Asks the server to cancel the running statement, and the connection to refuse its next one until a
  /// statement has failed as cancelled. Returns false when the request could not be sent to the server (it then
  /// still holds for the next statement).
  @discardableResult
  public func cancel() -> Bool {
    pending.set()
    var message = [CChar](repeating: 0, count: 256)
    return PQcancel(handle, &message, Int32(message.count)) == 1
  }
}

/// Whether a cancel was asked for and has not yet taken effect; shared by a connection and its cancellers.
final class CancelRequest: @unchecked Sendable {
  private let lock = NSLock()
  private var requested = false

  func set() { lock.withLock { requested = true } }

  func clear() { lock.withLock { requested = false } }

  /// Whether a request was pending; it is used up by asking.
  func take() -> Bool {
    lock.withLock {
      defer { requested = false }
      return requested
    }
  }
}

extension PostgresError {
  /// The error for a statement that a cancel stopped before it was sent, worded as the server words its own.
  static var cancelled: PostgresError {
    PostgresError(kind: .server, sqlState: .queryCanceled, message: "canceling statement due to user request")
  }
}

extension Connection {
  /// A handle that cancels this connection's work from another thread; nil only if libpq cannot make one.
  public func canceller() -> QueryCanceller? {
    QueryCanceller(connection: handle, pending: cancelRequest)
  }

  /// Throws instead of sending a statement when a cancel is still waiting to take effect.
  func throwIfCancelled() throws {
    if cancelRequest.take() { throw PostgresError.cancelled }
  }
}
