import Foundation
import Postgres

/// Units dispensed at a site to one population through one channel over the period's closed days.
public struct ConsumptionLine: Sendable, Equatable {
  public var siteCode: String
  public var commodityCode: String
  public var populationCode: String
  /// clinic or outreach.
  public var channel: String
  public var dispensed: Int64
  /// The period's days that have closed, and those of them the site had no usable stock of the commodity.
  public var closedDays: Int
  public var stockedOutDays: Int
  /// Dispensed scaled up for the stocked-out days as the forecast scales a week: nil when none closed with stock.
  public var adjusted: Int64?
}

/// A commodity's stock-outs over the period, across the sites of the scope.
public struct StockoutLine: Sendable, Equatable {
  public var commodityCode: String
  /// Sites holding a stock card for it, and those with at least one stocked-out day.
  public var sites: Int
  public var sitesAffected: Int
  public var closedDays: Int
  public var stockedOutSiteDays: Int
  /// The longest run of stocked-out days at one site, where and from when.
  public var longestSpell: Int
  public var longestSite: String?
  public var longestFrom: CalendarDate?
}

/// One coverage figure. Counts of people from 1 to 4 are withheld (`figureMark`/`baseMark` "<5"), and so are the
/// cells that would give them away ("suppressed"): the value is then nil.
public struct CoverageLine: Sendable, Equatable {
  /// per person per year, distributed vs need, or reached vs size.
  public var measure: String
  /// A population code, or ALL for the row of all populations.
  public var populationCode: String
  public var commodityCode: String?
  /// Units given (per person per year, distributed vs need) or people reached in an average week (reached vs size).
  public var figure: Int64?
  public var figureMark: String?
  /// The size estimate (per person per year, reached vs size) or the forecast's need (distributed vs need).
  public var base: Int64?
  public var baseMark: String?
  /// Units per person per year, or per cent of base.
  public var rate: Decimal?
  public var minimum: Decimal?
  public var target: Decimal?

  public static let measures: [(measure: String, meaning: String)] = [
    ("per person per year", "units given to the population per member of its size estimate, annualised"),
    ("distributed vs need", "units given against the forecast's need (before wastage) over the same days, %"),
    ("reached vs size", "people reached in an average week with reports against the size estimate, %"),
  ]

  /// Methadone's rows, from the MAT register: counts of clients, and the dose figures (rates).
  public static let methadoneMeasures: [(measure: String, meaning: String)] = [
    ("MAT clients on methadone", "on treatment at the period's end, no more than 5 doses missed in a row"),
    ("MAT new clients", "enrolled in the period"),
    ("MAT clients exited", "exits in the period"),
    ("MAT KP_MAT (6+ months)", "of the clients currently on methadone, %"),
    ("MAT mean dose, mg", "over the clients currently on methadone"),
    ("MAT share 60+ mg, %", "of the clients currently on methadone"),
  ]
}

/// An order made in the period: what was asked for, approved and received, and how long it took.
public struct OrderReportLine: Sendable, Equatable {
  public var orderID: Int64
  public var siteCode: String
  public var supplier: String
  public var status: String
  public var madeOn: CalendarDate
  public var lines: Int
  public var ordered: Int64
  public var approved: Int64
  public var received: Int64?
  /// Received ÷ ordered, per cent; nil until received.
  public var fillRate: Decimal?
  public var receivedOn: CalendarDate?
  public var leadDays: Int?
  public var plannedLeadDays: Int?
  public var shortfall: Int64
}

