import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// The forecast's arithmetic, checked against the worked example of ../shared/domain.md (DICE-UKUNDA, MALE-CONDOM,
/// week 2026-W49) and by hand on short series. Results are exact numerics, compared as text without trailing zeros.
@Suite("Forecast arithmetic")
struct ForecastArithmeticTests {
  private let connection: Connection

  init() throws {
    connection = try TestDatabase.fresh().connect()
  }

  /// The value of an SQL expression as exact text (`trim_scale`), or nil for NULL.
  private func value(_ expression: String) throws -> String? {
    try connection.query(Query(unsafeSQL: "SELECT trim_scale((\(expression))::numeric)::text AS v"))[0].decode("v")
  }

  private func holds(_ condition: String) throws -> Bool {
    try connection.query(Query(unsafeSQL: "SELECT coalesce((\(condition)), false) AS ok"))[0].decode("ok")
  }

  private func holt(_ series: [Int?]) -> String {
    "ARRAY[" + series.map { $0.map(String.init) ?? "NULL" }.joined(separator: ", ") + "]::numeric[], 0.5, 0.2"
  }

  /// Weeks 37 … 48 of the worked example.
  private let femaleSexWorkers: [Int?] = [180, 195, 190, nil, 210, 205, 220, 230, 225, 240, 236, 250]
  private let menWhoHaveSexWithMen: [Int?] = [nil, nil, nil, nil, nil, nil, nil, 60, 64, 58, 70, 72]

