import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// A Kwale demo database whose clock is pinned to a Wednesday, so dates in these tests never drift.
private func ledgerDatabase() throws -> (TestDatabaseHandle, Store) {
  let database = try TestDatabase.fresh()
  let store = try openAsKPStock(database)
  try Seeds.loadKwaleDemo(store)
  try store.execute("SET kpstock.today = '2026-03-11'")
  return (database, store)
}

private let today = CalendarDate("2026-03-11")!

private func day(_ offset: Int) -> CalendarDate { today.adding(days: offset) }

private func onHand(_ store: Store, _ site: String, _ commodity: String, lot: String? = nil) throws -> Int64 {
  try store.query(
    """
    SELECT coalesce(sum(on_hand), 0)::bigint AS n FROM stock_balances
    WHERE site_code = \(site) AND commodity_code = \(commodity) AND (\(lot)::text IS NULL OR lot_code = \(lot))
    """)[0].decode("n")
}

private func eventCount(_ store: Store) throws -> Int64 {
  try store.query("SELECT count(*) AS n FROM stock_events")[0].decode("n")
}

private func receive(
  _ store: Store, _ quantity: Int64, lot: String = "L1", expiry: String = "2027-06-30",
  site: String = "DICE-UKUNDA", date: CalendarDate? = nil
) throws {
  try Ledger.post(
    store,
    Receipt(
      site: site, commodity: "MALE-CONDOM", lot: lot, expiry: CalendarDate(expiry), quantity: quantity, date: date))
}

private func dispensing(_ quantity: Int64, lot: String? = nil, date: CalendarDate? = nil) -> Dispensing {
  Dispensing(
    site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: lot, quantity: quantity, date: date, population: "FSW",
    channel: .clinic)
}

