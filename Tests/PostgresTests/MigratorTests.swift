import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("Migrator")
struct MigratorTests {
  static let lockKey: Int64 = 0x7465_7374

  static let createStock = Migration(name: "0001_stock", sql: "CREATE TABLE stock (id int PRIMARY KEY);")
  static let addQuantity = Migration(
    name: "0002_quantity", sql: "ALTER TABLE stock ADD COLUMN quantity int NOT NULL DEFAULT 0;")
  static let createIssues = Migration(
    name: "0003_issues",
    sql: """
      CREATE TABLE issues (stock_id int REFERENCES stock (id), quantity int);
      CREATE INDEX issues_stock ON issues (stock_id);
      """)

  static func recorded(_ connection: Connection) throws -> [(name: String, checksum: String)] {
    try connection.query("SELECT name, checksum FROM schema_migrations ORDER BY applied_at, name").map {
      (try $0.decode("name"), try $0.decode("checksum"))
    }
  }

  static func lockIsFree(_ handle: TestDatabaseHandle) throws -> Bool {
    let other = try handle.connect()
    let free: Bool = try other.value("SELECT pg_try_advisory_lock(\(lockKey))")
    if free { try other.execute("SELECT pg_advisory_unlock(\(lockKey))") }
    return free
  }

  @Test func appliesMigrationsInNameOrderAndRecordsTheirChecksums() throws {
    let handle = try TestDatabase.empty()
    let connection = try handle.connect()
    // Given out of order; 0002 and 0003 only work after 0001.
    let migrator = Migrator(migrations: [Self.createIssues, Self.addQuantity, Self.createStock], lockKey: Self.lockKey)
    #expect(try migrator.pending(connection).map(\.name) == ["0001_stock", "0002_quantity", "0003_issues"])

    let applied = try migrator.migrate(connection)
    #expect(applied == ["0001_stock", "0002_quantity", "0003_issues"])

    let recorded = try Self.recorded(connection)
    #expect(recorded.map(\.name) == applied)
    // sha256 of each file's text, computed independently with `printf '%s' … | sha256sum`.
    #expect(recorded[0].checksum == "8b2f313a4a3c7b1e24626cffa66128e35d62830651027c0d80aff7d5b3fa306c")
    #expect(recorded[1].checksum == "c1552ddfcc89791676732d46ef62475deb8580d371818d53ce3c991c85b733a9")
    #expect(try connection.tableExists("issues"))
    try connection.execute("INSERT INTO stock (id, quantity) VALUES (1, 5)")
    #expect(try migrator.pending(connection).isEmpty)
    #expect(try Self.lockIsFree(handle))
  }

