import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// The Kwale network with `weeks` of simulated history up to Monday 2026-11-30 (today in the session).
func simulatedKwale(weeks: Int, seed: UInt64) throws -> (TestDatabaseHandle, Store) {
  let (database, store) = try kwaleOrderDatabase()
  try Simulator.run(store, profile: .kwale, weeks: weeks, seed: seed, through: CalendarDate("2026-11-30"))
  return (database, store)
}

func reportWindow(_ store: Store, _ scope: ReportScope, _ period: String) throws -> ReportWindow {
  try Reports.window(store, scope: scope, period: period, default: .lastMonth)
}

/// The county reports (Schema/functions/95_reports.sql) on six simulated weeks of Kwale up to Monday 2026-11-30,
/// cross-checked against independent SQL over the raw events.
@Suite("County reports")
struct CountyReportTests {
  private let database: TestDatabaseHandle
  private let store: Store

  init() throws {
    (database, store) = try simulatedKwale(weeks: 6, seed: 2)
  }

  private func window(_ scope: ReportScope, _ period: String) throws -> ReportWindow {
    try reportWindow(store, scope, period)
  }

  private func strings(_ query: Query) throws -> [String] {
    try store.query(query).map { try $0.decode(at: 0) as String }
  }

  @Test func consumptionAddsUpTheDispensingEventsOfTheClosedDays() throws {
    let november = try window(.county("002"), "2026-11")
    let lines = try Reports.consumption(store, november)
    #expect(!lines.isEmpty)
    let fromEvents = try strings(
      """
      SELECT concat_ws(' ', site_code, commodity_code, population_code, channel, -sum(quantity))
      FROM stock_events WHERE kind = 'dispense' AND occurred_on BETWEEN '2026-11-01' AND '2026-11-29'
      GROUP BY site_code, commodity_code, population_code, channel ORDER BY 1
      """)
    let reported = lines.map { "\($0.siteCode) \($0.commodityCode) \($0.populationCode) \($0.channel) \($0.dispensed)" }
    #expect(reported.sorted() == fromEvents)
    // Today (2026-11-30) has not closed: 29 days counted, and the adjustment is the forecast's, over 30 days.
    for line in lines {
      #expect(line.closedDays == 29)
      let days = Decimal(30 - line.stockedOutDays - 1)
      let expected: Int64? =
        line.stockedOutDays >= 29
        ? nil : Int64(truncating: NSDecimalNumber(decimal: ceiling(Decimal(line.dispensed) * 30 / days)))
      #expect(line.adjusted == expected, "\(line)")
    }
  }

  private func ceiling(_ value: Decimal) -> Decimal {
    var value = value
    var rounded = Decimal()
    NSDecimalRound(&rounded, &value, 0, .up)
    return rounded
  }

