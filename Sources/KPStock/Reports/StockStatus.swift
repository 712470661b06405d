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

/// What a report covers: a county, one site, or the whole programme.
public enum ReportScope: Sendable, Equatable {
  case county(String)
  case site(String)
  case national

  var county: String? { if case .county(let code) = self { code } else { nil } }
  var site: String? { if case .site(let code) = self { code } else { nil } }
}

/// One site and commodity in the stock-status report.
public struct StockStatusLine: Sendable, Equatable {
  public var siteCode: String
  public var commodityCode: String
  public var usableOnHand: Int64
  public var inTransit: Int64
  /// The echelon weekly need in the latest forecast run that covers the site; nil when none gives one.
  public var need: Int64?
  public var weeksOfStock: Decimal?
  /// stocked out, below EOP, below min, OK, above max, unknown need, or no levels.
  public var status: String
  public var expiringWithin90Days: Int64
}

/// A lot on hand that expires soon, or has expired and is still on the shelf.
public struct ExpiryLine: Sendable, Equatable {
  public var siteCode: String
  public var commodityCode: String
  public var lotCode: String
  public var expiresOn: CalendarDate
  /// Negative once expired.
  public var daysLeft: Int
  public var quantity: Int64
  public var need: Int64?
  /// The weeks of the site's need the lot would cover.
  public var weeksOfNeed: Decimal?
}

/// The county reports, computed by the functions of Schema/functions/95_reports.sql.
public enum Reports {
  /// The statuses of the stock-status report, worst first, with what each means.
  public static let stockStatuses: [(status: String, meaning: String)] = [
    ("stocked out", "no usable stock"),
    ("below EOP", "below the emergency order point: order now"),
    ("below min", "below min (lead time + safety stock)"),
    ("OK", "between min and max"),
    ("above max", "above max (min + review period)"),
    ("unknown need", "no forecast run gives a need"),
    ("no levels", "no supply line supplies the site"),
  ]

  public static func period(_ store: Store, _ text: String) throws -> ReportPeriod {
    try store.run { try period($0, text) }
  }

  static func period(_ connection: Connection, _ text: String) throws -> ReportPeriod {
    let row = try connection.query("SELECT * FROM report_period(\(text))")[0]
    return ReportPeriod(
      kind: try row.decode("kind"), firstDay: try row.decode("first_day"), lastDay: try row.decode("last_day"),
      label: try row.decode("label"), dhis2: try row.decode("dhis2"))
  }

  /// Lots expiring within `days` of the close of the period's last day (today while it runs; nil: today).
  public static func expiry(_ store: Store, scope: ReportScope, period text: String? = nil, days: Int = 90) throws
    -> (day: CalendarDate, lines: [ExpiryLine])
  {
    try store.run { connection in
      let day = try reportDay(connection, text)
      let lines = try connection.query(
        """
        SELECT * FROM report_expiry(
          ARRAY(SELECT report_sites(\(scope.county)::char(3), \(scope.site), \(day), \(day))), \(day), \(days)::integer)
        """
      ).map { row in
        ExpiryLine(
          siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
          lotCode: try row.decode("lot_code"), expiresOn: try row.decode("expires_on"),
          daysLeft: Int(try row.decode("days_left") as Int32), quantity: try row.decode("quantity"),
          need: try row.decode("need"), weeksOfNeed: try row.decode("weeks_of_need"))
      }
      return (day, lines)
    }
  }

  /// The day a snapshot report is taken at: the period's last day, or today while it runs (nil: today).
  static func reportDay(_ connection: Connection, _ text: String?) throws -> CalendarDate {
    let today = try ProgrammeCalendar.today(connection)
    return try text.map { text in min(try period(connection, text).lastDay, today) } ?? today
  }

  /// Stock status at the close of the period's last day (today, for a period that is running; nil: today).
  public static func stockStatus(_ store: Store, scope: ReportScope, period text: String? = nil) throws
    -> (day: CalendarDate, lines: [StockStatusLine])
  {
    try store.run { connection in
      let day = try reportDay(connection, text)
      let lines = try connection.query(
        """
        SELECT * FROM report_stock_status(
          ARRAY(SELECT report_sites(\(scope.county)::char(3), \(scope.site), \(day), \(day))), \(day))
        """
      ).map { row in
        StockStatusLine(
          siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
          usableOnHand: try row.decode("usable_on_hand"), inTransit: try row.decode("in_transit"),
          need: try row.decode("need"), weeksOfStock: try row.decode("weeks_of_stock"),
          status: try row.decode("status"), expiringWithin90Days: try row.decode("expiring_90_days"))
      }
      return (day, lines)
    }
  }
}
