import Postgres

/// Loads the CSV files under Seeds/. Seeding never overwrites: a row whose key exists is left as the
/// user last set it, so running it again (or after local edits) changes nothing.
public enum Seeds {
  public struct Result: Sendable, Equatable {
    public var added: [String: Int] = [:]
    public var total: Int { added.values.reduce(0, +) }
  }

  /// Counties, sub-counties, key populations, the commodity catalogue and norms.
  @discardableResult
  public static func loadReference(_ store: Store) throws -> Result {
    try store.run { try loadReference($0) }
  }

  @discardableResult
  static func loadReference(_ connection: Connection) throws -> Result {
    try connection.transaction { connection in
      var result = Result()
      result.added["counties"] = try insertRows(
        connection, try EmbeddedSchema.seedFile("reference/counties.csv"), columns: ["code", "name"],
        notPersonal: ["name"]
      ) { row in "INSERT INTO counties (code, name) VALUES (\(row["code"]), \(row["name"])) ON CONFLICT DO NOTHING" }
      result.added["sub_counties"] = try insertRows(
        connection, try EmbeddedSchema.seedFile("reference/sub_counties.csv"), columns: ["county", "name"],
        notPersonal: ["name"]
      ) { row in
        "INSERT INTO sub_counties (county_code, name) VALUES (\(row["county"]), \(row["name"])) ON CONFLICT DO NOTHING"
      }
      result.added["populations"] = try insertRows(
        connection, try EmbeddedSchema.seedFile("reference/populations.csv"), columns: ["code", "name"],
        notPersonal: ["name"]
      ) { row in
        "INSERT INTO populations (code, name) VALUES (\(row["code"]), \(row["name"])) ON CONFLICT DO NOTHING"
      }
      for (table, file) in [(ReferenceTable.commodities, "commodities"), (.norms, "norms")] {
        let summary = try ReferenceImport.load(
          table, from: try EmbeddedSchema.seedFile("reference/\(file).csv"), into: connection, existing: .keep)
        result.added[file] = summary.inserted
      }
      result.added["coverage_targets"] = try insertRows(
        connection, try EmbeddedSchema.seedFile("reference/coverage_targets.csv"),
        columns: ["commodity", "population", "minimum_per_year", "target_per_year", "source"]
      ) { row in
        """
        INSERT INTO coverage_targets (commodity_code, population_code, minimum_per_year, target_per_year, source)
        VALUES (\(row["commodity"]), \(row["population"]), \(row["minimum_per_year"])::numeric,
          \(row["target_per_year"])::numeric, \(row["source"]))
        ON CONFLICT DO NOTHING
        """
      }
      return result
    }
  }

  /// The Kwale demo network: the county store, two DICEs, four satellites, the Kombani MAT clinic,
  /// a prison and a hospital, and the supply lines between them.
  @discardableResult
  public static func loadKwaleDemo(_ store: Store) throws -> Result {
    try store.run { try loadKwaleDemo($0) }
  }

  @discardableResult
  static func loadKwaleDemo(_ connection: Connection) throws -> Result {
    try connection.transaction { connection in
      var result = Result()
      for (table, file) in [(ReferenceTable.sites, "sites"), (.supplyLines, "supply_lines")] {
        let summary = try ReferenceImport.load(
          table, from: try EmbeddedSchema.seedFile("demo/kwale/\(file).csv"), into: connection, existing: .keep)
        result.added[file] = summary.inserted
      }
      return result
    }
  }

  /// Kwale's size estimates for the demo: figures made up so that the coverage report has a denominator (a county
  /// replaces them with its own). Not part of the network the tests load: an estimate caps the forecast's reach.
  @discardableResult
  static func loadKwaleSizeEstimates(_ connection: Connection) throws -> Result {
    var result = Result()
    result.added["size_estimates"] = try insertRows(
      connection, try EmbeddedSchema.seedFile("demo/kwale/size_estimates.csv"),
      columns: ["area", "population", "year", "size", "source"]
    ) { row in
      """
      INSERT INTO size_estimates (county_code, population_code, year, size, source)
      VALUES (\(row["area"]), \(row["population"]), \(row["year"])::integer, \(row["size"])::integer,
        \(row["source"]))
      ON CONFLICT DO NOTHING
      """
    }
    return result
  }

  private static func insertRows(
    _ connection: Connection, _ csv: CSVTable, columns: [String], notPersonal: [String] = [],
    _ insert: (CSVRow) -> Query
  ) throws -> Int {
    try csv.requireColumns(required: columns, notPersonal: notPersonal)
    var added = 0
    for record in csv.records {
      added += try connection.execute(insert(CSVRow(table: csv, record: record)))
    }
    return added
  }
}
