import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// The worked example of ../shared/domain.md ("Forecast of weekly need") entered as a pharmacist and peer educators
/// would enter it — receipts, dispensing, an expiring lot, weekly reach reports — and forecast by `forecast run`:
/// DICE-UKUNDA, MALE-CONDOM, week 2026-W49, run on Monday 2026-11-30.
private func workedExample() throws -> Store {
  let store = try openAsKPStock(try TestDatabase.fresh())
  try Seeds.loadKwaleDemo(store)
  try store.execute("SET kpstock.today = '2026-11-30'")
  let femaleSexWorkers = [180, 195, 190, nil, 210, 205, 220, 230, 225, 240, 236, 250]
  let menWhoHaveSexWithMen = [nil, nil, nil, nil, nil, nil, nil, 60, 64, 58, 70, 72]
  for (index, week) in (37...48).enumerated() {
    for (population, reached) in [("FSW", femaleSexWorkers[index]), ("MSM", menWhoHaveSexWithMen[index])] {
      guard let reached else { continue }
      try OutreachImport.record(
        store, kind: .reach,
        fields: ["site": "DICE-UKUNDA", "week": "2026-W\(week)", "population": population, "reached": "\(reached)"])
    }
  }
  // W41–W43 from lot A; it runs out on Saturday of W43 (2 days out). Lot B covers W44 and expires on its Sunday, still
  // on the shelf: W45 is out every day. Lot C arrives on the Tuesday of W46 (1 day out) and lasts.
  try receive(store, "A", 5640, expiry: "2028-01-31", on: "2026-10-05")
  try give(store, 2010, on: "2026-10-05")
  try give(store, 1980, on: "2026-10-12")
  try give(store, 1650, on: "2026-10-24")
  try receive(store, "B", 2340, expiry: "2026-11-01", on: "2026-10-26")
  try give(store, 2240, on: "2026-10-26")
  try receive(store, "C", 6786, expiry: "2028-01-31", on: "2026-11-10")
  try give(store, 2105, on: "2026-11-10")
  try give(store, 2300, on: "2026-11-16")
  try give(store, 2380, on: "2026-11-23")
  return store
}

private func receive(_ store: Store, _ lot: String, _ quantity: Int64, expiry: String, on day: String) throws {
  try Ledger.post(
    store,
    Receipt(
      site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: lot, expiry: CalendarDate(expiry), quantity: quantity,
      date: CalendarDate(day)))
}

private func give(
  _ store: Store, _ quantity: Int64, on day: String, site: String = "DICE-UKUNDA", commodity: String = "MALE-CONDOM"
) throws {
  try Ledger.post(
    store,
    Dispensing(
      site: site, commodity: commodity, quantity: quantity, date: CalendarDate(day), population: "FSW",
      channel: .clinic))
}

private func line(_ store: Store, _ run: ForecastRun, site: String = "DICE-UKUNDA", commodity: String = "MALE-CONDOM")
  throws -> ForecastLine
{
  try #require(try Forecast.lines(store, run: run.id, site: site, commodity: commodity).first)
}

@Suite("Forecast run")
struct ForecastRunTests {
  @Test func theWorkedExampleComesOutExactly() throws {
    let store = try workedExample()
    let run = try Forecast.run(store, week: "2026-W49", site: "DICE-UKUNDA")
    let condoms = try line(store, run)
    #expect(condoms.week == "2026-W49")
    #expect(condoms.method == "max")
    #expect(condoms.chosenMethod == "outreach")
    #expect(condoms.outreachNeed == 2739)
    #expect(condoms.consumptionNeed == 2240)
    #expect(condoms.naiveNeed == 2380)
    #expect(condoms.clientNeed == nil)
    #expect((condoms.ownNeed, condoms.suppliedNeed, condoms.need) == (2739, 0, 2739))
    // 1081/15676, 1070/13666 and 882/13666, as numeric division gives them.
    func wape(_ value: Decimal?) -> String {
      guard var value else { return "unknown" }
      var rounded = Decimal()
      NSDecimalRound(&rounded, &value, 4, .plain)
      return "\(rounded)"
    }
    #expect(
      [wape(condoms.wape.outreach), wape(condoms.wape.consumption), wape(condoms.wape.naive)] == [
        "0.069", "0.0783", "0.0645",
      ])
    #expect(abs((condoms.wape.outreach ?? 0) * 15676 - 1081) < Decimal(string: "0.000000000001")!)
    #expect(abs((condoms.wape.consumption ?? 0) * 13666 - 1070) < Decimal(string: "0.000000000001")!)
    #expect(abs((condoms.wape.naive ?? 0) * 13666 - 882) < Decimal(string: "0.000000000001")!)
    #expect(condoms.flags == [])

