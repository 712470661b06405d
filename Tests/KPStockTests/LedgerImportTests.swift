import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

private func importDatabase() throws -> Store {
  let store = try openAsKPStock(try TestDatabase.fresh())
  try Seeds.loadKwaleDemo(store)
  try store.execute("SET kpstock.today = '2026-03-11'")
  return store
}

private func events(_ store: Store) throws -> Int64 {
  try store.query("SELECT count(*) AS n FROM stock_events")[0].decode("n")
}

/// A dispensing register: `rows` lines of 1 condom each to FSW at DICE-UKUNDA over the week before 2026-03-11.
private func register(rows: Int, replacing line: Int? = nil, with bad: String? = nil) -> String {
  var text = "site,commodity,qty,date,population,channel,worker,client\n"
  for index in 0..<rows {
    if index + 2 == line, let bad {
      text += bad + "\n"
      continue
    }
    let day = 4 + index % 7
    text += "DICE-UKUNDA,MALE-CONDOM,1,2026-03-\(String(format: "%02d", day)),FSW,outreach,PE-\(index % 9 + 1),\n"
  }
  return text
}

private func stock(_ store: Store, _ quantity: Int64) throws {
  try Ledger.post(
    store,
    Receipt(
      site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: "L1", expiry: CalendarDate("2027-01-31"),
      quantity: quantity, date: CalendarDate("2026-03-01")))
}

