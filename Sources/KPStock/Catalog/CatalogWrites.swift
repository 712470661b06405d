import Postgres

/// What saving a row does when its key exists already.
public enum ExistingRow: Sendable {
  /// Leave the stored row as it is (seeds: never undo a local edit; `add`: refuse a duplicate).
  case keep
  /// Overwrite it (`update`, `set`, `import`).
  case replace
}

/// Runs `INSERT … ON CONFLICT …` and says whether it wrote a new row.
///
/// - Parameter updates: the `SET` list for `.replace`, e.g. `name = EXCLUDED.name`.
func save(
  _ connection: Connection, _ insert: Query, conflictKey: String, updates: String, existing: ExistingRow
) throws -> Bool {
  let conflict = existing == .keep ? "DO NOTHING" : "(\(conflictKey)) DO UPDATE SET \(updates)"
  // xmax is 0 only on a row version this statement inserted, not on one it updated.
  let rows = try connection.query(insert + " ON CONFLICT \(unsafeRaw: conflict) RETURNING xmax = 0 AS inserted")
  return try rows.first?.decode("inserted") ?? false
}