  @Test func theWorkedExampleProjectsReachAndNeedExactly() throws {
    let steps = try connection.query(
      Query(
        unsafeSQL:
          "SELECT step, trim_scale(level)::text AS level, trim_scale(trend)::text AS trend FROM forecast_holt_steps(\(holt(femaleSexWorkers)))"
      )
    ).map { row in
      "W\(36 + Int(try row.decode("step") as Int32)) \(try row.decode("level") as String) \(try row.decode("trend") as String)"
    }
    #expect(
      Array(steps.prefix(5)) == ["W37 180 0", "W38 187.5 1.5", "W39 189.5 1.6", "W40 191.1 1.6", "W41 201.35 3.33"])
    #expect(steps.last == "W48 247.20465224 5.844142432")
    #expect(try value("forecast_holt_projection(\(holt(femaleSexWorkers)))") == "253.048794672")
    #expect(try value("forecast_holt_projection(\(holt(menWhoHaveSexWithMen)))") == "70.5536")
    #expect(
      try value(
        "ceil((forecast_holt_projection(\(holt(femaleSexWorkers))) * 9 + forecast_holt_projection(\(holt(menWhoHaveSexWithMen))) * 3) * 1.10)"
      ) == "2739")
  }

  @Test func holtByHandOnShortSeries() throws {
    #expect(try value("forecast_holt_projection(\(holt([100])))") == "100")
    // level 105, trend 1; projection 106.
    #expect(try value("forecast_holt_projection(\(holt([100, 110])))") == "106")
    // 100, then a gap (level 100, trend 0), then 120: level 110, trend 2.
    #expect(try value("forecast_holt_projection(\(holt([100, nil, 120])))") == "112")
    // 100 then 0: level 50, trend −10; projection 40.
    #expect(try value("forecast_holt_projection(\(holt([100, 0])))") == "40")
    // Falling fast (α = β = 1: level 0, trend −100): level + trend below zero is clamped to zero.
    #expect(try value("forecast_holt_projection(ARRAY[100, 0]::numeric[], 1, 1)") == "0")
    #expect(try value("forecast_holt_projection(\(holt([nil, nil])))") == nil)
    #expect(try value("forecast_holt_projection(ARRAY[]::numeric[], 0.5, 0.2)") == nil)
  }

  @Test func consumptionIsAdjustedForStockedOutDaysAndAWeekOutEveryDayIsUnknown() throws {
    #expect(try value("forecast_adjusted_consumption(2010, 0)") == "2010")
    #expect(try value("forecast_adjusted_consumption(1650, 2)") == "2310")
    #expect(try value("forecast_adjusted_consumption(2105, 1)") == "2456")
    #expect(try value("forecast_adjusted_consumption(0, 7)") == nil)
    // The worked example's eight weeks, W45 stocked out every day.
    let adjusted =
      "ARRAY[forecast_adjusted_consumption(2010, 0), forecast_adjusted_consumption(1980, 0), "
      + "forecast_adjusted_consumption(1650, 2), forecast_adjusted_consumption(2240, 0), "
      + "forecast_adjusted_consumption(0, 7), forecast_adjusted_consumption(2105, 1), "
      + "forecast_adjusted_consumption(2300, 0), forecast_adjusted_consumption(2380, 0)]"
    #expect(try value("forecast_consumption_need(\(adjusted))") == "2240")
    #expect(try value("forecast_consumption_need(ARRAY[NULL, NULL]::numeric[])") == nil)
    #expect(try value("forecast_consumption_need(ARRAY[0, 0]::numeric[])") == "0")
  }

  @Test func theBackTestErrorOfEachMethodIsTheWorkedExamples() throws {
    let actual = "ARRAY[2010, 1980, 2310, 2240, NULL, 2456, 2300, 2380]::numeric[]"
    let outreach = "ARRAY[1908, 2027, 2062, 2165, 2475, 2510, 2597, 2638]::numeric[]"
    let consumption = "ARRAY[NULL, 2010, 1995, 2100, 2135, 2135, 2200, 2216]::numeric[]"
    let naive = "ARRAY[NULL, 2010, 1980, 2310, 2240, 2240, 2456, 2300]::numeric[]"
    #expect(try value("round(forecast_wape(\(outreach), \(actual)), 4)") == "0.069")
    #expect(try holds("forecast_wape(\(outreach), \(actual)) = 1081::numeric / 15676"))
    #expect(try holds("forecast_wape(\(consumption), \(actual)) = 1070::numeric / 13666"))
    #expect(try holds("forecast_wape(\(naive), \(actual)) = 882::numeric / 13666"))
    #expect(try value("round(forecast_wape(\(consumption), \(actual)), 4)") == "0.0783")
    #expect(try value("round(forecast_wape(\(naive), \(actual)), 4)") == "0.0645")
    #expect(try value("forecast_wape(ARRAY[5]::numeric[], ARRAY[0]::numeric[])") == nil)
  }

  /// A site's own norm wins over its county's, which wins over the national one, each while in force.
  @Test func aSitesNormWinsOverItsCountysWhichWinsOverTheNationalOne() throws {
    let store = try openAsKPStock(try TestDatabase.fresh())
    try Seeds.loadKwaleDemo(store)
    func inForce(_ site: String, _ day: String) throws -> String {
      let row = try store.query(
        """
        SELECT trim_scale(quantity_per_week)::text AS q, scope FROM norm_in_force('MALE-CONDOM', 'FSW', \(site),
          \(CalendarDate(day)!))
        """)[0]
      return "\(try row.decode("q") as String) \(try row.decode("scope") as String)"
    }
    #expect(try inForce("DICE-UKUNDA", "2026-06-01") == "9 national")
    _ = try NormCatalog.set(
      store,
      InputValues([
        "commodity": "MALE-CONDOM", "population": "FSW", "per_person_per_week": "4", "effective_from": "2026-01-01",
        "source": "rural median, Kwale survey", "county": "Kwale",
      ]))
    _ = try NormCatalog.set(
      store,
      InputValues([
        "commodity": "MALE-CONDOM", "population": "FSW", "per_person_per_week": "12", "effective_from": "2026-05-01",
        "source": "Ukunda beach survey", "site": "dice-ukunda",
      ]))
    #expect(try inForce("DICE-UKUNDA", "2026-06-01") == "12 site")
    #expect(try inForce("DICE-UKUNDA", "2026-04-30") == "4 county")
    #expect(try inForce("DICE-KWALE", "2026-06-01") == "4 county")
    #expect(try inForce("DICE-KWALE", "2025-12-31") == "9 national")
    #expect(
      thrownDescription {
        _ = try NormCatalog.set(
          store,
          InputValues([
            "commodity": "MALE-CONDOM", "population": "FSW", "per_person_per_week": "1", "source": "x", "county": "002",
            "site": "DICE-KWALE",
          ]))
      } == "site: a norm is for a county or for a site, not both")
    // The simulator draws every site's demand from the national norms.
    #expect(
      try NormCatalog.list(store, on: CalendarDate("2026-06-01")!, commodity: "MALE-CONDOM", population: "FSW")
        .map { "\($0.quantityPerWeek) \($0.countyCode ?? "-") \($0.siteCode ?? "-")" } == [
          "9 - -", "4 002 -", "12 - DICE-UKUNDA",
        ])
    #expect(
      try NormCatalog.list(
        store, on: CalendarDate("2026-06-01")!, commodity: "MALE-CONDOM", population: "FSW", nationalOnly: true
      ).map(\.quantityPerWeek) == [9])
  }

  /// A week's consumption and the days it closed with no usable stock, read from the rollups: a lot used up on a
  /// Thursday leaves four days out; a lot that expires on a Wednesday leaves the rest of the week out though it is
  /// still on the shelf; a site that had no stock yet is out all week.
  @Test func aWeeksConsumptionAndItsDaysWithoutUsableStock() throws {
    let store = try openAsKPStock(try TestDatabase.fresh())
    try Seeds.loadKwaleDemo(store)
    try store.execute("SET kpstock.today = '2026-03-11'")
    func receive(_ site: String, _ quantity: Int64, lot: String, expiry: String, on day: String) throws {
      try Ledger.post(
        store,
        Receipt(
          site: site, commodity: "MALE-CONDOM", lot: lot, expiry: CalendarDate(expiry), quantity: quantity,
          date: CalendarDate(day)))
    }
    func give(_ quantity: Int64, on day: String) throws {
      try Ledger.post(
        store,
        Dispensing(
          site: "DICE-UKUNDA", commodity: "MALE-CONDOM", quantity: quantity, date: CalendarDate(day), population: "FSW",
          channel: .clinic))
    }
    try receive("DICE-UKUNDA", 100, lot: "A", expiry: "2026-03-04", on: "2026-02-23")
    try give(30, on: "2026-02-24")
    try give(70, on: "2026-02-26")
    try receive("DICE-UKUNDA", 50, lot: "B", expiry: "2027-01-31", on: "2026-03-03")
    try give(10, on: "2026-03-05")
    try receive("DICE-KWALE", 20, lot: "C", expiry: "2026-03-04", on: "2026-03-02")
    let weeks = try store.query(
      """
      SELECT site_code, week, dispensed, stocked_out_days
      FROM stock_weeks('2026-02-23', '2026-03-02') WHERE commodity_code = 'MALE-CONDOM'
        AND site_code IN ('DICE-UKUNDA', 'DICE-KWALE')
      """
    ).map { row in
      "\(try row.decode("site_code") as String) \(try row.decode("week") as CalendarDate) "
        + "\(try row.decode("dispensed") as Int64) \(try row.decode("stocked_out_days") as Int32)"
    }
    #expect(
      weeks == [
        "DICE-KWALE 2026-02-23 0 7", "DICE-KWALE 2026-03-02 0 4", "DICE-UKUNDA 2026-02-23 100 4",
        "DICE-UKUNDA 2026-03-02 10 1",
      ])
    #expect(try value("forecast_adjusted_consumption(100, 4)") == "234")
  }
}
