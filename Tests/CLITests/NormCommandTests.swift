import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock norm")
struct NormCommandTests {
  static let columns = [
    "commodity", "population", "county", "site", "per_person_per_week", "effective_from", "source",
  ]

  @Test func listingGivesTheNormsInForcePerPopulation() throws {
    let cli = try CLI()
    let outcome = try cli.run("norm", "list", "--commodity", "male-condom", "--format", "csv")
    expectSuccess(outcome)
    #expect(outcome.outputLines.first == Self.columns.joined(separator: ","))
    #expect(outcome.outputLines.count == 8)
    #expect(outcome.outputLines.contains("MALE-CONDOM,MSM,,,3,2020-01-01,default"))
    let lubricant = try cli.jsonArray("norm", "list", "--commodity", "LUBRICANT", "--population", "fsw")
    #expect(lubricant.count == 1)
    #expect(lubricant.first?["per_person_per_week"] as? Double == 0.5)
  }

  @Test func settingAFutureNormKeepsTheCurrentOneInForceUntilThen() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "norm", "set", "--commodity", "male-condom", "--population", "fsw", "--qty", "4", "--from", "2030-01-01",
      "--source", "rural median, Kwale survey")
    expectSuccess(outcome)
    #expect(outcome.stdout == "set norm MALE-CONDOM for FSW: 4 per person per week from 2030-01-01\n")

    let today = try cli.jsonArray("norm", "list", "--commodity", "MALE-CONDOM", "--population", "FSW")
    #expect(today.map { $0["per_person_per_week"] as? Double } == [9])
    let later = try cli.jsonArray(
      "norm", "list", "--commodity", "MALE-CONDOM", "--population", "FSW", "--on", "2030-06-01")
    #expect(later.map { $0["per_person_per_week"] as? Double } == [4])
    #expect(later.first?["source"] as? String == "rural median, Kwale survey")
    let before = try cli.jsonArray(
      "norm", "list", "--commodity", "MALE-CONDOM", "--population", "FSW", "--on", "2019-12-31")
    #expect(before.isEmpty)

    let history = try cli.jsonArray("norm", "list", "--commodity", "MALE-CONDOM", "--population", "FSW", "--history")
    #expect(history.map { $0["effective_from"] as? String } == ["2020-01-01", "2030-01-01"])
  }

  @Test func settingTheSameDateAgainReplacesTheNorm() throws {
    let cli = try CLI()
    let arguments = ["norm", "set", "--commodity", "NS-SET", "--population", "PWID", "--from", "2030-01-01"]
    expectSuccess(try cli.run(arguments + ["--qty", "3.8462", "--source", "200 per year"]))
    let again = try cli.run(arguments + ["--qty", "5.7692", "--source", "300 per year"])
    expectSuccess(again)
    #expect(again.stdout == "replaced norm NS-SET for PWID: 5.7692 per person per week from 2030-01-01\n")
    let history = try cli.jsonArray("norm", "list", "--commodity", "NS-SET", "--history")
    #expect(history.count == 2)
    #expect(history.last?["source"] as? String == "300 per year")
  }

  @Test func aNormWithoutADateTakesEffectToday() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "norm", "set", "--commodity", "NALOXONE", "--population", "PWUD", "--qty", "0.25", "--source", "pilot")
    expectSuccess(outcome)
    let today = try #require(try cli.text("SELECT programme_today()::text"))
    #expect(outcome.stdout == "set norm NALOXONE for PWUD: 0.25 per person per week from \(today)\n")
    let norms = try cli.jsonArray("norm", "list", "--commodity", "NALOXONE")
    #expect(norms.map { $0["population"] as? String } == ["PWUD"])
  }

  @Test func aNegativeQuantityIsRefusedNamingQty() throws {
    let cli = try CLI()
    let base = ["norm", "set", "--commodity", "MALE-CONDOM", "--population", "FSW", "--source", "x"]
    expectRefused(try cli.run(base + ["--qty", "-1"]), "--qty: -1 is out of range (0–100000)")
    expectRefused(try cli.run(base + ["--qty=-1"]), "--qty: -1 is out of range (0–100000)")
    expectRefused(try cli.run(base + ["--qty", "100001"]), "--qty: 100001 is out of range (0–100000)")
    #expect(try cli.integer("SELECT count(*) FROM norms") == 13)
  }

  @Test func aQuantityThatIsNotANumberIsRefused() throws {
    let cli = try CLI()
    let base = ["norm", "set", "--commodity", "MALE-CONDOM", "--population", "FSW", "--source", "x", "--qty"]
    expectRefused(try cli.run(base + ["abc"]), "--qty: 'abc' is not a number")
    expectRefused(try cli.run(base + ["1,5"]), "--qty: '1,5' is not a number")
    expectRefused(try cli.run(base + ["0.12345"]), "--qty: '0.12345' has more than 4 decimal places")
    #expect(try cli.integer("SELECT count(*) FROM norms") == 13)
  }

  @Test func anUnknownPopulationIsRefusedWithASuggestion() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "norm", "set", "--commodity", "MALE-CONDOM", "--population", "FSWS", "--qty", "4", "--source", "x")
    expectRefused(outcome, "--population: unknown population 'FSWS' (did you mean FSW?)")
    expectRefused(
      try cli.run("norm", "list", "--population", "SEXWORKERS"), "--population: unknown population 'SEXWORKERS'")
    #expect(try cli.integer("SELECT count(*) FROM norms") == 13)
  }

  @Test func anUnknownCommodityIsRefusedWithASuggestion() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("norm", "set", "--commodity", "NS-SETS", "--population", "PWID", "--qty", "4", "--source", "x"),
      "--commodity: unknown commodity 'NS-SETS' (did you mean NS-SET?)")
    expectRefused(
      try cli.run("norm", "list", "--commodity", "LUBE"), "--commodity: unknown commodity 'LUBE'")
  }

  @Test func badDatesAreRefusedNamingTheFlag() throws {
    let cli = try CLI()
    expectRefused(try cli.run("norm", "list", "--on", "2030-13-01"), "--on: '2030-13-01' is not a date (YYYY-MM-DD)")
    expectRefused(
      try cli.run(
        "norm", "set", "--commodity", "MALE-CONDOM", "--population", "FSW", "--qty", "4", "--from", "01/12/2026",
        "--source", "x"),
      "--from: '01/12/2026' is not a date (YYYY-MM-DD)")
    expectRefused(
      try cli.run(
        "norm", "set", "--commodity", "MALE-CONDOM", "--population", "FSW", "--qty", "4", "--source", " "),
      "--source: must not be empty")
    #expect(try cli.integer("SELECT count(*) FROM norms") == 13)
  }

  @Test func aCountyOrASiteGetsANormOfItsOwnBesideTheNationalOne() throws {
    let cli = try CLI(demo: true)
    let county = try cli.run(
      "norm", "set", "--commodity", "MALE-CONDOM", "--population", "FSW", "--qty", "4", "--from", "2026-01-01",
      "--source", "rural median, Kwale survey", "--county", "kwale")
    expectSuccess(county)
    #expect(county.stdout == "set norm MALE-CONDOM for FSW in county 002: 4 per person per week from 2026-01-01\n")
    let path = try temporaryFile(
      named: "norms.csv",
      contents: "commodity,population,per_person_per_week,effective_from,source,site\n"
        + "MALE-CONDOM,FSW,12,2026-05-01,Ukunda beach survey,DICE-UKUNDA\n")
    expectSuccess(try cli.run("import", "norms", path))
    let rows = try cli.jsonArray("norm", "list", "--commodity", "MALE-CONDOM", "--population", "FSW")
    #expect(rows.map { $0["per_person_per_week"] as? Double } == [9, 4, 12])
    #expect(rows.map { $0["county"] as? String } == [nil, "002", nil])
    #expect(rows.map { $0["site"] as? String } == [nil, nil, "DICE-UKUNDA"])
    let both = try cli.run(
      "norm", "set", "--commodity", "MALE-CONDOM", "--population", "FSW", "--qty", "1", "--source", "x", "--county",
      "002", "--site", "DICE-KWALE")
    #expect(both.status == 2)
    #expect(both.stderr.contains("--site: a norm is for a county or for a site, not both"))
  }
}
