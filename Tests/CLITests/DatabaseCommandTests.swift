import Foundation
import KPStockTestSupport
import Postgres
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `kpstock db` against a server named by `DATABASE_URL` or `--database-url`.
@Suite("kpstock db with a server URL")
struct DatabaseServerCommandTests {
  @Test func statusSaysConnectedWithNoPendingMigrations() throws {
    let cli = try CLI()
    let outcome = try cli.run("db", "status")
    expectSuccess(outcome)
    #expect(outcome.outputLines.contains { $0.hasPrefix("target ") && $0.contains("server ") })
    #expect(outcome.outputLines.contains { $0.hasPrefix("connected ") && $0.hasSuffix(" true") })
    #expect(outcome.outputLines.contains { $0.hasPrefix("migrations pending ") && $0.hasSuffix(" none") })
    let status = try cli.jsonObject("db", "status")
    #expect(status["connected"] as? Bool == true)
    #expect(status["migrations_applied"] as? Int == schemaMigrations.count)
    #expect(status["migrations_pending"] as? String == "none")
    #expect(status["running"] == nil)
  }

  @Test func startStopAndDestroyAreRefusedForAServer() throws {
    let cli = try CLI()
    for arguments in [["db", "start"], ["db", "stop"], ["db", "destroy", "--yes"]] {
      let outcome = try cli.run(arguments)
      #expect(outcome.status == 2)
      #expect(outcome.stdout == "")
      #expect(outcome.stderr.hasPrefix("kpstock: error: kpstock is using the server "))
      #expect(outcome.stderr.hasSuffix("; 'db \(arguments[1])' manages only the embedded cluster\n"))
      #expect(outcome.errorLines.count == 1)
    }
    #expect(try cli.integer("SELECT count(*) FROM counties") == 47)
  }

  @Test func migrateOnAnEmptyDatabaseAppliesTheSchemaAndSeedLoadsTheReferenceData() throws {
    let database = try TestDatabase.empty()
    let process = KPStockProcess(database: database)
    let migrated = try process.run(["db", "migrate"])
    expectSuccess(migrated)
    #expect(migrated.stdout == "applied \(schemaFiles.joined(separator: ", "))\n")
    let again = try process.run(["db", "migrate"])
    #expect(again.stdout == "the database is up to date\n")

    let seeded = try process.run(["db", "seed"])
    expectSuccess(seeded)
    #expect(seeded.stdout.hasPrefix("added "))
    #expect(seeded.stdout.contains("47 counties"))
    #expect(seeded.stdout.contains("7 populations"))
    #expect(seeded.stdout.contains("7 commodities"))
    let reseeded = try process.run(["db", "seed", "--demo", "KWALE"])
    expectSuccess(reseeded)
    #expect(
      reseeded.stdout == "added 10 sites, 6 size estimates, 29 supply lines\n",
      "reference rows already there are not added again")
    let third = try process.run(["db", "seed", "--demo", "kwale"])
    #expect(third.stdout == "nothing to add: the seed data are already loaded\n")
  }

  @Test func theFirstCommandOnAnEmptyDatabaseMigratesItAndSaysSoOnStderr() throws {
    let database = try TestDatabase.empty()
    let process = KPStockProcess(database: database)
    let outcome = try process.run(["commodity", "list", "--format", "csv"])
    #expect(outcome.status == 0)
    #expect(
      outcome.stderr
        == "kpstock: migrated the database (\(schemaFiles.joined(separator: ", "))) and loaded reference data\n")
    #expect(outcome.outputLines.count == 8)
    let second = try process.run(["commodity", "list", "--format", "csv"])
    #expect(second.stderr == "")
    #expect(second.stdout == outcome.stdout)
  }

  /// A person's login may not change the schema: finding it behind, kpstock says who may (docs/security.md).
  @Test func aPersonsLoginThatFindsTheSchemaBehindIsToldWhoMigrates() throws {
    let database = try TestDatabase.empty()
    let name = "late_\(UUID().uuidString.prefix(8).lowercased())"
    try database.connect().execute("CREATE ROLE \(identifier: name) LOGIN")
    let outcome = try KPStockProcess(environment: ["DATABASE_URL": database.conninfo + " user=\(name)"])
      .run(["site", "list"])
    #expect(outcome.status == 1)
    #expect(
      outcome.stderr
        == "kpstock: error: the database's schema is behind this kpstock, and this login may not change it "
        + "(permission denied for schema public): the schema owner (a superuser or a member of kp_owner) runs "
        + "`kpstock db migrate`\n")
  }

  @Test func anUnknownDemoIsRefused() throws {
    let cli = try CLI()
    expectRefused(try cli.run("db", "seed", "--demo", "mombasa"), "--demo: unknown demo 'mombasa' (kwale)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func theDatabaseURLFlagOverridesTheEnvironment() throws {
    let demo = try CLI(demo: true)
    let other = try TestDatabase.fresh()
    // The environment names a database with no sites; the flag names the demo database.
    let process = KPStockProcess(database: other)
    let outcome = try process.run(["site", "list", "--format", "csv", "--database-url", demo.database.conninfo])
    expectSuccess(outcome)
    #expect(outcome.outputLines.count == 11)
    let unreachable = KPStockProcess(environment: ["DATABASE_URL": "host=/tmp/kpstock-no-such-socket-dir dbname=x"])
    let flagged = try unreachable.run(["site", "list", "--database-url", demo.database.conninfo, "--format", "csv"])
    expectSuccess(flagged)
    #expect(flagged.stdout == outcome.stdout)
  }

  @Test func anUnreachableServerFailsWithStatusOneAndHidesThePassword() throws {
    let process = KPStockProcess(
      environment: ["DATABASE_URL": "postgresql://kp:s3cret-pw@localhost/kpstock?host=/tmp/kpstock-no-such-socket-dir"])
    let outcome = try process.run(["site", "list"])
    #expect(outcome.status == 1)
    #expect(outcome.stdout == "")
    #expect(outcome.stderr.hasPrefix("kpstock: error: cannot use the database (server postgresql://kp:***@"))
    #expect(!outcome.stderr.contains("s3cret"))
    let status = try process.run(["db", "status", "--format", "json"])
    #expect(status.status == 0)
    #expect(!status.stdout.contains("s3cret"))
    let parsed = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
    #expect(parsed?["connected"] as? Bool == false)
  }

  @Test func destroyWithoutYesIsRefusedAndTouchesNothing() throws {
    let home = try temporaryClusterHome()
    defer { try? FileManager.default.removeItem(atPath: home) }
    let process = KPStockProcess(home: home)
    expectRefused(
      try process.run(["db", "destroy"]), "db destroy deletes every record in \(home); add --yes to confirm")
    #expect(try FileManager.default.contentsOfDirectory(atPath: home).isEmpty)
  }
}