/// One site and commodity of the F-CDRR (MOH 739C), in base units.
public struct FCDRRLine: Sendable, Equatable {
  public var siteCode: String
  public var commodityCode: String
  /// A to F: beginning balance, received, issued, losses and wastage, positive and negative adjustments.
  public var beginningBalance: Int64
  public var received: Int64
  public var issued: Int64
  public var losses: Int64
  public var positiveAdjustments: Int64
  public var negativeAdjustments: Int64
  /// A + B − C − D + E − F: the books' balance at the close of the month.
  public var closingBalance: Int64
  /// G: the last count of the month, else the closing balance; `physicalCountSource` says which.
  public var physicalCount: Int64
  public var physicalCountSource: String
  /// H: what expires within 6 months of the month's end, and the earliest such expiry.
  public var expiringWithin6Months: Int64
  public var earliestExpiry: CalendarDate?
  /// I.
  public var daysOutOfStock: Int
  /// The quantity asked for in the latest order made by the month's end.
  public var requested: Int64?
}

/// A loss or adjustment behind the F-CDRR's columns D, E and F.
public struct FCDRRExplanation: Sendable, Equatable {
  public var siteCode: String
  public var commodityCode: String
  public var occurredOn: CalendarDate
  public var column: String
  public var quantity: Int64
  public var reason: String?
  public var note: String?
}

/// A commodity's week: units dispensed over the scope (closed days) and the forecast's need for that week.
public struct WeeklyConsumption: Sendable, Equatable {
  public var commodityCode: String
  public var week: CalendarDate
  public var dispensed: Int64?
  public var stockedOutDays: Int64?
  public var need: Int64?
}

extension Reports {
  public static func consumption(_ store: Store, _ window: ReportWindow) throws -> [ConsumptionLine] {
    try store.run { try consumption($0, window) }
  }

  static func consumption(_ connection: Connection, _ window: ReportWindow) throws -> [ConsumptionLine] {
    try connection.query(
      """
      SELECT * FROM report_consumption(\(window.siteArray), \(window.period.firstDay), \(window.period.lastDay))
      """
    ).map { row in
      ConsumptionLine(
        siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
        populationCode: try row.decode("population_code"), channel: try row.decode("channel"),
        dispensed: try row.decode("dispensed"), closedDays: Int(try row.decode("closed_days") as Int32),
        stockedOutDays: Int(try row.decode("stocked_out_days") as Int32), adjusted: try row.decode("adjusted"))
    }
  }

  public static func stockouts(_ store: Store, _ window: ReportWindow) throws -> [StockoutLine] {
    try store.run { try stockouts($0, window) }
  }

  static func stockouts(_ connection: Connection, _ window: ReportWindow) throws -> [StockoutLine] {
    try connection.query(
      "SELECT * FROM report_stockouts(\(window.siteArray), \(window.period.firstDay), \(window.period.lastDay))"
    ).map { row in
      StockoutLine(
        commodityCode: try row.decode("commodity_code"), sites: Int(try row.decode("sites") as Int32),
        sitesAffected: Int(try row.decode("sites_affected") as Int32),
        closedDays: Int(try row.decode("closed_days") as Int32),
        stockedOutSiteDays: Int(try row.decode("stocked_out_site_days") as Int32),
        longestSpell: Int(try row.decode("longest_spell") as Int32), longestSite: try row.decode("longest_site"),
        longestFrom: try row.decode("longest_from"))
    }
  }

  /// `suppress: false` shows small numbers, which only the database owner may ask (the SQL refuses anyone else).
  public static func coverage(_ store: Store, _ window: ReportWindow, suppress: Bool = true) throws -> [CoverageLine] {
    try store.run { try coverage($0, window, suppress: suppress) }
  }

  static func coverage(_ connection: Connection, _ window: ReportWindow, suppress: Bool = true) throws
    -> [CoverageLine]
  {
    try connection.query(
      """
      SELECT * FROM report_coverage(\(window.siteArray), \(window.period.firstDay), \(window.period.lastDay),
        \(window.scope.coversWholeCounties), \(suppress))
      """
    ).map { row in
      CoverageLine(
        measure: try row.decode("measure"), populationCode: try row.decode("population_code"),
        commodityCode: try row.decode("commodity_code"), figure: try row.decode("figure"),
        figureMark: try row.decode("figure_mark"), base: try row.decode("base"), baseMark: try row.decode("base_mark"),
        rate: try row.decode("rate"), minimum: try row.decode("minimum"), target: try row.decode("target"))
    }
  }

