import Foundation

public enum IsolationLevel: String, Sendable {
  case readCommitted = "READ COMMITTED"
  case repeatableRead = "REPEATABLE READ"
  case serializable = "SERIALIZABLE"

  /// How `SHOW transaction_isolation` spells this level.
  var shownName: String { rawValue.lowercased() }
}

extension Connection {
  /// Runs `body` in a transaction: commit when it returns, roll back when it throws.
  ///
  /// A serialization failure (40001) or deadlock (40P01) rolls back and runs `body` again, up to
  /// `maxAttempts` times, after a short randomised pause. `body` must therefore do nothing outside
  /// the database that cannot be repeated. Called inside another transaction, it becomes a savepoint
  /// and leaves retrying to the outermost call.
  ///
  /// `isolation` nil means the session's `default_transaction_isolation` (READ COMMITTED unless
  /// configured otherwise) at the top level, and the outer transaction's level when nested. A savepoint cannot change the level, so a nested call that asks
  /// for a different one than the outer transaction has throws a `.usage` error instead of quietly
  /// running with weaker guarantees than it asked for.
  @discardableResult
  public func transaction<T>(
    isolation: IsolationLevel? = nil,
    maxAttempts: Int = 5,
    _ body: (Connection) throws -> T
  ) throws -> T {
    if isInTransaction {
      if let isolation { try requireOuterIsolation(isolation) }
      return try savepoint(body)
    }
    let begin = isolation.map { "BEGIN ISOLATION LEVEL \($0.rawValue)" } ?? "BEGIN"
    var attempt = 1
    while true {
      do {
        try executeScript(unsafeSQL: begin)
        let value = try body(self)
        try executeScript(unsafeSQL: "COMMIT")
        return value
      } catch let error as PostgresError where error.isTransient && attempt < maxAttempts {
        rollbackQuietly()
        attempt += 1
        usleep(UInt32.random(in: 1_000...(5_000 * UInt32(attempt))))
      } catch {
        rollbackQuietly()
        throw error
      }
    }
  }

  private func requireOuterIsolation(_ requested: IsolationLevel) throws {
    let outer: String = try query("SHOW transaction_isolation")[0].decode(at: 0)
    guard outer == requested.shownName else {
      throw PostgresError(
        kind: .usage,
        message:
          "a nested transaction asked for \(requested.shownName) isolation inside a \(outer) transaction; "
          + "a savepoint cannot change the isolation level, so request it on the outermost transaction")
    }
  }

  private func savepoint<T>(_ body: (Connection) throws -> T) throws -> T {
    let name = "kp_savepoint_\(UInt32.random(in: 0...UInt32.max))"
    try executeScript(unsafeSQL: "SAVEPOINT \(name)")
    do {
      let value = try body(self)
      try executeScript(unsafeSQL: "RELEASE SAVEPOINT \(name)")
      return value
    } catch {
      try? executeScript(unsafeSQL: "ROLLBACK TO SAVEPOINT \(name)")
      throw error
    }
  }

  private func rollbackQuietly() {
    if isInTransaction { try? executeScript(unsafeSQL: "ROLLBACK") }
  }
}
