import Foundation
import Postgres

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

extension Reports {
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

  /// Lots on hand at the close of the window's day that expire within `days` of it, or have expired.
  public static func expiry(_ store: Store, _ window: ReportWindow, days: Int = 90) throws -> [ExpiryLine] {
    try store.run { try expiry($0, window, days: days) }
  }

  static func expiry(_ connection: Connection, _ window: ReportWindow, days: Int = 90) throws -> [ExpiryLine] {
    try connection.query(
      "SELECT * FROM report_expiry(\(window.siteArray), \(window.day), \(days)::integer)"
    ).map { row in
      ExpiryLine(
        siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
        lotCode: try row.decode("lot_code"), expiresOn: try row.decode("expires_on"),
        daysLeft: Int(try row.decode("days_left") as Int32), quantity: try row.decode("quantity"),
        need: try row.decode("need"), weeksOfNeed: try row.decode("weeks_of_need"))
    }
  }

  /// Stock status at the close of the window's day.
  public static func stockStatus(_ store: Store, _ window: ReportWindow) throws -> [StockStatusLine] {
    try store.run { try stockStatus($0, window) }
  }

  static func stockStatus(_ connection: Connection, _ window: ReportWindow) throws -> [StockStatusLine] {
    try connection.query("SELECT * FROM report_stock_status(\(window.siteArray), \(window.day))").map { row in
      StockStatusLine(
        siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
        usableOnHand: try row.decode("usable_on_hand"), inTransit: try row.decode("in_transit"),
        need: try row.decode("need"), weeksOfStock: try row.decode("weeks_of_stock"),
        status: try row.decode("status"), expiringWithin90Days: try row.decode("expiring_90_days"))
    }
  }
}
