import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// The Kwale demo with its today pinned to Thursday 2026-12-03 (week 2026-W49).
private func outreachDatabase() throws -> Store {
  let store = try openAsKPStock(try TestDatabase.fresh())
  try Seeds.loadKwaleDemo(store)
  try store.execute("SET kpstock.today = '2026-12-03'")
  return store
}

private func reach(_ store: Store) throws -> [String] {
  try Outreach.reach(store).map { report in
    "\(report.siteCode) \(report.week) \(report.populationCode) \(report.workerCode ?? "-") \(report.hotspot ?? "-") "
      + "\(report.reached)/\(report.newEnrolments) corrections \(report.corrections)"
  }
}

private func importing(_ contents: String, kind: OutreachImportKind = .reach, named name: String = "reach.csv")
  throws -> (path: String, run: (Store) throws -> OutreachImportReport)
{
  let path = try temporaryFile(named: name, contents: contents)
  return (path, { try OutreachImport.run($0, kind: kind, path: path) })
}

@Suite("Outreach reports, peer-reported need and size estimates")
struct OutreachImportTests {
  @Test func aWeekIsReadAsItsMondayInEitherSpellingAndWeek53OnlyInYearsThatHaveOne() throws {
    let store = try outreachDatabase()
    func monday(_ text: String) throws -> String? {
      try store.query("SELECT iso_week_start(\(text))::text AS monday")[0].decode("monday")
    }
    #expect(try monday("2026-W47") == "2026-11-16")
    #expect(try monday(" 2026w47 ") == "2026-11-16")
    #expect(try monday("2025-W01") == "2024-12-30")
    #expect(try monday("2026-W53") == "2026-12-28")
    #expect(try monday("2025-W53") == nil)
    #expect(try monday("2026-W00") == nil)
    #expect(try monday("2026-47") == nil)
    #expect(try store.query("SELECT iso_week_label('2024-12-30') AS w")[0].decode("w") as String == "2025-W01")
  }

  @Test func aCorrectionReplacesTheFiguresAndKeepsWhatItReplaced() throws {
    let store = try outreachDatabase()
    let first = try OutreachImport.record(
      store, kind: .reach,
      fields: ["site": "DICE-UKUNDA", "week": "2026-W47", "population": "FSW", "reached": "236"])
    #expect((first.added, first.replaced, first.unchanged) == (1, 0, 0))
    let corrected = try OutreachImport.record(
      store, kind: .reach,
      fields: ["site": "dice-ukunda", "week": "2026W47", "population": "fsw", "reached": "250", "new": "4"])
    #expect((corrected.added, corrected.replaced, corrected.unchanged) == (0, 1, 0))
    let again = try OutreachImport.record(
      store, kind: .reach,
      fields: ["site": "DICE-UKUNDA", "week": "2026-W47", "population": "FSW", "reached": "250", "new": "4"])
    #expect((again.added, again.replaced, again.unchanged) == (0, 0, 1))
    #expect(try reach(store) == ["DICE-UKUNDA 2026-W47 FSW - - 250/4 corrections 1"])
    let kept: [Int32] = try store.query("SELECT reached FROM outreach_reach_replaced").map { try $0.decode("reached") }
    #expect(kept == [236])
  }

  @Test func importingTheSameFileTwiceSavesItOnce() throws {
    let store = try outreachDatabase()
    let file = try importing(
      """
      site,week,population,reached,new,worker,hotspot
      DICE-UKUNDA,2026-W46,FSW,120,2,PE-01,street
      DICE-UKUNDA,2026-W46,FSW,118,1,PE-02,bar
      DICE-UKUNDA,2026-W46,MSM,58,,,

      """)
    let first = try file.run(store)
    #expect((first.rows, first.added, first.replaced, first.unchanged) == (3, 3, 0, 0))
    let second = try file.run(store)
    #expect((second.rows, second.added, second.replaced, second.unchanged) == (3, 0, 0, 3))
    #expect(try reach(store).count == 3)
  }

  @Test func reportsOfEveryPeerEducatorAreSummedPerSiteWeekAndPopulation() throws {
    let store = try outreachDatabase()
    _ = try importing(
      """
      site,week,population,reached,new,worker,hotspot
      DICE-UKUNDA,2026-W46,FSW,120,2,PE-01,street
      DICE-UKUNDA,2026-W46,FSW,118,1,PE-02,bar
      DICE-UKUNDA,2026-W46,FSW,7,0,PE-02,home
      DICE-UKUNDA,2026-W47,FSW,200,0,,

      """
    ).run(store)
    let weekly = try store.query(
      "SELECT iso_week_label(week) AS week, reached, new_enrolments, reports FROM outreach_weekly ORDER BY week"
    ).map { row in
      "\(try row.decode("week") as String) \(try row.decode("reached") as Int64) "
        + "\(try row.decode("new_enrolments") as Int64) \(try row.decode("reports") as Int32)"
    }
    #expect(weekly == ["2026-W46 245 3 3", "2026-W47 200 0 1"])
  }

