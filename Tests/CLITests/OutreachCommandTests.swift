import Foundation
import KPStockTestSupport
import Postgres
import Testing

extension CLI {
  /// The ISO week `weeksAgo` weeks before the programme's current one, as kpstock writes it.
  func week(_ weeksAgo: Int) throws -> String {
    try text("SELECT iso_week_label(date_trunc('week', programme_today())::date - (\(weeksAgo * 7))::integer)") ?? ""
  }
}

@Suite("kpstock outreach, size-estimate and their imports")
struct OutreachCommandTests {
  @Test func recordThenCorrectAWeekAndListIt() throws {
    let cli = try CLI(demo: true)
    let week = try cli.week(1)
    expectSuccess(
      try cli.run(
        "outreach", "record", "--site", "DICE-UKUNDA", "--week", week, "--population", "FSW", "--reached", "236"))
    let corrected = try cli.run(
      "outreach", "record", "--site", "DICE-UKUNDA", "--week", week, "--population", "FSW", "--reached", "240",
      "--new", "5", "--key", "register p. 12")
    expectSuccess(corrected)
    #expect(corrected.stdout.contains("corrected (the old figures are kept)"))
    let rows = try cli.jsonArray("outreach", "list", "--site", "DICE-UKUNDA")
    #expect(rows.count == 1)
    #expect(rows.first?["reached"] as? Int == 240)
    #expect(rows.first?["new"] as? Int == 5)
    #expect(rows.first?["corrections"] as? Int == 1)
    #expect(try cli.text("SELECT source_key FROM outreach_reach") == "register p. 12")
  }

  @Test func eachBadValueIsRefusedNamingItsFlagWithStatusTwoAndNothingSaved() throws {
    let cli = try CLI(demo: true)
    let base = ["outreach", "record", "--site", "DICE-UKUNDA", "--population", "FSW"]
    let cases: [([String], String)] = [
      (["--week", try cli.week(-1), "--reached", "3"], "--week: week \(try cli.week(-1)) has not begun"),
      (["--week", "2026-47", "--reached", "3"], "--week: '2026-47' is not an ISO week (2026-W47)"),
      (
        ["--week", try cli.week(1), "--reached", "-3"], "--reached: '-3' must be a whole number of people, zero or more"
      ),
      (["--week", try cli.week(1), "--reached", "3", "--hotspot", "pub"], "--hotspot: 'pub' is not a hotspot type"),
    ]
    for (arguments, message) in cases {
      let outcome = try cli.run(base + arguments)
      #expect(outcome.status == 2, "\(arguments)")
      #expect(outcome.stderr.contains("kpstock: error: \(message)"), "\(outcome.stderr)")
    }
    let store = try cli.run(
      "outreach", "record", "--site", "STORE-KWALE", "--week", try cli.week(1), "--population", "FSW", "--reached", "1")
    #expect(store.stderr.contains("--site: STORE-KWALE is a store: outreach is reported by DICEs and satellites"))
    let backwards = try cli.run("outreach", "list", "--from-week", try cli.week(1), "--to-week", try cli.week(2))
    #expect(backwards.status == 2)
    #expect(backwards.stderr.contains("--from-week: \(try cli.week(1)) comes after the last week asked for"))
    #expect(try cli.integer("SELECT count(*)::int FROM outreach_reach") == 0)
  }

  @Test func importOutreachNamesFileLineAndColumnAndSkipInvalidWritesARejectedFile() throws {
    let cli = try CLI(demo: true)
    let path = try temporaryFile(
      named: "kwale-reach.csv",
      contents: """
        site,week,population,reached,new,worker,hotspot
        DICE-UKUNDA,\(try cli.week(1)),FSW,120,2,PE-01,street
        DICE-UKUNDA,\(try cli.week(1)),MSM,many,,,

        """)
    let refused = try cli.run("import", "outreach", path)
    #expect(refused.status == 2)
    #expect(
      refused.stderr.contains("kwale-reach.csv:3: reached: 'many' must be a whole number of people, zero or more"))
    #expect(refused.stderr.contains("1 of 2 rows have problems; nothing was imported"))
    let skipped = try cli.run("import", "outreach", path, "--skip-invalid", "--rejected", path + ".bad.csv")
    expectSuccess(skipped)
    #expect(skipped.stdout.contains("saved 1 of 2 rows (1 new, 0 corrected); 0 unchanged; 1 rejected"))
    let again = try cli.run("import", "outreach", path, "--skip-invalid", "--rejected", path + ".bad.csv")
    #expect(again.stdout.contains("saved 0 of 2 rows (0 new, 0 corrected); 1 unchanged"))
  }

  @Test func sizeEstimatesAreSetImportedAndListed() throws {
    let cli = try CLI(demo: true)
    expectSuccess(
      try cli.run(
        "size-estimate", "set", "--area", "002", "--population", "FSW", "--year", "2026", "--size", "4200", "--source",
        "KP mapping 2025"))
    let path = try temporaryFile(
      named: "sizes.csv", contents: "area,population,year,size,source\nDICE-UKUNDA,MSM,2026,300,hotspot mapping\n")
    expectSuccess(try cli.run("import", "size-estimates", path))
    // The demo's own estimates are there too (one per population); FSW's is replaced.
    let rows = try cli.jsonArray("size-estimate", "list").filter {
      ["FSW", "MSM"].contains($0["population"] as? String)
    }
    #expect(
      rows.map { "\($0["area"] ?? "") \($0["area_kind"] ?? "") \($0["population"] ?? "") \($0["size"] ?? "")" } == [
        "002 county FSW 4200", "002 county MSM 1100", "DICE-UKUNDA site MSM 300",
      ])
    let bad = try cli.run(
      "size-estimate", "set", "--area", "002", "--population", "FSW", "--year", "2026", "--size", "-1", "--source", "x")
    #expect(bad.status == 2)
    #expect(bad.stderr.contains("--size: '-1' must be a whole number of people, zero or more"))
  }
}