/// `kpstock` with its own embedded cluster in a temporary home. Each test destroys its cluster, so no
/// server outlives the suite.
@Suite("kpstock db with the embedded cluster", .serialized)
struct EmbeddedClusterCommandTests {
  /// Runs `body` with a process whose cluster lives in a new home, then destroys the cluster and the home.
  func withClusterHome(_ body: (KPStockProcess, String) throws -> Void) throws {
    let home = try temporaryClusterHome()
    let process = KPStockProcess(home: home)
    defer {
      let destroyed = try? process.run(["db", "destroy", "--yes"])
      #expect(destroyed?.status == 0, "db destroy --yes: \(destroyed?.stderr ?? "did not run")")
      try? FileManager.default.removeItem(atPath: home)
    }
    try body(process, home)
  }

  func status(_ process: KPStockProcess) throws -> [String: Any] {
    let outcome = try process.run(["db", "status", "--format", "json"])
    try #require(outcome.status == 0, "db status: \(outcome.stderr)")
    return try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
  }

  @Test func statusOfAFreshHomeSaysNotInitializedAndStartsNothing() throws {
    try withClusterHome { process, home in
      let fields = try status(process)
      #expect(fields["target"] as? String == "embedded cluster in \(home)")
      #expect(fields["initialized"] as? Bool == false)
      #expect(fields["running"] as? Bool == false)
      #expect(fields["pid"] is NSNull)
      #expect(fields["connected"] == nil)
      #expect(!FileManager.default.fileExists(atPath: home + "/data/PG_VERSION"))
    }
  }

