import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("kpstock forecast")
struct ForecastCommandTests {
  /// The Kwale network with the 20 weeks of history the forecast reads.
  private func kwale() throws -> CLI {
    let cli = try CLI(demo: true)
    let simulated = try cli.run("simulate", "--profile", "kwale", "--weeks", "20", "--seed", "1")
    try #require(simulated.status == 0, "\(simulated.stderr)")
    return cli
  }

  @Test func runShowAndExplainTheComingWeekForKwale() throws {
    let cli = try kwale()
    let coming = try cli.week(-1)
    let run = try cli.run("forecast", "run", "--county", "002")
    expectSuccess(run)
    #expect(run.stdout.hasPrefix("Forecast run 1 for \(coming), county 002: "), "\(run.stdout)")
    // Per commodity: the sites with a line, the sum of their known own needs, how many are unknown and flagged.
    let methadone = try #require(run.outputLines.first { $0.hasPrefix("METHADONE ") })
    let methadoneColumns = methadone.split(separator: " ").map(String.init)
    // Four sites with a methadone line, none unknown: the register's clients give the need (mat_weekly_need).
    #expect(methadoneColumns[0...1] == ["METHADONE", "4"] && methadoneColumns[3] == "0", "\(methadone)")
    let kombani = try #require(
      try cli.jsonArray("forecast", "show", "1", "--site", "MAT-KOMBANI").first {
        $0["commodity"] as? String == "METHADONE"
      })
    #expect(kombani["method"] as? String == "clients")
    #expect(
      kombani["client_need"] as? Int
        == (try cli.integer(
          "SELECT mat_weekly_need('MAT-KOMBANI', date_trunc('week', programme_today())::date + 7)::integer")))

    let lines = try cli.jsonArray("forecast", "show", "1", "--site", "DICE-UKUNDA")
    #expect(lines.count == 6)
    let condoms = try #require(lines.first { $0["commodity"] as? String == "MALE-CONDOM" })
    for key in [
      "site", "commodity", "week", "method", "need", "own_need", "supplied_need", "outreach_need", "consumption_need",
      "client_need", "naive_need", "wape", "flags",
    ] {
      #expect(condoms.keys.contains(key), "\(key)")
    }
    #expect(condoms["week"] as? String == coming)
    #expect(condoms["method"] as? String == "max")
    #expect(condoms["client_need"] is NSNull)
    let need = try #require(condoms["need"] as? Int)
    let own = try #require(condoms["own_need"] as? Int)
    #expect(need == own + (condoms["supplied_need"] as? Int ?? -1))
    #expect(own == max(condoms["outreach_need"] as? Int ?? 0, condoms["consumption_need"] as? Int ?? 0))
    let wape = try #require(condoms["wape"] as? [String: Any])
    #expect(Set(wape.keys) == ["outreach", "consumption", "naive"])
    #expect(condoms["flags"] is [Any])

    #expect(try cli.jsonArray("forecast", "show", "1", "--flag", "unknown").isEmpty)
    let csv = try cli.run("forecast", "show", "1", "--commodity", "NS-SET", "--format", "csv")
    expectSuccess(csv)
    #expect(csv.stdout.hasPrefix("site,commodity,week,method,chosen_method,need,own_need,supplied_need,"))

    let explain = try cli.run("forecast", "explain", "1", "--site", "dice-ukunda", "--commodity", "male-condom")
    expectSuccess(explain)
    for heading in [
      "1. Outreach-based need", "2. Consumption-based need", "3. Client-based need", "4. Back-test", "5. Method max",
      "6. Echelon need: own \(own) + SAT-LUNGALUNGA", "Flags:",
    ] {
      #expect(explain.stdout.contains(heading), "\(heading)")
    }
    // Naloxone has no norm: its outreach-based need is unknown, and explain says why.
    let naloxone = try cli.run("forecast", "explain", "1", "--site", "DICE-UKUNDA", "--commodity", "NALOXONE")
    expectSuccess(naloxone)
    #expect(naloxone.stdout.contains("1. Outreach-based need: unknown. No population had a report and a norm"))
    #expect(try cli.jsonArray("forecast", "list").count == 1)
  }

  @Test func eachBadArgumentIsRefusedNamingItWithStatusTwoAndNoRunStored() throws {
    let cli = try CLI(demo: true)
    expectSuccess(try cli.run("forecast", "run"))
    let cases: [([String], String)] = [
      (["forecast", "run", "--week", "2026-W99"], "--week: '2026-W99' is not an ISO week (2026-W47)"),
      (["forecast", "run", "--week", try cli.week(-3)], "--week: \(try cli.week(-3)) is after the coming week"),
      (["forecast", "run", "--county", "099"], "--county: no county 099"),
      (["forecast", "run", "--site", "NOWHERE"], "--site: no site NOWHERE"),
      (["forecast", "show", "7"], "RUN: no forecast run 7"),
      (["forecast", "show", "1", "--flag", "odd"], "--flag: no flag 'odd'"),
      (["forecast", "show", "1", "--site", "NOWHERE"], "--site: no site NOWHERE"),
      (["forecast", "show", "1", "--commodity", "GLOVES"], "--commodity: no commodity GLOVES"),
      (
        ["forecast", "explain", "1", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM"],
        "--site: run 1 has no line for DICE-UKUNDA and MALE-CONDOM"
      ),
      (["forecast", "method", "NALOXONE", "guess"], "METHOD: no method 'guess'"),
      (["forecast", "method", "NOPE", "auto"], "COMMODITY: no commodity NOPE"),
    ]
    for (arguments, message) in cases {
      let outcome = try cli.run(arguments)
      #expect(outcome.status == 2, "\(arguments)")
      #expect(outcome.stderr.contains("kpstock: error: \(message)"), "\(outcome.stderr)")
    }
    #expect(try cli.integer("SELECT count(*)::int FROM forecast_runs") == 1)
    #expect(try cli.integer("SELECT count(*)::int FROM forecast_methods") == 0)
  }

  @Test func aCommoditysMethodIsItsCategorysDefaultUntilSet() throws {
    let cli = try CLI(demo: true)
    func method(_ commodity: String) throws -> (String?, Bool?) {
      let row = try cli.jsonArray("forecast", "methods").first { $0["commodity"] as? String == commodity }
      return (row?["method"] as? String, row?["default"] as? Bool)
    }
    #expect(try method("MALE-CONDOM") == ("max", true))
    #expect(try method("NS-SET") == ("max", true))
    #expect(try method("METHADONE") == ("clients", true))
    #expect(try method("NALOXONE") == ("consumption", true))
    let set = try cli.run("forecast", "method", "naloxone", "AUTO")
    expectSuccess(set)
    #expect(set.stdout == "NALOXONE: forecast method auto\n")
    #expect(try method("NALOXONE") == ("auto", false))
    expectSuccess(try cli.run("forecast", "method", "NALOXONE", "default"))
    #expect(try method("NALOXONE") == ("consumption", true))
  }
}