  @Test func checksumsAreComputedWithoutAskingTheServer() throws {
    let handle = try TestDatabase.empty()
    let connection = try handle.connect()
    // With public ahead of pg_catalog, this sha256 shadows the built-in one, so any checksum the
    // server were asked for would fail the run.
    try connection.executeScript(
      unsafeSQL: """
        CREATE FUNCTION public.sha256(bytea) RETURNS bytea LANGUAGE plpgsql
          AS $$ BEGIN RAISE EXCEPTION 'the server was asked for a checksum'; END $$;
        SET search_path = public, pg_catalog;
        """)
    let migrator = Migrator(migrations: [Self.createStock, Self.addQuantity], lockKey: Self.lockKey)
    #expect(try migrator.migrate(connection) == ["0001_stock", "0002_quantity"])
    #expect(try migrator.migrate(connection) == [])
    #expect(try migrator.pending(connection).isEmpty)
    #expect(
      try Self.recorded(connection).map(\.checksum) == [
        "8b2f313a4a3c7b1e24626cffa66128e35d62830651027c0d80aff7d5b3fa306c",
        "c1552ddfcc89791676732d46ef62475deb8580d371818d53ce3c991c85b733a9",
      ])
  }

  @Test func runningAgainAppliesNothing() throws {
    let handle = try TestDatabase.empty()
    let connection = try handle.connect()
    let migrator = Migrator(migrations: [Self.createStock, Self.addQuantity], lockKey: Self.lockKey)
    try migrator.migrate(connection)
    let before: String = try connection.value(
      "SELECT string_agg(name || '@' || applied_at::text, ',') FROM schema_migrations")

    #expect(try migrator.migrate(connection) == [])
    #expect(try migrator.migrate(handle.connect()) == [])
    #expect(try connection.count("schema_migrations") == 2)
    #expect(
      try connection.value("SELECT string_agg(name || '@' || applied_at::text, ',') FROM schema_migrations") == before)
  }

  @Test func aNewMigrationIsAppliedOnItsOwn() throws {
    let handle = try TestDatabase.empty()
    let connection = try handle.connect()
    try Migrator(migrations: [Self.createStock], lockKey: Self.lockKey).migrate(connection)
    let later = Migrator(migrations: [Self.createStock, Self.addQuantity, Self.createIssues], lockKey: Self.lockKey)
    #expect(try later.pending(connection).map(\.name) == ["0002_quantity", "0003_issues"])
    #expect(try later.migrate(connection) == ["0002_quantity", "0003_issues"])
    #expect(try Self.recorded(connection).map(\.name) == ["0001_stock", "0002_quantity", "0003_issues"])
  }

  @Test func anAppliedMigrationWhoseSQLChangedIsRefusedByName() throws {
    let handle = try TestDatabase.empty()
    let connection = try handle.connect()
    try Migrator(migrations: [Self.createStock, Self.addQuantity], lockKey: Self.lockKey).migrate(connection)

    let edited = Migration(name: "0002_quantity", sql: "ALTER TABLE stock ADD COLUMN quantity bigint;")
    let migrator = Migrator(migrations: [Self.createStock, edited, Self.createIssues], lockKey: Self.lockKey)
    let error = try #require(throws: MigrationError.self) { try migrator.migrate(connection) }
    #expect(error.description.contains("0002_quantity.sql"))
    #expect(error.description.contains("changed"))
    #expect(!error.description.contains("0001_stock"))
    #expect(throws: MigrationError.self) { try migrator.pending(connection) }
    // Nothing after the refusal ran.
    #expect(try !connection.tableExists("issues"))
    #expect(try connection.count("schema_migrations") == 2)
    #expect(try Self.lockIsFree(handle))
  }

  @Test func anAppliedMigrationThisBuildDoesNotKnowIsRefused() throws {
    let handle = try TestDatabase.empty()
    let connection = try handle.connect()
    try Migrator(migrations: [Self.createStock, Self.addQuantity], lockKey: Self.lockKey).migrate(connection)

    let older = Migrator(migrations: [Self.createStock], lockKey: Self.lockKey)
    let error = try #require(throws: MigrationError.self) { try older.migrate(connection) }
    #expect(error.description.contains("0002_quantity"))
    #expect(error.description.contains("does not know"))
    #expect(throws: MigrationError.self) { try older.pending(connection) }
  }

  @Test func aFailingMigrationLeavesNoTraceAndKeepsEarlierOnes() throws {
    let handle = try TestDatabase.empty()
    let connection = try handle.connect()
    let broken = Migration(
      name: "0002_broken",
      sql: """
        CREATE TABLE partial (id int);
        INSERT INTO partial VALUES (1);
        SELECT * FROM missing_table;
        """)
    let third = Migration(name: "0003_after", sql: "CREATE TABLE after_broken (id int);")
    let error = try #require(throws: PostgresError.self) {
      try Migrator(migrations: [Self.createStock, broken, third], lockKey: Self.lockKey).migrate(connection)
    }
    #expect(error.sqlState == .undefinedTable)
    #expect(!connection.isInTransaction)
    #expect(try connection.tableExists("stock"))
    #expect(try !connection.tableExists("partial"))
    #expect(try !connection.tableExists("after_broken"))
    #expect(try Self.recorded(connection).map(\.name) == ["0001_stock"])
    #expect(try Self.lockIsFree(handle))

    // Once the file is fixed, the run picks up where it stopped.
    let fixed = Migration(name: "0002_broken", sql: "CREATE TABLE partial (id int);")
    let resumed = try Migrator(migrations: [Self.createStock, fixed, third], lockKey: Self.lockKey).migrate(connection)
    #expect(resumed == ["0002_broken", "0003_after"])
  }

  @Test func twoConcurrentMigratorsApplyEachMigrationExactlyOnce() async throws {
    let handle = try TestDatabase.empty()
    // Each migration sleeps, so the first migrator holds the lock long after the second asks for it.
    let migrations = (1...3).map { index in
      Migration(
        name: String(format: "%04d_slow", index),
        sql: "SELECT pg_sleep(0.3); CREATE TABLE slow_\(index) (id int); INSERT INTO slow_\(index) VALUES (\(index));")
    }
    let migrator = Migrator(migrations: migrations, lockKey: Self.lockKey)
    let barrier = Barrier(parties: 2)
    let run: @Sendable () throws -> [String] = {
      let connection = try handle.connect()
      try barrier.arriveAndWait()
      return try migrator.migrate(connection)
    }
    async let first = onThread(run)
    async let second = onThread(run)
    let applied = try await [first, second]

    // One of them applied everything; the other waited for the lock and found nothing left to do.
    #expect(applied.sorted { $0.count < $1.count } == [[], migrations.map(\.name)])
    let connection = try handle.connect()
    let counts = try connection.query("SELECT name, count(*) AS n FROM schema_migrations GROUP BY name ORDER BY name")
      .map { (try $0.decode("name", as: String.self), try $0.decode("n", as: Int.self)) }
    #expect(counts.map(\.0) == migrations.map(\.name))
    #expect(counts.allSatisfy { $0.1 == 1 })
    for index in 1...3 {
      #expect(try connection.count("slow_\(index)") == 1)
    }
  }

  @Test func theFinishingStepRunsUnderTheLockSoALaterMigratorSeesItsWork() async throws {
    let handle = try TestDatabase.empty()
    let migrator = Migrator(migrations: [Self.createStock], lockKey: Self.lockKey)
    let barrier = Barrier(parties: 2)
    // The step seeds the table only when it is empty, and is slow: were it outside the lock, the second
    // migrator would find the table empty too and seed it again.
    let run: @Sendable () throws -> [String] = {
      let connection = try handle.connect()
      try barrier.arriveAndWait()
      return try migrator.migrate(connection) { connection, _ in
        let empty: Bool = try connection.query("SELECT NOT EXISTS (SELECT 1 FROM stock) AS empty")[0].decode("empty")
        try connection.execute("SELECT pg_sleep(0.3)")
        if empty { try connection.execute("INSERT INTO stock (id) SELECT coalesce(max(id), 0) + 1 FROM stock") }
      }
    }
    async let first = onThread(run)
    async let second = onThread(run)
    let applied = try await [first, second]
    #expect(applied.sorted { $0.count < $1.count } == [[], ["0001_stock"]])
    #expect(try handle.connect().count("stock") == 1)
  }
}
