import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock demo")
struct DemoCommandTests {
  @Test func theDemoLoadsKwaleAndPrintsItsSitesAndSupplyNetwork() throws {
    let database = try TestDatabase.fresh()
    let process = KPStockProcess(database: database)
    let outcome = try process.run(["demo"])
    expectSuccess(outcome)
    #expect(outcome.stdout.hasPrefix("kpstock demo: added 10 sites, 6 size estimates, 29 supply lines (server "))
    #expect(
      outcome.stdout.contains("== Reference data\n47 counties, 7 key populations, 7 commodities, 13 norms in force\n"))
    #expect(outcome.stdout.contains("== Kwale county (002): 10 sites\n"))
    for code in kwaleSites {
      #expect(outcome.outputLines.contains { $0.hasPrefix(code + " ") }, "site \(code) is listed")
    }
    let network = """
      == Supply network
      STORE-KWALE  Kwale County Store
      ├─ DICE-KWALE  Kwale Town DICE  [condom, injecting_equipment, lubricant, overdose_reversal]
      │  ├─ SAT-KINANGO  Kinango satellite  [condom, injecting_equipment, lubricant]
      │  └─ SAT-MATUGA  Matuga satellite  [condom, injecting_equipment, lubricant]
      ├─ DICE-UKUNDA  Ukunda DICE  [condom, injecting_equipment, lubricant, overdose_reversal]
      │  ├─ SAT-LUNGALUNGA  Lunga Lunga satellite  [condom, injecting_equipment, lubricant]
      │  └─ SAT-MSAMBWENI  Msambweni satellite  [condom, injecting_equipment, lubricant]
      └─ MAT-KOMBANI  Kombani MAT clinic  [opioid_agonist, overdose_reversal]
         ├─ HOSP-MSAMBWENI  Msambweni County Referral Hospital  [opioid_agonist]
         └─ PRISON-KWALE  Kwale GK Prison  [opioid_agonist]

      """
    #expect(outcome.stdout.contains(network))
    #expect(outcome.stdout.contains("== Commodities\n"))
    #expect(outcome.outputLines[1].hasPrefix("kpstock demo: simulated 140 days of Kwale stock, "))
    #expect(outcome.stdout.contains("\n== Stock on hand at DICE-UKUNDA, by lot\nSITE "))
    #expect(outcome.stdout.contains("\n== Stock card: NS-SET at DICE-UKUNDA, "))
    #expect(outcome.stdout.contains(" --format dhis2\n"))
    #expect(
      outcome.outputLines.contains { $0.hasPrefix("      kpstock report mat-register --site MAT-KOMBANI --from ") })
    #expect(outcome.outputLines.last?.hasPrefix("      KPSTOCK_USER=kwale_viewer kpstock report coverage") == true)
    // The coming week's forecast for Kwale, and how to read one line of it step by step.
    #expect(outcome.stdout.contains("\n== Forecast of the coming week, "))
    #expect(outcome.stdout.contains(", county 002: 43 lines, "))
    // Run 9: the eight weeks before the coming one are forecast first, as they would have been.
    #expect(outcome.stdout.contains("\n      kpstock forecast explain 9 --site DICE-UKUNDA --commodity MALE-CONDOM\n"))
    // Its draft orders: what to send where, what needs attention (methadone's need is known: the register's clients
    // give it), and how to read one order line.
    let drafts = try #require(
      outcome.stdout.firstMatch(of: /\n== Orders for the coming week, from forecast run 9\n(\d+) draft orders:\n/))
    #expect(Int(drafts.1) ?? 0 >= 8)
    #expect(outcome.stdout.contains("  KEMSA (external)  STORE-KWALE     METHADONE  "))
    #expect(!outcome.stdout.contains("METHADONE: unknown need"))
    // The MAT clinic's clients by status and last month's methadone report, small numbers withheld.
    #expect(outcome.stdout.contains("\n== Methadone at MAT-KOMBANI: clients today, and "))
    #expect(outcome.stdout.contains("\nclients at end of month  "))
    let ukunda = try #require(
      try process.run(["orders", "list", "--site", "DICE-UKUNDA", "--status", "draft", "--format", "csv"]).outputLines
        .dropFirst().first?.split(separator: ",").first)
    #expect(outcome.stdout.contains("\nNext: kpstock orders explain \(ukunda) --commodity MALE-CONDOM\n"))
    // Last month's county report: printed in part, written whole as HTML.
    #expect(outcome.stdout.contains("\n== County report: Kwale county (002), "))
    let written = try #require(
      outcome.outputLines.first { $0.hasPrefix("The whole county report (every part, with charts): ") })
    let path = String(written.dropFirst("The whole county report (every part, with charts): ".count))
    #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
    try? FileManager.default.removeItem(atPath: path)
    let orders = try process.run(["orders", "list", "--status", "draft", "--format", "csv"])
    #expect(orders.outputLines.count == (Int(drafts.1) ?? 0) + 1)
    // The outreach each week's dispensing followed: every week but the one still running, for every population.
    let reach = try process.run(["outreach", "list", "--site", "DICE-UKUNDA", "--format", "csv"])
    #expect(reach.outputLines.count > 50)

    let sites = try process.run(["site", "list", "--county", "002", "--format", "csv"])
    #expect(sites.outputLines.count == 11)
  }

  @Test func runningTheDemoTwiceKeepsOneCopyOfTheData() throws {
    let cli = try CLI()
    expectSuccess(try cli.run("demo"))
    let events = try cli.integer("SELECT count(*) FROM stock_events")
    let second = try cli.run("demo")
    expectSuccess(second)
    #expect(second.stdout.hasPrefix("kpstock demo: the Kwale demo was already loaded (server "))
    #expect(
      second.outputLines[1] == "kpstock demo: the 20-week Kwale stock history was already recorded (\(events) events)")
    #expect(try cli.integer("SELECT count(*) FROM stock_events") == events)
    #expect(second.stdout.contains("== Kwale county (002): 10 sites\n"))
    // The same day's forecast is shown again, not made again.
    #expect(try cli.integer("SELECT count(*)::int FROM forecast_runs") == 9)
    #expect(try cli.integer("SELECT count(*) FROM sites") == 10)
    #expect(try cli.integer("SELECT count(*) FROM supply_lines") == 29)
    #expect(try cli.integer("SELECT count(*) FROM commodities") == 7)
    #expect(try cli.integer("SELECT count(*) FROM norms") == 13)
  }

  @Test func theDemoLeavesALocalEditAlone() throws {
    let cli = try CLI()
    expectSuccess(try cli.run("demo"))
    expectSuccess(try cli.run("site", "update", "DICE-UKUNDA", "--name", "Ukunda Drop-in Centre"))
    expectSuccess(
      try cli.run("supply-line", "set", "--site", "SAT-KINANGO", "--category", "condom", "--lead-time-days", "3"))
    let again = try cli.run("demo")
    expectSuccess(again)
    #expect(again.stdout.contains("DICE-UKUNDA  Ukunda Drop-in Centre  [condom"))
    #expect(try cli.text("SELECT name FROM sites WHERE code = 'DICE-UKUNDA'") == "Ukunda Drop-in Centre")
    #expect(
      try cli.integer("SELECT lead_time_days FROM supply_lines WHERE site_code = 'SAT-KINANGO' AND category = 'condom'")
        == 3)
  }
}
