import Foundation
import KPStockTestSupport
import Postgres
import Testing

/// Collects results from several threads.
private final class Results: @unchecked Sendable {
  private let lock = NSLock()
  private var outcomes: [KPStockProcess.Outcome] = []

  func append(_ outcome: KPStockProcess.Outcome) {
    lock.withLock { outcomes.append(outcome) }
  }

  var all: [KPStockProcess.Outcome] { lock.withLock { outcomes } }
}

@Suite("kpstock under awkward conditions")
struct AwkwardConditionsTests {
  @Test func commandsStartedTogetherOnANewDatabaseAllSeeTheReferenceData() throws {
    let process = KPStockProcess(database: try TestDatabase.empty())
    let results = Results()
    DispatchQueue.concurrentPerform(iterations: 6) { _ in
      if let outcome = try? process.run(["county", "list", "--format", "csv"]) { results.append(outcome) }
    }
    #expect(results.all.count == 6)
    for outcome in results.all {
      #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
      #expect(outcome.outputLines.count == 48, "every command sees the 47 counties")
      #expect(!outcome.stderr.contains("NOTICE"), "server notices never reach the user")
    }
    #expect(results.all.filter { $0.stderr.contains("loaded reference data") }.count == 1)
  }

  @Test func reimportingTheSameFileChangesNothingAndSaysSo() throws {
    let cli = try CLI(demo: true)
    let exported = try cli.run("norm", "list", "--history", "--format", "csv")
    let before = try cli.text("SELECT max(recorded_at)::text FROM norms")
    let path = try temporaryFile(named: "norms.csv", contents: exported.stdout)
    defer { removeTemporaryFile(path) }
    let outcome = try cli.run("import", "norms", path)
    #expect(outcome.stdout == "norms.csv: 0 added, 0 updated, 13 unchanged\n")
    #expect(try cli.text("SELECT max(recorded_at)::text FROM norms") == before, "unchanged rows keep their stamp")
  }

  @Test func aDuplicateDHIS2UidOnAddIsNamedNotMistakenForADuplicateCode() throws {
    let cli = try CLI()
    expectSuccess(
      try cli.run(
        "site", "add", "DICE-X", "--name", "X", "--kind", "dice", "--county", "001", "--dhis2-uid", "abcdefghijk"))
    expectRefused(
      try cli.run(
        "site", "add", "DICE-Y", "--name", "Y", "--kind", "dice", "--county", "001", "--dhis2-uid", "abcdefghijk"),
      "--dhis2-uid: already used by another site")
    #expect(try cli.integer("SELECT count(*) FROM sites WHERE code = 'DICE-Y'") == 0)
  }

  @Test func headersWithARepeatedOrUnnamedColumnAreRefused() throws {
    let cli = try CLI()
    for (contents, message) in [
      ("code,name,kind,county,code\nA1,x,dice,001,A2\n", "sites.csv:1: column 'code' appears twice in the header"),
      ("code,name,kind,county,\nA1,x,dice,001,\n", "sites.csv:1: column 5 of the header has no name"),
    ] {
      let path = try temporaryFile(named: "sites.csv", contents: contents)
      defer { removeTemporaryFile(path) }
      expectRefused(try cli.run("import", "sites", path), message)
    }
  }

  @Test func rowsOfEmptyCellsLeftBySpreadsheetsAreSkipped() throws {
    let cli = try CLI()
    let path = try temporaryFile(
      named: "sites.csv", contents: "code,name,kind,county\n,,,\nDICE-A1,A,dice,001\n,,,\n , , , \n")
    defer { removeTemporaryFile(path) }
    let outcome = try cli.run("import", "sites", path)
    #expect(outcome.stdout == "sites.csv: 1 added, 0 updated, 0 unchanged\n")
  }

  @Test func theSessionRunsInTheProgrammeTimeZone() throws {
    let cli = try CLI()
    expectSuccess(try cli.run("settings", "set", "--time-zone", "Asia/Kolkata"))
    let connection = try KPStockTestSupport.openAsKPStock(cli.database)
    #expect(try connection.query("SELECT current_setting('TimeZone') AS tz")[0].decode("tz") == "Asia/Kolkata")
  }

  @Test func populationsAndNormAuthorsCanBeListed() throws {
    let cli = try CLI()
    let populations = try cli.jsonArray("population", "list")
    #expect(
      populations.compactMap { $0["code"] as? String } == ["FSW", "MSM", "MSW", "PRISONER", "PWID", "PWUD", "TG"])
    let history = try cli.jsonArray("norm", "list", "--history", "--commodity", "NS-SET")
    #expect(history.first?["recorded_by"] as? String == "kpstock")
    #expect((history.first?["recorded_at"] as? String)?.hasSuffix("Z") == true)
  }
}