@Suite("Importing registers into the ledger")
struct LedgerImportTests {
  @Test func oneBadRowAmongTenThousandPostsNothingAndNamesItsLine() throws {
    let store = try importDatabase()
    try stock(store, 20_000)
    let path = try temporaryFile(
      named: "dispensing.csv",
      contents: register(rows: 10_000, replacing: 7_777, with: "DICE-UKUNDA,MALE-CONDOM,1,2026-02-30,FSW,clinic,,"))
    let before = try events(store)
    #expect {
      try LedgerImport.run(store, kind: .dispensing, path: path)
    } throws: { error in
      let refused = try #require(error as? ImportRefused)
      return refusedRows(refused) == ["dispensing.csv:7777: date: '2026-02-30' is not a date (YYYY-MM-DD)"]
        && "\(refused)" == "dispensing.csv: 1 of 10000 rows have problems; nothing was imported"
    }
    #expect(try events(store) == before)
  }

  @Test func importingTheSameFileTwicePostsItOnce() throws {
    let store = try importDatabase()
    try stock(store, 500)
    let path = try temporaryFile(named: "week.csv", contents: register(rows: 300))
    let first = try LedgerImport.run(store, kind: .dispensing, path: path)
    #expect(first.posted == 300 && first.repeats == 0)
    let second = try LedgerImport.run(store, kind: .dispensing, path: path)
    #expect(second.posted == 0 && second.repeats == 300)
    #expect(try StockQueries.stock(store, site: "DICE-UKUNDA").map(\.onHand) == [200])
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// Identical rows of a day are told apart by their place among them, and the rejected-rows file carries each
  /// refused row's key: fixed there and imported from there, a row posts, rather than being taken for an identical
  /// row of its day that was posted, whether that row came before it in the register or after.
  @Test(arguments: [true, false])
  func aFixedRejectedRowPostsBesideAnIdenticalRowOfItsDay(refusedRowFirst: Bool) throws {
    let store = try importDatabase()
    try stock(store, 50)
    let refused = "DICE-UKUNDA,MALE-CONDOM,+5,2026-03-05,FSW,clinic"
    let posted = "dice-ukunda,male-condom,5,2026-03-05,fsw,clinic"
    let sameDay = refusedRowFirst ? [refused, posted] : [posted, refused]
    let path = try temporaryFile(
      named: "week.csv",
      contents: (["site,commodity,qty,date,population,channel"] + sameDay
        + ["DICE-UKUNDA,MALE-CONDOM,5,2026-03-06,FSW,clinic"]).joined(separator: "\n") + "\n")
    let rejectedPath = try temporaryFile(named: "week.rejected.csv", contents: "")
    let first = try LedgerImport.run(
      store, kind: .dispensing, path: path, skipInvalid: true, rejectedFile: rejectedPath)
    #expect(first.posted == 2 && first.rejected.map(\.line) == [refusedRowFirst ? 2 : 3])

    let rejected = try String(contentsOfFile: rejectedPath, encoding: .utf8)
    try rejected.replacingOccurrences(of: ",'+5,", with: ",5,").write(
      toFile: rejectedPath, atomically: true, encoding: .utf8)
    let fixed = try LedgerImport.run(store, kind: .dispensing, path: rejectedPath)
    #expect(fixed.posted == 1 && fixed.repeats == 0)
    let again = try LedgerImport.run(store, kind: .dispensing, path: rejectedPath)
    #expect(again.posted == 0 && again.repeats == 1)
    #expect(try StockQueries.stock(store, site: "DICE-UKUNDA").map(\.onHand) == [35])
    #expect(try StockQueries.verify(store).isEmpty)
  }

  @Test func insufficientStockInDateOrderIsReportedForTheRowThatRunsOut() throws {
    let store = try importDatabase()
    try stock(store, 5)
    let path = try temporaryFile(
      named: "short.csv",
      contents: """
        site,commodity,qty,date,population,channel,worker
        DICE-UKUNDA,MALE-CONDOM,3,2026-03-05,FSW,clinic,
        DICE-UKUNDA,MALE-CONDOM,3,2026-03-03,MSM,clinic,
        DICE-UKUNDA,MALE-CONDOM,1,2026-03-04,MSM,outreach,PE-2

        """)
    #expect {
      try LedgerImport.run(store, kind: .dispensing, path: path)
    } throws: { error in
      refusedRows(error) == [
        "short.csv:2: qty: insufficient stock of MALE-CONDOM at DICE-UKUNDA: on hand 1, asked 3"
      ]
    }
  }

  @Test func everyBadCellIsNamedWithItsLineAndColumn() throws {
    let store = try importDatabase()
    try stock(store, 100)
    let path = try temporaryFile(
      named: "bad.csv",
      contents: """
        site,commodity,qty,date,population,channel,worker,client
        DICE-UKUNDAA,MALE-CONDOM,1,2026-03-05,FSW,clinic,,
        DICE-UKUNDA,CONDOMS,1,2026-03-05,FSW,clinic,,
        DICE-UKUNDA,MALE-CONDOM,1.5,2026-03-05,FSW,clinic,,
        DICE-UKUNDA,MALE-CONDOM,0,2026-03-05,FSW,clinic,,
        DICE-UKUNDA,MALE-CONDOM,1,2026-04-05,FSW,clinic,,
        DICE-UKUNDA,MALE-CONDOM,1,2026-03-05,XYZ,clinic,,
        DICE-UKUNDA,MALE-CONDOM,1,2026-03-05,FSW,street,,
        DICE-UKUNDA,MALE-CONDOM,1,2026-03-05,FSW,outreach,,
        DICE-UKUNDA,MALE-CONDOM,1,2026-03-05,FSW,clinic,,0712345678

        """)
    #expect {
      try LedgerImport.run(store, kind: .dispensing, path: path)
    } throws: { error in
      let details = refusedRows(error) ?? []
      return details == [
        "bad.csv:2: site: unknown site DICE-UKUNDAA",
        "bad.csv:3: commodity: unknown commodity CONDOMS",
        "bad.csv:4: qty: '1.5' is not a whole number of base units",
        "bad.csv:5: qty: '0' must be a positive whole number",
        "bad.csv:6: date: 2026-04-05 is in the future (today is 2026-03-11)",
        "bad.csv:7: population: unknown population XYZ",
        "bad.csv:8: channel: 'street' is not a channel (clinic, outreach)",
        "bad.csv:9: worker: outreach dispensing needs the peer educator's code",
        "bad.csv:10: client: is not a UIC (6–32 letters, digits or dashes, with a letter); "
          + "never a name or phone number",
      ]
    }
    #expect(try events(store) == 1)
  }

  @Test func skipInvalidPostsTheGoodRowsAndWritesTheBadOnesWithTheirReasons() throws {
    let store = try importDatabase()
    try stock(store, 100)
    let path = try temporaryFile(
      named: "mixed.csv",
      contents: register(rows: 20, replacing: 5, with: "DICE-UKUNDA,MALE-CONDOM,x,2026-03-05,FSW,clinic,,"))
    let rejectedPath = path + ".rejected.csv"
    let report = try LedgerImport.run(
      store, kind: .dispensing, path: path, skipInvalid: true, rejectedFile: rejectedPath)
    #expect(report.posted == 19 && report.rejected.map(\.line) == [5])
    let rejected = try String(contentsOfFile: rejectedPath, encoding: .utf8)
    // The row as it was, the key it was imported under, its line and its problem.
    let row = try #require(rejected.split(separator: "\n").dropFirst().first)
      .split(separator: ",", omittingEmptySubsequences: false)
    #expect(row.prefix(10).joined(separator: ",") == "DICE-UKUNDA,MALE-CONDOM,x,2026-03-05,FSW,clinic,,,,")
    #expect(row[10].hasPrefix("row:2026-03-05:"))
    #expect(row.dropFirst(11).joined(separator: ",") == "5,qty: 'x' is not a whole number of base units")
  }

  @Test func receiptsAdjustmentsAndCountsImportThroughTheSameRules() throws {
    let store = try importDatabase()
    let receipts = try temporaryFile(
      named: "receipts.csv",
      contents: """
        site,commodity,lot,expiry,qty,date
        DICE-UKUNDA,MALE-CONDOM,A1,2027-01-31,1440,2026-03-02
        DICE-UKUNDA,ALCOHOL-SWAB,,,500,2026-03-02

        """)
    #expect(try LedgerImport.run(store, kind: .receipts, path: receipts).posted == 2)
    let adjustments = try temporaryFile(
      named: "adjustments.csv",
      contents: """
        site,commodity,lot,qty,reason,date
        DICE-UKUNDA,MALE-CONDOM,A1,40,damaged,2026-03-03
        DICE-UKUNDA,ALCOHOL-SWAB,,+5,correction,2026-03-03

        """)
    #expect(try LedgerImport.run(store, kind: .adjustments, path: adjustments).posted == 2)
    let counts = try temporaryFile(
      named: "counts.csv",
      contents: """
        site,commodity,lot,qty,date
        DICE-UKUNDA,MALE-CONDOM,A1,1390,2026-03-04
        DICE-UKUNDA,ALCOHOL-SWAB,,505,2026-03-04

        """)
    #expect(try LedgerImport.run(store, kind: .counts, path: counts).posted == 2)
    let onHand = try StockQueries.stock(store, site: "DICE-UKUNDA").map { "\($0.commodityCode) \($0.onHand)" }
    #expect(onHand == ["ALCOHOL-SWAB 505", "MALE-CONDOM 1390"])
    #expect(try StockQueries.verify(store).isEmpty)
  }

  @Test func aDryRunReportsWhatWouldBePostedAndWritesNothing() throws {
    let store = try importDatabase()
    try stock(store, 100)
    let path = try temporaryFile(named: "dry.csv", contents: register(rows: 10))
    let report = try LedgerImport.run(store, kind: .dispensing, path: path, dryRun: true)
    #expect(report.posted == 10 && report.dryRun)
    #expect(try events(store) == 1)
  }
}
