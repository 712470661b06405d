import Foundation
import Postgres

/// A reporting period (Schema/functions/95_reports.sql, `report_period`): an ISO week, a month, a quarter or a year.
public struct ReportPeriod: Sendable, Equatable {
  public var kind: String
  public var firstDay: CalendarDate
  public var lastDay: CalendarDate
  /// As kpstock writes it (2026-W47, 2026-11, 2026-Q4, 2026), and as DHIS2 does (2026W47, 202611, 2026Q4, 2026).
  public var label: String
  public var dhis2: String
}

/// What a report covers: a county, a sub-county (its name, or COUNTY/NAME), one site, or the whole programme.
public enum ReportScope: Sendable, Equatable {
  case county(String)
  case subCounty(String)
  case site(String)
  case national

  var county: String? { if case .county(let code) = self { code } else { nil } }
  var subCounty: String? { if case .subCounty(let name) = self { name } else { nil } }
  var site: String? { if case .site(let code) = self { code } else { nil } }
  /// A county or the whole programme: a county's own size estimate stands for its sites.
  var coversWholeCounties: Bool {
    switch self {
    case .county, .national: true
    case .subCounty, .site: false
    }
  }
}

/// The sites and days a report reads.
public struct ReportWindow: Sendable, Equatable {
  public var scope: ReportScope
  /// What the scope is, for a title: "Kwale county (002)", "Matuga sub-county (002)", "site DICE-UKUNDA", "all sites".
  public var scopeTitle: String
  public var period: ReportPeriod
  /// The day a snapshot (stock status, expiry) is taken at: the period's last day, or today while it runs.
  public var day: CalendarDate
  /// Sites open at some time in the period.
  public var sites: [String]
  /// Today, in the programme's time zone: figures count the days that have closed.
  public var today: CalendarDate

  var siteArray: PostgresArray<String> { PostgresArray(sites) }
}

/// The county reports, computed by the functions of Schema/functions/95_reports.sql: every figure has one SQL
/// definition, which every report and format reads.
public enum Reports {
  /// Which period a report covers when none is given.
  public enum DefaultPeriod: Sendable {
    /// The month that is running (a snapshot is then taken today).
    case runningMonth
    /// The last month that has ended: the one a monthly form is filed for.
    case lastMonth
  }

  public static func period(_ store: Store, _ text: String) throws -> ReportPeriod {
    try store.run { try period($0, text) }
  }

  static func period(_ connection: Connection, _ text: String) throws -> ReportPeriod {
    let row = try connection.query("SELECT * FROM report_period(\(text))")[0]
    return ReportPeriod(
      kind: try row.decode("kind"), firstDay: try row.decode("first_day"), lastDay: try row.decode("last_day"),
      label: try row.decode("label"), dhis2: try row.decode("dhis2"))
  }

  /// The window of a report: its period (typed, or the default), the snapshot day, and the sites of the scope open
  /// in the period. Refuses a malformed or future period, and an unknown county, sub-county or site.
  public static func window(_ store: Store, scope: ReportScope, period text: String?, default: DefaultPeriod)
    throws -> ReportWindow
  {
    try store.run { try window($0, scope: scope, period: text, default: `default`) }
  }

  static func window(_ connection: Connection, scope: ReportScope, period text: String?, default: DefaultPeriod)
    throws -> ReportWindow
  {
    let today = try ProgrammeCalendar.today(connection)
    let typed =
      text
      ?? {
        switch `default` {
        case .runningMonth: return String(today.description.prefix(7))
        case .lastMonth: return String(today.adding(days: -today.day).description.prefix(7))
        }
      }()
    let period = try period(connection, typed)
    let day = min(period.lastDay, today)
    let sites = try connection.query(
      """
      SELECT report_sites(\(scope.county)::char(3), \(scope.subCounty), \(scope.site), \(period.firstDay),
        \(period.lastDay)) AS code
      """
    ).map { try $0.decode("code") as String }
    let title: String
    switch scope {
    case .county(let code):
      let name: String = try connection.query("SELECT name FROM counties WHERE code = \(code)::char(3)")[0]
        .decode("name")
      title = "\(name) county (\(code))"
    case .subCounty(let typed):
      let row = try connection.query("SELECT * FROM report_sub_county(\(typed))")[0]
      title = "\(try row.decode("name") as String) sub-county (\(try row.decode("county_code") as String))"
    case .site(let code): title = "site \(code)"
    case .national: title = "all sites"
    }
    return ReportWindow(scope: scope, scopeTitle: title, period: period, day: day, sites: sites, today: today)
  }
}