  @Test func stockedOutDaysAreTheClosedDaysWithNoUnexpiredLotHoldingStock() throws {
    let november = try window(.national, "2026-11")
    // Day by day from the events: a card is out on a day when no lot it holds at that day's close is unexpired.
    let fromEvents = try store.query(
      """
      SELECT c.commodity_code, count(*)::integer AS days, count(DISTINCT c.site_code)::integer AS sites
      FROM stock_cards c
      CROSS JOIN generate_series('2026-11-01'::date, '2026-11-29'::date, '1 day') d (day)
      WHERE NOT EXISTS (
        SELECT FROM stock_events e LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
        WHERE e.site_code = c.site_code AND e.commodity_code = c.commodity_code AND e.occurred_on <= d.day
          AND (l.expires_on IS NULL OR l.expires_on >= d.day::date)
        GROUP BY e.lot_code HAVING sum(e.quantity) > 0)
      GROUP BY 1 ORDER BY 1
      """
    ).map {
      "\(try $0.decode("commodity_code") as String) \(try $0.decode("days") as Int32) \(try $0.decode("sites") as Int32)"
    }
    let reported = try Reports.stockouts(store, november).filter { $0.stockedOutSiteDays > 0 }
    #expect(reported.map { "\($0.commodityCode) \($0.stockedOutSiteDays) \($0.sitesAffected)" } == fromEvents)
    #expect(!fromEvents.isEmpty, "the simulation should run a card out of stock")
    for line in reported {
      #expect(line.longestSpell >= 1 && line.longestSpell <= line.stockedOutSiteDays)
      #expect(line.longestSite != nil && line.longestFrom != nil)
    }
    // The forecast's weekly figure is the same definition: week 47 (Nov 16–22) per commodity.
    let weekly = try store.query(
      """
      SELECT commodity_code, sum(stocked_out_days)::integer AS days FROM stock_weeks('2026-11-16', '2026-11-16')
      GROUP BY 1 HAVING sum(stocked_out_days) > 0 ORDER BY 1
      """
    ).map { "\(try $0.decode("commodity_code") as String) \(try $0.decode("days") as Int32)" }
    let week47 = try Reports.stockouts(store, try window(.national, "2026-W47")).filter { $0.stockedOutSiteDays > 0 }
    #expect(week47.map { "\($0.commodityCode) \($0.stockedOutSiteDays)" } == weekly)
  }

