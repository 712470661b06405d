import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// A Kwale demo database pinned to Wednesday 2026-03-11.
private func bookingDatabase() throws -> Store {
  let store = try openAsKPStock(try TestDatabase.fresh())
  try Seeds.loadKwaleDemo(store)
  try store.execute("SET kpstock.today = '2026-03-11'")
  return store
}

private func receipt(_ quantity: Int64, lot: String, expiry: String, on date: String) -> Receipt {
  Receipt(
    site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: lot, expiry: CalendarDate(expiry), quantity: quantity,
    date: CalendarDate(date))
}

private func dispensing(_ quantity: Int64, on date: String? = nil) -> Dispensing {
  Dispensing(
    site: "DICE-UKUNDA", commodity: "MALE-CONDOM", quantity: quantity, date: date.flatMap { CalendarDate($0) },
    population: "FSW", channel: .outreach, worker: "PE-7", client: "KWL-0042-R", note: "register p. 4")
}

/// Everything the ledger holds, without what differs by when and how it was written (ids, timestamps).
private func ledgerContents(_ store: Store) throws -> [String] {
  let events = try store.query(
    """
    SELECT concat_ws('|', site_code, commodity_code, lot_code, kind, quantity, occurred_on, population_code, channel,
      worker_code, client_uic, note, idempotency_key, key_part, encode(fingerprint, 'hex')) AS line
    FROM stock_events ORDER BY site_code, idempotency_key, key_part
    """
  ).map { try $0.decode("line") as String }
  let balances = try store.query(
    "SELECT concat_ws('|', site_code, commodity_code, lot_code, on_hand) AS line FROM stock_balances ORDER BY 1"
  ).map { "balance " + (try $0.decode("line") as String) }
  let daily = try store.query(
    """
    SELECT concat_ws('|', site_code, commodity_code, day, net_change, received, dispensed, sent, adjusted) AS line
    FROM stock_daily ORDER BY 1
    """
  ).map { "day " + (try $0.decode("line") as String) }
  let lotDaily = try store.query(
    """
    SELECT concat_ws('|', site_code, commodity_code, lot_code, day, net_change, received, dispensed, sent, adjusted)
      AS line
    FROM stock_lot_daily ORDER BY 1
    """
  ).map { "lot day " + (try $0.decode("line") as String) }
  return events + balances + daily + lotDaily
}

/// Writes one ALCOHOL-SWAB event at DICE-UKUNDA on 2026-03-10 around ledger_book, and books its balance, rollups
/// and stock card by hand so that the sums agree: what is left for verify to find is the event itself.
private func bookByHand(_ store: Store, quantity: Int64, columns: String, values: String) throws {
  try store.execute("BEGIN")
  try store.execute("SELECT set_config('kpstock.booked', 'on', true)")
  try store.execute(
    Query(
      unsafeSQL: """
        INSERT INTO stock_events (site_code, commodity_code, lot_code, quantity, occurred_on, recorded_on,
          idempotency_key, fingerprint, \(columns))
        VALUES ('DICE-UKUNDA', 'ALCOHOL-SWAB', '', \(quantity), '2026-03-10', '2026-03-11', 'raw', '\\x00', \(values))
        """))
  try store.execute("INSERT INTO stock_balances VALUES ('DICE-UKUNDA', 'ALCOHOL-SWAB', '', \(quantity))")
  try store.execute("INSERT INTO stock_cards VALUES ('DICE-UKUNDA', 'ALCOHOL-SWAB') ON CONFLICT DO NOTHING")
  try store.execute(
    Query(
      unsafeSQL: """
        INSERT INTO stock_lot_daily
        VALUES ('DICE-UKUNDA', 'ALCOHOL-SWAB', '', '2026-03-10', \(quantity), \(max(quantity, 0)), 0, 0, 0)
        """))
  try store.execute("COMMIT")
}

@Suite("One booking path")
struct OneBookingPathTests {
  /// A rollup row that no event accounts for is listed figure by figure, even when its net change is zero.
  @Test func verifyListsARollupRowWithoutEventsByTheFiguresItHolds() throws {
    let store = try bookingDatabase()
    try store.execute("BEGIN")
    try store.execute("SELECT set_config('kpstock.booked', 'on', true)")
    try store.execute(
      "INSERT INTO stock_lot_daily VALUES ('DICE-UKUNDA', 'MALE-CONDOM', 'L9', '2026-03-10', 0, 5, 5, 0, 0)")
    try store.execute("COMMIT")
    #expect(Set(try StockQueries.verify(store).map(\.check)) == ["lot daily received", "lot daily dispensed"])
  }

