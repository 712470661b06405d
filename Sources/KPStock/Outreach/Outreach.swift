import Foundation
import Postgres

/// One week's report of people reached at a site, for a population, as recorded (per peer educator and hotspot when
/// the report named them).
public struct ReachReport: Sendable, Equatable {
  public var siteCode: String
  /// The ISO week, written 2026-W47.
  public var week: String
  public var populationCode: String
  public var workerCode: String?
  public var hotspot: String?
  public var reached: Int
  public var newEnrolments: Int
  /// How many earlier versions of this row corrections replaced.
  public var corrections: Int
}

/// People in a population in a site's or a county's area in a year, and where the figure comes from.
public struct SizeEstimate: Sendable, Equatable {
  /// A site code or a county code.
  public var area: String
  public var areaKind: String
  public var populationCode: String
  public var year: Int
  public var size: Int
  public var source: String
}

/// Reads what peer educators reported and the size estimates.
public enum Outreach {
  /// Reach reports, by site, week and population; `fromWeek` and `toWeek` are ISO weeks as typed (2026-W47).
  public static func reach(
    _ store: Store, site: String? = nil, county: String? = nil, fromWeek: String? = nil, toWeek: String? = nil
  ) throws -> [ReachReport] {
    try store.run { connection in
      let from = try fromWeek.map { try ISOWeeks.start(connection, $0, field: "from-week") }
      let to = try toWeek.map { try ISOWeeks.start(connection, $0, field: "to-week") }
      if let from, let to, from > to {
        throw FieldError(
          field: "from-week", problem: "\(fromWeek ?? "") comes after the last week asked for, \(toWeek ?? "")")
      }
      let site = site.map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
      let county = county.map { $0.trimmingCharacters(in: .whitespaces) }
      return try connection.query(
        """
        SELECT r.site_code, iso_week_label(r.week) AS week, r.population_code, nullif(r.worker_code, '') AS worker,
          nullif(r.hotspot, '') AS hotspot, r.reached, r.new_enrolments,
          (SELECT count(*) FROM outreach_reach_replaced h WHERE h.site_code = r.site_code AND h.week = r.week
            AND h.population_code = r.population_code AND h.worker_code = r.worker_code
            AND h.hotspot = r.hotspot)::integer AS corrections
        FROM outreach_reach r JOIN sites s ON s.code = r.site_code
        WHERE (\(site)::text IS NULL OR r.site_code = \(site)) AND (\(county)::text IS NULL OR s.county_code = \(county))
          AND (\(from)::date IS NULL OR r.week >= \(from)) AND (\(to)::date IS NULL OR r.week <= \(to))
        ORDER BY r.site_code, r.week, r.population_code, r.worker_code, r.hotspot
        """
      ).map { row in
        ReachReport(
          siteCode: try row.decode("site_code"), week: try row.decode("week"),
          populationCode: try row.decode("population_code"), workerCode: try row.decode("worker"),
          hotspot: try row.decode("hotspot"), reached: Int(try row.decode("reached") as Int32),
          newEnrolments: Int(try row.decode("new_enrolments") as Int32),
          corrections: Int(try row.decode("corrections") as Int32))
      }
    }
  }

  /// Size estimates, by area, population and year.
  public static func sizeEstimates(_ store: Store, population: String? = nil) throws -> [SizeEstimate] {
    let population = population.map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
    return try store.run { connection in
      try connection.query(
        """
        SELECT coalesce(site_code, county_code::text) AS area, CASE WHEN site_code IS NULL THEN 'county' ELSE 'site' END
          AS area_kind, population_code, year, size, source
        FROM size_estimates WHERE \(population)::text IS NULL OR population_code = \(population)
        ORDER BY area_kind, area, population_code, year
        """
      ).map { row in
        SizeEstimate(
          area: try row.decode("area"), areaKind: try row.decode("area_kind"),
          populationCode: try row.decode("population_code"), year: Int(try row.decode("year") as Int32),
          size: Int(try row.decode("size") as Int32), source: try row.decode("source"))
      }
    }
  }
}
