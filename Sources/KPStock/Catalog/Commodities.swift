import Foundation
import Postgres

/// Something the programme stocks, counted in integer base units.
public struct Commodity: Sendable, Equatable {
  public var code: String
  public var name: String
  public var category: String
  /// `piece` or `mg`; every quantity in the ledger is a whole number of these.
  public var baseUnit: String
  /// Base units in one pack; packs matter only when ordering.
  public var packSize: Int
  /// A remainder above this many base units rounds an order up by one pack.
  public var packRoundingThreshold: Int
  public var lotTracked: Bool
  /// A controlled drug (methadone): register entries and witnessed doses apply.
  public var controlled: Bool
}

public enum CommodityInput {
  public static let requiredColumns = ["code", "name", "category", "base_unit", "pack_size"]
  public static let optionalColumns = ["pack_rounding_threshold", "lot_tracked", "controlled"]

  public static func commodity(_ input: InputValues, reference: ReferenceData, existing: Commodity? = nil)
    throws(FieldError) -> Commodity
  {
    let code = try input.required("code", current: existing?.code) { text throws(FieldError) in
      try FieldParsing.newCode(text, field: "code")
    }
    let name = try input.required("name", current: existing?.name) { text throws(FieldError) in
      try FieldParsing.requiredText(text, field: "name")
    }
    let category = try input.required("category", current: existing?.category) { text throws(FieldError) in
      try reference.category(text, field: "category")
    }
    let baseUnit = try input.required("base_unit", current: existing?.baseUnit) { text throws(FieldError) in
      try FieldParsing.choice(text, field: "base_unit", noun: "base unit", from: ["piece", "mg"])
    }
    let packSize = try input.required("pack_size", current: existing?.packSize) { text throws(FieldError) in
      try FieldParsing.integer(text, field: "pack_size", range: 1...1_000_000_000)
    }
    let threshold =
      try input.optional("pack_rounding_threshold", current: existing?.packRoundingThreshold) {
        text throws(FieldError) in
        try FieldParsing.integer(text, field: "pack_rounding_threshold", range: 0...1_000_000_000)
      } ?? 0
    guard threshold < packSize else {
      // Blame the value the user just typed: a smaller pack can invalidate the stored threshold.
      let blamed = input["pack_rounding_threshold"] == nil ? "pack_size" : "pack_rounding_threshold"
      throw FieldError(
        field: blamed,
        problem: "the pack rounding threshold (\(threshold)) must be smaller than the pack size (\(packSize))")
    }
    let lotTracked =
      try input.optional("lot_tracked", current: existing?.lotTracked) { text throws(FieldError) in
        try FieldParsing.boolean(text, field: "lot_tracked")
      } ?? false
    let controlled =
      try input.optional("controlled", current: existing?.controlled) { text throws(FieldError) in
        try FieldParsing.boolean(text, field: "controlled")
      } ?? false
    if controlled && !lotTracked {
      throw FieldError(field: "controlled", problem: "a controlled commodity must also be lot-tracked")
    }
    return Commodity(
      code: code, name: name, category: category, baseUnit: baseUnit, packSize: packSize,
      packRoundingThreshold: threshold, lotTracked: lotTracked, controlled: controlled)
  }
}

/// Reads and writes `commodities`.
public enum CommodityCatalog {
  public static func list(_ store: Store, category: String? = nil) throws -> [Commodity] {
    try store.run { try list($0, category: category) }
  }

  static func list(_ connection: Connection, category: String? = nil) throws -> [Commodity] {
    let rows = try connection.query(
      """
      SELECT * FROM commodities WHERE \(category)::text IS NULL OR category = \(category)
      ORDER BY category, code
      """)
    return try rows.map(decode)
  }

  public static func find(_ store: Store, code: String) throws -> Commodity? {
    try store.run { try find($0, code: code) }
  }

  static func find(_ connection: Connection, code: String) throws -> Commodity? {
    try connection.query("SELECT * FROM commodities WHERE code = \(code)").first.map(decode)
  }

  static func decode(_ row: Row) throws -> Commodity {
    Commodity(
      code: try row.decode("code"), name: try row.decode("name"), category: try row.decode("category"),
      baseUnit: try row.decode("base_unit"), packSize: try row.decode("pack_size"),
      packRoundingThreshold: try row.decode("pack_rounding_threshold"), lotTracked: try row.decode("lot_tracked"),
      controlled: try row.decode("controlled"))
  }

  static let table = CatalogTable(
    name: "commodities", key: ["code"],
    columns: [
      "code", "name", "category", "base_unit", "pack_size", "pack_rounding_threshold", "lot_tracked", "controlled",
    ])

  /// Saves by code.
  @discardableResult
  static func save(_ connection: Connection, _ commodity: Commodity, existing: ExistingRow) throws
    -> SaveOutcome
  {
    try table.save(
      connection,
      values: """
        \(commodity.code), \(commodity.name), \(commodity.category), \(commodity.baseUnit), \(commodity.packSize),
        \(commodity.packRoundingThreshold), \(commodity.lotTracked), \(commodity.controlled)
        """,
      existing: existing)
  }
}

extension CommodityCatalog {
  /// Adds a commodity from typed values; a bad value throws the `FieldError` naming it.
  public static func add(_ store: Store, _ values: InputValues) throws -> Commodity {
    try store.run { connection in
      let commodity = try CommodityInput.commodity(values, reference: try ReferenceData.load(connection))
      guard try save(connection, commodity, existing: .keep) == .inserted else {
        throw AlreadyExists(noun: "commodity", code: commodity.code)
      }
      return commodity
    }
  }

  /// Changes only the given values of the commodity `code` (any case), in one repeatable-read
  /// transaction so a concurrent change to another field is not lost (see `SiteCatalog.update`).
  public static func update(_ store: Store, code: String, _ values: InputValues) throws -> (
    commodity: Commodity, outcome: SaveOutcome
  ) {
    try store.run { connection in
      try connection.transaction(isolation: .repeatableRead) { connection in
        try updateInTransaction(connection, code: code, values)
      }
    }
  }

  private static func updateInTransaction(_ connection: Connection, code: String, _ values: InputValues) throws
    -> (commodity: Commodity, outcome: SaveOutcome)
  {
    let reference = try ReferenceData.load(connection)
    let code = try reference.commodities.resolveArgument(code)
    guard let existing = try find(connection, code: code) else {
      throw KPStockError.badInput("unknown commodity '\(code)'")
    }
    let commodity = try CommodityInput.commodity(values, reference: reference, existing: existing)
    return (commodity, try save(connection, commodity, existing: .replace))
  }
}
