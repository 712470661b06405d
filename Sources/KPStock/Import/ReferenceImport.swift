import Foundation
import Postgres

/// The reference tables that `kpstock import` and the seeds load from CSV.
public enum ReferenceTable: String, CaseIterable, Sendable {
  case sites
  case commodities
  case norms
  case supplyLines = "supply-lines"
}

public struct ImportSummary: Sendable, Equatable {
  public var file: String
  public var table: ReferenceTable
  public var inserted = 0
  public var updated = 0
  public var unchanged = 0

  public var description: String {
    "\(file): \(inserted) added, \(updated) updated, \(unchanged) unchanged"
  }
}

/// Loads reference CSV files all-or-nothing: every row is checked first and every bad row reported;
/// only a clean file is written, in one transaction.
public enum ReferenceImport {
  /// - Parameter dryRun: check and count everything, then roll back.
  @discardableResult
  public static func load(
    _ table: ReferenceTable, from csv: CSVTable, into store: Store, existing: ExistingRow = .replace,
    dryRun: Bool = false
  ) throws -> ImportSummary {
    try store.run { try load(table, from: csv, into: $0, existing: existing, dryRun: dryRun) }
  }

  @discardableResult
  static func load(
    _ table: ReferenceTable, from csv: CSVTable, into connection: Connection, existing: ExistingRow = .replace,
    dryRun: Bool = false
  ) throws -> ImportSummary {
    do {
      return try connection.transaction { connection in
        let reference = try ReferenceData.load(connection)
        let summary =
          switch table {
          case .sites: try load(sites(connection, reference), csv, table, connection, existing)
          case .commodities: try load(commodities(connection, reference), csv, table, connection, existing)
          case .norms: try load(norms(connection, reference), csv, table, connection, existing)
          case .supplyLines: try load(supplyLines(connection, reference), csv, table, connection, existing)
          }
        if dryRun { throw DryRun(summary: summary) }
        return summary
      }
    } catch let dryRun as DryRun {
      return dryRun.summary
    }
  }

  /// Thrown to leave the transaction by rolling back once a dry run has counted its changes.
  private struct DryRun: Error {
    let summary: ImportSummary
  }

  /// How one table's rows are read from a file and saved.
  private struct Loader<Row> {
    var required: [String]
    var optional: [String]
    /// Columns a listing of this table exports that the import accepts and ignores, so an export imports back.
    var ignored: [String] = []
    /// Columns of this table that only look like a personal identifier: the `name` of a site or a commodity.
    var notPersonal: [String] = []
    /// What makes two rows the same row, in words for the duplicate-row message.
    var keyName: String
    /// The key of a row still as typed, to find the stored row it updates (nil: rows never merge).
    var typedKey: ((InputValues) throws(FieldError) -> String)?
    var key: (Row) -> String
    var current: [String: Row]
    var parse: (InputValues, Row?) throws(FieldError) -> Row
    var save: (Connection, Row, ExistingRow) throws -> SaveOutcome
  }

  private static func load<Row>(
    _ loader: Loader<Row>, _ csv: CSVTable, _ table: ReferenceTable, _ connection: Connection,
    _ existing: ExistingRow
  ) throws -> ImportSummary {
    try csv.requireColumns(
      required: loader.required, optional: loader.optional + loader.ignored, notPersonal: loader.notPersonal)
    let columns = loader.required + loader.optional
    let rows = try csv.parseRecords { row throws(FieldError) in
      let values = row.inputValues(columns: columns)
      let stored = try loader.typedKey.map { typedKey throws(FieldError) in loader.current[try typedKey(values)] }
      return try loader.parse(values, stored ?? nil)
    }
    try refuseDuplicates(csv, rows.map { ($0.line, loader.key($0.value)) }, column: loader.keyName)
    return try write(csv, table, rows) { try loader.save(connection, $0, existing) }
  }

  private static func sites(_ connection: Connection, _ reference: ReferenceData) throws -> Loader<Site> {
    Loader(
      required: SiteInput.requiredColumns, optional: SiteInput.optionalColumns, ignored: ["county_name"],
      notPersonal: ["name"], keyName: "code",
      typedKey: { values throws(FieldError) in try FieldParsing.newCode(values["code"] ?? "", field: "code") },
      key: \.code,
      current: Dictionary(try SiteCatalog.list(connection).map { ($0.code, $0) }) { first, _ in first },
      parse: { values, stored throws(FieldError) in try SiteInput.site(values, reference: reference, existing: stored)
      },
      save: { try SiteCatalog.save($0, $1, existing: $2) })
  }

