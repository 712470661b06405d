import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("kpstock import of registers")
struct RegisterImportCommandTests {
  @Test func aBadRowNamesFileLineAndColumnExitsTwoAndPostsNothing() throws {
    let cli = try CLI(demo: true)
    let receipts = try temporaryFile(
      named: "receipts.csv",
      contents: "site,commodity,qty,date,lot,expiry\nDICE-UKUNDA,MALE-CONDOM,1000,\(try cli.today()),A1,2030-01-31\n")
    expectSuccess(try cli.run("import", "receipts", receipts))
    let path = try temporaryFile(
      named: "ukunda.csv",
      contents: """
        site,commodity,qty,date,population,channel,worker
        DICE-UKUNDA,MALE-CONDOM,10,\(try cli.today()),FSW,clinic,
        DICE-UKUNDA,MALE-CONDOM,ten,\(try cli.today()),FSW,clinic,

        """)
    let outcome = try cli.run("import", "dispensing", path)
    #expect(outcome.status == 2)
    #expect(outcome.stderr.contains("ukunda.csv:3: qty: 'ten' is not a whole number of base units"))
    #expect(try cli.integer("SELECT count(*)::int FROM stock_events WHERE kind = 'dispense'") == 0)

    let skipped = try cli.run("import", "dispensing", path, "--skip-invalid", "--rejected", path + ".bad.csv")
    expectSuccess(skipped)
    #expect(skipped.stdout.contains("posted 1 of 2 rows"))
    #expect(FileManager.default.fileExists(atPath: path + ".bad.csv"))
    let again = try cli.run("import", "dispensing", path, "--skip-invalid", "--rejected", path + ".bad.csv")
    #expect(again.stdout.contains("1 were already recorded"))
  }

  @Test func aFixedRejectedRowsFileImportsAsItIs() throws {
    let cli = try CLI(demo: true)
    let today = try cli.today()
    let receipts = try temporaryFile(
      named: "receipts.csv",
      contents: "site,commodity,qty,date,lot,expiry\nDICE-UKUNDA,MALE-CONDOM,1000,\(today),A1,2030-01-31\n")
    expectSuccess(try cli.run("import", "receipts", receipts))
    let path = try temporaryFile(
      named: "ukunda.csv",
      contents: """
        site,commodity,qty,date,population,channel
        DICE-UKUNDA,MALE-CONDOM,10,\(today),FSW,clinic
        DICE-UKUNDA,MALE-CONDOM,ten,\(today),MSM,clinic

        """)
    defer { removeTemporaryFile(path) }
    expectSuccess(try cli.run("import", "dispensing", path, "--skip-invalid"))
    let rejected = path + ".rejected.csv"
    let written = try String(contentsOfFile: rejected, encoding: .utf8)
    #expect(written.hasPrefix("site,commodity,qty,date,population,channel,lot,worker,client,note,key,line,problem\n"))
    #expect(written.contains(",ten,"))
    try Data(written.replacingOccurrences(of: ",ten,", with: ",12,").utf8).write(to: URL(fileURLWithPath: rejected))

    let fixed = try cli.run("import", "dispensing", rejected)
    expectSuccess(fixed)
    #expect(fixed.stdout == "ukunda.csv.rejected.csv: posted 1 of 1 rows\n")
    #expect(
      try cli.integer(
        "SELECT sum(-quantity)::int FROM stock_events WHERE kind = 'dispense' AND population_code = 'MSM'")
        == 12)
  }

  @Test func rejectedRowsAreNeverWrittenOverTheFileBeingImported() throws {
    let cli = try CLI(demo: true)
    let contents = """
      site,commodity,qty,date,population,channel
      DICE-UKUNDA,MALE-CONDOM,ten,\(try cli.today()),FSW,clinic

      """
    let path = try temporaryFile(named: "ukunda.csv", contents: contents)
    defer { removeTemporaryFile(path) }
    let folder = (path as NSString).deletingLastPathComponent
    try FileManager.default.createSymbolicLink(atPath: folder + "/alias.csv", withDestinationPath: path)
    try FileManager.default.linkItem(atPath: path, toPath: folder + "/hard.csv")
    for rejected in [
      path, folder + "/../" + (folder as NSString).lastPathComponent + "/ukunda.csv", folder + "/alias.csv",
      folder + "/hard.csv",
    ] {
      expectRefused(
        try cli.run("import", "dispensing", path, "--skip-invalid", "--rejected", rejected),
        "--rejected: \(rejected) is the file being imported; the rejected rows would overwrite it (name another file)")
    }
    #expect(try String(contentsOfFile: path, encoding: .utf8) == contents)
    #expect(try cli.integer("SELECT count(*)::int FROM stock_events") == 0)
  }

  /// The import is one transaction: killing the process while its rows stream in must leave nothing.
  @Test func anImportKilledMidStreamLeavesNothing() throws {
    let cli = try CLI(demo: true)
    var text = "site,commodity,qty,date,lot,expiry\n"
    let today = try cli.today()
    for index in 0..<400_000 {
      text += "DICE-UKUNDA,MALE-CONDOM,\(index % 50 + 1),\(today),L\(index % 20),2030-01-31\n"
    }
    let path = try temporaryFile(named: "receipts.csv", contents: text)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: KPStockProcess.binaryPath)
    process.arguments = ["import", "receipts", path]
    process.environment = cli.process.environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let watcher = try cli.database.connect()
    let deadline = Date(timeIntervalSinceNow: 60)
    var streaming = false
    while !streaming && process.isRunning && Date() < deadline {
      streaming =
        try watcher.query(
          "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY %ledger_staging%' AND state = 'active'"
        ).count > 0
      if !streaming { usleep(5_000) }
    }
    try #require(streaming, "the import never started streaming")
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    while try watcher.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY %ledger_staging%'").count > 0 {
      usleep(10_000)
    }
    #expect(try cli.integer("SELECT count(*)::int FROM stock_events") == 0)
    #expect(try cli.integer("SELECT count(*)::int FROM lots") == 0)
  }
}

extension CLI {
  /// The programme's today, as the ledger sees it.
  func today() throws -> String {
    try text("SELECT programme_today()::text") ?? ""
  }
}
