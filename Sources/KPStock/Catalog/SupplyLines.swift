import Foundation
import Postgres

/// Who supplies a site with a category of commodities, and the max–min rules for re-ordering.
public struct SupplyLine: Sendable, Equatable {
  public var siteCode: String
  public var category: String
  /// The supplying site, or nil when the supplier is outside the programme (`externalSupplier`).
  public var supplierCode: String?
  /// The national medical store (KEMSA in Kenya) or another supplier outside the programme: a county store's orders
  /// to it are requisitions.
  public var externalSupplier: String? = nil
  public var leadTimeDays: Int
  public var reviewPeriodDays: Int
  public var safetyStockWeeks: Decimal
  /// `forced`, `standard` or `continuous` max–min (USAID|DELIVER Logistics Handbook §4.5).
  public var variant: String
  public var emergencyOrderPointWeeks: Decimal
}

public enum SupplyLineInput {
  public static let requiredColumns = ["site", "category"]
  /// A line names a supplying site or an external supplier, not both.
  public static let optionalColumns = [
    "supplier", "external_supplier", "lead_time_days", "review_period_days", "safety_stock_weeks", "variant",
    "emergency_order_point_weeks",
  ]
  public static let variants = ["forced", "standard", "continuous"]

  /// Defaults for a new line: weekly forced ordering, one week's lead time and safety stock, EOP one week.
  static let defaults = (
    leadTimeDays: 7, reviewPeriodDays: 7, safetyStockWeeks: Decimal(1), variant: "forced",
    emergencyOrderPointWeeks: Decimal(1)
  )

  public static func supplyLine(_ input: InputValues, reference: ReferenceData, existing: SupplyLine? = nil)
    throws(FieldError) -> SupplyLine
  {
    let site = try input.required("site", current: existing?.siteCode) { text throws(FieldError) in
      try reference.sites.resolve(text, field: "site")
    }
    let category = try input.required("category", current: existing?.category) { text throws(FieldError) in
      try reference.category(text, field: "category")
    }
    let supplier = try input.optional("supplier", current: existing?.supplierCode) { text throws(FieldError) in
      try reference.sites.resolve(text, field: "supplier")
    }
    let external = try input.optional("external_supplier", current: existing?.externalSupplier) {
      text throws(FieldError) in
      try FieldParsing.requiredText(text, field: "external_supplier", maxLength: 100)
    }
    // A supplier of one kind given replaces one of the other kind.
    func given(_ column: String) -> Bool {
      !(input[column] ?? "").trimmingCharacters(in: .whitespaces).isEmpty
    }
    guard !(given("supplier") && given("external_supplier")) else {
      throw FieldError(field: "external_supplier", problem: "give a supplying site or an external supplier, not both")
    }
    let suppliers: (site: String?, external: String?) =
      given("supplier") ? (supplier, nil) : given("external_supplier") ? (nil, external) : (supplier, external)
    guard suppliers.site != nil || suppliers.external != nil else {
      throw FieldError(field: "supplier", problem: "is required (a supplying site, or an external supplier)")
    }
    guard suppliers.site != site else {
      throw FieldError(field: "supplier", problem: "\(site) cannot supply itself")
    }
    func days(_ column: String, _ current: Int?, _ fallback: Int, lowest: Int) throws(FieldError) -> Int {
      try input.optional(column, current: current ?? fallback) { text throws(FieldError) in
        try FieldParsing.integer(text, field: column, range: lowest...365)
      } ?? fallback
    }
    func weeks(_ column: String, _ current: Decimal?, _ fallback: Decimal) throws(FieldError) -> Decimal {
      try input.optional(column, current: current ?? fallback) { text throws(FieldError) in
        try FieldParsing.decimal(text, field: column, range: 0...52, maxFractionDigits: 2)
      } ?? fallback
    }
    return SupplyLine(
      siteCode: site, category: category, supplierCode: suppliers.site, externalSupplier: suppliers.external,
      leadTimeDays: try days("lead_time_days", existing?.leadTimeDays, defaults.leadTimeDays, lowest: 0),
      reviewPeriodDays: try days(
        "review_period_days", existing?.reviewPeriodDays, defaults.reviewPeriodDays, lowest: 1),
      safetyStockWeeks: try weeks("safety_stock_weeks", existing?.safetyStockWeeks, defaults.safetyStockWeeks),
      variant: try input.optional("variant", current: existing?.variant ?? defaults.variant) {
        text throws(FieldError) in
        try FieldParsing.choice(text, field: "variant", noun: "max-min variant", from: variants)
      } ?? defaults.variant,
      emergencyOrderPointWeeks: try weeks(
        "emergency_order_point_weeks", existing?.emergencyOrderPointWeeks, defaults.emergencyOrderPointWeeks))
  }
}

