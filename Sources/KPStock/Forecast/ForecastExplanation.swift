import Foundation
import Postgres

/// Everything behind one line of a run, in the order it was computed, so a logistics officer can check it by hand:
/// read back from what the run stored, so a past run is explained as it was made.
public struct ForecastExplanation: Sendable, Equatable {
  public var run: ForecastRun
  public var line: ForecastLine
  public var settings: ForecastSettings
  public var populations: [PopulationPart]
  /// Weeks W−16 … W−1: the consumption-based need of W reads the last 8, the back-test's origins the 8 before each.
  public var consumptionWeeks: [ConsumptionWeek]
  /// Origins W−8 … W−1.
  public var backtest: [BacktestOrigin]
  /// The lines of the sites this site supplies with the commodity, whose need is part of its own.
  public var supplied: [SuppliedSite]
}

/// The settings a run used.
public struct ForecastSettings: Sendable, Equatable {
  public var alpha: Decimal
  public var beta: Decimal
  public var wastagePercent: Decimal
  public var tolerancePercent: Decimal
  public var outreachWeeks: Int
  public var consumptionWeeks: Int
}

/// One population's part of the outreach-based need.
public struct PopulationPart: Sendable, Equatable {
  public var populationCode: String
  /// `reach` (people reached × norm) or `peer_need` (the need peers reported, projected, instead).
  public var basis: String
  /// Weeks W−12 … W−1 as reported.
  public var weeks: [ReportedWeek]
  public var steps: [HoltStep]
  public var projection: Decimal
  public var sizeCap: Decimal?
  /// `site` or `county`: whose size estimate capped the projection.
  public var capSource: String?
  public var norm: Decimal?
  /// `site`, `county` or `national`, with the norm's date and source.
  public var normScope: String?
  public var normEffectiveFrom: CalendarDate?
  public var normSource: String?
  /// Weekly need before wastage.
  public var need: Decimal
}

/// A week of a population's series: what was reported (nil: no report).
public struct ReportedWeek: Sendable, Equatable {
  public var week: String
  public var value: Decimal?
}

/// Holt's level and trend after a week.
public struct HoltStep: Sendable, Equatable {
  public var week: String
  public var observed: Decimal?
  public var level: Decimal
  public var trend: Decimal
}

public struct ConsumptionWeek: Sendable, Equatable {
  public var week: String
  public var dispensed: Int64
  public var stockedOutDays: Int
  /// Days of the week not closed when the run was made (today and after, in the week that was running).
  public var unclosedDays: Int
  /// N = ⌈C × 7 / (7 − X − U)⌉; nil for a week with no day that closed with stock (no information).
  public var adjusted: Int64?
}

public struct BacktestOrigin: Sendable, Equatable {
  public var week: String
  /// The week's adjusted consumption N, which each method tried to forecast (nil: no information).
  public var actual: Int64?
  public var outreach: Int64?
  public var consumption: Int64?
  public var naive: Int64?
}

public struct SuppliedSite: Sendable, Equatable {
  public var siteCode: String
  public var need: Int64?
  public var ownNeed: Int64?
}

extension Forecast {
  public static func explain(_ store: Store, run id: Int64, site: String, commodity: String) throws
    -> ForecastExplanation
  {
    try store.run { connection in
      let run = try existingRun(connection, id)
      let site = site.trimmingCharacters(in: .whitespaces).uppercased()
      let commodity = commodity.trimmingCharacters(in: .whitespaces).uppercased()
      guard let line = try lines(connection, run: id, site: site, commodity: commodity).first else {
        throw FieldError(
          field: "site",
          problem: "run \(id) has no line for \(site) and \(commodity): `kpstock forecast show \(id)` lists its lines")
      }
      let settings = try settings(connection, run: id)
      return ForecastExplanation(
        run: run, line: line, settings: settings,
        populations: try populations(connection, run: id, site: site, commodity: commodity, settings: settings),
        consumptionWeeks: try consumptionWeeks(connection, run: id, site: site, commodity: commodity),
        backtest: try backtest(connection, run: id, site: site, commodity: commodity),
        supplied: try connection.query(
          """
          SELECT site_code, need, own_need FROM forecast_lines
          WHERE run_id = \(id) AND supplier_code = \(site) AND commodity_code = \(commodity) ORDER BY site_code
          """
        ).map { row in
          SuppliedSite(
            siteCode: try row.decode("site_code"), need: try row.decode("need"), ownNeed: try row.decode("own_need"))
        })
    }
  }

  static func settings(_ connection: Connection, run id: Int64) throws -> ForecastSettings {
    let row = try connection.query(
      """
      SELECT (settings ->> 'alpha')::numeric AS alpha, (settings ->> 'beta')::numeric AS beta,
        (settings ->> 'wastage_percent')::numeric AS wastage, (settings ->> 'tolerance_percent')::numeric AS tolerance,
        (settings ->> 'outreach_weeks')::integer AS outreach_weeks,
        (settings ->> 'consumption_weeks')::integer AS consumption_weeks
      FROM forecast_runs WHERE id = \(id)
      """)[0]
    return ForecastSettings(
      alpha: try row.decode("alpha"), beta: try row.decode("beta"), wastagePercent: try row.decode("wastage"),
      tolerancePercent: try row.decode("tolerance"), outreachWeeks: Int(try row.decode("outreach_weeks") as Int32),
      consumptionWeeks: Int(try row.decode("consumption_weeks") as Int32))
  }