@Suite("Stock ledger")
struct LedgerTests {
  /// An entry posted without a key gets a new one, a time-ordered (version 7) UUID, so it can never be applied twice
  /// by accident, two identical entries are two dispenses, and a later entry's key does not sort before an earlier
  /// one's (its first twelve digits are the time in milliseconds).
  @Test func anEntryWithoutAKeyGetsAFreshTimeOrderedUUID() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    let first = try Ledger.post(store, dispensing(1))
    let second = try Ledger.post(store, dispensing(1))
    let keys: [String] = try [first, second].map { posting in
      try store.query("SELECT idempotency_key FROM stock_events WHERE id = \(posting.events[0].id)")[0]
        .decode("idempotency_key")
    }
    #expect(Set(keys).count == 2)
    let uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
    #expect(keys.allSatisfy { $0.wholeMatch(of: uuid) != nil })
    #expect(keys[0].prefix(13) <= keys[1].prefix(13))
    let milliseconds = UInt64(keys[0].prefix(8) + keys[0].dropFirst(9).prefix(4), radix: 16) ?? 0
    #expect(abs(Double(milliseconds) / 1000 - Date().timeIntervalSince1970) < 600)
  }

  @Test func anOverIssueIsRefusedWithTheStockOnHandAndNothingIsWritten() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 120)
    let before = try eventCount(store)
    let message = thrownDescription { try Ledger.post(store, dispensing(144)) }
    #expect(message == "insufficient stock of MALE-CONDOM at DICE-UKUNDA: on hand 120, asked 144")
    #expect(try eventCount(store) == before)
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 120)
  }

  @Test func dispensingWithoutALotTakesTheEarliestExpiryFirstAndMaySpanLots() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100, lot: "LATE", expiry: "2027-12-31")
    try receive(store, 30, lot: "EARLY", expiry: "2026-09-30")
    let posting = try Ledger.post(store, dispensing(50))
    #expect(posting.events.map(\.lotCode) == ["EARLY", "LATE"])
    #expect(posting.events.map(\.quantity) == [-30, -20])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM", lot: "EARLY") == 0)
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM", lot: "LATE") == 80)
  }

  @Test func anExpiredLotIsNotDispensedButCanBeAdjustedOutAsExpired() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 40, lot: "OLD", expiry: "2026-03-20", date: day(-30))
    try receive(store, 10, lot: "NEW", expiry: "2027-03-31")
    try store.execute("SET kpstock.today = '2026-03-25'")

    let named = thrownDescription { try Ledger.post(store, dispensing(5, lot: "OLD")) }
    #expect(named == "lot: lot OLD of MALE-CONDOM expired on 2026-03-20: it can only be adjusted out as expired")
    let fefo = thrownDescription { try Ledger.post(store, dispensing(20)) }
    #expect(
      fefo == "insufficient stock of MALE-CONDOM at DICE-UKUNDA: on hand 10, asked 20 (another 40 are in expired lots)")

    let writeOff = try Ledger.post(
      store,
      Adjustment(site: "DICE-UKUNDA", commodity: "MALE-CONDOM", quantity: -40, reason: "expired"))
    #expect(writeOff.events.map(\.lotCode) == ["OLD"])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 10)
  }

  @Test func aBackDatedIssueThatWouldMakeAnEarlierDayNegativeIsRefusedWithThatDay() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100, date: day(-10))
    try Ledger.post(store, dispensing(80, date: day(-5)))
    try receive(store, 500, lot: "L2", date: day(-1))
    // 600 − 80 = 520 on hand today, but on day −5 only 20 were left: 30 more on day −7 would break it.
    let message = thrownDescription { try Ledger.post(store, dispensing(30, date: day(-7))) }
    #expect(
      message
        == "back-dated to 2026-03-04, this would make the stock of MALE-CONDOM at DICE-UKUNDA negative on "
        + "2026-03-06: balance then 20, asked 30")
    try Ledger.post(store, dispensing(20, date: day(-7)))
    #expect(try StockQueries.verify(store).isEmpty)
  }

  @Test func datesOutsideTheBackDatingWindowOrInTheFutureAreRefused() throws {
    let (_, store) = try ledgerDatabase()
    let future = thrownDescription { try receive(store, 10, date: day(1)) }
    #expect(future == "date: 2026-03-12 is in the future (today is 2026-03-11)")
    let old = thrownDescription { try receive(store, 10, date: day(-61)) }
    #expect(old?.hasPrefix("date: 2026-01-09 is more than 60 days ago") == true)
    try receive(store, 10, date: day(-60))
  }

  @Test func aRepeatWithTheSameKeyRecordsNothingAndAConflictingRepeatIsRefused() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    let first = try Ledger.post(store, dispensing(10), key: "register-p4-l7")
    let again = try Ledger.post(store, dispensing(10), key: "register-p4-l7")
    #expect(!first.replayed && again.replayed)
    #expect(again.events == first.events)
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 90)
    let conflict = thrownDescription { try Ledger.post(store, dispensing(11), key: "register-p4-l7") }
    #expect(
      conflict
        == "key: key register-p4-l7 was already used at DICE-UKUNDA for a different entry (event \(first.events[0].id))"
    )
  }

  @Test func aTransferIsInTransitUntilReceivedAndARejectedPartIsWrittenOffAtTheDestination() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 1000, site: "STORE-KWALE")
    let dispatch = try Ledger.post(
      store, Dispatch(from: "STORE-KWALE", to: "DICE-KWALE", commodity: "MALE-CONDOM", quantity: 288))
    let transfer = try #require(dispatch.events.first?.transferID)
    let inTransit = try StockQueries.stock(store, site: "DICE-KWALE")
    #expect(inTransit.map(\.inTransit) == [288])
    #expect(try onHand(store, "STORE-KWALE", "MALE-CONDOM") == 712)

    let noReason = #expect(throws: LedgerRefusal.self) {
      try Ledger.post(store, TransferReceipt(transfer: transfer, rejected: 10))
    }
    #expect(
      noReason
        == LedgerRefusal(rule: .invalidValue, field: "reason", problem: "a rejection needs a reason", hint: .reasons))
    let receipt = try Ledger.post(
      store, TransferReceipt(transfer: transfer, rejected: 10, reason: "damaged"))
    #expect(receipt.events.map(\.kind) == [.transferIn, .adjustment])
    #expect(receipt.events.map(\.quantity) == [288, -10])
    #expect(try onHand(store, "DICE-KWALE", "MALE-CONDOM") == 278)
    #expect(try StockQueries.stock(store, site: "DICE-KWALE").allSatisfy { $0.inTransit == 0 })
    let again = thrownDescription { try Ledger.post(store, TransferReceipt(transfer: transfer)) }
    #expect(again == "transfer: transfer \(transfer) was already received on 2026-03-11")
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// Snapshot at start, reconcile at posting: 100 on the shelf when counting starts, 10 handed out while
  /// people count, 98 found. The count says 2 were missing at the start; the 10 dispensed stay dispensed.
  @Test func stockThatMovesDuringACountIsNeitherCountedTwiceNorLost() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    let sheet = try StockCounts.start(store, site: "DICE-UKUNDA", commodity: "MALE-CONDOM", date: nil)
    #expect(sheet.lines.map(\.snapshot) == [100])
    try Ledger.post(store, dispensing(10))
    let count = try Ledger.post(
      store,
      CountEntry(site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: "L1", counted: 98, countID: sheet.id))
    #expect(count.events.map(\.quantity) == [-2])
    #expect(count.events.map(\.reasonCode) == ["unexplained"])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 88)
    let twice = thrownDescription {
      try Ledger.post(
        store,
        CountEntry(site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: "L1", counted: 98, countID: sheet.id))
    }
    #expect(twice?.contains("was already counted in count \(sheet.id)") == true)
  }

  @Test func aCountWithoutASessionSetsTheBalanceAtTheEndOfItsDay() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100, date: day(-3))
    try Ledger.post(store, dispensing(30))
    let count = try Ledger.post(
      store,
      CountEntry(
        site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: "L1", counted: 95, reason: "lost", date: day(-2)))
    #expect(count.events.map(\.quantity) == [-5])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 65)
  }

  @Test func undoPostsAReversingEventOnTheOriginalDayAndOnlyOnce() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100, date: day(-4))
    let issued = try Ledger.post(store, dispensing(40, date: day(-2)))
    let undone = try Ledger.post(store, Undo(event: issued.events[0].id, reason: "correction"))
    #expect(undone.events.map(\.quantity) == [40])
    #expect(undone.events.map(\.occurredOn) == [day(-2)])
    #expect(undone.events.map(\.reversesEventID) == [issued.events[0].id])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 100)
    let twice = thrownDescription {
      try Ledger.post(store, Undo(event: issued.events[0].id, reason: "correction"))
    }
    #expect(twice == "event: event \(issued.events[0].id) was already undone by event \(undone.events[0].id)")
    let history = try store.query(
      "SELECT dispensed FROM stock_daily WHERE site_code = 'DICE-UKUNDA' AND day = \(day(-2))")
    #expect(try history.map { try $0.decode("dispensed") as Int64 } == [0])
    #expect(try StockQueries.verify(store).isEmpty)
  }

  @Test func undoingAReceiptWhoseStockWasGivenOutIsRefused() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    let received = try store.query("SELECT id FROM stock_events")[0].decode("id") as Int64
    try Ledger.post(store, dispensing(70))
    let message = thrownDescription { try Ledger.post(store, Undo(event: received, reason: "correction")) }
    #expect(message == "insufficient stock of MALE-CONDOM lot L1 at DICE-UKUNDA: on hand 30, asked 100")
  }

  @Test func eventsCannotBeChangedAndBalancesCannotBeWrittenDirectly() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    for statement: Query in ["UPDATE stock_events SET quantity = 1", "DELETE FROM stock_events"] {
      #expect(throws: PostgresError.self) { try store.execute(statement) }
    }
    for statement: Query in [
      "UPDATE stock_balances SET on_hand = 5", "DELETE FROM stock_lot_daily", "TRUNCATE stock_balances CASCADE",
      "UPDATE stock_lot_daily SET net_change = 0", "TRUNCATE stock_lot_daily",
      "INSERT INTO stock_balances VALUES ('DICE-UKUNDA', 'LUBRICANT', '', 5)",
      "INSERT INTO stock_lot_daily VALUES ('DICE-UKUNDA', 'LUBRICANT', '', '2026-03-11', 5, 5, 0, 0, 0)",
    ] {
      let error = #expect(throws: PostgresError.self) { try store.execute(statement) }
      #expect(error?.sqlState == SQLState(LedgerRefusal.Rule.forbidden.rawValue), "\(statement)")
    }
    // Not even while ledger_book books may the derived tables be emptied.
    for table in ["stock_balances", "stock_lot_daily"] {
      try store.execute("BEGIN")
      try store.execute("SELECT set_config('kpstock.booked', 'on', true)")
      let error = #expect(throws: PostgresError.self) {
        try store.execute(Query(unsafeSQL: "TRUNCATE \(table) CASCADE"))
      }
      #expect(error?.sqlState == SQLState(LedgerRefusal.Rule.forbidden.rawValue), "\(table)")
      try store.execute("ROLLBACK")
    }
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 100)
  }

  @Test func aDispenseLeavesNoLicenceToWriteBalancesBehindItInTheTransaction() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    try store.execute("BEGIN")
    try Ledger.post(store, dispensing(10))
    let error = #expect(throws: PostgresError.self) {
      try store.execute("UPDATE stock_balances SET on_hand = 500")
    }
    #expect(error?.sqlState == SQLState(LedgerRefusal.Rule.forbidden.rawValue))
    try store.execute("ROLLBACK")

    // An event written around ledger_book, even right after a dispense in the same transaction, books nothing:
    // `ledger verify` lists the balance and the day it does not match.
    try store.execute("BEGIN")
    try Ledger.post(store, dispensing(10))
    try store.execute(
      """
      INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, recorded_on,
        idempotency_key, fingerprint)
      VALUES ('DICE-UKUNDA', 'MALE-CONDOM', 'L1', 'receipt', 7, '2026-03-11', '2026-03-11', 'direct', '\\x00')
      """)
    try store.execute("COMMIT")
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 90)
    #expect(Set(try StockQueries.verify(store).map(\.check)) == ["balance", "lot daily", "lot daily received"])
  }

  @Test func theDatabaseRefusesADispenseToAnUnknownSitePopulationOrCommodity() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    func dispense(site: String = "DICE-UKUNDA", commodity: String = "MALE-CONDOM", population: String = "FSW")
      -> PostgresError?
    {
      #expect(throws: PostgresError.self) {
        try store.query(
          """
          SELECT * FROM ledger_post(jsonb_build_array(jsonb_build_object('req', 1, 'kind', 'dispense', 'key', 'k',
            'site', \(site)::text, 'commodity', \(commodity)::text, 'qty', 1, 'population', \(population)::text,
            'channel', 'clinic')))
          """)
      }
    }
    #expect(dispense(site: "DICE-NOWHERE")?.column == "site")
    #expect(
      dispense(population: "NOBODY").map { [$0.column, $0.message] } == ["population", "unknown population NOBODY"])
    #expect(dispense(commodity: "BREAD")?.column == "commodity")
    #expect(try eventCount(store) == 1)
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 100)
  }

  @Test func aPopulationThatWasDispensedToCannotBeDeletedOrRenamed() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    try Ledger.post(store, dispensing(10))
    for statement: Query in [
      "DELETE FROM populations WHERE code = 'FSW'", "UPDATE populations SET code = 'SW' WHERE code = 'FSW'",
    ] {
      let error = #expect(throws: PostgresError.self) { try store.execute(statement) }
      #expect(error?.constraint == "populations_used_by_ledger")
    }
    try store.execute("UPDATE populations SET name = 'Female sex workers (FSW)' WHERE code = 'FSW'")
  }

  @Test func verifyListsEventsWhosePopulationWasRemovedBehindTheGuards() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    try Ledger.post(store, dispensing(10))
    try Ledger.post(store, dispensing(5))
    #expect(try StockQueries.verify(store).isEmpty)
    // A superuser can switch triggers and foreign keys off; verify must still see what that left behind.
    try store.execute("SET session_replication_role = replica")
    try store.execute("DELETE FROM norms WHERE population_code = 'FSW'")
    try store.execute("DELETE FROM populations WHERE code = 'FSW'")
    try store.execute("SET session_replication_role = origin")
    let differences = try StockQueries.verify(store)
    #expect(differences.map(\.check) == ["unknown population FSW"])
    #expect(differences.map { [$0.siteCode, $0.commodityCode] } == [["DICE-UKUNDA", "MALE-CONDOM"]])
    #expect(differences.map(\.expected) == [2])
  }

  @Test func aCommodityWithEventsKeepsItsUnitAndLotTracking() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 100)
    #expect(throws: PostgresError.self) {
      try store.execute("UPDATE commodities SET lot_tracked = false WHERE code = 'MALE-CONDOM'")
    }
    try store.execute("UPDATE commodities SET lot_tracked = false WHERE code = 'FEMALE-CONDOM'")
  }

  @Test func weeklyHistoryCountsStockedOutDaysAndSeesBackDatedEvents() throws {
    let (_, store) = try ledgerDatabase()
    // Week of Monday 2026-03-02: stock arrives Wednesday and runs out Friday.
    try receive(store, 50, date: CalendarDate("2026-03-04"))
    try Ledger.post(store, dispensing(50, date: CalendarDate("2026-03-06")))
    func week() throws -> (dispensed: Int64, stockedOut: Int32) {
      let row = try store.query(
        """
        SELECT dispensed, stocked_out_days FROM stock_weeks('2026-03-02', '2026-03-02', ARRAY['DICE-UKUNDA'])
        WHERE commodity_code = 'MALE-CONDOM'
        """)[0]
      return (try row.decode("dispensed"), try row.decode("stocked_out_days"))
    }
    // Closed empty: Mon, Tue, Fri, Sat, Sun.
    #expect(try week() == (50, 5))
    // A paper register shows 20 more received on Monday, entered late.
    try receive(store, 20, lot: "L2", date: CalendarDate("2026-03-02"))
    #expect(try week() == (50, 0))
  }

  /// Sixteen sessions each try to hand out 10 of 100 at the same moment: exactly ten succeed.
  @Test func sixteenConcurrentDispensersNeverTakeMoreThanTheStock() async throws {
    let (database, store) = try ledgerDatabase()
    try receive(store, 100)
    let barrier = Barrier(parties: 16)
    let outcomes = try await withThrowingTaskGroup(of: Int.self) { group in
      for _ in 0..<16 {
        group.addTask {
          try await onThread {
            let session = try openAsKPStock(database)
            try session.execute("SET kpstock.today = '2026-03-11'")
            try barrier.arriveAndWait(timeout: 30)
            var succeeded = 0
            for _ in 0..<3 {
              do {
                try Ledger.post(session, dispensing(10))
                succeeded += 1
              } catch let refusal as LedgerRefusal where refusal.rule == .insufficientStock {}
            }
            return succeeded
          }
        }
      }
      var total = 0
      for try await count in group { total += count }
      return total
    }
    #expect(outcomes == 10)
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 0)
    #expect(try StockQueries.verify(store).isEmpty)
  }
}

