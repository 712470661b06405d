/// One schema change: a file's name (without `.sql`) and its SQL.
public struct Migration: Sendable, Equatable {
  public let name: String
  public let sql: String

  public init(name: String, sql: String) {
    self.name = name
    self.sql = sql
  }
}

public struct MigrationError: Error, Sendable, CustomStringConvertible {
  public let description: String
}

/// Applies migrations in name order, each in its own transaction, recording a checksum per file; then the
/// repeatable files (functions, triggers, views written with `CREATE OR REPLACE`) whose text changed since they were
/// last applied, in name order, in one transaction, as Flyway's repeatable migrations work. A function is thus
/// defined in one file, edited in place, and re-applied when its file changes; a table is changed only by a new
/// migration.
///
/// The checksum is the SHA-256 of the file's UTF-8 text in lowercase hex, computed here rather than by
/// the server so that checking every applied file does not send every file's text over the wire.
///
/// A session-level advisory lock serialises migrators, so two processes starting at once apply each
/// file exactly once. An applied file whose text has changed is refused rather than silently skipped:
/// the database would no longer match the code that describes it.
public struct Migrator: Sendable {
  /// A role that owns the schema once a migration has handed it over: the migrations after that one, and the
  /// repeatable files, run as it (`SET LOCAL ROLE`), so what they create belongs to it and not to whoever migrates.
  public struct Owner: Sendable {
    public let role: String
    /// The migration that creates the role and hands it the schema.
    public let since: String

    public init(role: String, since: String) {
      self.role = role
      self.since = since
    }
  }

  public let migrations: [Migration]
  public let repeatables: [Migration]
  public let lockKey: Int64
  public let owner: Owner?

  public init(migrations: [Migration], repeatables: [Migration] = [], lockKey: Int64, owner: Owner? = nil) {
    self.migrations = migrations.sorted { $0.name < $1.name }
    self.repeatables = repeatables.sorted { $0.name < $1.name }
    self.lockKey = lockKey
    self.owner = owner
  }

  /// Applies what is missing and returns the names applied, oldest first.
  ///
  /// - Parameter finishing: runs after the migrations, in its own transaction and still under the lock,
  ///   with the names applied. Data a schema needs before anyone may use it (seed rows) belongs here:
  ///   another migrator cannot return until it is done.
  @discardableResult
  public func migrate(
    _ connection: Connection, finishing: ((Connection, _ applied: [String]) throws -> Void)? = nil
  ) throws -> [String] {
    try connection.execute("SELECT pg_advisory_lock(\(lockKey))")
    defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(lockKey))") }
    // What was applied, and when: one table for migrations (applied once) and one for repeatable files (applied
    // again whenever they change), the same shape.
    for table in ["schema_migrations", "schema_repeatables"] {
      try connection.executeScript(
        unsafeSQL: """
          CREATE TABLE IF NOT EXISTS \(table) (
            name text PRIMARY KEY,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            applied_by text NOT NULL DEFAULT session_user
          )
          """)
    }
    let pending = try verify(connection)
    for migration in pending {
      try connection.transaction { connection in
        try actAsOwner(connection)
        try connection.executeScript(unsafeSQL: migration.sql)
        try connection.execute(
          """
          INSERT INTO schema_migrations (name, checksum)
          VALUES (\(migration.name), \(SHA256.hex(migration.sql)))
          """)
      }
    }
    let changed = try changedRepeatables(connection)
    if !changed.isEmpty {
      try connection.transaction { connection in
        try actAsOwner(connection)
        for file in changed {
          try connection.executeScript(unsafeSQL: file.sql)
          try connection.execute(
            """
            INSERT INTO schema_repeatables (name, checksum) VALUES (\(file.name), \(SHA256.hex(file.sql)))
            ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now(),
              applied_by = session_user
            """)
        }
      }
    }
    let applied = pending.map(\.name) + changed.map(\.name)
    if let finishing {
      try connection.transaction { connection in try finishing(connection, applied) }
    }
    return applied
  }

  /// Moves the transaction to the owner's role once its handover migration is applied here (the role itself is
  /// server-wide, so it may exist before this database has handed anything over).
  private func actAsOwner(_ connection: Connection) throws {
    guard let owner else { return }
    try connection.execute(
      """
      SELECT set_config('role', \(owner.role), true) FROM schema_migrations WHERE name = \(owner.since)
      """)
  }

  /// The migrations not yet applied; throws if an applied one has drifted or is unknown to this build.
  public func pending(_ connection: Connection) throws -> [Migration] {
    let exists: Bool = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS exists")[0]
      .decode("exists")
    return exists ? try verify(connection) : migrations
  }

  /// The migrations not yet applied and the repeatable files whose text differs from what the database has.
  public func outstanding(_ connection: Connection) throws -> [Migration] {
    try pending(connection) + changedRepeatables(connection)
  }

  private func changedRepeatables(_ connection: Connection) throws -> [Migration] {
    let exists: Bool = try connection.query("SELECT to_regclass('schema_repeatables') IS NOT NULL AS exists")[0]
      .decode("exists")
    guard exists else { return repeatables }
    var applied: [String: String] = [:]
    for row in try connection.query("SELECT name, checksum FROM schema_repeatables") {
      applied[try row.decode("name")] = try row.decode("checksum")
    }
    return repeatables.filter { applied[$0.name] != SHA256.hex($0.sql) }
  }

  private func verify(_ connection: Connection) throws -> [Migration] {
    var applied: [String: String] = [:]
    for row in try connection.query("SELECT name, checksum FROM schema_migrations") {
      applied[try row.decode("name")] = try row.decode("checksum")
    }
    var pending: [Migration] = []
    for migration in migrations {
      guard let recorded = applied.removeValue(forKey: migration.name) else {
        pending.append(migration)
        continue
      }
      let current = SHA256.hex(migration.sql)
      guard current == recorded else {
        throw MigrationError(
          description:
            "migration \(migration.name).sql was changed after it was applied (checksum \(current.prefix(12)) ≠ "
            + "\(recorded.prefix(12))); restore the original file and put the change in a new migration")
      }
    }
    if let unknown = applied.keys.sorted().first {
      throw MigrationError(
        description: "the database has migration \(unknown) that this kpstock does not know; upgrade kpstock")
    }
    return pending
  }
}
