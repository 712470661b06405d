import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// Each stock card's weeks (Schema/functions/45_stock_weeks.sql): closed weeks are kept once and read back, a
/// back-dated entry drops the weeks it changed, an entry booked while weeks are being kept marks them untrusted, and
/// `ledger verify` recomputes every kept week.
@Suite("Stock weeks")
struct StockWeeksTests {
  private let database: TestDatabaseHandle
  private let store: Store

  /// Monday 2026-11-30: weeks up to the one of 2026-11-16 have been closed a whole day and may be kept; the week of
  /// 2026-11-23 closed yesterday and is computed.
  init() throws {
    database = try TestDatabase.fresh()
    store = try openAsKPStock(database)
    try Seeds.loadKwaleDemo(store)
    try store.execute("SET kpstock.today = '2026-11-30'")
    try receive(3000, lot: "A", expiry: "2028-01-31", on: "2026-10-05")
    try give(400, on: "2026-10-06")
    try give(500, on: "2026-10-20")
    try give(2100, on: "2026-11-04")
    try receive(1000, lot: "B", expiry: "2028-01-31", on: "2026-11-12")
    try give(300, on: "2026-11-17")
    try give(200, on: "2026-11-24")
  }

  private func receive(_ quantity: Int64, lot: String, expiry: String, on day: String) throws {
    try Ledger.post(
      store,
      Receipt(
        site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: lot, expiry: CalendarDate(expiry), quantity: quantity,
        date: CalendarDate(day)))
  }

  private func give(_ quantity: Int64, on day: String) throws {
    try Ledger.post(
      store,
      Dispensing(
        site: "DICE-UKUNDA", commodity: "MALE-CONDOM", quantity: quantity, date: CalendarDate(day), population: "FSW",
        channel: .clinic))
  }

  /// DICE-UKUNDA's condom weeks from 2026-10-05 to 2026-11-23, as "week dispensed out-days kept".
  private func weeks() throws -> [String] {
    try store.query(
      """
      SELECT week, dispensed, stocked_out_days, kept FROM stock_weeks('2026-10-05', '2026-11-23', ARRAY['DICE-UKUNDA'])
      WHERE commodity_code = 'MALE-CONDOM' ORDER BY week
      """
    ).map { row in
      "\(try row.decode("week") as CalendarDate) \(try row.decode("dispensed") as Int64) "
        + "\(try row.decode("stocked_out_days") as Int32) \(try row.decode("kept") as Bool ? "kept" : "computed")"
    }
  }

  private func keep() throws -> Int64 {
    try store.query("SELECT stock_weeks_keep('2026-10-05', '2026-11-23') AS n")[0].decode("n")
  }

  private func verify() throws -> [String] {
    try StockQueries.verify(store).map { "\($0.check) \($0.day.map { "\($0)" } ?? "")" }
  }

  @Test func closedWeeksAreKeptOnceAndReadBackAsComputed() throws {
    let computed = try weeks()
    #expect(
      computed == [
        "2026-10-05 400 0 computed", "2026-10-12 0 0 computed", "2026-10-19 500 0 computed",
        "2026-10-26 0 0 computed", "2026-11-02 2100 5 computed", "2026-11-09 0 3 computed",
        "2026-11-16 300 0 computed", "2026-11-23 200 0 computed",
      ])
    #expect(try keep() > 0)
    #expect(try keep() == 0)
    let read = try weeks()
    #expect(read.map { $0.replacingOccurrences(of: " kept", with: " computed") } == computed)
    #expect(read.filter { $0.hasSuffix("kept") }.count == 7)
    #expect(read.last?.hasSuffix("computed") == true)
    #expect(try verify() == [])
  }

  @Test func aBackDatedEntryDropsTheKeptWeeksFromItsWeekOn() throws {
    _ = try keep()
    try receive(500, lot: "B", expiry: "2028-01-31", on: "2026-11-06")
    #expect(
      try weeks() == [
        "2026-10-05 400 0 kept", "2026-10-12 0 0 kept", "2026-10-19 500 0 kept", "2026-10-26 0 0 kept",
        "2026-11-02 2100 2 computed", "2026-11-09 0 0 computed", "2026-11-16 300 0 computed",
        "2026-11-23 200 0 computed",
      ])
    #expect(try verify() == [])
  }

  /// A keeper computing from a snapshot taken before a back-dated entry commits would keep weeks without it; the
  /// entry does not wait for the keeper, and the weeks it changed are not trusted until they are kept again.
  @Test func anEntryBookedWhileWeeksAreBeingKeptMarksThemUntilTheNextKeeping() throws {
    let keeper = try database.connect()
    try keeper.execute("SET kpstock.today = '2026-11-30'")
    try keeper.execute("BEGIN")
    _ = try keeper.query("SELECT stock_weeks_keep('2026-10-05', '2026-11-23')")
    try store.execute("SET statement_timeout = '10s'")
    try give(100, on: "2026-11-18")
    try keeper.execute("COMMIT")
    #expect(try store.query("SELECT count(*) AS n FROM stock_weeks_changed")[0].decode("n", as: Int64.self) == 1)
    #expect(
      try weeks() == [
        "2026-10-05 400 0 kept", "2026-10-12 0 0 kept", "2026-10-19 500 0 kept", "2026-10-26 0 0 kept",
        "2026-11-02 2100 5 kept", "2026-11-09 0 3 kept", "2026-11-16 400 0 computed", "2026-11-23 200 0 computed",
      ])
    #expect(try verify() == [])
    #expect(try keep() == 1)
    #expect(try store.query("SELECT count(*) AS n FROM stock_weeks_changed")[0].decode("n", as: Int64.self) == 0)
    #expect(try weeks().filter { $0.hasSuffix("kept") }.count == 7)
    #expect(try verify() == [])
  }

  @Test func ledgerVerifyFindsAKeptWeekThatDiffersFromTheLedger() throws {
    _ = try keep()
    try store.execute(
      "UPDATE stock_weeks SET dispensed = dispensed + 1 WHERE site_code = 'DICE-UKUNDA' AND week = '2026-10-19'")
    #expect(try verify() == ["kept week dispensed 2026-10-19"])
  }
}
