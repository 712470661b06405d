import Foundation
import Postgres

/// A part of a report document: each report is one, the county pack is all of them.
public enum ReportPart: String, Sendable, CaseIterable {
  case stockStatus = "stock-status"
  case consumption, coverage, stockouts, expiry, orders, fcdrr
}

extension ReportPart {
  /// The parts of a report that apply to a period: the F-CDRR is monthly, so a pack of another period leaves it out
  /// (asked for alone, the period is refused).
  static func parts(_ parts: [ReportPart], for period: ReportPeriod) -> [ReportPart] {
    parts.count > 1 && period.kind != "month" ? parts.filter { $0 != .fcdrr } : parts
  }
}

/// What a report shows for one scope and period, read in one snapshot so that its parts agree. Parts not asked for
/// are empty.
public struct ReportDocument: Sendable {
  public var window: ReportWindow
  public var parts: [ReportPart]
  public var stockStatus: [StockStatusLine] = []
  public var expiry: [ExpiryLine] = []
  /// Days ahead the expiry part looks.
  public var expiryDays = 90
  public var consumption: [ConsumptionLine] = []
  public var weeklyConsumption: [WeeklyConsumption] = []
  public var coverage: [CoverageLine] = []
  public var stockouts: [StockoutLine] = []
  public var orders: [OrderReportLine] = []
  public var fcdrr: [FCDRRLine] = []
  public var fcdrrExplanations: [FCDRRExplanation] = []

  /// Whether counts of people from 1 to 4 are withheld.
  public var suppressed = true
}

extension Reports {
  /// Loads the parts of a report that apply to its period (ReportPart.parts).
  public static func document(
    _ store: Store, _ window: ReportWindow, parts: [ReportPart], expiryDays: Int = 90, suppress: Bool = true
  ) throws -> ReportDocument {
    try store.run { connection in
      if parts.contains(.consumption) {
        // The weekly series reads stock_weeks: its closed weeks are kept first, as a forecast run keeps them, so that
        // the next report (or forecast) of these sites reads them instead of computing them. Keeping happens only
        // in read committed, and never waits: it does nothing while another keeper is at work.
        let (first, last) = (window.period.firstDay, window.period.lastDay)
        try connection.query(
          """
          SELECT stock_weeks_keep(\(first) - (extract(isodow FROM \(first))::integer - 1),
            \(last) - (extract(isodow FROM \(last))::integer - 1), \(window.siteArray))
          """)
      }
      return try connection.transaction(isolation: .repeatableRead) { connection in
        let parts = ReportPart.parts(parts, for: window.period)
        var document = ReportDocument(window: window, parts: parts, expiryDays: expiryDays, suppressed: suppress)
        for part in parts {
          switch part {
          case .stockStatus: document.stockStatus = try stockStatus(connection, window)
          case .expiry: document.expiry = try expiry(connection, window, days: expiryDays)
          case .consumption:
            document.consumption = try consumption(connection, window)
            document.weeklyConsumption = try weeklyConsumption(connection, window)
          case .coverage: document.coverage = try coverage(connection, window, suppress: suppress)
          case .stockouts: document.stockouts = try stockouts(connection, window)
          case .orders: document.orders = try orders(connection, window)
          case .fcdrr: (document.fcdrr, document.fcdrrExplanations) = try fcdrr(connection, window)
          }
        }
        return document
      }
    }
  }
}
