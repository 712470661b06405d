import Foundation
import Postgres

/// kpstock's database as the domain holds it: one connection, brought up to this build's schema when opened.
///
/// Every public operation of the domain takes a store, so SQL and the driver's errors stay inside the domain: what
/// leaves it is a `FieldError`, a `LedgerRefusal`, a `KPStockError` or a `StoreUnavailable`.
public final class Store {
  /// The domain's own SQL goes through it; tests and the benchmark reach it to check SQL directly.
  package let connection: Connection

  /// Cancels what every connection of this store is running: its own, and those that work split over several
  /// connections opens (`sibling()`), so an interrupt stops all of them.
  private let cancellers = CancelGroup()

  package init(_ connection: Connection) {
    self.connection = connection
    cancellers.add(connection.canceller())
  }

  /// Another connection to the same database, in the programme's time zone, for work done side by side (the
  /// simulator's workers). The store's canceller reaches it too.
  package func sibling() throws -> Connection {
    let sibling = try Connection(connectingTo: connection.conninfo)
    try Self.useProgrammeTimeZone(sibling)
    cancellers.add(sibling.canceller())
    return sibling
  }

  /// Connects to `conninfo` and brings the schema up to date on first use, so every command can assume it.
  ///
  /// - Parameter seedReference: load reference data into a database that lacks it (`db seed` says no, to load and
  ///   count it itself).
  /// - Parameter recreateMissingDatabase: called once when the server says the database named does not exist, before
  ///   one more try; the embedded cluster's owner passes one, since someone may have dropped its database.
  /// - Parameter notice: receives one line for each thing done on the user's behalf (database migrated), for the
  ///   CLI to print on stderr.
  /// - Parameter owner: a way in as the schema owner, for what a person's login may not do (the embedded cluster has
  ///   one); without it, `conninfo`'s login must be able to migrate when the schema is behind.
  /// - Parameter dailyWork: the store does a person's work, never the owner's: a login that may act as the owner (a
  ///   database administrator's URL) works with an admin's rights instead (`SET ROLE kp_admin`), so it too writes
  ///   the ledger only through the posting functions (docs/security.md).
  public static func open(
    conninfo: String, owner: OwnerAccess? = nil, migrate: Bool = true, seedReference: Bool = true,
    dailyWork: Bool = false, recreateMissingDatabase: (() throws -> Void)? = nil, notice: (String) -> Void = { _ in }
  ) throws -> Store {
    do {
      let connection: Connection
      do {
        connection = try connect(conninfo, recreateMissingDatabase: recreateMissingDatabase)
      } catch let failure as PostgresError
        where failure.kind == .connection && owner?.defaultLogin != nil
        && failure.message.contains("role \"") && failure.message.contains("\" does not exist")
      {
        // The first use of a new cluster: its default login is made once the schema (and its roles) exist.
        guard let owner else { throw failure }
        try prepare(as: owner, seedReference: seedReference, notice: notice)
        connection = try connect(conninfo, recreateMissingDatabase: recreateMissingDatabase)
      }
      var start =
        try migrate ? sessionStart(connection, seedReference: seedReference) : (ready: true, actsAsOwner: false)
      if !start.ready {
        if let owner {
          try prepare(as: owner, seedReference: seedReference, notice: notice)
        } else {
          do {
            try prepare(connection, seedReference: seedReference, notice: notice)
          } catch let error as PostgresError where error.sqlState?.code == "42501" {
            // A person's login found the schema behind this kpstock: only the owner may change it.
            throw KPStockError(
              .operational,
              "the database's schema is behind this kpstock, and this login may not change it (\(error.message)): "
                + "the schema owner (a superuser or a member of kp_owner) runs `kpstock db migrate`")
          }
        }
        try useProgrammeTimeZone(connection)
        start = try sessionStart(connection, seedReference: seedReference)
      }
      if dailyWork && start.actsAsOwner {
        try connection.execute("SET ROLE kp_admin")
      }
      return Store(connection)
    } catch let error as PostgresError {
      throw StoreUnavailable.unreachable(error.message)
    } catch let error as RowDecodingError {
      throw KPStockError(.operational, "unexpected data from the database: \(error)")
    }
  }