  @Test func theFCDRRBalancesAndItsBalancesAreTheEvents() throws {
    try Ledger.post(
      store,
      Adjustment(
        site: "DICE-UKUNDA", commodity: "LUBRICANT", quantity: -7, reason: "damaged", date: CalendarDate("2026-11-20"),
        note: "wet"))
    try Ledger.post(
      store,
      Adjustment(
        site: "DICE-UKUNDA", commodity: "LUBRICANT", lot: try lubricantLot(), quantity: 3, reason: "found",
        date: CalendarDate("2026-11-21")))
    let onHand: Int64 = try store.query(
      """
      SELECT sum(quantity)::bigint AS n FROM stock_events
      WHERE site_code = 'DICE-UKUNDA' AND commodity_code = 'LUBRICANT' AND occurred_on <= '2026-11-26'
      """)[0].decode("n")
    try Ledger.post(
      store,
      CountEntry(
        site: "DICE-UKUNDA", commodity: "LUBRICANT", lot: try lubricantLot(), counted: try lotOnHand() - 2,
        date: CalendarDate("2026-11-26")))
    let (lines, explanations) = try Reports.fcdrr(store, try window(.county("002"), "2026-11"))
    #expect(!lines.isEmpty)
    let balances = try store.query(
      """
      SELECT site_code, commodity_code,
        coalesce(sum(quantity) FILTER (WHERE occurred_on < '2026-11-01'), 0)::bigint AS a,
        coalesce(sum(quantity), 0)::bigint AS closing
      FROM stock_events WHERE occurred_on <= '2026-11-30' GROUP BY 1, 2
      """
    ).reduce(into: [String: (Int64, Int64)]()) {
      $0["\(try $1.decode("site_code") as String) \(try $1.decode("commodity_code") as String)"] =
        (try $1.decode("a"), try $1.decode("closing"))
    }
    for line in lines {
      #expect(
        line.beginningBalance + line.received - line.issued - line.losses + line.positiveAdjustments
          - line.negativeAdjustments == line.closingBalance, "\(line)")
      let events = balances["\(line.siteCode) \(line.commodityCode)"] ?? (0, 0)
      #expect((line.beginningBalance, line.closingBalance) == events, "\(line)")
    }
    let lubricant = try #require(lines.first { $0.siteCode == "DICE-UKUNDA" && $0.commodityCode == "LUBRICANT" })
    #expect(lubricant.losses >= 7)
    #expect(lubricant.positiveAdjustments >= 3)
    #expect(lubricant.negativeAdjustments >= 2)
    // G: the count of the 26th set the books to what was found; the closing balance of that day.
    #expect(lubricant.physicalCountSource == "count of 2026-11-26")
    #expect(lubricant.physicalCount == onHand - 2)
    let explained = explanations.filter { $0.siteCode == "DICE-UKUNDA" && $0.commodityCode == "LUBRICANT" }
    #expect(explained.contains { $0.column == "D" && $0.quantity == -7 && $0.note == "wet" })
    #expect(explained.contains { $0.column == "E" && $0.quantity == 3 })
    #expect(
      explained.contains { $0.column == "F" && $0.quantity == -2 && $0.reason?.hasPrefix("count variance") == true })
    // The F-CDRR is a month's form.
    let refusal = try #require(throws: FieldError.self) {
      try Reports.fcdrr(store, try window(.county("002"), "2026-W47"))
    }
    #expect(refusal.field == "period")
  }

  private func lubricantLot() throws -> String {
    try store.query(
      """
      SELECT lot_code FROM stock_balances WHERE site_code = 'DICE-UKUNDA' AND commodity_code = 'LUBRICANT'
        AND on_hand > 2 ORDER BY lot_code LIMIT 1
      """)[0].decode("lot_code")
  }

  /// The lot's balance at the close of 2026-11-26 (today is the 30th).
  private func lotOnHand() throws -> Int64 {
    try store.query(
      """
      SELECT sum(quantity)::bigint AS n FROM stock_events WHERE site_code = 'DICE-UKUNDA'
        AND commodity_code = 'LUBRICANT' AND lot_code = \(try lubricantLot()) AND occurred_on <= '2026-11-26'
      """)[0].decode("n")
  }

  @Test func emptyPeriodsAndSitesWithoutStockGiveEmptyReports() throws {
    let early = try window(.county("002"), "2024-03")
    #expect(try Reports.consumption(store, early).isEmpty)
    #expect(try Reports.orders(store, early).isEmpty)
    #expect(try Reports.stockouts(store, early).allSatisfy { $0.stockedOutSiteDays == $0.sites * $0.closedDays })
    let document = try Reports.document(store, early, parts: ReportPart.allCases)
    #expect(document.fcdrr.allSatisfy { $0.closingBalance == 0 && $0.received == 0 })
    // A site that holds nothing has no lines.
    try store.execute(
      "INSERT INTO sites (code, name, kind, county_code, sub_county) VALUES ('SAT-NEW', 'New', 'satellite', '002', 'Matuga')"
    )
    let newSite = try window(.site("SAT-NEW"), "2026-11")
    #expect(try Reports.consumption(store, newSite).isEmpty)
    #expect(try Reports.fcdrr(store, newSite).lines.isEmpty)
    #expect(try Reports.stockouts(store, newSite).isEmpty)
    #expect(try Reports.coverage(store, newSite).allSatisfy { $0.measure == "per person per year" && $0.base == nil })
  }
}

/// Small numbers in the coverage report.
@Suite("Small-number suppression")
struct SuppressionTests {
  private let database: TestDatabaseHandle
  private let store: Store

  init() throws {
    (database, store) = try kwaleOrderDatabase()
  }

  private func marks(_ cells: [Int64]) throws -> [String] {
    let list = cells.map(String.init).joined(separator: ",")
    return try store.query(Query(unsafeSQL: "SELECT unnest(report_suppress(ARRAY[\(list)]::bigint[])) AS m")).map {
      (try $0.decode("m") as String?) ?? "shown"
    }
  }

  @Test func aCountFrom1To4IsWithheldAndSoIsTheCellThatWouldGiveItAway() throws {
    // Parts, then their total.
    #expect(try marks([10, 3, 7, 20]) == ["shown", "<5", "suppressed", "shown"])
    #expect(try marks([3, 4, 12, 19]) == ["<5", "<5", "shown", "shown"])
    #expect(try marks([3, 0, 3]) == ["<5", "shown", "<5"])
    #expect(try marks([3, 0, 9, 12]) == ["<5", "shown", "suppressed", "shown"])
    #expect(try marks([3, 0, 0, 3]) == ["<5", "shown", "shown", "<5"])
    #expect(try marks([5, 6, 11]) == ["shown", "shown", "shown"])
  }

