import Foundation
import Postgres

/// Keeps the planner's picture of the ledger current while a great deal of it is written at once (an import, a
/// simulation).
///
/// A session plans ledger_book's statements once, from the statistics of that moment, and keeps the plans. Planned
/// on a new or small ledger, they scan tables whole where an index would do, and every batch gets slower as the
/// ledger grows: the first week of a national simulation took twice as long as the next ones until autovacuum caught
/// up. Analysing whenever as many events have been written as the ledger held at the last analysis makes every
/// session plan again with the tables' real sizes, a handful of times over a run of any length. Several connections
/// writing one run share one: statistics are the database's, not a session's.
final class LedgerGrowth: @unchecked Sendable {
  private let lock = NSLock()
  /// Events in the ledger at the last analysis, as its statistics said. Both counts are read and written under `lock`.
  private var analysed: Int
  private var written = 0
  /// Below this, plans made on the empty tables cost little.
  static let smallest = 5_000

  init(_ connection: Connection) throws {
    let estimate: Double = try connection.query(
      "SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = 'stock_events'::regclass")[0].decode("n")
    analysed = Int(estimate)
  }

  func wrote(_ events: Int, _ connection: Connection) throws {
    let due = lock.withLock {
      written += events
      guard written >= max(analysed, Self.smallest) else { return false }
      analysed += written
      written = 0
      return true
    }
    if due {
      try connection.execute("ANALYZE stock_events, stock_balances, stock_lot_daily, stock_cards, lots, transfers")
    }
  }
}