  /// Connects; when the server says the database does not exist and the caller can create it, does so and
  /// retries once. Any other failure is reported as it was.
  private static func connect(_ conninfo: String, recreateMissingDatabase: (() throws -> Void)?) throws -> Connection {
    do {
      return try Connection(connectingTo: conninfo)
    } catch let failure as PostgresError where failure.kind == .connection {
      guard let recreateMissingDatabase, failure.message.contains("database \""),
        failure.message.contains("\" does not exist")
      else { throw failure }
      do {
        try recreateMissingDatabase()
      } catch {
        throw failure
      }
      return try Connection(connectingTo: conninfo)
    }
  }

  /// Runs domain work on the connection; a failure of the database leaves as the domain error it means.
  ///
  /// Only the outermost call translates: inside, a serialization failure must stay a `PostgresError` so that the
  /// transaction that met it can retry.
  func run<T>(_ body: (Connection) throws -> T) throws -> T {
    do {
      return try body(connection)
    } catch let error as PostgresError {
      throw Self.domainError(error)
    } catch let error as RowDecodingError {
      throw KPStockError(.operational, "unexpected data from the database: \(error)")
    }
  }

  /// What a database failure means to the domain: a ledger rule, a named constraint on one field, a bad value, or
  /// a database that could not do the work.
  static func domainError(_ error: PostgresError) -> any Error {
    if let refusal = LedgerRefusal(error) { return refusal }
    if error.constraint == "stock_events_key" {
      return FieldError(field: "key", problem: "was used by another entry at the same moment; run again")
    }
    if let constraint = error.constraint, let refusal = ConstraintMessages.fieldError(for: constraint) {
      return refusal
    }
    if error.sqlState?.isIntegrityConstraintViolation == true || error.sqlState?.isDataException == true {
      return KPStockError.badInput(error.message)
    }
    if error.sqlState?.code == "42501" {
      return KPStockError(
        .badInput, "not allowed: \(error.message) (your role does not allow it; see docs/security.md)")
    }
    if error.kind == .connection {
      return KPStockError(.operational, "cannot reach the database: \(error.message)")
    }
    return KPStockError(.operational, "database error: \(error)")
  }

  /// A cancel request for whatever the store is running on the server, to send from another thread.
  public func canceller() -> StatementCanceller? {
    StatementCanceller(group: cancellers)
  }

  // MARK: Schema

  /// Whether the database already holds exactly this build's schema (and reference data, when asked for), and whether
  /// the login acts for the schema owner, asked in one round trip that also moves the session to the programme's time
  /// zone. A database that cannot answer (new, or made by another build) is not ready, and `prepare` takes over.
  static func sessionStart(_ connection: Connection, seedReference: Bool) throws -> (ready: Bool, actsAsOwner: Bool) {
    let state: Row
    do {
      state = try connection.query("SELECT * FROM kpstock_session_start()")[0]
    } catch let error as PostgresError where error.sqlState?.errorClass == "42" {
      return (false, false)
    }
    let migrations: String? = try state.decode("migrations")
    let repeatables: String? = try state.decode("repeatables")
    let referenceLoaded: Bool = try state.decode("reference_loaded")
    let ready =
      migrations == EmbeddedSchema.migrationChecksums.joined(separator: "\n")
      && repeatables == EmbeddedSchema.repeatableChecksums.joined(separator: "\n")
      && (referenceLoaded || !seedReference)
    return (ready, try state.decode("acts_as_owner") as Bool? ?? false)
  }