  private func reach(_ population: String, _ reached: Int) throws {
    try store.execute(
      """
      INSERT INTO outreach_reach (site_code, week, population_code, reached, new_enrolments)
      VALUES ('DICE-UKUNDA', '2026-11-16', \(population), \(reached), 0)
      """)
  }

  @Test func coverageWithholdsSmallCountsOfPeopleAndAViewerCannotAskOtherwise() throws {
    try reach("FSW", 40)
    try reach("TG", 3)
    try reach("MSM", 12)
    let window = try Reports.window(store, scope: .site("DICE-UKUNDA"), period: "2026-11", default: .lastMonth)
    let lines = try Reports.coverage(store, window).filter { $0.measure == "reached vs size" }
    func shown(_ population: String) -> String {
      guard let line = lines.first(where: { $0.populationCode == population }) else { return "absent" }
      return line.figureMark ?? line.figure.map(String.init) ?? "nil"
    }
    #expect(shown("TG") == "<5")
    #expect(shown("MSM") == "suppressed")
    #expect(shown("FSW") == "40")
    #expect(shown("ALL") == "55")
    #expect(lines.first { $0.populationCode == "TG" }?.rate == nil)
    // The owner (this session) may see them; a county viewer may not (docs/security.md).
    let open = try Reports.coverage(store, window, suppress: false).filter { $0.measure == "reached vs size" }
    #expect(open.first { $0.populationCode == "TG" }?.figure == 3)
    let viewer = "viewer_\(UUID().uuidString.prefix(8).lowercased())"
    try Users.add(store, name: viewer, role: "county-viewer", sites: [], counties: ["Kwale"])
    try store.execute("SET SESSION AUTHORIZATION \(identifier: viewer)")
    // The simulated clock is the owner's alone (a viewer who set it would be refused for that first).
    try store.execute("RESET kpstock.today")
    defer { _ = try? store.execute("RESET SESSION AUTHORIZATION") }
    let refusal = try #require(throws: LedgerRefusal.self) { try Reports.coverage(store, window, suppress: false) }
    #expect(refusal.field == "no-suppress")
    #expect(refusal.problem == "\(viewer) may not see counts of people under 5: a county viewer reads aggregates only")
  }
}

/// The DHIS2 payload and the HTML document, on the same simulated Kwale.
@Suite("Report exports")
struct ReportExportTests {
  private let database: TestDatabaseHandle
  private let store: Store

  init() throws {
    (database, store) = try simulatedKwale(weeks: 3, seed: 4)
  }

  private func window(_ scope: ReportScope, _ period: String) throws -> ReportWindow {
    try reportWindow(store, scope, period)
  }