  private static func populations(
    _ connection: Connection, run id: Int64, site: String, commodity: String, settings: ForecastSettings
  ) throws -> [PopulationPart] {
    let parts = try connection.query(
      """
      SELECT p.*, r.week FROM forecast_line_populations p JOIN forecast_runs r ON r.id = p.run_id
      WHERE p.run_id = \(id) AND p.site_code = \(site) AND p.commodity_code = \(commodity)
      ORDER BY p.population_code
      """)
    return try parts.map { row in
      let population: String = try row.decode("population_code")
      let target: CalendarDate = try row.decode("week")
      // The stored series, week by week with its label, and the smoothing over it with the run's α and β.
      let weeks = try connection.query(
        """
        SELECT iso_week_label(\(target) - 7 * (cardinality(p.series) + 1 - w.i)) AS week, p.series[w.i] AS value
        FROM forecast_line_populations p, generate_series(1, cardinality(p.series)) w (i)
        WHERE p.run_id = \(id) AND p.site_code = \(site) AND p.commodity_code = \(commodity)
          AND p.population_code = \(population)
        ORDER BY w.i
        """
      ).map { ReportedWeek(week: try $0.decode("week"), value: try $0.decode("value")) }
      let steps = try connection.query(
        """
        SELECT iso_week_label(\(target) - 7 * (cardinality(p.series) + 1 - s.step)) AS week, s.observed, s.level, s.trend
        FROM forecast_line_populations p,
          forecast_holt_steps(p.series, \(settings.alpha), \(settings.beta)) s
        WHERE p.run_id = \(id) AND p.site_code = \(site) AND p.commodity_code = \(commodity)
          AND p.population_code = \(population)
        ORDER BY s.step
        """
      ).map { step in
        HoltStep(
          week: try step.decode("week"), observed: try step.decode("observed"), level: try step.decode("level"),
          trend: try step.decode("trend"))
      }
      return PopulationPart(
        populationCode: population, basis: try row.decode("basis"), weeks: weeks, steps: steps,
        projection: try row.decode("projection"), sizeCap: try row.decode("size_cap"),
        capSource: try row.decode("cap_source"), norm: try row.decode("norm"), normScope: try row.decode("norm_scope"),
        normEffectiveFrom: try row.decode("norm_effective_from"), normSource: try row.decode("norm_source"),
        need: try row.decode("need"))
    }
  }

  private static func consumptionWeeks(_ connection: Connection, run id: Int64, site: String, commodity: String)
    throws -> [ConsumptionWeek]
  {
    try connection.query(
      """
      SELECT iso_week_label(r.week - 7 * (cardinality(l.dispensed) + 1 - w.i)) AS week, l.dispensed[w.i] AS dispensed,
        l.stocked_out_days[w.i] AS stocked_out_days, l.unclosed_days[w.i] AS unclosed_days, l.adjusted[w.i] AS adjusted
      FROM forecast_lines l JOIN forecast_runs r ON r.id = l.run_id, generate_series(1, cardinality(l.dispensed)) w (i)
      WHERE l.run_id = \(id) AND l.site_code = \(site) AND l.commodity_code = \(commodity)
      ORDER BY w.i
      """
    ).map { row in
      ConsumptionWeek(
        week: try row.decode("week"), dispensed: try row.decode("dispensed"),
        stockedOutDays: Int(try row.decode("stocked_out_days") as Int32),
        unclosedDays: Int(try row.decode("unclosed_days") as Int32), adjusted: try row.decode("adjusted"))
    }
  }

  private static func backtest(_ connection: Connection, run id: Int64, site: String, commodity: String) throws
    -> [BacktestOrigin]
  {
    try connection.query(
      """
      SELECT iso_week_label(r.week - 7 * (cardinality(l.backtest_naive) + 1 - o.i)) AS week,
        l.adjusted[cardinality(l.adjusted) - cardinality(l.backtest_naive) + o.i] AS actual,
        l.backtest_outreach[o.i] AS outreach, l.backtest_consumption[o.i] AS consumption, l.backtest_naive[o.i] AS naive
      FROM forecast_lines l JOIN forecast_runs r ON r.id = l.run_id,
        generate_series(1, cardinality(l.backtest_naive)) o (i)
      WHERE l.run_id = \(id) AND l.site_code = \(site) AND l.commodity_code = \(commodity)
      ORDER BY o.i
      """
    ).map { row in
      BacktestOrigin(
        week: try row.decode("week"), actual: try row.decode("actual"), outreach: try row.decode("outreach"),
        consumption: try row.decode("consumption"), naive: try row.decode("naive"))
    }
  }
}