/// Commits `holder`'s open transaction as soon as `contender`, on a session and OS thread of its own, waits on
/// a lock, and returns what the contender got.
private func contend<T: Sendable>(
  _ database: TestDatabaseHandle, holding holder: Store,
  _ contender: @escaping @Sendable (Store) throws -> T
) throws -> T {
  let outcome = ThreadOutcome {
    let session = try openAsKPStock(database)
    try session.execute("SET kpstock.today = '2026-03-11'")
    return try contender(session)
  }
  try database.waitUntilASessionWaitsOnALock()
  try holder.execute("COMMIT")
  return try #require(outcome.wait(seconds: 60), "the second session did not finish").get()
}

/// An everyday dispense (today, no lot named, covered by the first usable lot) takes no lock on its key: its
/// event's unique key stands in. These are the races that design has to get right.
@Suite("Dispensing while another session holds the stock")
struct DispensingRaceTests {
  @Test func anEverydayDispenseTakesTheEarliestUsableLotAndBooksItsDay() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 40, lot: "OLD", expiry: "2026-03-20", date: day(-30))
    try receive(store, 100, lot: "LATE", expiry: "2027-12-31")
    try receive(store, 30, lot: "EARLY", expiry: "2026-09-30")
    try store.execute("SET kpstock.today = '2026-03-25'")
    let outreach = Dispensing(
      site: "DICE-UKUNDA", commodity: "MALE-CONDOM", quantity: 12, population: "MSM", channel: .outreach,
      worker: "PE-UK-07", client: "KW-MSM-0042")
    // Neither the everyday path nor the general one (a dispense spanning lots) takes an advisory lock on its key: the
    // events' unique key makes a concurrent request under the same key wait, and Ledger.post asks again. The one
    // advisory lock either holds is the stock card's (stock_card_key), which every writer of that stock takes.
    func keyLocksHeld(posting request: Dispensing) throws -> (Posting, Int) {
      try store.execute("BEGIN")
      let posting = try Ledger.post(store, request)
      let locks = try store.query(
        """
        SELECT count(*) FILTER (WHERE key <> card)::int AS others, count(*) FILTER (WHERE key = card)::int AS cards
        FROM (SELECT (classid::bigint << 32 | objid::bigint) AS key,
            stock_card_key('DICE-UKUNDA', 'MALE-CONDOM') AS card
          FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND pid = pg_backend_pid()) l
        """)[0]
      #expect(try locks.decode("cards") as Int32 == 1)
      try store.execute("COMMIT")
      return (posting, Int(try locks.decode("others") as Int32))
    }
    let (posting, everydayLocks) = try keyLocksHeld(posting: outreach)
    #expect(everydayLocks == 0)
    #expect(!posting.replayed)
    #expect(posting.events.map(\.lotCode) == ["EARLY"])
    #expect(posting.events.map(\.quantity) == [-12])
    #expect(posting.events.map(\.expiresOn) == [CalendarDate("2026-09-30")])
    #expect(posting.events.map(\.occurredOn) == [CalendarDate("2026-03-25")])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM", lot: "EARLY") == 18)
    let day: Int64 = try store.query(
      """
      SELECT dispensed FROM stock_daily
      WHERE site_code = 'DICE-UKUNDA' AND commodity_code = 'MALE-CONDOM' AND day = '2026-03-25'
      """)[0].decode("dispensed")
    #expect(day == 12)
    let (spanning, generalLocks) = try keyLocksHeld(posting: dispensing(30))
    #expect(spanning.events.map(\.lotCode) == ["EARLY", "LATE"])
    #expect(generalLocks == 0)
    #expect(try StockQueries.verify(store).isEmpty)
  }

  @Test func aRepeatSentWhileTheFirstIsStillOpenWaitsForItAndRecordsNothing() throws {
    let (database, store) = try ledgerDatabase()
    try receive(store, 100)
    try store.execute("BEGIN")
    let first = try Ledger.post(store, dispensing(10), key: "p9-l3")
    let second = try contend(database, holding: store) { session in
      try Ledger.post(session, dispensing(10), key: "p9-l3")
    }
    #expect(second.replayed)
    #expect(second.events == first.events)
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 90)
  }

  @Test func anotherEntryUnderAKeyStillOpenIsRefusedOnceTheFirstCommits() throws {
    let (database, store) = try ledgerDatabase()
    try receive(store, 100)
    try store.execute("BEGIN")
    let first = try Ledger.post(store, dispensing(10), key: "p9-l4")
    let second = try contend(database, holding: store) { session in
      thrownDescription { try Ledger.post(session, dispensing(11), key: "p9-l4") }
    }
    #expect(
      second == "key: key p9-l4 was already used at DICE-UKUNDA for a different entry (event \(first.events[0].id))")
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 90)
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// The contender saw 100 in the early lot, wrote its event, then found 5 once the holder committed.
  /// The waiting dispense reads the stock only once it holds the lock, so it sees what the first one left.
  /// LOT-Z expires first but sorts last: first-expiry order is not lock order.
  @Test func aDispenseThatWaitsForAnotherTakesWhatIsLeftAcrossLots() throws {
    let (database, store) = try ledgerDatabase()
    try receive(store, 100, lot: "LOT-Z", expiry: "2026-09-30")
    try receive(store, 100, lot: "LOT-A", expiry: "2027-12-31")
    try store.execute("BEGIN")
    try Ledger.post(store, dispensing(95))
    let posting = try contend(database, holding: store) { session in
      try Ledger.post(session, dispensing(20))
    }
    #expect(posting.events.map(\.lotCode) == ["LOT-Z", "LOT-A"])
    #expect(posting.events.map(\.quantity) == [-5, -15])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 85)
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// The card's lock is taken before the everyday dispense's one statement starts, so a dispense that waited for
  /// another reads what that one left and still books on the fast path: here the first made the day's row and the
  /// second adds to it. (aDispenseThatWaitsUntilTheStockIsGoneIsRefusedWithWhatIsLeft shows the read is not from
  /// before the wait.)
  @Test func anEverydayDispenseThatWaitsForAnotherAddsToTheDayThatOneMade() throws {
    let (database, store) = try ledgerDatabase()
    try receive(store, 100, date: day(-3))
    try store.execute("BEGIN")
    try Ledger.post(store, dispensing(10))
    let (posting, generalCalls) = try contend(database, holding: store) { session in
      try session.execute("SET track_functions = 'pl'")
      try session.execute("BEGIN")
      let posting = try Ledger.post(session, dispensing(20))
      let calls: Int64 = try session.query(
        "SELECT coalesce(sum(calls), 0)::bigint AS n FROM pg_stat_xact_user_functions WHERE funcname = 'ledger_book_general'"
      )[0].decode("n")
      try session.execute("COMMIT")
      return (posting, calls)
    }
    #expect(generalCalls == 0)
    #expect(posting.events.map(\.quantity) == [-20])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 70)
    let dispensed: Int64 = try store.query(
      """
      SELECT dispensed FROM stock_daily
      WHERE site_code = 'DICE-UKUNDA' AND commodity_code = 'MALE-CONDOM' AND day = \(today)
      """)[0].decode("dispensed")
    #expect(dispensed == 30)
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// Writers lock the site's stock card for the commodity, not its balances: a site keeps a balance for every lot it
  /// ever held, and locking them all grew with its history. A lock on a used-up lot's balance (here another
  /// session's; in the old way, every writer's) keeps neither the everyday dispense nor a batch waiting.
  @Test func noWriterWaitsOnTheBalanceOfALotThatIsUsedUp() throws {
    let (database, store) = try ledgerDatabase()
    try receive(store, 30, lot: "OLD", expiry: "2026-09-30", date: day(-5))
    try receive(store, 100, lot: "NEW", expiry: "2027-12-31", date: day(-3))
    try Ledger.post(store, dispensing(30, date: day(-2)))
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM", lot: "OLD") == 0)
    let holder = try openAsKPStock(database)
    try holder.execute("BEGIN")
    _ = try holder.query(
      """
      SELECT on_hand FROM stock_balances
      WHERE site_code = 'DICE-UKUNDA' AND commodity_code = 'MALE-CONDOM' AND lot_code = 'OLD' FOR UPDATE
      """)
    try store.execute("SET lock_timeout = '3s'")
    let everyday = try Ledger.post(store, dispensing(5))
    let batch = try Ledger.post(
      store,
      batch: [
        Ledger.KeyedRequest(dispensing(3, date: day(-1)), key: "batch-1"),
        Ledger.KeyedRequest(dispensing(4), key: "batch-2"),
      ])
    try holder.execute("ROLLBACK")
    #expect(everyday.events.map(\.lotCode) == ["NEW"])
    #expect(batch.flatMap(\.events).map(\.quantity) == [-3, -4])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 88)
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// The first stock of a commodity at a site makes its card; a batch taking from it while that is not yet committed
  /// waits for it, as for any other writer of that stock, and then books against it.
  @Test func aBatchWaitsForTheFirstStockAnotherSessionIsRecording() throws {
    let (database, store) = try ledgerDatabase()
    try store.execute("BEGIN")
    try receive(store, 50)
    let postings = try contend(database, holding: store) { session in
      try Ledger.post(
        session,
        batch: [
          Ledger.KeyedRequest(dispensing(5), key: "first-stock-1"),
          Ledger.KeyedRequest(dispensing(6), key: "first-stock-2"),
        ])
    }
    #expect(postings.flatMap(\.events).map(\.quantity) == [-5, -6])
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 39)
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// A site-commodity gets its card with its first entry; stock without one would be booked without the lock, and
  /// `ledger verify` says so.
  @Test func theFirstStockOfACommodityAtASiteMakesItsCardAndVerifyReportsStockWithoutOne() throws {
    let (_, store) = try ledgerDatabase()
    let cards =
      "SELECT count(*) AS n FROM stock_cards WHERE site_code = 'DICE-UKUNDA' AND commodity_code = 'MALE-CONDOM'"
    #expect(try store.query(Query(unsafeSQL: cards))[0].decode("n") == Int64(0))
    try receive(store, 10)
    try receive(store, 10, lot: "L2")
    #expect(try store.query(Query(unsafeSQL: cards))[0].decode("n") == Int64(1))
    try store.execute("BEGIN")
    try store.execute("SET LOCAL kpstock.booked = 'on'")
    try store.execute("DELETE FROM stock_cards WHERE site_code = 'DICE-UKUNDA'")
    try store.execute("COMMIT")
    #expect(try StockQueries.verify(store).map(\.check) == ["stock card"])
  }

  /// A balance carries its lot's expiry (Schema/0018_balance_expiry.sql), by which the everyday dispense picks its
  /// lot; `ledger verify` reports a balance whose expiry is not its lot's.
  @Test func aBalanceCarriesItsLotsExpiryAndVerifyReportsOneThatDoesNot() throws {
    let (_, store) = try ledgerDatabase()
    try receive(store, 10, lot: "L2", expiry: "2027-01-31")
    let expiry = """
      SELECT expires_on FROM stock_balances
      WHERE site_code = 'DICE-UKUNDA' AND commodity_code = 'MALE-CONDOM' AND lot_code = 'L2'
      """
    let carried: CalendarDate? = try store.query(Query(unsafeSQL: expiry))[0].decode("expires_on")
    #expect(carried == CalendarDate("2027-01-31"))
    #expect(try StockQueries.verify(store).isEmpty)
    try store.execute("BEGIN")
    try store.execute("SET LOCAL kpstock.booked = 'on'")
    try store.execute("UPDATE stock_balances SET expires_on = '2027-02-01' WHERE lot_code = 'L2'")
    try store.execute("COMMIT")
    #expect(try StockQueries.verify(store).map(\.check) == ["balance expiry"])
  }

  @Test func aDispenseThatWaitsUntilTheStockIsGoneIsRefusedWithWhatIsLeft() throws {
    let (database, store) = try ledgerDatabase()
    try receive(store, 100, lot: "ONLY", expiry: "2027-12-31")
    let events = try eventCount(store)
    try store.execute("BEGIN")
    try Ledger.post(store, dispensing(90))
    let short = try contend(database, holding: store) { session in
      thrownDescription {
        _ = try session.query(
          """
          SELECT * FROM ledger_post('[{"req": 1, "kind": "dispense", "key": "direct-1", "site": "DICE-UKUNDA",
            "commodity": "MALE-CONDOM", "qty": 20, "population": "FSW", "channel": "clinic"}]')
          """)
      }
    }
    #expect(short == "insufficient stock of MALE-CONDOM at DICE-UKUNDA: on hand 10, asked 20 [SQLSTATE KP001]")
    #expect(try eventCount(store) == events + 1)
    #expect(try onHand(store, "DICE-UKUNDA", "MALE-CONDOM") == 10)
    #expect(try StockQueries.verify(store).isEmpty)
  }
}