  @Test func theDHIS2PayloadIsADataValueSetOfTheMappedFiguresAndListsTheRest() throws {
    let november = try window(.county("002"), "2026-11")
    let payload = try Reports.dhis2(
      store, november, reports: ["fcdrr", "consumption"], mapping: try DHIS2Mapping.standard(),
      completeDate: CalendarDate("2026-12-01")!)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.json.utf8)) as? [String: Any])
    #expect(object["dataSet"] as? String == "kpStockMon1")
    #expect(object["period"] as? String == "202611")
    #expect(object["completeDate"] as? String == "2026-12-01")
    let values = try #require(object["dataValues"] as? [[String: String]])
    #expect(values.allSatisfy { Set($0.keys) == ["orgUnit", "dataElement", "categoryOptionCombo", "value"] })
    // Ukunda's male condoms received in November (kpDEMCRc001 at kpDemoKwl02) are the F-CDRR's B.
    let fcdrr = try Reports.fcdrr(store, november).lines
    let received = try #require(fcdrr.first { $0.siteCode == "DICE-UKUNDA" && $0.commodityCode == "MALE-CONDOM" })
    #expect(
      values.first { $0["orgUnit"] == "kpDemoKwl02" && $0["dataElement"] == "kpDEMCRc001" }?["value"]
        == String(received.received))
    // Condoms distributed to FSW at Ukunda: male and female condoms map to one element, so they add up.
    let consumption = try Reports.consumption(store, november).filter {
      $0.siteCode == "DICE-UKUNDA" && $0.populationCode == "FSW" && $0.commodityCode.hasSuffix("CONDOM")
    }
    #expect(
      values.first {
        $0["orgUnit"] == "kpDemoKwl02" && $0["dataElement"] == "kpDEConDis1"
          && $0["categoryOptionCombo"] == "kpCocFSW001"
      }?["value"] == String(consumption.reduce(0) { $0 + $1.dispensed }))
    #expect(payload.unmapped.contains { $0.hasPrefix("fcdrr physical_count (") })
    #expect(payload.unmapped.contains { $0.hasPrefix("consumption dispensed (") && $0.contains("LUBRICANT FSW") })

    // A week is DHIS2's 2026W47; a quarter is not a period DHIS2 takes weekly or monthly data for.
    let week = try Reports.dhis2(
      store, try window(.county("002"), "2026-W47"), reports: ["consumption"], mapping: try DHIS2Mapping.standard(),
      completeDate: CalendarDate("2026-12-01")!)
    #expect(week.json.contains("\"period\": \"2026W47\""))
    let quarter = try #require(throws: FieldError.self) {
      try Reports.dhis2(
        store, try window(.county("002"), "2026-Q4"), reports: ["consumption"],
        mapping: try DHIS2Mapping.standard(), completeDate: CalendarDate("2026-12-01")!)
    }
    #expect(quarter.field == "period")
    // A site without a DHIS2 uid is named, never guessed.
    try store.execute("UPDATE sites SET dhis2_uid = NULL WHERE code = 'SAT-MATUGA'")
    let missing = try #require(throws: FieldError.self) {
      try Reports.dhis2(
        store, november, reports: ["consumption"], mapping: try DHIS2Mapping.standard(),
        completeDate: CalendarDate("2026-12-01")!)
    }
    #expect(missing.problem.hasPrefix("SAT-MATUGA has no DHIS2 uid"))
  }

  @Test func aMappingFileWithABadUidIsRefusedNamingItsLine() throws {
    let path = try temporaryFile(
      named: "mapping.csv",
      contents: """
        report,field,commodity,population,data_set,data_element,category_option_combo
        consumption,dispensed,MALE-CONDOM,FSW,kpStockMon1,kpDEConDis1,HllvX50cXC0
        consumption,dispensed,NS-SET,PWID,kpStockMon1,not-a-uid,HllvX50cXC0

        """)
    let refusal = try #require(throws: KPStockError.self) { try DHIS2Mapping.read(path: path) }
    #expect(
      refusal.details == [
        "mapping.csv:3: data_element: 'not-a-uid' is not a DHIS2 uid (a letter and 10 letters or digits)"
      ])
  }

  @Test func theHTMLReportIsOneFileThatNeedsNoNetwork() throws {
    let document = try Reports.document(store, try window(.county("002"), "2026-11"), parts: ReportPart.allCases)
    let html = HTMLReport.render(document, generatedOn: CalendarDate("2026-12-01")!)
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    for part in ["Stock status", "Consumption", "Coverage", "Stock-outs", "Expiring", "Orders", "F-CDRR"] {
      #expect(html.contains("<h2>\(part)"), "\(part) missing")
    }
    #expect(!html.contains("<script"))
    #expect(!html.contains("<link"))
    #expect(!html.contains("url("))
    // The only address is SVG's namespace, which is a name, not a fetch.
    let addresses = html.components(separatedBy: "http").count - 1
    #expect(addresses == html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
    #expect(html.contains("<svg"))
  }
}
