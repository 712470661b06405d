import EmbeddedCluster
import Foundation
import Postgres

/// Opens kpstock's database: starts the embedded cluster when that is the target, and brings the
/// schema up to date on first use so every command can assume it.
public enum KPStockDatabase {
  /// - Parameter notice: receives one line for each thing done on the user's behalf (cluster started,
  ///   database migrated), for the CLI to print on stderr.
  /// - Parameter seedReference: load reference data into a database that lacks it (`db seed` says no,
  ///   to load and count it itself).
  public static func open(
    _ target: DatabaseTarget, migrate: Bool = true, seedReference: Bool = true, notice: (String) -> Void = { _ in }
  ) throws(KPStockError) -> Connection {
    do {
      if case .embedded(let cluster) = target, try cluster.start() {
        notice("started the embedded PostgreSQL server (data in \(cluster.configuration.home))")
      }
      let connection = try connect(target)
      if migrate, try !isReady(connection, seedReference: seedReference) {
        try prepare(connection, seedReference: seedReference, notice: notice)
        try useProgrammeTimeZone(connection)
      }
      return connection
    } catch let error as KPStockError {
      throw error
    } catch let error as PostgresError {
      throw KPStockError(.operational, "cannot use the database (\(target)): \(error.message)")
    } catch {
      throw KPStockError(.operational, "\(error)")
    }
  }

  /// Connects; when the embedded cluster's own database has gone (someone dropped it), creates it again
  /// and retries once. Any other failure is reported as it was.
  private static func connect(_ target: DatabaseTarget) throws -> Connection {
    do {
      return try Connection(connectingTo: target.conninfo)
    } catch let failure as PostgresError where failure.kind == .connection {
      guard case .embedded(let cluster) = target,
        failure.message.contains("database \"\(cluster.configuration.database)\" does not exist")
      else { throw failure }
      do {
        try cluster.createDatabaseIfMissing()
      } catch {
        throw failure
      }
      return try Connection(connectingTo: target.conninfo)
    }
  }

  /// Whether the database already holds exactly this build's schema (and reference data, when asked for), asked in
  /// one round trip that also moves the session to the programme's time zone. A database that cannot answer (new,
  /// or made by another build) is not ready, and `prepare` takes over.
  static func isReady(_ connection: Connection, seedReference: Bool) throws -> Bool {
    let state: Row
    do {
      state = try connection.query("SELECT * FROM kpstock_session_start()")[0]
    } catch let error as PostgresError where error.sqlState?.errorClass == "42" {
      return false
    }
    let migrations: String? = try state.decode("migrations")
    let repeatables: String? = try state.decode("repeatables")
    let referenceLoaded: Bool = try state.decode("reference_loaded")
    return migrations == EmbeddedSchema.migrationChecksums.joined(separator: "\n")
      && repeatables == EmbeddedSchema.repeatableChecksums.joined(separator: "\n")
      && (referenceLoaded || !seedReference)
  }

  /// Applies pending migrations and, unless told not to, loads the reference data when the database
  /// lacks it, so a fresh database knows Kenya's counties and the commodity catalogue from the first command.
  ///
  /// Both happen under the migrator's lock: several commands started at once on a new database all wait
  /// for the first, and none of them sees an empty catalogue.
  public static func prepare(
    _ connection: Connection, seedReference: Bool = true, notice: (String) -> Void = { _ in }
  ) throws {
    try refuseSquashedSchema(connection)
    let pending = try EmbeddedSchema.migrator.outstanding(connection)
    let needsReference = try pending.isEmpty && seedReference && referenceMissing(connection)
    guard !pending.isEmpty || needsReference else { return }
    var seeded = false
    let applied = try migrate(connection) { connection, _ in
      if seedReference, try referenceMissing(connection) {
        try Seeds.loadReference(connection)
        seeded = true
      }
    }
    let parts =
      (applied.isEmpty ? [] : ["migrated the database (\(applied.joined(separator: ", ")))"])
      + (seeded ? ["loaded reference data"] : [])
    if !parts.isEmpty { notice(parts.joined(separator: " and ")) }
  }

  /// A database made before the ledger's migrations were squashed holds a schema this kpstock cannot upgrade; no
  /// such database was ever deployed, so it is refused with what to do rather than migrated.
  static func refuseSquashedSchema(_ connection: Connection) throws {
    let exists: Bool = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS exists")[0]
      .decode("exists")
    guard exists else { return }
    let old: String? = try connection.query(
      """
      SELECT min(name) AS name FROM schema_migrations
      WHERE name = ANY(\(PostgresArray(EmbeddedSchema.squashedMigrations)))
      """)[0].decode("name")
    guard let old else { return }
    throw KPStockError(
      .operational,
      "this database was made by an earlier kpstock (it has migration \(old)) whose ledger schema cannot be "
        + "upgraded in place; start a new database: kpstock db destroy --yes for the embedded cluster, or drop and "
        + "re-create the server's database")
  }

  private static func referenceMissing(_ connection: Connection) throws -> Bool {
    try connection.query("SELECT NOT EXISTS (SELECT 1 FROM counties) AS missing")[0].decode("missing")
  }

  /// Sets the session's zone to the programme's, so that any `CURRENT_DATE` or `now()::date` in SQL
  /// means the programme's day, not UTC's (three hours apart in Nairobi).
  public static func useProgrammeTimeZone(_ connection: Connection) throws {
    try connection.execute("SELECT set_config('TimeZone', time_zone, false) FROM programme_settings")
  }

  /// Applies every pending migration; returns the names applied.
  @discardableResult
  public static func migrate(
    _ connection: Connection, finishing: ((Connection, _ applied: [String]) throws -> Void)? = nil
  ) throws -> [String] {
    do {
      return try EmbeddedSchema.migrator.migrate(connection, finishing: finishing)
    } catch let error as MigrationError {
      throw KPStockError(.operational, error.description)
    }
  }

  /// Names of the migrations this binary carries, and which are applied to `connection`'s database.
  public static func migrationStatus(_ connection: Connection) throws -> [(name: String, applied: Bool)] {
    try refuseSquashedSchema(connection)
    let pending = Set(try EmbeddedSchema.migrator.pending(connection).map(\.name))
    return EmbeddedSchema.migrations.map { ($0.name, !pending.contains($0.name)) }
  }
}
