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
    _ table: ReferenceTable, from csv: CSVTable, into connection: Connection, existing: ExistingRow = .replace,
    dryRun: Bool = false
  ) throws -> ImportSummary {
    do {
      return try connection.transaction { connection in
        let reference = try ReferenceData.load(connection)
        let summary =
          switch table {
          case .sites: try loadSites(csv, connection, reference, existing)
          case .commodities: try loadCommodities(csv, connection, reference, existing)
          case .norms: try loadNorms(csv, connection, reference, existing)
          case .supplyLines: try loadSupplyLines(csv, connection, reference, existing)
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

  private static func loadSites(
    _ csv: CSVTable, _ connection: Connection, _ reference: ReferenceData, _ existing: ExistingRow
  ) throws -> ImportSummary {
    // county_name is accepted (and ignored) so that 'kpstock site list --format csv' imports back.
    try csv.requireColumns(required: SiteInput.requiredColumns, optional: SiteInput.optionalColumns + ["county_name"])
    let current = Dictionary(try SiteCatalog.list(connection).map { ($0.code, $0) }) { first, _ in first }
    let columns = SiteInput.requiredColumns + SiteInput.optionalColumns
    let sites = try csv.parseRecords { row throws(FieldError) in
      let values = row.inputValues(columns: columns)
      let code = try FieldParsing.newCode(values["code"] ?? "", field: "code")
      return try SiteInput.site(values, reference: reference, existing: current[code])
    }
    try refuseDuplicates(csv, sites.map { ($0.line, $0.value.code) }, column: "code")
    return try write(csv, .sites, sites) { site in
      try SiteCatalog.save(connection, site, existing: existing)
    }
  }

  private static func loadCommodities(
    _ csv: CSVTable, _ connection: Connection, _ reference: ReferenceData, _ existing: ExistingRow
  ) throws -> ImportSummary {
    try csv.requireColumns(required: CommodityInput.requiredColumns, optional: CommodityInput.optionalColumns)
    let current = Dictionary(try CommodityCatalog.list(connection).map { ($0.code, $0) }) { first, _ in first }
    let columns = CommodityInput.requiredColumns + CommodityInput.optionalColumns
    let commodities = try csv.parseRecords { row throws(FieldError) in
      let values = row.inputValues(columns: columns)
      let code = try FieldParsing.newCode(values["code"] ?? "", field: "code")
      return try CommodityInput.commodity(values, reference: reference, existing: current[code])
    }
    try refuseDuplicates(csv, commodities.map { ($0.line, $0.value.code) }, column: "code")
    return try write(csv, .commodities, commodities) { commodity in
      try CommodityCatalog.save(connection, commodity, existing: existing)
    }
  }

  private static func loadNorms(
    _ csv: CSVTable, _ connection: Connection, _ reference: ReferenceData, _ existing: ExistingRow
  ) throws -> ImportSummary {
    // recorded_by and recorded_at are accepted (and ignored) so that 'kpstock norm list --history --format csv'
    // imports back; the database records who imported the file.
    try csv.requireColumns(required: NormInput.requiredColumns, optional: ["recorded_by", "recorded_at"])
    let today = try ProgrammeCalendar.today(connection)
    let norms = try csv.parseRecords { row throws(FieldError) in
      try NormInput.norm(row.inputValues(columns: NormInput.requiredColumns), reference: reference, today: today)
    }
    try refuseDuplicates(
      csv, norms.map { ($0.line, "\($0.value.commodityCode)/\($0.value.populationCode)/\($0.value.effectiveFrom)") },
      column: "commodity, population and effective_from")
    return try write(csv, .norms, norms) { norm in
      try NormCatalog.save(connection, norm, existing: existing)
    }
  }

  private static func loadSupplyLines(
    _ csv: CSVTable, _ connection: Connection, _ reference: ReferenceData, _ existing: ExistingRow
  ) throws -> ImportSummary {
    try csv.requireColumns(required: SupplyLineInput.requiredColumns, optional: SupplyLineInput.optionalColumns)
    let current = Dictionary(
      try SupplyLineCatalog.list(connection).map { ("\($0.siteCode)/\($0.category)", $0) }
    ) { first, _ in first }
    let columns = SupplyLineInput.requiredColumns + SupplyLineInput.optionalColumns
    let lines = try csv.parseRecords { row throws(FieldError) in
      let values = row.inputValues(columns: columns)
      let site = try reference.sites.resolve(values["site"] ?? "", field: "site")
      let category = try reference.category(values["category"] ?? "", field: "category")
      return try SupplyLineInput.supplyLine(values, reference: reference, existing: current["\(site)/\(category)"])
    }
    try refuseDuplicates(
      csv, lines.map { ($0.line, "\($0.value.siteCode)/\($0.value.category)") }, column: "site and category")
    return try write(csv, .supplyLines, lines) { line in
      try SupplyLineCatalog.save(connection, line, existing: existing)
    }
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
        let reason = KPStockError.describing(error)
        throw KPStockError(reason.kind, "nothing imported: \(csv.fileName):\(line): \(reason.message)")
      }
    }
    return summary
  }
}