  /// Applies pending migrations and, unless told not to, loads the reference data when the database
  /// lacks it, so a fresh database knows Kenya's counties and the commodity catalogue from the first command.
  ///
  /// Both happen under the migrator's lock: several commands started at once on a new database all wait
  /// for the first, and none of them sees an empty catalogue.
  package static func prepare(
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

  /// Brings the schema up to date as the owner and makes sure the owner's default login exists.
  private static func prepare(as owner: OwnerAccess, seedReference: Bool, notice: (String) -> Void) throws {
    let connection = try Connection(connectingTo: owner.conninfo)
    try prepare(connection, seedReference: seedReference, notice: notice)
    if let login = owner.defaultLogin {
      try connection.execute("SELECT access_user_add(\(login), 'admin', '{}', '{}')")
    }
  }

  /// A database made before the ledger's migrations were squashed holds a schema this kpstock cannot upgrade; no
  /// such database was ever deployed, so it is refused rather than migrated.
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
    throw StoreUnavailable.madeBeforeSquash(migration: old)
  }

  private static func referenceMissing(_ connection: Connection) throws -> Bool {
    try connection.query("SELECT NOT EXISTS (SELECT 1 FROM counties) AS missing")[0].decode("missing")
  }

  /// Sets the session's zone to the programme's, so that any `CURRENT_DATE` or `now()::date` in SQL
  /// means the programme's day, not UTC's (three hours apart in Nairobi).
  static func useProgrammeTimeZone(_ connection: Connection) throws {
    try connection.execute("SELECT set_config('TimeZone', time_zone, false) FROM programme_settings")
  }

  /// Applies every pending migration; returns the names applied.
  @discardableResult
  static func migrate(
    _ connection: Connection, finishing: ((Connection, _ applied: [String]) throws -> Void)? = nil
  ) throws -> [String] {
    do {
      return try EmbeddedSchema.migrator.migrate(connection, finishing: finishing)
    } catch let error as MigrationError {
      throw KPStockError(.operational, error.description)
    }
  }

  /// Applies every pending migration; returns the names applied.
  @discardableResult
  public func migrate() throws -> [String] {
    try run { try Self.migrate($0) }
  }

  /// Names of the migrations this binary carries, and which are applied to the database.
  public func migrationStatus() throws -> [(name: String, applied: Bool)] {
    try run { connection in
      try Self.refuseSquashedSchema(connection)
      let pending = Set(try EmbeddedSchema.migrator.pending(connection).map(\.name))
      return EmbeddedSchema.migrations.map { ($0.name, !pending.contains($0.name)) }
    }
  }
}

/// How kpstock reaches a database as the schema owner (kp_owner, or a superuser acting for it), for the work a
/// person's login may not do: bring the schema up to date and make the login it works as by default. The embedded
/// cluster has one; daily work never runs on it (docs/security.md).
public struct OwnerAccess: Sendable {
  public let conninfo: String
  /// An admin login made on first use, the one the embedded cluster works as when no user is named.
  public let defaultLogin: String?

  public init(conninfo: String, defaultLogin: String?) {
    self.conninfo = conninfo
    self.defaultLogin = defaultLogin
  }
}

/// Why a database cannot be used. The program's entry words it, since only it knows where it looked.
public enum StoreUnavailable: Error, Sendable, Equatable {
  /// The server could not be reached, or refused the session; the text is libpq's or the server's.
  case unreachable(String)
  /// The database was made by a kpstock from before the ledger's migrations were squashed (it has `migration`),
  /// whose schema cannot be upgraded in place.
  case madeBeforeSquash(migration: String)
}

/// Cancels what a store is running on the server; safe to use from another thread, such as a signal handler's.
public struct StatementCanceller: Sendable {
  let group: CancelGroup

  /// Asks the server to cancel the statements in progress; where none is, the next one fails as cancelled.
  public func cancel() {
    group.cancelAll()
  }
}

/// The cancel handles of a store's connections. A connection added after a cancel is cancelled at once, so a worker
/// that connects while the signal arrives does not carry on alone.
final class CancelGroup: @unchecked Sendable {
  private let lock = NSLock()
  /// Read and written under `lock`.
  private var members: [QueryCanceller] = []
  private var cancelled = false

  func add(_ canceller: QueryCanceller?) {
    guard let canceller else { return }
    let cancelNow = lock.withLock {
      members.append(canceller)
      return cancelled
    }
    if cancelNow { canceller.cancel() }
  }

  func cancelAll() {
    let all = lock.withLock {
      cancelled = true
      return members
    }
    for member in all { member.cancel() }
  }
}
