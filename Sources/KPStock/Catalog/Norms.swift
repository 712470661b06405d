import Foundation
import Postgres

/// How much of a commodity one person of a key population needs in a week, from a dated source.
public struct Norm: Sendable, Equatable {
  public var commodityCode: String
  public var populationCode: String
  public var effectiveFrom: CalendarDate
  /// Base units per person per week; may be fractional (0.5 lubricant sachets).
  public var quantityPerWeek: Decimal
  public var source: String
  /// A county's or a site's own norm (at most one of them), which wins over the national one (both nil) there.
  public var countyCode: String? = nil
  public var siteCode: String? = nil
  /// Who set it and when (the database session user), read back from the table.
  public var recordedBy: String?
  public var recordedAt: Date?
}

public enum NormInput {
  public static let requiredColumns = ["commodity", "population", "per_person_per_week", "effective_from", "source"]
  /// A county's or a site's own norm; neither is the national norm.
  public static let optionalColumns = ["county", "site"]

  public static func norm(_ input: InputValues, reference: ReferenceData, today: CalendarDate) throws(FieldError)
    -> Norm
  {
    let commodity = try reference.commodities.resolve(input["commodity"] ?? "", field: "commodity")
    let population = try reference.populations.resolve(input["population"] ?? "", field: "population")
    let quantity = try input.required("per_person_per_week", current: nil) { text throws(FieldError) in
      try FieldParsing.decimal(text, field: "per_person_per_week", range: 0...100_000)
    }
    let effective = try input.optional("effective_from", current: today) { text throws(FieldError) in
      try FieldParsing.date(text, field: "effective_from")
    }
    let source = try input.required("source", current: nil) { text throws(FieldError) in
      try FieldParsing.requiredText(text, field: "source", maxLength: 500)
    }
    let county = try input.optional("county", current: nil) { text throws(FieldError) in
      try reference.county(text, field: "county")
    }
    let site = try input.optional("site", current: nil) { text throws(FieldError) in
      try reference.sites.resolve(text, field: "site")
    }
    if county != nil && site != nil {
      throw FieldError(field: "site", problem: "a norm is for a county or for a site, not both")
    }
    return Norm(
      commodityCode: commodity, populationCode: population, effectiveFrom: effective ?? today,
      quantityPerWeek: quantity, source: source, countyCode: county, siteCode: site, recordedBy: nil,
      recordedAt: nil)
  }
}

/// Reads and writes `norms`.
public enum NormCatalog {
  /// The norms in force on `date` (one per commodity, population and scope: national, a county's, a site's), or
  /// every dated row when `history`; `nationalOnly` leaves out the counties' and sites' own.
  public static func list(
    _ store: Store, on date: CalendarDate, history: Bool = false, commodity: String? = nil, population: String? = nil,
    nationalOnly: Bool = false
  ) throws -> [Norm] {
    try store.run {
      try list(
        $0, on: date, history: history, commodity: commodity, population: population, nationalOnly: nationalOnly)
    }
  }

  static func list(
    _ connection: Connection, on date: CalendarDate, history: Bool = false, commodity: String? = nil,
    population: String? = nil, nationalOnly: Bool = false
  ) throws -> [Norm] {
    let filter: Query = """
      (\(commodity)::text IS NULL OR commodity_code = \(commodity))
      AND (\(population)::text IS NULL OR population_code = \(population))
      AND (NOT \(nationalOnly) OR (county_code IS NULL AND site_code IS NULL))
      """
    let rows: QueryResult
    if history {
      rows = try connection.query(
        """
        SELECT * FROM norms WHERE \(filter)
        ORDER BY commodity_code, population_code, site_code IS NOT NULL, county_code IS NOT NULL, county_code,
          site_code, effective_from
        """)
    } else {
      rows = try connection.query(
        """
        SELECT * FROM (
          SELECT DISTINCT ON (commodity_code, population_code, county_code, site_code) * FROM norms
          WHERE effective_from <= \(date) AND \(filter)
          ORDER BY commodity_code, population_code, county_code, site_code, effective_from DESC
        ) n
        -- National first, then counties', then sites' own.
        ORDER BY commodity_code, population_code, site_code IS NOT NULL, county_code IS NOT NULL, county_code,
          site_code
        """)
    }
    return try rows.map { row in
      Norm(
        commodityCode: try row.decode("commodity_code"), populationCode: try row.decode("population_code"),
        effectiveFrom: try row.decode("effective_from"), quantityPerWeek: try row.decode("quantity_per_week"),
        source: try row.decode("source"), countyCode: try row.decode("county_code"),
        siteCode: try row.decode("site_code"), recordedBy: try row.decode("recorded_by"),
        recordedAt: try row.decode("recorded_at"))
    }
  }

  static let table = CatalogTable(
    name: "norms", key: ["commodity_code", "population_code", "county_code", "site_code", "effective_from"],
    columns: [
      "commodity_code", "population_code", "county_code", "site_code", "effective_from", "quantity_per_week", "source",
    ],
    stamp: "recorded_at = now(), recorded_by = session_user")

  /// Records the norm from its effective date; `.replace` overwrites a norm set for the same day.
  @discardableResult
  static func save(_ connection: Connection, _ norm: Norm, existing: ExistingRow) throws -> SaveOutcome {
    try table.save(
      connection,
      values: """
        \(norm.commodityCode), \(norm.populationCode), \(norm.countyCode)::char(3), \(norm.siteCode), \(norm.effectiveFrom),
        \(norm.quantityPerWeek), \(norm.source)
        """,
      existing: existing)
  }
}

extension NormCatalog {
  /// Sets a norm from typed values (effective today unless `effective_from` is given).
  public static func set(_ store: Store, _ values: InputValues) throws -> (norm: Norm, outcome: SaveOutcome) {
    try store.run { connection in
      let norm = try NormInput.norm(
        values, reference: try ReferenceData.load(connection), today: try ProgrammeCalendar.today(connection))
      return (norm, try save(connection, norm, existing: .replace))
    }
  }
}
