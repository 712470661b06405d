import Foundation

public enum IsolationLevel: String, Sendable {
  case readCommitted = "READ COMMITTED"
  case repeatableRead = "REPEATABLE READ"
  case serializable = "SERIALIZABLE"
}

extension Connection {
  /// Runs `body` in a transaction: commit when it returns, roll back when it throws.
  ///
  /// A serialization failure (40001) or deadlock (40P01) rolls back and runs `body` again, up to
  /// `maxAttempts` times, after a short randomised pause. `body` must therefore do nothing outside
  /// the database that cannot be repeated. Called inside another transaction, it becomes a savepoint
  /// and leaves retrying to the outermost call.
  @discardableResult
  public func transaction<T>(
    isolation: IsolationLevel = .readCommitted,
    maxAttempts: Int = 5,
    _ body: (Connection) throws -> T
  ) throws -> T {
    if isInTransaction { return try savepoint(body) }
    var attempt = 1
    while true {
      do {
        try executeScript(unsafeSQL: "BEGIN ISOLATION LEVEL \(isolation.rawValue)")
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