  public static func orders(_ store: Store, _ window: ReportWindow) throws -> [OrderReportLine] {
    try store.run { try orders($0, window) }
  }

  static func orders(_ connection: Connection, _ window: ReportWindow) throws -> [OrderReportLine] {
    try connection.query(
      "SELECT * FROM report_orders(\(window.siteArray), \(window.period.firstDay), \(window.period.lastDay))"
    ).map { row in
      OrderReportLine(
        orderID: try row.decode("order_id"), siteCode: try row.decode("site_code"),
        supplier: try row.decode("supplier"), status: try row.decode("status"), madeOn: try row.decode("made_on"),
        lines: Int(try row.decode("lines") as Int32), ordered: try row.decode("ordered"),
        approved: try row.decode("approved"), received: try row.decode("received"),
        fillRate: try row.decode("fill_rate"), receivedOn: try row.decode("received_on"),
        leadDays: (try row.decode("lead_days") as Int32?).map(Int.init),
        plannedLeadDays: (try row.decode("planned_lead_days") as Int32?).map(Int.init),
        shortfall: try row.decode("shortfall"))
    }
  }

  /// The F-CDRR of a month: refuses a period that is not a month.
  public static func fcdrr(_ store: Store, _ window: ReportWindow) throws -> (
    lines: [FCDRRLine], explanations: [FCDRRExplanation]
  ) {
    try store.run { try fcdrr($0, window) }
  }

  static func fcdrr(_ connection: Connection, _ window: ReportWindow) throws -> (
    lines: [FCDRRLine], explanations: [FCDRRExplanation]
  ) {
    guard window.period.kind == "month" else {
      throw FieldError(
        field: "period", problem: "the F-CDRR is monthly: give a month (2026-11), not \(window.period.label)")
    }
    let (first, last) = (window.period.firstDay, window.period.lastDay)
    let lines = try connection.query("SELECT * FROM report_fcdrr(\(window.siteArray), \(first), \(last))").map {
      row in
      FCDRRLine(
        siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
        beginningBalance: try row.decode("beginning_balance"), received: try row.decode("received"),
        issued: try row.decode("issued"), losses: try row.decode("losses"),
        positiveAdjustments: try row.decode("positive_adjustments"),
        negativeAdjustments: try row.decode("negative_adjustments"), closingBalance: try row.decode("closing_balance"),
        physicalCount: try row.decode("physical_count"), physicalCountSource: try row.decode("physical_count_source"),
        expiringWithin6Months: try row.decode("expiring_6_months"), earliestExpiry: try row.decode("earliest_expiry"),
        daysOutOfStock: Int(try row.decode("days_out_of_stock") as Int32), requested: try row.decode("requested"))
    }
    let explanations = try connection.query(
      "SELECT * FROM report_fcdrr_explanations(\(window.siteArray), \(first), \(last))"
    ).map { row in
      FCDRRExplanation(
        siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
        occurredOn: try row.decode("occurred_on"), column: try row.decode("fcdrr_column"),
        quantity: try row.decode("quantity"), reason: try row.decode("reason"), note: try row.decode("note"))
    }
    return (lines, explanations)
  }

  public static func weeklyConsumption(_ store: Store, _ window: ReportWindow) throws -> [WeeklyConsumption] {
    try store.run { try weeklyConsumption($0, window) }
  }

  static func weeklyConsumption(_ connection: Connection, _ window: ReportWindow) throws -> [WeeklyConsumption] {
    try connection.query(
      """
      SELECT * FROM report_weekly_consumption(\(window.siteArray), \(window.period.firstDay),
        \(window.period.lastDay))
      """
    ).map { row in
      WeeklyConsumption(
        commodityCode: try row.decode("commodity_code"), week: try row.decode("week"),
        dispensed: try row.decode("dispensed"), stockedOutDays: try row.decode("stocked_out_days"),
        need: try row.decode("need"))
    }
  }
}