  @Test func everyBadOutreachRowIsNamedByLineAndColumnAndNothingIsSaved() throws {
    let store = try outreachDatabase()
    // DICE-UKUNDA opened on 2016-03-01; today is in 2026-W49.
    let file = try importing(
      """
      site,week,population,reached,new,worker,hotspot
      DICE-UKUNDA,2026-W48,FSW,10,,,
      DICE-UKUNDA,2026-W50,FSW,10,,,
      DICE-UKUNDA,2016-W01,FSW,10,,,
      DICE-UKUNDA,2026-W48,FSW,-3,x,,
      STORE-KWALE,2026-W48,FSW,10,,,
      DICE-UKUNDA,2026-W48,ZZZ,10,,,
      DICE-UKUNDA,2026-W48,MSM,10,,p e,pub
      DICE-UKUNDA,2026-W48,FSW,11,,,
      ,26-W48,FSW,,,,

      """)
    let expected = [
      "reach.csv:3: week: week 2026-W50 has not begun",
      "reach.csv:4: week: site DICE-UKUNDA opened on 2016-03-01, after week 2016-W01",
      "reach.csv:5: new: 'x' must be a whole number of people, zero or more",
      "reach.csv:5: reached: '-3' must be a whole number of people, zero or more",
      "reach.csv:6: site: STORE-KWALE is a store: outreach is reported by DICEs and satellites",
      "reach.csv:7: population: unknown population ZZZ",
      "reach.csv:8: hotspot: 'pub' is not a hotspot type (street, bar, brothel, home, injecting_den, beach, virtual, "
        + "other)",
      "reach.csv:8: worker: 'P E' is not a valid code (2–32 letters, digits or dashes)",
      "reach.csv:9: site: repeats line 2 (the same site, week, population, worker and hotspot)",
      "reach.csv:10: reached: is required",
      "reach.csv:10: site: is required",
      "reach.csv:10: week: '26-W48' is not an ISO week (2026-W47)",
    ]
    #expect {
      try file.run(store)
    } throws: { error in
      refusedRows(error) == expected
        && "\(error)" == "reach.csv: 8 of 9 rows have problems; nothing was imported"
    }
    #expect(try reach(store).isEmpty)
  }

  /// The week that is running counts as begun, and a site reports every week it was open on at least one day of.
  @Test func theCurrentWeekAndTheWeeksASiteOpensAndClosesInAreAccepted() throws {
    let store = try outreachDatabase()
    try store.execute("UPDATE sites SET opened_on = '2026-11-04', closed_on = '2026-11-25' WHERE code = 'SAT-KINANGO'")
    let accepted = try importing(
      """
      site,week,population,reached
      DICE-UKUNDA,2026-W49,FSW,1
      SAT-KINANGO,2026-W45,FSW,1
      SAT-KINANGO,2026-W48,FSW,1

      """
    ).run(store)
    #expect(accepted.added == 3)
    #expect {
      try importing(
        """
        site,week,population,reached
        SAT-KINANGO,2026-W44,FSW,1
        SAT-KINANGO,2026-W49,FSW,1

        """
      ).run(store)
    } throws: { error in
      refusedRows(error) == [
        "reach.csv:2: week: site SAT-KINANGO opened on 2026-11-04, after week 2026-W44",
        "reach.csv:3: week: site SAT-KINANGO closed on 2026-11-25, before week 2026-W49",
      ]
    }
  }

  /// A site's dates and kind cannot change so as to leave its outreach reports outside it.
  @Test func aSitesDatesAndKindCannotLeaveItsReportsOutside() throws {
    let store = try outreachDatabase()
    _ = try importing("site,week,population,reached\nSAT-KINANGO,2026-W45,FSW,1\n").run(store)
    for change in [
      "opened_on = '2026-11-10'", "closed_on = '2026-11-01'", "kind = 'prison'",
    ] {
      let refused = #expect(throws: PostgresError.self) {
        try store.execute(Query(unsafeSQL: "UPDATE sites SET \(change) WHERE code = 'SAT-KINANGO'"))
      }
      #expect(refused?.constraint == "sites_outreach_outside", "\(change)")
    }
    try store.execute("UPDATE sites SET opened_on = '2026-11-08', kind = 'dice' WHERE code = 'SAT-KINANGO'")
  }

  @Test func skipInvalidSavesTheGoodRowsAndTheRejectedFileImportsAgainOnceFixed() throws {
    let store = try outreachDatabase()
    let file = try importing(
      """
      site,week,population,reached
      DICE-UKUNDA,2026-W47,FSW,236
      DICE-UKUNDA,2026-W47,MSM,-70

      """)
    let rejected = file.path + ".bad.csv"
    let report = try OutreachImport.run(store, kind: .reach, path: file.path, skipInvalid: true, rejectedFile: rejected)
    #expect((report.added, report.rejected.count, report.rejectedFile) == (1, 1, rejected))
    let fixed = try String(contentsOfFile: rejected, encoding: .utf8).replacingOccurrences(of: "'-70", with: "70")
    #expect(fixed.hasPrefix("site,week,population,reached,new,worker,hotspot,key,line,problem\n"))
    let again = try OutreachImport.run(
      store, kind: .reach, path: try temporaryFile(named: "fixed.csv", contents: fixed))
    #expect((again.added, again.rejected) == (1, []))
    #expect(try reach(store).count == 2)
    #expect(
      thrownDescription {
        _ = try OutreachImport.run(store, kind: .reach, path: file.path, skipInvalid: true, rejectedFile: file.path)
      }?.contains("is the file being imported") == true)
  }

  @Test func aDryRunChecksAndCountsButSavesNothing() throws {
    let store = try outreachDatabase()
    let report = try OutreachImport.run(
      store, kind: .reach,
      path: try temporaryFile(
        named: "reach.csv", contents: "site,week,population,reached\nDICE-UKUNDA,2026-W47,FSW,9\n"),
      dryRun: true)
    #expect((report.dryRun, report.added) == (true, 1))
    #expect(try reach(store).isEmpty)
  }

  @Test func peerNeedIsSavedPerCommodityAndACorrectionKeepsTheOldQuantity() throws {
    let store = try outreachDatabase()
    let first = try importing(
      "site,week,population,commodity,qty\nDICE-UKUNDA,2026-W46,FSW,MALE-CONDOM,2100\n", kind: .peerNeed,
      named: "need.csv"
    ).run(store)
    #expect(first.added == 1)
    let corrected = try importing(
      "site,week,population,commodity,qty\nDICE-UKUNDA,2026-W46,FSW,male-condom,2200\n", kind: .peerNeed,
      named: "need.csv"
    ).run(store)
    #expect(corrected.replaced == 1)
    let quantities: [Int64] = try store.query(
      "SELECT quantity FROM peer_need UNION ALL (SELECT quantity FROM peer_need_replaced ORDER BY replaced_at)"
    ).map { try $0.decode("quantity") }
    #expect(quantities == [2200, 2100])
    #expect {
      try importing(
        "site,week,population,commodity,qty\nDICE-UKUNDA,2026-W46,FSW,CHALK,1\n", kind: .peerNeed, named: "need.csv"
      ).run(store)
    } throws: { error in refusedRows(error) == ["need.csv:2: commodity: unknown commodity CHALK"] }
  }

  @Test func aSizeEstimateIsForASiteOrACountyAndKeepsTheFigureItReplaced() throws {
    let store = try outreachDatabase()
    let file = try importing(
      """
      area,population,year,size,source
      002,FSW,2026,4200,KP mapping 2025
      DICE-UKUNDA,FSW,2026,900,hotspot mapping
      999,FSW,2026,10,guess
      002,MSM,26,10,guess
      002,PWID,2026,10,

      """, kind: .sizeEstimates, named: "sizes.csv")
    #expect {
      try file.run(store)
    } throws: { error in
      refusedRows(error) == [
        "sizes.csv:4: area: unknown site or county 999", "sizes.csv:5: year: '26' is not a year (1990–2200)",
        "sizes.csv:6: source: is required",
      ]
    }
    _ = try OutreachImport.record(
      store, kind: .sizeEstimates,
      fields: ["area": "002", "population": "FSW", "year": "2026", "size": "4200", "source": "KP mapping 2025"])
    _ = try OutreachImport.record(
      store, kind: .sizeEstimates,
      fields: ["area": "002", "population": "FSW", "year": "2026", "size": "4300", "source": "KP mapping, revised"])
    #expect(
      try Outreach.sizeEstimates(store).map {
        "\($0.area) \($0.areaKind) \($0.populationCode) \($0.year) \($0.size) \($0.source)"
      }
        == ["002 county FSW 2026 4300 KP mapping, revised"])
    #expect(try store.query("SELECT size FROM size_estimates_replaced")[0].decode("size") as Int32 == 4200)
    #expect(
      thrownDescription {
        _ = try OutreachImport.record(
          store, kind: .sizeEstimates,
          fields: ["area": "002", "population": "FSW", "year": "2026", "size": "1", "source": " "])
      } == "source: is required")
  }

  @Test func listingFiltersBySiteCountyAndWeeksAndRefusesAnUnreadableWeek() throws {
    let store = try outreachDatabase()
    _ = try importing(
      """
      site,week,population,reached
      DICE-UKUNDA,2026-W45,FSW,1
      DICE-UKUNDA,2026-W46,FSW,2
      DICE-KWALE,2026-W46,FSW,3

      """
    ).run(store)
    #expect(try Outreach.reach(store, site: "dice-kwale").map(\.reached) == [3])
    #expect(try Outreach.reach(store, county: "002", fromWeek: "2026-W46").map(\.reached) == [3, 2])
    #expect(try Outreach.reach(store, toWeek: "2026W45").map(\.reached) == [1])
    #expect(
      thrownDescription { _ = try Outreach.reach(store, fromWeek: "W46") }
        == "from-week: 'W46' is not an ISO week (2026-W47)")
    #expect(
      thrownDescription { _ = try Outreach.reach(store, fromWeek: "2026-W46", toWeek: "2026-W45") }
        == "from-week: 2026-W46 comes after the last week asked for, 2026-W45")
  }
}