  /// The rules look a transfer up by its key, and only for its arrival. Joined to every line, the whole of transfers
  /// was read for every batch (the plan is made for a batch of any size), and a national history, which dispatches
  /// thousands of transfers a week, slowed week by week.
  @Test func aBatchWithoutArrivalsReadsNoTransfers() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(500, lot: "OLD", expiry: "2027-06-30", on: "2026-03-01"))
    for _ in 0..<3 {
      try Ledger.post(
        store, Dispatch(from: "DICE-UKUNDA", to: "SAT-MSAMBWENI", commodity: "MALE-CONDOM", quantity: 10))
    }
    try store.execute("ANALYZE transfers")
    try store.execute("BEGIN")
    let batch = """
      [{"req": 1, "kind": "dispense", "key": "a", "site": "DICE-UKUNDA", "commodity": "MALE-CONDOM", "qty": 2,
        "population": "FSW", "channel": "clinic"},
       {"req": 2, "kind": "adjustment", "key": "b", "site": "DICE-UKUNDA", "commodity": "MALE-CONDOM", "qty": -1,
        "reason": "damaged"}]
      """
    #expect(try store.query("SELECT * FROM ledger_post(\(batch)::jsonb)").count == 2)
    let reads: Int64 = try store.query(
      "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'transfers'")[0].decode("seq_scan")
    try store.execute("ROLLBACK")
    #expect(reads == 0)
  }

  /// The last release allocated back-dated entries across the lots on hand today, so a lot received today could be
  /// booked as dispensed last week. A past day's take uses the lots on hand at the end of that day.
  @Test func aBackDatedDispenseTakesOnlyLotsThatHadArrivedByItsDay() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(100, lot: "OLD", expiry: "2027-06-30", on: "2026-03-01"))
    // Expires first, so today's first-expiry-first-out would pick it, but it arrived after the day below.
    try Ledger.post(store, receipt(100, lot: "NEW", expiry: "2026-09-30", on: "2026-03-11"))
    let backDated = try Ledger.post(store, dispensing(30, on: "2026-03-06"))
    #expect(backDated.events.map(\.lotCode) == ["OLD"])
    let today = try Ledger.post(store, dispensing(30))
    #expect(today.events.map(\.lotCode) == ["NEW"])
    #expect(try StockQueries.verify(store).isEmpty)
  }

  @Test func aBackDatedDispenseThatOnlyALaterLotCouldCoverIsRefused() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(10, lot: "OLD", expiry: "2027-06-30", on: "2026-03-01"))
    try Ledger.post(store, receipt(100, lot: "NEW", expiry: "2027-06-30", on: "2026-03-11"))
    let events: Int64 = try store.query("SELECT count(*) AS n FROM stock_events")[0].decode("n")
    #expect(
      thrownDescription { try Ledger.post(store, dispensing(30, on: "2026-03-06")) }
        == "back-dated to 2026-03-06, this would make the stock of MALE-CONDOM at DICE-UKUNDA negative on "
        + "2026-03-06: balance then 10, asked 30")
    #expect(try store.query("SELECT count(*) AS n FROM stock_events")[0].decode("n") == events)
  }

  /// A lot that later entries used up cannot be taken again on an earlier day, even where the commodity's total
  /// would allow it: that total is a lot that had not arrived yet.
  @Test func aBackDatedTakeMayNotUseWhatLaterEntriesTookFromTheSameLot() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(50, lot: "OLD", expiry: "2027-06-30", on: "2026-03-01"))
    try Ledger.post(store, dispensing(50, on: "2026-03-09"))
    try Ledger.post(store, receipt(100, lot: "NEW", expiry: "2027-06-30", on: "2026-03-10"))
    let refused = thrownDescription { try Ledger.post(store, dispensing(5, on: "2026-03-05")) }
    #expect(refused?.hasPrefix("back-dated to 2026-03-05,") == true)
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// One request sent as a command (one posting), as a register row (an import) and as part of a batch (the
  /// simulator's way) leaves the same events, balances and daily totals, and the same fingerprint: a repeat under
  /// its key is recognised whichever way it comes back.
  @Test func theSameEntryAsACommandAnImportRowAndPartOfABatchWritesTheSameLedger() throws {
    let opening = receipt(500, lot: "L1", expiry: "2027-06-30", on: "2026-03-02")
    let entry = dispensing(24, on: "2026-03-10")

    let command = try bookingDatabase()
    try Ledger.post(command, opening, key: "grn-1")
    try Ledger.post(command, entry, key: "p4-l7")

    let imported = try bookingDatabase()
    try Ledger.post(imported, opening, key: "grn-1")
    let path = try temporaryFile(
      named: "register.csv",
      contents: """
        site,commodity,qty,date,population,channel,worker,client,note,key
        dice-ukunda,male-condom,24,2026-03-10,fsw,outreach,pe-7,kwl-0042-r,register p. 4,p4-l7

        """)
    let report = try LedgerImport.run(imported, kind: .dispensing, path: path)
    #expect(report.posted == 1)

    let batched = try bookingDatabase()
    let postings = try Ledger.post(
      batched, batch: [Ledger.KeyedRequest(opening, key: "grn-1"), Ledger.KeyedRequest(entry, key: "p4-l7")])
    #expect(postings.map(\.events.count) == [1, 1])

    let expected = try ledgerContents(command)
    #expect(expected.contains { $0.contains("|dispense|-24|2026-03-10|FSW|outreach|PE-7|KWL-0042-R|") })
    #expect(try ledgerContents(imported) == expected)
    #expect(try ledgerContents(batched) == expected)

    // The register row's key, sent again from the command line (naming the day or not), is the same entry.
    #expect(try Ledger.post(imported, entry, key: "p4-l7").replayed)
    var undated = entry
    undated.date = nil
    #expect(try Ledger.post(imported, undated, key: "p4-l7").replayed)
  }

  /// The everyday dispense (one, for today, no lot named) is booked by ledger_book's fast path; the same request in
  /// a batch of two goes the general way. Both leave the same lot taken, events, balances and daily totals, and the
  /// same fingerprint, and each path is the one that ran (counted by the server's function statistics).
  @Test func theEverydayFastPathBooksWhatTheGeneralPathBooks() throws {
    let opening = receipt(500, lot: "L1", expiry: "2027-06-30", on: "2026-03-02")
    let later = receipt(500, lot: "L2", expiry: "2027-09-30", on: "2026-03-02")
    let today = dispensing(24)

    func booked(batch: [Ledger.KeyedRequest]) throws -> (ledger: [String], generalCalls: Int64) {
      let store = try bookingDatabase()
      try Ledger.post(store, batch: [.init(opening, key: "grn-1"), .init(later, key: "grn-2")])
      try store.execute("SET track_functions = 'pl'")
      try store.execute("BEGIN")
      if batch.count == 1 {
        try Ledger.post(store, batch[0].request, key: batch[0].key)
      } else {
        _ = try Ledger.post(store, batch: batch)
      }
      let calls: Int64 = try store.query(
        "SELECT coalesce(sum(calls), 0)::bigint AS n FROM pg_stat_xact_user_functions WHERE funcname = 'ledger_book_general'"
      )[0].decode("n")
      try store.execute("COMMIT")
      return (try ledgerContents(store), calls)
    }

    let alone = try booked(batch: [.init(today, key: "today-1")])
    let elsewhere = Receipt(
      site: "DICE-KWALE", commodity: "MALE-CONDOM", lot: "L9", expiry: CalendarDate("2027-06-30"), quantity: 10)
    let batched = try booked(batch: [.init(today, key: "today-1"), .init(elsewhere, key: "grn-9")])
    #expect(alone.generalCalls == 0)
    #expect(batched.generalCalls == 1)
    #expect(alone.ledger.contains { $0.contains("DICE-UKUNDA|MALE-CONDOM|L1|dispense|-24|2026-03-11|FSW|outreach|") })
    #expect(alone.ledger == batched.ledger.filter { !$0.contains("DICE-KWALE|") })
  }

  /// A batch's takes are booked a site and commodity at a time, all days together, when the first usable lot can
  /// cover them all; otherwise a day at a time. Either way the ledger is the one that posting the rows one by one, in
  /// date order, leaves: the same lots, the same refusals. A single back-dated row that fits takes the first route and
  /// a register whose first lot runs short the second, so the last two cases hold each route against the other.
  @Test(
    arguments: [
      // All from L1, whose room covers every row.
      (opening: 500, later: 0, rows: [30, 40, 25, 60]),
      // L1 runs out on the third day and the rest comes from L2, which expires later.
      (opening: 100, later: 0, rows: [30, 40, 50, 60]),
      // A dispense on 2026-03-10 already needs 80 of L1's 100, so the second day can have only 5: refused.
      (opening: 100, later: 80, rows: [15, 10, 3, 2]),
    ])
  func aRegistersTakesBookAsPostingThemOneByOneDoes(opening: Int64, later: Int64, rows: [Int64]) throws {
    let days = ["2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08"]
    func setUp() throws -> Store {
      let store = try bookingDatabase()
      try Ledger.post(store, receipt(opening, lot: "L1", expiry: "2027-06-30", on: "2026-03-02"), key: "grn-1")
      try Ledger.post(store, receipt(300, lot: "L2", expiry: "2027-09-30", on: "2026-03-02"), key: "grn-2")
      if later > 0 { try Ledger.post(store, dispensing(later, on: "2026-03-10"), key: "later") }
      return store
    }
    let oneByOne = try setUp()
    var refusedLines: [Int] = []
    for (index, quantity) in rows.enumerated() {
      do {
        try Ledger.post(oneByOne, dispensing(quantity, on: days[index]), key: "row-\(index)")
      } catch {
        refusedLines.append(index + 2)
      }
    }

    let imported = try setUp()
    var register = "site,commodity,qty,date,population,channel,worker,client,note,key\n"
    for (index, quantity) in rows.enumerated() {
      register += "DICE-UKUNDA,MALE-CONDOM,\(quantity),\(days[index]),FSW,outreach,PE-7,KWL-0042-R,register p. 4,"
      register += "row-\(index)\n"
    }
    let path = try temporaryFile(named: "register.csv", contents: register)
    let report = try LedgerImport.run(
      imported, kind: .dispensing, path: path, skipInvalid: true,
      rejectedFile: try temporaryFile(named: "rejected.csv", contents: ""))

    #expect(report.rejected.map(\.line) == refusedLines)
    #expect(try ledgerContents(imported) == (try ledgerContents(oneByOne)))
    #expect(try StockQueries.verify(imported).isEmpty)
  }

  @Test func anEntryRunAgainNamingTheDayItDefaultedToIsARepeat() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(100, lot: "L1", expiry: "2027-06-30", on: "2026-03-11"))
    let first = try Ledger.post(store, dispensing(10), key: "k-1")
    let again = try Ledger.post(store, dispensing(10, on: "2026-03-11"), key: "k-1")
    #expect(again.replayed)
    #expect(again.events == first.events)
    #expect(
      thrownDescription { try Ledger.post(store, dispensing(10, on: "2026-03-10"), key: "k-1") }
        == "key: key k-1 was already used at DICE-UKUNDA for a different entry (event \(first.events[0].id))")
  }

  @Test func aSiteHoldingStockCannotCloseAndASiteNotYetOpenTakesNoStock() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(100, lot: "L1", expiry: "2027-06-30", on: "2026-03-02"))
    let closing = #expect(throws: PostgresError.self) {
      try store.execute("UPDATE sites SET closed_on = '2026-03-11' WHERE code = 'DICE-UKUNDA'")
    }
    #expect(closing?.constraint == "sites_closed_with_stock")

    try store.execute("UPDATE sites SET opened_on = '2026-04-01' WHERE code = 'SAT-KINANGO'")
    let early = Receipt(
      site: "SAT-KINANGO", commodity: "ALCOHOL-SWAB", quantity: 100, date: CalendarDate("2026-03-11"))
    #expect(thrownDescription { try Ledger.post(store, early) } == "site: site SAT-KINANGO opens on 2026-04-01")
    // A count session is judged by the same rule of when and where (ledger_when_where).
    #expect(
      thrownDescription { try StockCounts.start(store, site: "SAT-KINANGO", commodity: nil, date: nil) }
        == "site: site SAT-KINANGO opens on 2026-04-01")

    // Once its stock is gone the site can close, and a movement after that day is refused.
    try Ledger.post(store, dispensing(100))
    try store.execute("UPDATE sites SET closed_on = '2026-03-11' WHERE code = 'DICE-UKUNDA'")
    try store.execute("SET kpstock.today = '2026-03-12'")
    #expect(
      thrownDescription { try Ledger.post(store, receipt(5, lot: "L1", expiry: "2027-06-30", on: "2026-03-12")) }
        == "site: site DICE-UKUNDA closed on 2026-03-11")
  }

  /// An event written around ledger_book passes the sums (it is booked by hand here) but not the rules.
  @Test func verifyListsAnEventThatBrokeTheRulesEvenWhenTheSumsAgree() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(100, lot: "OLD", expiry: "2026-03-05", on: "2026-03-02"))
    try store.execute("BEGIN")
    try store.execute("SELECT set_config('kpstock.booked', 'on', true)")
    try store.execute(
      """
      INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, recorded_on,
        population_code, channel, idempotency_key, fingerprint)
      VALUES ('DICE-UKUNDA', 'MALE-CONDOM', 'OLD', 'dispense', -10, '2099-01-01', '2026-03-11', 'FSW', 'clinic',
        'raw', '\\x00')
      """)
    try store.execute(
      """
      UPDATE stock_balances SET on_hand = on_hand - 10
      WHERE site_code = 'DICE-UKUNDA' AND commodity_code = 'MALE-CONDOM' AND lot_code = 'OLD'
      """)
    try store.execute(
      "INSERT INTO stock_lot_daily VALUES ('DICE-UKUNDA', 'MALE-CONDOM', 'OLD', '2099-01-01', -10, 0, 10, 0, 0)")
    try store.execute("COMMIT")
    let checks = try StockQueries.verify(store).map(\.check)
    #expect(checks.count == 2)
    #expect(checks.contains { $0.hasSuffix("happened on 2099-01-01, after the day it was booked (2026-03-11)") })
    #expect(checks.contains { $0.hasSuffix("took stock from lot OLD, expired on 2026-03-05") })
  }

  /// The rules between an event's columns are ledger_book's (the table keeps only each column's shape, as domains):
  /// an event written around it that breaks them, with sums that agree, is listed by verify.
  @Test func verifyListsAnEventWhoseColumnsDisagree() throws {
    let store = try bookingDatabase()
    try bookByHand(store, quantity: 0, columns: "kind, population_code", values: "'adjustment', 'FSW'")
    let checks = try StockQueries.verify(store).map(\.check)
    #expect(checks.contains { $0.hasSuffix("moves nothing") })
    #expect(checks.contains { $0.hasSuffix("is an adjustment without a reason") })
    #expect(!checks.contains { $0.hasPrefix("unknown") })
    #expect(
      checks.contains { $0.hasSuffix("names a population, channel, peer educator or client, but only a dispense does") }
    )
    #expect(checks.count == 3)

    // A column's own shape is still the table's: a UIC that could be a phone number is refused on the way in.
    let error = #expect(throws: (any Error).self) {
      try store.execute(
        """
        INSERT INTO stock_events (site_code, commodity_code, kind, quantity, occurred_on, recorded_on, population_code,
          channel, client_uic, idempotency_key, fingerprint)
        VALUES ('DICE-UKUNDA', 'ALCOHOL-SWAB', 'dispense', -1, '2026-03-10', '2026-03-11', 'FSW', 'clinic', '0712345678',
          'raw-2', '\\x00')
        """)
    }
    #expect("\(error.map { "\($0)" } ?? "")".contains("stock_events_client_uic"))
  }

  /// Events name their reason, transfer, count and reversed event without foreign keys (0005): verify lists one whose
  /// parent does not exist.
  @Test func verifyListsAnEventNamingARowThatDoesNotExist() throws {
    let store = try bookingDatabase()
    try bookByHand(
      store, quantity: 5, columns: "kind, reason_code, transfer_id", values: "'transfer_in', 'vanished', 4242")
    #expect(try StockQueries.verify(store).map(\.check) == ["unknown reason vanished"])
  }

  /// Only a dispense names who it was for: a receipt carrying a population is refused, naming the field.
  /// A batch element of a kind ledger_post does not know is refused with the field named, and nothing of the batch
  /// is booked: it is not passed over.
  @Test func aBatchElementOfAnUnknownKindIsRefused() throws {
    let store = try bookingDatabase()
    let before: Int64 = try store.query("SELECT count(*) AS n FROM stock_events")[0].decode("n")
    for (kind, problem) in [
      ("\"kind\":\"dispence\",", "'dispence' is not a kind of request"), ("", "is required"),
    ] {
      let refusal = thrownDescription {
        try store.query(
          Query(
            unsafeSQL: """
              SELECT * FROM ledger_post('[{"req":1,"kind":"receipt","key":"k1","site":"DICE-UKUNDA",
                "commodity":"ALCOHOL-SWAB","qty":5},{"req":2,\(kind)"key":"k2","site":"DICE-UKUNDA",
                "commodity":"ALCOHOL-SWAB","qty":5,"population":"FSW","channel":"clinic"}]')
              """))
      }
      #expect(refusal?.contains(problem) == true, "\(refusal ?? "no refusal")")
    }
    let after: Int64 = try store.query("SELECT count(*) AS n FROM stock_events")[0].decode("n")
    #expect(after == before)
  }

  /// The fast path books only what the general path would book the same way: a dispense of today naming an expiry,
  /// or a reason the ledger does not know, is refused whichever way it arrives (the fast path booked both).
  @Test func anEverydayDispenseNamingAnExpiryOrAnUnknownReasonIsRefusedAsInABatch() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(500, lot: "L1", expiry: "2027-06-30", on: "2026-03-02"))
    for (field, expiry, reason, problem) in [
      ("expiry", "'2027-06-30'", "NULL", "give an expiry only when adding stock of a new lot"),
      ("reason", "NULL", "'no-such-reason'", "unknown reason no-such-reason"),
    ] {
      for batch in [false, true] {
        let line =
          "ledger_request_line(1, 'dispense', '\(field)-\(batch)', 'DICE-UKUNDA', 'MALE-CONDOM', NULL, \(expiry)::date, "
          + "24, NULL, 'FSW', 'clinic', NULL, NULL, \(reason), NULL, NULL, '2026-03-11')"
        let other =
          "ledger_request_line(2, 'receipt', 'other-\(field)', 'DICE-KWALE', 'LUBRICANT', NULL, NULL, 5, NULL, NULL, "
          + "NULL, NULL, NULL, NULL, NULL, NULL, '2026-03-11')"
        let refusal = thrownDescription {
          try store.query(
            Query(unsafeSQL: "SELECT * FROM ledger_book(ARRAY[\(line)\(batch ? ", " + other : "")])"))
        }
        #expect(refusal?.contains(problem) == true, "\(field), batch \(batch): \(refusal ?? "booked")")
      }
    }
    let dispensed: Int64 = try store.query("SELECT count(*) AS n FROM stock_events WHERE kind = 'dispense'")[0]
      .decode("n")
    #expect(dispensed == 0)
  }

  /// A key's length is judged by its domain on the fast path and by ledger_book's batch checks otherwise, control
  /// characters by ledger_book both ways: an everyday dispense under an empty, overlong or tabbed key (which the
  /// command line and imports refuse before sending) is refused naming the key, alone or in a batch, and books
  /// nothing.
  @Test func anEverydayDispenseUnderAKeyTooLongOrWithAControlCharacterIsRefusedEitherWay() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(500, lot: "L1", expiry: "2027-06-30", on: "2026-03-02"))
    for key in ["", String(repeating: "k", count: 101), "tab\tkey"] {
      let alone = thrownDescription { try Ledger.post(store, dispensing(24), key: key) }
      let inBatch = thrownDescription {
        try Ledger.post(
          store,
          batch: [
            .init(dispensing(24), key: key),
            .init(Receipt(site: "DICE-KWALE", commodity: "LUBRICANT", quantity: 5), key: "other"),
          ])
      }
      for (way, refusal) in [("alone", alone), ("in a batch", inBatch)] {
        #expect(
          refusal == "key: must be 1–100 characters without control characters",
          "\(key.count) characters, \(way): \(refusal ?? "booked")")
      }
    }
    let dispensed: Int64 = try store.query("SELECT count(*) AS n FROM stock_events WHERE kind = 'dispense'")[0]
      .decode("n")
    #expect(dispensed == 0)
  }

  /// An arrival names the transfer it completes; ledger_book refuses one naming a transfer that does not exist or
  /// goes elsewhere, whoever writes the line (it booked both, with the transfer left dangling).
  @Test func anArrivalNamingNoSuchTransferIsRefused() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, Receipt(site: "STORE-KWALE", commodity: "ALCOHOL-SWAB", quantity: 50), key: "grn-1")
    try Ledger.post(
      store, Dispatch(from: "STORE-KWALE", to: "DICE-UKUNDA", commodity: "ALCOHOL-SWAB", quantity: 10), key: "t-1")
    let transfer: Int64 = try store.query("SELECT max(id) AS id FROM transfers")[0].decode("id")
    for (site, id) in [("DICE-UKUNDA", transfer + 1), ("DICE-KWALE", transfer)] {
      let refusal = thrownDescription {
        try store.query(
          Query(
            unsafeSQL: """
              SELECT * FROM ledger_book(ARRAY[ROW(1, 1, 'in-\(site)', '\\x00'::bytea, NULL, '2026-03-11', '\(site)',
                'ALCOHOL-SWAB', '', NULL, 'transfer_in', 10, 'any', NULL, NULL, NULL, NULL, NULL, NULL, NULL, \(id), NULL,
                NULL)::ledger_line])
              """))
      }
      #expect(
        refusal?.contains("no transfer \(id) of ALCOHOL-SWAB to \(site)") == true, "\(site): \(refusal ?? "booked")")
    }
    let arrivals: Int64 = try store.query("SELECT count(*) AS n FROM stock_events WHERE kind = 'transfer_in'")[0]
      .decode("n")
    #expect(arrivals == 0)
  }

  @Test func aReceiptNamingAPopulationIsRefused() throws {
    let store = try bookingDatabase()
    let refusal = thrownDescription {
      try store.query(
        """
        SELECT * FROM ledger_post('[{"req":1,"kind":"receipt","key":"k","site":"DICE-UKUNDA","commodity":"LUBRICANT",
          "qty":5,"population":"FSW"}]')
        """)
    }
    #expect(refusal?.contains("only dispensing names a population, channel, peer educator or client") == true)
  }

  @Test func aDryRunImportUsesNoEventNumbers() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(1000, lot: "L1", expiry: "2027-06-30", on: "2026-03-02"))
    var text = "site,commodity,qty,date,population,channel\n"
    for _ in 0..<200 { text += "DICE-UKUNDA,MALE-CONDOM,1,2026-03-10,FSW,clinic\n" }
    let path = try temporaryFile(named: "register.csv", contents: text)
    let report = try LedgerImport.run(store, kind: .dispensing, path: path, dryRun: true)
    #expect(report.posted == 200)
    let before: Int64 = try store.query("SELECT max(id) AS n FROM stock_events")[0].decode("n")
    let next = try Ledger.post(store, dispensing(1))
    #expect(next.events.map(\.id) == [before + 1])
  }

  /// A long register is booked 50,000 rows per call; the trial numbers of one call must not collide with the last's.
  @Test func trialBatchesInOneTransactionNumberTheirEventsBelowEachOther() throws {
    let store = try bookingDatabase()
    try store.execute("BEGIN")
    for key in ["trial-1", "trial-2"] {
      try store.query(
        """
        SELECT * FROM ledger_book(ARRAY[ledger_request_line(1, 'receipt', \(key), 'DICE-UKUNDA', 'ALCOHOL-SWAB', NULL,
          NULL, 5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, programme_today())], false, true)
        """)
    }
    let ids = try store.query("SELECT id FROM stock_events ORDER BY id").map { try $0.decode("id") as Int64 }
    try store.execute("ROLLBACK")
    #expect(ids == [-2, -1])
  }

  @Test func aKeyRepeatedInOneFileForAnotherEntryNamesTheEarlierLine() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(1000, lot: "L1", expiry: "2027-06-30", on: "2026-03-02"))
    let path = try temporaryFile(
      named: "register.csv",
      contents: """
        site,commodity,qty,date,population,channel,key
        DICE-UKUNDA,MALE-CONDOM,1,2026-03-10,FSW,clinic,p1
        DICE-UKUNDA,MALE-CONDOM,2,2026-03-10,FSW,clinic,p1

        """)
    #expect {
      try LedgerImport.run(store, kind: .dispensing, path: path)
    } throws: { error in
      refusedRows(error)
        == ["register.csv:3: key: key p1 was already used at DICE-UKUNDA for a different entry (line 2)"]
    }
  }

  /// `kpstock dispense` as the CLI runs it: open the database (already migrated), read the codes an entry is
  /// checked against, post. The budget is three statements from connecting to the printed events.
  @Test func anEverydayDispenseSendsThreeStatementsFromConnectingToPosted() throws {
    let database = try TestDatabase.fresh()
    let setup = try openAsKPStock(database)
    try Seeds.loadKwaleDemo(setup)
    try Ledger.post(setup, Receipt(site: "DICE-UKUNDA", commodity: "ALCOHOL-SWAB", quantity: 100))

    let store = try openAsKPStock(database)
    let input = try LedgerInput.load(store)
    var values = InputValues()
    for (field, value) in [
      ("site", "dice-ukunda"), ("commodity", "ALCOHOL-SWAB"), ("qty", "10"), ("population", "FSW"),
      ("channel", "clinic"),
    ] {
      values[field] = value
    }
    let posting = try Ledger.post(store, try input.dispensing(values))
    #expect(posting.events.map(\.quantity) == [-10])
    #expect(store.statementsSent == 3)
  }
  /// Transfer receipts are batch lines like any other request: a day of a county's deliveries is one call. One
  /// batch cannot receive a transfer twice, and a receipt repeated under its key replays it.
  @Test func transferReceiptsPostInOneBatchAndATransferIsReceivedOnce() throws {
    let connection = try bookingDatabase()
    try Ledger.post(
      connection,
      Receipt(
        site: "STORE-KWALE", commodity: "MALE-CONDOM", lot: "S1", expiry: CalendarDate("2027-06-30"), quantity: 500,
        date: CalendarDate("2026-03-01")))
    var transfers: [Int64] = []
    for destination in ["DICE-KWALE", "DICE-UKUNDA"] {
      let dispatch = try Ledger.post(
        connection, Dispatch(from: "STORE-KWALE", to: destination, commodity: "MALE-CONDOM", quantity: 100))
      transfers.append(try #require(dispatch.events.first?.transferID))
    }
    let twice = thrownDescription {
      try Ledger.post(
        connection,
        batch: [
          .init(TransferReceipt(transfer: transfers[0]), key: "in-1"),
          .init(TransferReceipt(transfer: transfers[0]), key: "in-2"),
        ])
    }
    #expect(twice == "transfer: transfer \(transfers[0]) is received twice in this batch")
    let receivedCount: Int64 = try connection.query(
      "SELECT count(*) AS n FROM transfers WHERE status = 'received'")[0].decode("n")
    #expect(receivedCount == 0)

    let batch: [Ledger.KeyedRequest] = [
      .init(TransferReceipt(transfer: transfers[0]), key: "in-1"),
      .init(dispensing(5), key: "out-1"),
      .init(TransferReceipt(transfer: transfers[1], rejected: 4, reason: "damaged"), key: "in-2"),
    ]
    let statementsBefore = connection.statementsSent
    let postings = try Ledger.post(connection, batch: batch)
    // BEGIN, the batch's one ledger_post call (prepared first, as its second run in this session), COMMIT.
    #expect(connection.statementsSent - statementsBefore == 4)
    #expect(postings.map { $0.events.map(\.kind) } == [[.transferIn], [.dispense], [.transferIn, .adjustment]])
    #expect(postings[2].events.map(\.quantity) == [100, -4])
    let received: [String] = try connection.query(
      "SELECT concat_ws('|', id, status, received_on, accepted, rejected, rejection_reason) AS t FROM transfers ORDER BY id"
    ).map { try $0.decode("t") }
    #expect(
      received == ["\(transfers[0])|received|2026-03-11|100|0", "\(transfers[1])|received|2026-03-11|96|4|damaged"])

    let again = try Ledger.post(connection, batch: batch)
    #expect(again.allSatisfy { $0.replayed })
    #expect(again.map { $0.events.map(\.id) } == postings.map { $0.events.map(\.id) })
    #expect(try StockQueries.verify(connection).isEmpty)
  }

  /// A review found that the cheap check before the shortage account counted a lot's room twice when one batch named
  /// it under two pools (written off as expired, and as damaged): the day's takes then went past what the lot held
  /// and the batch failed on the balance's constraint (a back-dated one could break history). The lot is checked as
  /// one, and the take that runs short is refused as it would be alone.
  @Test func oneLotNamedTwiceInABatchIsCheckedAsOne() throws {
    let store = try bookingDatabase()
    try Ledger.post(store, receipt(10, lot: "OLD", expiry: "2026-03-05", on: "2026-03-02"))
    func writeOff(_ reason: String) -> Adjustment {
      Adjustment(site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: "OLD", quantity: -6, reason: reason)
    }
    let today = thrownDescription {
      try Ledger.post(store, batch: [.init(writeOff("expired"), key: "w-1"), .init(writeOff("damaged"), key: "w-2")])
    }
    #expect(today == "insufficient stock of MALE-CONDOM lot OLD at DICE-UKUNDA: on hand 4, asked 6")

    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// The same receipt twice in one batch under one key is a repeat, as for any other request; it books once.
  @Test func aReceiptRepeatedInOneBatchUnderItsKeyBooksOnce() throws {
    let store = try bookingDatabase()
    try Ledger.post(
      store,
      Receipt(
        site: "STORE-KWALE", commodity: "MALE-CONDOM", lot: "S1", expiry: CalendarDate("2027-06-30"), quantity: 500,
        date: CalendarDate("2026-03-01")))
    let dispatch = try Ledger.post(
      store, Dispatch(from: "STORE-KWALE", to: "DICE-KWALE", commodity: "MALE-CONDOM", quantity: 100))
    let transfer = try #require(dispatch.events.first?.transferID)
    let postings = try Ledger.post(
      store,
      batch: [
        .init(TransferReceipt(transfer: transfer), key: "in-1"),
        .init(TransferReceipt(transfer: transfer), key: "in-1"),
      ])
    #expect(postings.map(\.replayed) == [false, true])
    #expect(postings[0].events.map(\.quantity) == [100])
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// Only ledger_undo writes reversals, as the opposite of their event; one written around it that is not is listed.
  @Test func verifyListsAReversalThatIsNotTheOppositeOfItsEvent() throws {
    let store = try bookingDatabase()
    let received = try Ledger.post(store, receipt(10, lot: "L1", expiry: "2027-06-30", on: "2026-03-10"))
    let original = try #require(received.events.first?.id)
    try store.execute("BEGIN")
    try store.execute("SELECT set_config('kpstock.booked', 'on', true)")
    try store.execute(
      """
      INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, recorded_on,
        reverses_event_id, idempotency_key, fingerprint)
      VALUES ('DICE-UKUNDA', 'MALE-CONDOM', 'L1', 'receipt', 10, '2026-03-10', '2026-03-11', \(original), 'raw',
        '\\x00')
      """)
    let lot = "site_code = 'DICE-UKUNDA' AND commodity_code = 'MALE-CONDOM'"
    try store.execute(Query(unsafeSQL: "UPDATE stock_balances SET on_hand = on_hand + 10 WHERE \(lot)"))
    try store.execute(
      Query(
        unsafeSQL: """
          UPDATE stock_lot_daily SET net_change = net_change + 10, received = received + 10
          WHERE \(lot) AND day = '2026-03-10'
          """))
    try store.execute("COMMIT")
    let checks = try StockQueries.verify(store).map(\.check)
    #expect(
      checks.count == 1 && checks[0].hasSuffix("reverses event \(original) by other than its opposite"), "\(checks)")
  }
}
