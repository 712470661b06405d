import Foundation
import Postgres

/// Why stock was adjusted; seeded by the schema, extendable with `kpstock reason add`.
public struct StockReason: Sendable, Equatable {
  public var code: String
  public var description: String
  /// in, out or either.
  public var direction: String
}

public enum StockReasons {
  public static func list(_ store: Store) throws -> [StockReason] {
    try store.run { try list($0) }
  }

  static func list(_ connection: Connection) throws -> [StockReason] {
    try connection.query("SELECT code, description, direction FROM stock_reasons ORDER BY direction, code").map {
      row in
      StockReason(
        code: try row.decode("code"), description: try row.decode("description"),
        direction: try row.decode("direction"))
    }
  }

  /// Adds a reason; codes are lower-case words so they read well in reports.
  public static func add(_ store: Store, code: String, description: String, direction: String) throws
    -> StockReason
  {
    try store.run { try add($0, code: code, description: description, direction: direction) }
  }

  static func add(_ connection: Connection, code: String, description: String, direction: String) throws
    -> StockReason
  {
    let code = code.trimmingCharacters(in: .whitespaces).lowercased()
    guard code.wholeMatch(of: /[a-z][a-z0-9-]{1,31}/) != nil else {
      throw FieldError(
        field: "code", problem: "'\(code)' is not a reason code (2–32 lower-case letters, digits, dashes)")
    }
    let description = try FieldParsing.requiredText(description, field: "description")
    let direction = try FieldParsing.choice(
      direction, field: "direction", noun: "direction", from: ["in", "out", "either"])
    let added = try connection.execute(
      """
      INSERT INTO stock_reasons (code, description, direction) VALUES (\(code), \(description), \(direction))
      ON CONFLICT (code) DO NOTHING
      """)
    guard added == 1 else { throw FieldError(field: "code", problem: "reason \(code) already exists") }
    return StockReason(code: code, description: description, direction: direction)
  }
}