  private static func commodities(_ connection: Connection, _ reference: ReferenceData) throws -> Loader<Commodity> {
    Loader(
      required: CommodityInput.requiredColumns, optional: CommodityInput.optionalColumns, notPersonal: ["name"],
      keyName: "code",
      typedKey: { values throws(FieldError) in try FieldParsing.newCode(values["code"] ?? "", field: "code") },
      key: \.code,
      current: Dictionary(try CommodityCatalog.list(connection).map { ($0.code, $0) }) { first, _ in first },
      parse: { values, stored throws(FieldError) in
        try CommodityInput.commodity(values, reference: reference, existing: stored)
      },
      save: { try CommodityCatalog.save($0, $1, existing: $2) })
  }

  /// Norms never merge with a stored row: each file row is a whole dated norm.
  private static func norms(_ connection: Connection, _ reference: ReferenceData) throws -> Loader<Norm> {
    let today = try ProgrammeCalendar.today(connection)
    return Loader(
      required: NormInput.requiredColumns, optional: NormInput.optionalColumns,
      ignored: ["recorded_by", "recorded_at"], keyName: "commodity, population, county, site and effective_from",
      typedKey: nil,
      key: {
        "\($0.commodityCode)/\($0.populationCode)/\($0.countyCode ?? "")/\($0.siteCode ?? "")/\($0.effectiveFrom)"
      }, current: [:],
      parse: { values, _ throws(FieldError) in try NormInput.norm(values, reference: reference, today: today) },
      save: { try NormCatalog.save($0, $1, existing: $2) })
  }

  private static func supplyLines(_ connection: Connection, _ reference: ReferenceData) throws -> Loader<SupplyLine> {
    Loader(
      required: SupplyLineInput.requiredColumns, optional: SupplyLineInput.optionalColumns,
      keyName: "site and category",
      typedKey: { values throws(FieldError) in
        let site = try reference.sites.resolve(values["site"] ?? "", field: "site")
        return "\(site)/\(try reference.category(values["category"] ?? "", field: "category"))"
      },
      key: { "\($0.siteCode)/\($0.category)" },
      current: Dictionary(try SupplyLineCatalog.list(connection).map { ("\($0.siteCode)/\($0.category)", $0) }) {
        first, _ in first
      },
      parse: { values, stored throws(FieldError) in
        try SupplyLineInput.supplyLine(values, reference: reference, existing: stored)
      },
      save: { try SupplyLineCatalog.save($0, $1, existing: $2) })
  }

  /// Two rows with the same key would make the file's meaning depend on row order.
  private static func refuseDuplicates(_ csv: CSVTable, _ keys: [(Int, String)], column: String) throws {
    var seen: [String: Int] = [:]
    var problems: [String] = []
    for (line, key) in keys {
      if let first = seen[key] {
        problems.append("\(csv.fileName):\(line): \(column): '\(key)' repeats line \(first)")
      } else {
        seen[key] = line
      }
    }
    if !problems.isEmpty {
      throw KPStockError.badInput(
        "nothing imported: \(rows(problems.count)) in \(csv.fileName) \(problems.count == 1 ? "repeats" : "repeat") "
          + "an earlier row", details: problems)
    }
  }

  /// Writes each row, naming the file and line when the database refuses one; the caller's
  /// transaction then rolls every row back.
  ///
  /// A serialization failure or deadlock passes through unchanged so the transaction can retry.
  private static func write<T>(
    _ csv: CSVTable, _ table: ReferenceTable, _ rows: [(line: Int, value: T)], _ save: (T) throws -> SaveOutcome
  ) throws -> ImportSummary {
    var summary = ImportSummary(file: csv.fileName, table: table)
    for (line, value) in rows {
      do {
        switch try save(value) {
        case .inserted: summary.inserted += 1
        case .updated: summary.updated += 1
        case .unchanged: summary.unchanged += 1
        }
      } catch let error as PostgresError where !error.isTransient {
        let reason = Store.domainError(error)
        let kind = (reason as? KPStockError)?.kind ?? .badInput
        throw KPStockError(kind, "nothing imported: \(csv.fileName):\(line): \(reason)")
      }
    }
    return summary
  }
}
