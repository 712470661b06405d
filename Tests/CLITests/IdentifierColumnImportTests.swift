import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock import refuses personal identifier columns")
struct IdentifierColumnImportTests {
  static let identifierRefusal =
    "looks like a personal identifier; kpstock never stores names, phone numbers or ID numbers — remove the column"

  @Test func aRegisterWithAPhoneColumnIsRefusedWholeEvenWithSkipInvalidOrDryRun() throws {
    let cli = try CLI(demo: true)
    let today = try cli.today()
    let path = try temporaryFile(
      named: "ukunda.csv",
      contents: """
        site,commodity,qty,date,population,channel,client,Phone Number
        DICE-UKUNDA,MALE-CONDOM,10,\(today),FSW,clinic,KWL-A-0001,0712345678

        """)
    defer { removeTemporaryFile(path) }
    let events = try cli.integer("SELECT count(*)::int FROM stock_events")
    for extra in [[], ["--dry-run"], ["--skip-invalid"]] {
      let outcome = try cli.run(["import", "dispensing", path] + extra)
      expectRefused(outcome, "ukunda.csv:1: column 'Phone Number' \(Self.identifierRefusal)")
    }
    #expect(!FileManager.default.fileExists(atPath: path + ".rejected.csv"), "the rejected rows would copy the numbers")
    #expect(try cli.integer("SELECT count(*)::int FROM stock_events") == events)
  }

  @Test func outreachAndDosingRegistersWithIdentifierColumnsAreRefusedNamingEachColumn() throws {
    let cli = try CLI(demo: true)
    let outreach = try temporaryFile(named: "reach.csv", contents: "site,week,population,reached,MSISDN\n")
    defer { removeTemporaryFile(outreach) }
    expectRefused(try cli.run("import", "outreach", outreach), "reach.csv:1: column 'MSISDN' \(Self.identifierRefusal)")

    let doses = try temporaryFile(
      named: "kombani.csv", contents: "site,client,witness,date,First-Name,national_id,note\n")
    defer { removeTemporaryFile(doses) }
    expectRefused(
      try cli.run("import", "mat-doses", doses),
      "kombani.csv:1: columns 'First-Name', 'national_id' look like personal identifiers; kpstock never stores names, "
        + "phone numbers or ID numbers — remove them")
  }

  @Test func aSiteOrCommodityNameIsNotAPersonsAndImportsBack() throws {
    let cli = try CLI(demo: true)
    for thing in ["site", "commodity"] {
      let listing = try cli.run(thing, "list", "--format", "csv")
      expectSuccess(listing)
      #expect(listing.stdout.hasPrefix("code,name,"))
      let path = try temporaryFile(named: "\(thing).csv", contents: listing.stdout)
      defer { removeTemporaryFile(path) }
      let imported = try cli.run("import", thing == "site" ? "sites" : "commodities", path, "--dry-run")
      expectSuccess(imported)
      #expect(imported.stdout.contains("0 added, 0 updated"))
    }
  }
}
