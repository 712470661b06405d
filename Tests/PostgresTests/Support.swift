import Foundation
import KPStockTestSupport
import Postgres

/// Runs `body` on a new OS thread and returns its result.
///
/// libpq calls block their thread; running them on a thread of their own keeps Swift's small
/// cooperative pool (two threads on a two-core machine) free for the other tests.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    Thread { continuation.resume(with: Result(catching: body)) }.start()
  }
}

/// Holds threads until `parties` of them have arrived, so that two sessions interleave exactly.
final class Barrier: @unchecked Sendable {
  private let condition = NSCondition()
  private var missing: Int

  init(parties: Int) { missing = parties }

  /// Throws when the others do not arrive in time, so a broken test fails instead of hanging.
  func arriveAndWait(timeout: TimeInterval = 10) throws {
    condition.lock()
    defer { condition.unlock() }
    missing -= 1
    if missing == 0 {
      condition.broadcast()
      return
    }
    let deadline = Date(timeIntervalSinceNow: timeout)
    while missing > 0 {
      if !condition.wait(until: deadline) { throw BarrierTimeout() }
    }
  }
}

struct BarrierTimeout: Error {}

struct UnexpectedShape: Error {
  var rows: Int
  var columns: [String]
}

/// An error a test body throws on purpose.
struct DeliberateFailure: Error, Equatable {
  var reason = "deliberate"
}

extension Connection {
  /// The single value of a one-row, one-column query.
  func value<T: PostgresDecodable>(_ query: Query, as type: T.Type = T.self) throws -> T {
    let result = try self.query(query)
    guard result.count == 1, result.columns.count == 1 else {
      throw UnexpectedShape(rows: result.count, columns: result.columns)
    }
    return try result[0].decode(at: 0)
  }

  func count(_ table: String) throws -> Int {
    try value("SELECT count(*) FROM \(identifier: table)")
  }

  func tableExists(_ name: String) throws -> Bool {
    try value("SELECT to_regclass(\(name)) IS NOT NULL")
  }
}
