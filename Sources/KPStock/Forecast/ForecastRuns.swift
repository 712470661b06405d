import Foundation
import Postgres

/// A stored forecast run: the target week, its scope, and who made it when, with a count of its lines.
public struct ForecastRun: Sendable, Equatable {
  public var id: Int64
  /// The target week, written 2026-W49, and its Monday.
  public var week: String
  public var weekStart: CalendarDate
  /// The scope: a county, a site, or neither (national).
  public var countyCode: String?
  public var siteCode: String?
  public var madeOn: CalendarDate
  public var madeAt: Date
  public var madeBy: String
  public var lines: Int
  /// Lines whose own need no method could give.
  public var unknownLines: Int
  /// Lines with at least one flag.
  public var flaggedLines: Int

  public var scope: String {
    if let siteCode { return "site \(siteCode)" }
    if let countyCode { return "county \(countyCode)" }
    return "national"
  }
}

/// One commodity's lines in a run, summed: what `forecast run` prints.
public struct ForecastCommoditySummary: Sendable, Equatable {
  public var commodityCode: String
  public var sites: Int
  /// The sum of the known own needs.
  public var ownNeedTotal: Int64
  public var unknown: Int
  public var flagged: Int
}

/// The weekly forecast (../shared/domain.md, "Forecast of weekly need"), computed and stored by `forecast_run` in
/// Schema/functions/81_forecast_run.sql; this type checks what the user typed, words what SQL refused, and reads runs
/// back.
public enum Forecast {
  /// Computes and stores a run for `week` (an ISO week as typed, 2026-W49; default the week after today) over a county,
  /// a site or, with neither, the whole programme. `forecast_run` refuses what cannot be forecast.
  public static func run(_ store: Store, week: String? = nil, county: String? = nil, site: String? = nil) throws
    -> ForecastRun
  {
    try store.run { connection in
      try connection.transaction { connection in
        let county = county.map { $0.trimmingCharacters(in: .whitespaces) }
        let site = site.map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
        let target = try week.map { try ISOWeeks.start(connection, $0, field: "week") }
        let id: Int64 = try connection.query(
          "SELECT forecast_run(\(target)::date, \(county)::char(3), \(site)) AS id")[0].decode("id")
        return try runs(connection, id: id)[0]
      }
    }
  }

  /// Stored runs, newest first; `week` (as typed) keeps one week's.
  public static func runs(_ store: Store, week: String? = nil) throws -> [ForecastRun] {
    try store.run { connection in
      let start = try week.map { try ISOWeeks.start(connection, $0, field: "week") }
      return try runs(connection, week: start)
    }
  }

  /// A run's lines summed per commodity.
  public static func summary(_ store: Store, run id: Int64) throws -> [ForecastCommoditySummary] {
    try store.run { connection in
      _ = try existingRun(connection, id)
      return try connection.query(
        """
        SELECT commodity_code, count(*)::integer AS sites, coalesce(sum(own_need), 0)::bigint AS own_need_total,
          (count(*) FILTER (WHERE own_need IS NULL))::integer AS unknown,
          (count(*) FILTER (WHERE cardinality(flags) > 0))::integer AS flagged
        FROM forecast_lines WHERE run_id = \(id) GROUP BY commodity_code ORDER BY commodity_code
        """
      ).map { row in
        ForecastCommoditySummary(
          commodityCode: try row.decode("commodity_code"), sites: Int(try row.decode("sites") as Int32),
          ownNeedTotal: try row.decode("own_need_total"), unknown: Int(try row.decode("unknown") as Int32),
          flagged: Int(try row.decode("flagged") as Int32))
      }
    }
  }

  static func runs(_ connection: Connection, id: Int64? = nil, week: CalendarDate? = nil) throws -> [ForecastRun] {
    // Each run's lines are counted through the lines' key (run first), not by reading every run's lines.
    try connection.query(
      """
      SELECT r.id, iso_week_label(r.week) AS label, r.week, r.county_code::text AS county_code, r.site_code, r.made_on,
        r.made_at, r.made_by, c.lines, c.unknown_lines, c.flagged_lines
      FROM forecast_runs r
      CROSS JOIN LATERAL (
        SELECT count(*)::integer AS lines, (count(*) FILTER (WHERE l.own_need IS NULL))::integer AS unknown_lines,
          (count(*) FILTER (WHERE cardinality(l.flags) > 0))::integer AS flagged_lines
        FROM forecast_lines l WHERE l.run_id = r.id
      ) c
      WHERE (\(id)::bigint IS NULL OR r.id = \(id)) AND (\(week)::date IS NULL OR r.week = \(week))
      ORDER BY r.id DESC
      """
    ).map { row in
      ForecastRun(
        id: try row.decode("id"), week: try row.decode("label"), weekStart: try row.decode("week"),
        countyCode: try row.decode("county_code"), siteCode: try row.decode("site_code"),
        madeOn: try row.decode("made_on"), madeAt: try row.decode("made_at"), madeBy: try row.decode("made_by"),
        lines: Int(try row.decode("lines") as Int32), unknownLines: Int(try row.decode("unknown_lines") as Int32),
        flaggedLines: Int(try row.decode("flagged_lines") as Int32))
    }
  }

  /// The run a user named, or a one-line refusal.
  static func existingRun(_ connection: Connection, _ id: Int64) throws -> ForecastRun {
    guard let run = try runs(connection, id: id).first else {
      throw FieldError(field: "RUN", problem: "no forecast run \(id): `kpstock forecast list` shows the runs")
    }
    return run
  }
}
