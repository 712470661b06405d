import Foundation
import KPStockTestSupport
import Testing

/// `kpstock audit`: one newest-first trail of stock events, doses and changes, filtered by site, user, days and kind.
@Suite("Audit command")
struct AuditCommandTests {
  @Test func theTrailListsEventsAndChangesBySiteAndKindAndNeverAClient() throws {
    let cli = try CLI.ledger()
    try cli.record("receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "100")
    try cli.record(
      "dispense", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "30", "--population", "PWID",
      "--channel", "clinic", "--client", "KWL-AB12-X")
    try cli.record("site", "update", "DICE-KWALE", "--closed-on", "2027-06-30")
    let user = try #require(try cli.text("SELECT session_user::text"))

    let ukunda = try cli.jsonArray("audit", "--site", "dice-ukunda", "--kind", "events")
    #expect(
      ukunda.map { $0["what"] as? String } == [
        "dispense 30 ALCOHOL-SWAB at DICE-UKUNDA (PWID, clinic)", "receipt 100 ALCOHOL-SWAB at DICE-UKUNDA",
      ])
    #expect(ukunda.allSatisfy { $0["who"] as? String == user && $0["kind"] as? String == "event" })
    #expect(ukunda.first.map { Set($0.keys) } == ["at", "who", "kind", "site", "source", "source_id", "what"])

    let changes = try cli.jsonArray("audit", "--kind", "changes", "--user", user, "--limit", "1")
    #expect(changes.map { $0["what"] as? String } == ["update sites DICE-KWALE: closed_on → 2027-06-30"])
    let limited = try cli.run("audit", "--limit", "1")
    #expect(limited.status == 0 && limited.outputLines.count == 2)
    #expect(limited.errorLines.count == 1 && limited.stderr.contains("there are more"))

    let table = try cli.record("audit", "--kind", "events")
    #expect(table.hasPrefix("AT "))
    #expect(!table.contains("KWL-AB12-X"))
    #expect(
      try cli.record("audit", "--user", "nobody-at-all", "--format", "csv")
        == "at,who,kind,site,source,source_id,what\n")
  }

  @Test func everyBadOptionIsRefusedNamingItsFlag() throws {
    let cli = try CLI(demo: true)
    expectRefused(try cli.run("audit", "--from", "2026-02-30"), "--from: '2026-02-30' is not a date (YYYY-MM-DD)")
    expectRefused(try cli.run("audit", "--to", "yesterday"), "--to: 'yesterday' is not a date (YYYY-MM-DD)")
    expectRefused(
      try cli.run("audit", "--from", "2026-12-05", "--to", "2026-12-01"), "--from: 2026-12-05 is after --to 2026-12-01")
    expectRefused(try cli.run("audit", "--from", "2999-01-01"), "--from: 2999-01-01 is after today, \(try today(cli))")
    expectRefused(try cli.run("audit", "--kind", "stock"), "--kind: 'stock' is not a kind (events, doses, changes)")
    expectRefused(try cli.run("audit", "--limit", "0"), "--limit: 0 is out of range (1–100000)")
    expectRefused(try cli.run("audit", "--limit", "ten"), "--limit: 'ten' is not a whole number")
    expectRefused(try cli.run("audit", "--user", " "), "--user: must not be empty")
    expectRefused(
      try cli.run("audit", "--site", "DICE-UKUNDAA"), "--site: unknown site 'DICE-UKUNDAA' (did you mean DICE-UKUNDA?)")
  }

  private func today(_ cli: CLI) throws -> String {
    try #require(
      try cli.text("SELECT (now() AT TIME ZONE time_zone)::date::text FROM programme_settings"))
  }
}
