import Postgres

/// What saving a row does when its key exists already.
public enum ExistingRow: Sendable {
  /// Leave the stored row as it is (seeds: never undo a local edit; `add`: refuse a duplicate).
  case keep
  /// Overwrite it (`update`, `set`, `import`).
  case replace
}

/// `add` met a row with the same code; the front end says how to change that row instead.
public struct AlreadyExists: Error, Sendable, Equatable, CustomStringConvertible {
  /// `site` or `commodity`.
  public var noun: String
  public var code: String

  public var description: String { "\(noun) \(code) already exists" }
}

/// What a save did.
public enum SaveOutcome: Sendable, Equatable {
  case inserted
  case updated
  /// The key existed and the row was kept (`.keep`), or already held exactly these values.
  case unchanged
}

/// An `INSERT … ON CONFLICT` for one catalogue table, written once so that every table keeps and
/// replaces rows the same way.
///
/// Names are `StaticString`s: only text written here in the program reaches the SQL.
struct CatalogTable {
  let name: StaticString
  let key: [StaticString]
  /// Every column the row sets, in the order of the values passed to `save`.
  let columns: [StaticString]
  /// Extra assignments made when a row changes, e.g. who changed it.
  var stamp: StaticString?

  /// Saves one row. With `.replace`, a row that already holds these values is left untouched, so a
  /// re-import reports "unchanged" and does not rewrite who changed it and when.
  func save(_ connection: Connection, values: Query, existing: ExistingRow) throws -> SaveOutcome {
    let keys = Set(key.map(\.description))
    let changing = columns.map(\.description).filter { !keys.contains($0) }
    let conflict: String
    switch existing {
    case .keep:
      conflict = "DO NOTHING"
    case .replace:
      var assignments = changing.map { "\($0) = EXCLUDED.\($0)" }
      if let stamp { assignments.append(stamp.description) }
      conflict =
        "DO UPDATE SET \(assignments.joined(separator: ", ")) WHERE "
        + "(\(changing.map { "existing.\($0)" }.joined(separator: ", "))) IS DISTINCT FROM "
        + "(\(changing.map { "EXCLUDED.\($0)" }.joined(separator: ", ")))"
    }
    let list = columns.map(\.description).joined(separator: ", ")
    let target = key.map(\.description).joined(separator: ", ")
    // xmax is 0 only on a row version this statement inserted, not on one it updated.
    let rows = try connection.query(
      """
      INSERT INTO \(unsafeRaw: name.description) AS existing (\(unsafeRaw: list)) VALUES (\(values))
      ON CONFLICT (\(unsafeRaw: target)) \(unsafeRaw: conflict)
      RETURNING xmax = 0 AS inserted
      """)
    guard let row = rows.first else { return .unchanged }
    return try row.decode("inserted") ? .inserted : .updated
  }
}