public struct SupplyLineFilter: Sendable {
  public var siteCode: String?
  public var supplierCode: String?
  public var countyCode: String?
  public var category: String?

  public init(siteCode: String? = nil, supplierCode: String? = nil, countyCode: String? = nil, category: String? = nil)
  {
    self.siteCode = siteCode
    self.supplierCode = supplierCode
    self.countyCode = countyCode
    self.category = category
  }
}

/// Reads and writes `supply_lines`.
public enum SupplyLineCatalog {
  public static func list(_ store: Store, filter: SupplyLineFilter = SupplyLineFilter()) throws -> [SupplyLine] {
    try store.run { try list($0, filter: filter) }
  }

  static func list(_ connection: Connection, filter: SupplyLineFilter = SupplyLineFilter()) throws -> [SupplyLine] {
    let rows = try connection.query(
      """
      SELECT l.* FROM supply_lines l JOIN sites s ON s.code = l.site_code
      WHERE (\(filter.siteCode)::text IS NULL OR l.site_code = \(filter.siteCode))
        AND (\(filter.supplierCode)::text IS NULL OR l.supplier_code = \(filter.supplierCode))
        AND (\(filter.countyCode)::text IS NULL OR s.county_code = \(filter.countyCode))
        AND (\(filter.category)::text IS NULL OR l.category = \(filter.category))
      ORDER BY l.supplier_code, l.site_code, l.category
      """)
    return try rows.map(decode)
  }

  public static func find(_ store: Store, site: String, category: String) throws -> SupplyLine? {
    try store.run { try find($0, site: site, category: category) }
  }

  static func find(_ connection: Connection, site: String, category: String) throws -> SupplyLine? {
    try connection.query("SELECT * FROM supply_lines WHERE site_code = \(site) AND category = \(category)")
      .first.map(decode)
  }

  static func decode(_ row: Row) throws -> SupplyLine {
    SupplyLine(
      siteCode: try row.decode("site_code"), category: try row.decode("category"),
      supplierCode: try row.decode("supplier_code"), externalSupplier: try row.decode("external_supplier"),
      leadTimeDays: try row.decode("lead_time_days"),
      reviewPeriodDays: try row.decode("review_period_days"), safetyStockWeeks: try row.decode("safety_stock_weeks"),
      variant: try row.decode("variant"), emergencyOrderPointWeeks: try row.decode("emergency_order_point_weeks"))
  }

  static let table = CatalogTable(
    name: "supply_lines", key: ["site_code", "category"],
    columns: [
      "site_code", "category", "supplier_code", "external_supplier", "lead_time_days", "review_period_days",
      "safety_stock_weeks", "variant", "emergency_order_point_weeks",
    ])

  /// Saves the line for (site, category).
  @discardableResult
  static func save(_ connection: Connection, _ line: SupplyLine, existing: ExistingRow) throws -> SaveOutcome {
    try table.save(
      connection,
      values: """
        \(line.siteCode), \(line.category), \(line.supplierCode), \(line.externalSupplier), \(line.leadTimeDays),
        \(line.reviewPeriodDays),
        \(line.safetyStockWeeks), \(line.variant), \(line.emergencyOrderPointWeeks)
        """,
      existing: existing)
  }
}

extension SupplyLineCatalog {
  /// Adds or changes the line for the given site and category; values not given keep their stored value
  /// (or the defaults, for a new line). One repeatable-read transaction, as in `SiteCatalog.update`.
  public static func set(_ store: Store, _ values: InputValues) throws -> (line: SupplyLine, outcome: SaveOutcome) {
    try store.run { connection in
      try connection.transaction(isolation: .repeatableRead) { connection in
        try setInTransaction(connection, values)
      }
    }
  }

  private static func setInTransaction(_ connection: Connection, _ values: InputValues) throws -> (
    line: SupplyLine, outcome: SaveOutcome
  ) {
    let reference = try ReferenceData.load(connection)
    let site = try reference.sites.resolve(values["site"] ?? "", field: "site")
    let category = try reference.category(values["category"] ?? "", field: "category")
    let existing = try find(connection, site: site, category: category)
    let line = try SupplyLineInput.supplyLine(values, reference: reference, existing: existing)
    return (line, try save(connection, line, existing: .replace))
  }
}