    let explanation = try Forecast.explain(store, run: run.id, site: "DICE-UKUNDA", commodity: "MALE-CONDOM")
    #expect(explanation.backtest.map(\.week).first == "2026-W41")
    #expect(explanation.backtest.map(\.actual) == [2010, 1980, 2310, 2240, nil, 2456, 2300, 2380])
    #expect(explanation.backtest.map(\.outreach) == [1908, 2027, 2062, 2165, 2475, 2510, 2597, 2638])
    #expect(explanation.backtest.map(\.consumption) == [nil, 2010, 1995, 2100, 2135, 2135, 2200, 2216])
    #expect(explanation.backtest.map(\.naive) == [nil, 2010, 1980, 2310, 2240, 2240, 2456, 2300])
    let weeks = explanation.consumptionWeeks.suffix(8)
    #expect(weeks.map(\.dispensed) == [2010, 1980, 1650, 2240, 0, 2105, 2300, 2380])
    #expect(weeks.map(\.stockedOutDays) == [0, 0, 2, 0, 7, 1, 0, 0])
    let female = try #require(explanation.populations.first { $0.populationCode == "FSW" })
    #expect(female.basis == "reach")
    #expect(female.projection == Decimal(string: "253.048794672"))
    #expect(female.steps.last.map { "\($0.week) \($0.level) \($0.trend)" } == "2026-W48 247.20465224 5.844142432")
    #expect(female.norm == 9)
    #expect(female.normScope == "national")
    let male = try #require(explanation.populations.first { $0.populationCode == "MSM" })
    #expect(male.projection == Decimal(string: "70.5536"))
    #expect(male.steps.first?.week == "2026-W44")

