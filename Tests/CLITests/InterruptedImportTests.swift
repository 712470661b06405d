import Foundation
import KPStockTestSupport
import Postgres
import Testing

/// An import whose client is interrupted or killed must not keep working on the server: its backend holds the
/// import lock and the balance rows it writes, and a dispense at that site would wait behind it.
@Suite("an interrupted import")
struct InterruptedImportTests {
  /// A running `kpstock import dispensing`, its stderr kept in a file.
  struct RunningImport {
    let process = Process()
    let stderrPath: String

    init(_ cli: CLI, file: String) throws {
      stderrPath = try temporaryFile(named: "stderr", contents: "")
      process.executableURL = URL(fileURLWithPath: KPStockProcess.binaryPath)
      process.arguments = ["import", "dispensing", file]
      process.environment = cli.process.environment
      process.standardInput = FileHandle.nullDevice
      process.standardOutput = FileHandle.nullDevice
      process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
      try process.run()
    }

    /// Whether the process ended within `seconds`.
    func exited(within seconds: Double) -> Bool {
      let deadline = Date(timeIntervalSinceNow: seconds)
      while process.isRunning && Date() < deadline { usleep(10_000) }
      return !process.isRunning
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
  }

  /// DICE-UKUNDA holds a million MALE-CONDOM, and a register of `rows` dispensings of one each is written.
  static func register(_ cli: CLI, rows: Int) throws -> String {
    let today = try cli.today()
    expectSuccess(
      try cli.run(
        "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "1000000", "--lot", "BIG1",
        "--expiry", "2030-01-31"))
    return try temporaryFile(
      named: "dispensing.csv",
      contents: "site,commodity,qty,date,population,channel\n"
        + String(repeating: "DICE-UKUNDA,MALE-CONDOM,1,\(today),FSW,clinic\n", count: rows))
  }

  /// The server process of the first session of this database that `condition` (SQL over pg_stat_activity) picks.
  static func backend(_ watcher: Connection, where condition: Query, seconds: Double = 90) throws -> Int? {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while Date() < deadline {
      let found = try watcher.query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND \(condition)"
      )
      if let row = found.first { return try row.decode(at: 0) }
      usleep(20_000)
    }
    return nil
  }

  /// Whether the backend is gone within `seconds`.
  static func gone(_ watcher: Connection, _ pid: Int, within seconds: Double) throws -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while try watcher.query("SELECT 1 FROM pg_stat_activity WHERE pid = \(pid)").count > 0 {
      guard Date() < deadline else { return false }
      usleep(20_000)
    }
    return true
  }

  @Test func ctrlCCancelsTheRunningStatementAndSaysNothingWasWritten() throws {
    let cli = try CLI(demo: true)
    let path = try Self.register(cli, rows: 100_000)
    defer { removeTemporaryFile(path) }
    let watcher = try cli.database.connect()
    let running = try RunningImport(cli, file: path)
    let backend = try #require(
      try Self.backend(
        watcher,
        where: """
          state = 'active'
          AND (query LIKE '%ledger_import_prepare%' OR query LIKE '%ledger_import_dispensing%')
          """),
      "the import never reached its server-side statements")

    kill(running.process.processIdentifier, SIGINT)
    #expect(running.exited(within: 5), "the import did not stop within 5 s of SIGINT")
    #expect(running.process.terminationStatus == 128 + SIGINT)
    #expect(running.stderr == "kpstock: error: interrupted; nothing was written\n")
    #expect(try Self.gone(watcher, backend, within: 5), "the import's backend still runs")
    #expect(
      try watcher.query("SELECT pg_try_advisory_lock(hashtext('kpstock.ledger_import')) AS free")[0].decode("free"))
    #expect(try cli.integer("SELECT count(*)::int FROM stock_events WHERE kind = 'dispense'") == 0)
  }

  /// kill -9 leaves nothing to cancel with: the server notices the client is gone (client_connection_check_interval,
  /// which the embedded cluster and so the test cluster set) even while the statement waits on a lock.
  @Test func aKilledImportsBackendStopsWithinSecondsEvenWhileItWaits() throws {
    let cli = try CLI(demo: true)
    let path = try Self.register(cli, rows: 1_000)
    defer { removeTemporaryFile(path) }
    let watcher = try cli.database.connect()
    let blocker = try cli.database.connect()
    try blocker.execute("BEGIN")
    try blocker.execute(
      "SELECT * FROM stock_balances WHERE site_code = 'DICE-UKUNDA' AND commodity_code = 'MALE-CONDOM' FOR UPDATE")
    let running = try RunningImport(cli, file: path)
    let backend = try #require(
      try Self.backend(watcher, where: "wait_event_type = 'Lock'"), "the import never waited on the balance lock")

    kill(running.process.processIdentifier, SIGKILL)
    #expect(running.exited(within: 5))
    #expect(try Self.gone(watcher, backend, within: 6), "the killed import's backend still waits")
    try blocker.execute("ROLLBACK")
    #expect(try cli.integer("SELECT count(*)::int FROM stock_events WHERE kind = 'dispense'") == 0)
  }
}