  @Test func theFirstCommandStartsAndMigratesTheClusterAndStopStartWorks() throws {
    try withClusterHome { process, home in
      let first = try process.run(["site", "list", "--format", "csv"])
      #expect(first.status == 0, "stderr: \(first.stderr)")
      #expect(first.outputLines == [siteColumns.joined(separator: ",")])
      #expect(
        first.errorLines == [
          "kpstock: started the embedded PostgreSQL server (data in \(home))",
          "kpstock: migrated the database (\(schemaFiles.joined(separator: ", "))) and loaded reference data",
        ])

      let running = try status(process)
      #expect(running["initialized"] as? Bool == true)
      #expect(running["running"] as? Bool == true)
      #expect((running["pid"] as? Int ?? 0) > 0)
      #expect(running["connected"] as? Bool == true)
      #expect(running["migrations_pending"] as? String == "none")
      if geteuid() == 0 {
        #expect((running["server_user"] as? String)?.hasPrefix("postgres") == true)
      }
      let table = try process.run(["db", "status"])
      #expect(table.outputLines.contains { $0.hasPrefix("running ") && $0.hasSuffix(" true") })

      let alreadyRunning = try process.run(["db", "start"])
      expectSuccess(alreadyRunning)
      #expect(alreadyRunning.stdout == "PostgreSQL is already running\n")

      let stopped = try process.run(["db", "stop"])
      expectSuccess(stopped)
      #expect(stopped.stdout == "PostgreSQL is stopped\n")
      let after = try status(process)
      #expect(after["running"] as? Bool == false)
      #expect(after["pid"] is NSNull)
      #expect(after["connected"] == nil)

      let again = try process.run(["site", "list", "--format", "csv"])
      #expect(again.status == 0, "stderr: \(again.stderr)")
      #expect(again.stderr == "kpstock: started the embedded PostgreSQL server (data in \(home))\n")
      #expect(try status(process)["running"] as? Bool == true)
    }
  }

  /// Daily work runs as a person's login (kpstock_admin, or KPSTOCK_USER), never as the cluster's superuser, which
  /// owns the schema and is kept for migrating and simulating (docs/security.md).
  @Test func theEmbeddedClustersDailyConnectionIsNotTheOwner() throws {
    try withClusterHome { process, home in
      expectSuccess(try process.run(["db", "seed", "--demo", "kwale"]))
      let receipt = [
        "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "10", "--lot", "L1", "--expiry",
        "2030-01-31",
      ]
      expectSuccess(try process.run(receipt))
      expectSuccess(try process.run(["user", "add", "amina", "--role", "pharmacist", "--site", "DICE-UKUNDA"]))
      var amina = process
      amina.environment["KPSTOCK_USER"] = "amina"
      let elsewhere = try amina.run(receipt.map { $0 == "DICE-UKUNDA" ? "STORE-KWALE" : $0 })
      #expect(elsewhere.status == 2)
      #expect(
        elsewhere.stderr == "kpstock: error: --site: amina may not record stock at STORE-KWALE (only at DICE-UKUNDA)\n")
      expectSuccess(try amina.run(receipt + ["--key", "amina-1"]))
      let refusedListing = try amina.run(["user", "list"])
      #expect(refusedListing.status != 0)
      #expect(refusedListing.stderr.contains("amina may not list users: only an admin may"))

      let owner = try Connection(connectingTo: clusterConnectionString(home: home))
      let recorders: [String] = try owner.query(
        """
        SELECT e.recorded_by FROM stock_events e JOIN pg_roles r ON r.rolname = e.recorded_by
        WHERE NOT r.rolsuper AND NOT pg_has_role(e.recorded_by, 'kp_owner', 'MEMBER') ORDER BY e.id
        """
      ).map { try $0.decode("recorded_by") }
      #expect(recorders == ["kpstock_admin", "amina"])
    }
  }

  @Test func aKilledServerIsRestartedByTheNextCommand() throws {
    try withClusterHome { process, home in
      let demo = try process.run(["demo"])
      #expect(demo.status == 0, "stderr: \(demo.stderr)")
      let pid = try #require(try status(process)["pid"] as? Int)
      let firstLine = try String(contentsOfFile: home + "/data/postmaster.pid", encoding: .utf8)
        .split(separator: "\n").first
      #expect(firstLine.map(String.init) == String(pid))

      #expect(kill(pid_t(pid), SIGKILL) == 0)
      try waitUntilGone(pid_t(pid))

      let outcome = try process.run(["site", "list", "--county", "002", "--format", "csv"])
      #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
      #expect(outcome.outputLines.count == 11)
      #expect(outcome.stderr.contains("started the embedded PostgreSQL server"))
      let restarted = try status(process)
      #expect(restarted["running"] as? Bool == true)
      #expect(restarted["pid"] as? Int != pid)
    }
  }

  @Test func aDroppedDatabaseIsCreatedAgainByTheNextCommand() throws {
    try withClusterHome { process, home in
      #expect(try process.run(["county", "list"]).status == 0)
      let admin = try Connection(connectingTo: "host=\(home)/run port=5432 user=kpstock dbname=postgres")
      try admin.execute("DROP DATABASE kpstock")
      let outcome = try process.run(["county", "list", "--format", "csv"])
      #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
      #expect(outcome.outputLines.count == 48)
      #expect(outcome.stderr.contains("migrated the database"))
    }
  }

  @Test func destroyWithYesDeletesTheData() throws {
    let home = try temporaryClusterHome()
    let process = KPStockProcess(home: home)
    defer {
      _ = try? process.run(["db", "destroy", "--yes"])
      try? FileManager.default.removeItem(atPath: home)
    }
    expectSuccess(try process.run(["db", "start"]))
    let destroyed = try process.run(["db", "destroy", "--yes"])
    expectSuccess(destroyed)
    #expect(destroyed.stdout == "deleted the embedded database in \(home)\n")
    #expect(!FileManager.default.fileExists(atPath: home + "/data"))
    let fields = try status(process)
    #expect(fields["initialized"] as? Bool == false)
    #expect(fields["running"] as? Bool == false)
  }

  /// Waits until `pid` has exited: no such process, or a zombie nobody has reaped yet.
  func waitUntilGone(_ pid: pid_t, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
      if kill(pid, 0) != 0 && errno == ESRCH { return }
      if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let state = stat.split(separator: ")").last?.split(separator: " ").first, state == "Z"
      {
        return
      }
      usleep(50_000)
    }
    Issue.record("process \(pid) did not exit within 20 seconds", sourceLocation: sourceLocation)
  }
}