    // auto takes the method with the lowest back-test error: naive, 0.0645.
    try Forecast.setMethod(store, commodity: "MALE-CONDOM", method: "auto")
    let auto = try line(store, try Forecast.run(store, week: "2026-W49", site: "DICE-UKUNDA"))
    #expect((auto.method, auto.chosenMethod, auto.need) == ("auto", "naive", 2380))
  }

  @Test func twoRunsOnTheSameDataAreEqualAndABackDatedEntryChangesTheNext() throws {
    let store = try workedExample()
    let first = try Forecast.lines(store, run: try Forecast.run(store, week: "2026-W49").id)
    let second = try Forecast.lines(store, run: try Forecast.run(store, week: "2026-W49").id)
    func figures(_ lines: [ForecastLine]) -> [ForecastLine] {
      lines.map { line in
        var line = line
        line.runID = 0
        return line
      }
    }
    #expect(!first.isEmpty)
    #expect(figures(first) == figures(second))
    // Paper registers found later: 1,000 received on the Friday of W47 and 700 more given out on the Monday of W48.
    try receive(store, "C", 1000, expiry: "2028-01-31", on: "2026-11-20")
    try give(store, 700, on: "2026-11-23")
    let third = try line(store, try Forecast.run(store, week: "2026-W49"))
    #expect(third.naiveNeed == 3080)
    #expect(third.consumptionNeed == 2340)
    #expect(try Forecast.runs(store, week: "2026-W49").count == 3)
  }

  @Test func consumptionIsUnknownNotZeroWithoutAnInformativeWeek() throws {
    let store = try openAsKPStock(try TestDatabase.fresh())
    try Seeds.loadKwaleDemo(store)
    try store.execute("SET kpstock.today = '2026-11-30'")
    try store.execute("UPDATE programme_settings SET backdating_window_days = 120")
    // Received and used up on the same day, ten weeks ago: every week since closed without stock.
    try receive(store, "A", 100, expiry: "2028-01-31", on: "2026-09-21")
    try give(store, 100, on: "2026-09-21")
    let line = try line(store, try Forecast.run(store, week: "2026-W49", site: "DICE-UKUNDA"))
    #expect(line.consumptionNeed == nil)
    #expect(line.naiveNeed == nil)
    #expect(line.outreachNeed == nil)
    #expect(line.ownNeed == nil && line.need == nil)
    #expect(line.flags == ["recent_stockout", "unknown"])
  }

  /// DICE-UKUNDA supplies SAT-LUNGALUNGA and SAT-MSAMBWENI; the county store supplies both DICEs. A store's own need
  /// is nothing when it gives nothing out; a DICE's echelon need adds its satellites'.
  @Test func echelonNeedSumsOwnNeedsDownTheSupplyLines() throws {
    let store = try openAsKPStock(try TestDatabase.fresh())
    try Seeds.loadKwaleDemo(store)
    try store.execute("SET kpstock.today = '2026-11-30'")
    try store.execute("UPDATE programme_settings SET backdating_window_days = 120")
    for (site, weekly) in [("DICE-UKUNDA", 700), ("SAT-LUNGALUNGA", 140), ("SAT-MSAMBWENI", 70), ("DICE-KWALE", 350)] {
      try Ledger.post(
        store,
        Receipt(
          site: site, commodity: "NS-SET", lot: "L1", expiry: CalendarDate("2028-01-31"), quantity: 100_000,
          date: CalendarDate("2026-09-28")))
      for week in 0..<9 {
        try give(
          store, Int64(weekly), on: CalendarDate("2026-09-28")!.adding(days: 7 * week).description, site: site,
          commodity: "NS-SET")
      }
    }
    try Ledger.post(
      store,
      Receipt(
        site: "STORE-KWALE", commodity: "NS-SET", lot: "L1", expiry: CalendarDate("2028-01-31"), quantity: 5000,
        date: CalendarDate("2026-09-28")))
    let run = try Forecast.run(store, week: "2026-W49", county: "002")
    let ukunda = try line(store, run, commodity: "NS-SET")
    #expect((ukunda.ownNeed, ukunda.suppliedNeed, ukunda.need) == (700, 210, 910))
    let satellite = try line(store, run, site: "SAT-LUNGALUNGA", commodity: "NS-SET")
    #expect((satellite.need, satellite.supplierCode) == (140, "DICE-UKUNDA"))
    let countyStore = try line(store, run, site: "STORE-KWALE", commodity: "NS-SET")
    #expect((countyStore.chosenMethod, countyStore.ownNeed, countyStore.need) == ("none", 0, 1260))
    #expect(countyStore.flags == [])
    // Flat: the same N four weeks running.
    #expect(ukunda.flags == ["flat"])
    // A site's run holds the sites it supplies too, whose need is part of its own.
    let siteRun = try Forecast.run(store, week: "2026-W49", site: "DICE-UKUNDA")
    #expect(
      Set(try Forecast.lines(store, run: siteRun.id, commodity: "NS-SET").map(\.siteCode)) == [
        "DICE-UKUNDA", "SAT-LUNGALUNGA", "SAT-MSAMBWENI",
      ])
  }

  @Test func aSitesNormOverrideAndASizeCapChangeTheOutreachNeed() throws {
    let store = try workedExample()
    try store.execute(
      """
      INSERT INTO norms (commodity_code, population_code, site_code, effective_from, quantity_per_week, source)
      VALUES ('MALE-CONDOM', 'FSW', 'DICE-UKUNDA', '2026-01-01', 8, 'Ukunda survey')
      """)
    try store.execute(
      "INSERT INTO size_estimates (county_code, population_code, year, size, source) VALUES ('002', 'MSM', 2026, 50, 'PSE')"
    )
    let run = try Forecast.run(store, week: "2026-W49", site: "DICE-UKUNDA")
    let condoms = try line(store, run)
    // ⌈(253.048794672 × 8 + 50 × 3) × 1.10⌉ = ⌈2391.829...⌉: MSM capped at the county's 50, the only reporting site.
    #expect(condoms.outreachNeed == 2392)
    #expect(condoms.flags == ["capped"])
    let explanation = try Forecast.explain(store, run: run.id, site: "DICE-UKUNDA", commodity: "MALE-CONDOM")
    let female = try #require(explanation.populations.first { $0.populationCode == "FSW" })
    #expect((female.norm, female.normScope, female.normSource) == (8, "site", "Ukunda survey"))
    let male = try #require(explanation.populations.first { $0.populationCode == "MSM" })
    #expect((male.sizeCap, male.capSource) == (50, "county"))
  }

  @Test func peerReportedNeedReplacesReachTimesNorm() throws {
    let store = try workedExample()
    for (week, quantity) in [(46, 400), (47, 420), (48, 440)] {
      try OutreachImport.record(
        store, kind: .peerNeed,
        fields: [
          "site": "DICE-UKUNDA", "week": "2026-W\(week)", "population": "MSM", "commodity": "MALE-CONDOM",
          "qty": "\(quantity)",
        ])
    }
    let run = try Forecast.run(store, week: "2026-W49", site: "DICE-UKUNDA")
    // Peer need 400, 420, 440: level 434, trend 2.8 (Holt, α 0.5, β 0.2) → 436.8 … see the explain steps.
    let explanation = try Forecast.explain(store, run: run.id, site: "DICE-UKUNDA", commodity: "MALE-CONDOM")
    let male = try #require(explanation.populations.first { $0.populationCode == "MSM" })
    #expect(male.basis == "peer_need")
    #expect(male.norm == nil)
    let projection = try #require(
      try store.query(
        "SELECT forecast_holt_projection(ARRAY[400, 420, 440]::numeric[], 0.5, 0.2) AS p")[0].decode("p") as Decimal?)
    #expect(male.need == projection)
    let expected =
      try store.query(
        "SELECT ceil((253.048794672 * 9 + \(projection)) * 1.10)::bigint AS n")[0].decode("n") as Int64
    #expect(explanation.line.outreachNeed == expected)
  }

  @Test func badRunArgumentsAreRefusedNamingTheField() throws {
    let store = try workedExample()
    func refusal(_ body: () throws -> Void) -> String {
      do {
        try body()
        return "accepted"
      } catch let error as FieldError {
        return "\(error.field): \(error.problem)"
      } catch {
        return "\(error)"
      }
    }
    #expect(
      refusal { _ = try Forecast.run(store, week: "2026-W60") } == "week: '2026-W60' is not an ISO week (2026-W47)")
    #expect(
      refusal { _ = try Forecast.run(store, week: "2027-W02") }.hasPrefix("week: 2027-W02 is after the coming week"))
    #expect(refusal { _ = try Forecast.run(store, county: "099") } == "county: no county 099")
    #expect(refusal { _ = try Forecast.run(store, site: "DICE-NOWHERE") } == "site: no site DICE-NOWHERE")
    #expect(refusal { _ = try Forecast.run(store, county: "002", site: "DICE-UKUNDA") }.hasPrefix("county:"))
    #expect(refusal { _ = try Forecast.lines(store, run: 77) }.hasPrefix("RUN: no forecast run 77"))
    let run = try Forecast.run(store, week: "2026-W49", site: "DICE-UKUNDA")
    #expect(refusal { _ = try Forecast.lines(store, run: run.id, flag: "odd") }.hasPrefix("flag: no flag 'odd'"))
    #expect(
      refusal { _ = try Forecast.explain(store, run: run.id, site: "DICE-KWALE", commodity: "MALE-CONDOM") }
        .hasPrefix("site: run \(run.id) has no line for DICE-KWALE and MALE-CONDOM"))
    #expect(
      refusal { _ = try Forecast.setMethod(store, commodity: "MALE-CONDOM", method: "guess") }
        .hasPrefix("METHOD: no method 'guess'"))
    // Nothing refused was stored.
    #expect(try Forecast.runs(store).count == 1)
  }
}
