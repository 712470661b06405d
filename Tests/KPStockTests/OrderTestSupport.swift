import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// A database with the Kwale demo's sites and supply lines, on Monday 2026-11-30, for the orders' tests.
func kwaleOrderDatabase() throws -> (TestDatabaseHandle, Store) {
  let database = try TestDatabase.fresh()
  let store = try openAsKPStock(database)
  try Seeds.loadKwaleDemo(store)
  try store.execute("SET kpstock.today = '2026-11-30'")
  return (database, store)
}

/// A forecast run of week 2026-W49 whose lines have these echelon needs (nil: unknown) and own needs, written
/// directly, so that the order rules are tested apart from the forecast.
func forecastRun(_ store: Store, needs: [(site: String, commodity: String, need: Int64?, own: Int64?)]) throws -> Int64
{
  let id: Int64 = try store.query(
    "INSERT INTO forecast_runs (week, settings, made_on) VALUES ('2026-11-30', '{}', '2026-11-30') RETURNING id"
  )[0].decode("id")
  for line in needs {
    try store.execute(
      """
      INSERT INTO forecast_lines (run_id, site_code, commodity_code, method, need, own_need, supplied_need, flags,
        dispensed, stocked_out_days, unclosed_days, adjusted, backtest_outreach, backtest_consumption, backtest_naive)
      VALUES (\(id), \(line.site), \(line.commodity), 'max', \(line.need), \(line.own),
        \((line.need ?? 0) - (line.own ?? 0)), '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')
      """)
  }
  return id
}

/// Runs `change` on a second session while a first one holds `held` (a change of the same order) uncommitted, and
/// returns what the second was told once the first committed: "done", or the refusal's rule and problem.
func secondSessionOutcome(
  _ database: TestDatabaseHandle, while held: String, _ change: @escaping @Sendable (Store) throws -> Void
) throws -> String {
  let first = try openAsKPStock(database)
  try first.execute("SET kpstock.today = '2026-11-30'")
  try first.execute("BEGIN")
  try first.execute(Query(unsafeSQL: held))
  let second = ThreadOutcome { () throws -> String in
    let store = try openAsKPStock(database)
    try store.execute("SET kpstock.today = '2026-11-30'")
    do {
      try change(store)
      return "done"
    } catch let refusal as LedgerRefusal {
      return "\(refusal.rule) \(refusal.problem)"
    }
  }
  try database.waitUntilASessionWaitsOnALock()
  try first.execute("COMMIT")
  let outcome = try #require(second.wait(seconds: 30), "the second session did not finish")
  return try outcome.get()
}
