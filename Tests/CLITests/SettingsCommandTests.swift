import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock settings")
struct SettingsCommandTests {
  @Test func aNewDatabaseHasTheDomainDefaults() throws {
    let settings = try CLI().jsonObject("settings", "show")
    #expect(settings["time_zone"] as? String == "Africa/Nairobi")
    #expect(settings["wastage_percent"] as? Int == 10)
    #expect(settings["forecast_tolerance_percent"] as? Int == 20)
    #expect(settings["backdating_window_days"] as? Int == 60)
    #expect(settings["forecast_alpha"] as? Double == 0.5)
    #expect(settings["forecast_beta"] as? Double == 0.2)
  }

  @Test func holtsSmoothingConstantsAreSettingsWithinTheirRange() throws {
    let cli = try CLI()
    expectSuccess(try cli.run("settings", "set", "--forecast-alpha", "0.6", "--forecast-beta", "0"))
    let settings = try cli.jsonObject("settings", "show")
    #expect(settings["forecast_alpha"] as? Double == 0.6)
    #expect(settings["forecast_beta"] as? Int == 0)
    expectRefused(
      try cli.run("settings", "set", "--forecast-alpha", "0"), "--forecast-alpha: must be above 0 (at most 1)")
    expectRefused(
      try cli.run("settings", "set", "--forecast-beta", "1.5"), "--forecast-beta: 1.5 is out of range (0–1)")
    #expect(try cli.text("SELECT forecast_alpha::text FROM programme_settings") == "0.600")
  }

  @Test func onlyTheSettingsGivenChange() throws {
    let cli = try CLI()
    expectSuccess(try cli.run("settings", "set", "--wastage-percent", "12.5", "--backdating-window-days", "90"))
    let settings = try cli.jsonObject("settings", "show")
    #expect(settings["wastage_percent"] as? Double == 12.5)
    #expect(settings["backdating_window_days"] as? Int == 90)
    #expect(settings["time_zone"] as? String == "Africa/Nairobi")
  }

  @Test func anUnknownTimeZoneIsRefusedAndNothingChanges() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("settings", "set", "--time-zone", "Africa/Nairob", "--wastage-percent", "15"),
      "--time-zone: not a time zone PostgreSQL knows (e.g. Africa/Nairobi)")
    #expect(try cli.integer("SELECT wastage_percent::int FROM programme_settings") == 10)
  }

  @Test func outOfRangePercentagesAndDaysAreRefused() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("settings", "set", "--wastage-percent", "-5"), "--wastage-percent: -5 is out of range (0–100)")
    expectRefused(
      try cli.run("settings", "set", "--backdating-window-days", "ninety"),
      "--backdating-window-days: 'ninety' is not a whole number")
    expectRefused(
      try cli.run("settings", "set"), "nothing to change: give at least one of --time-zone, --wastage-percent, ...")
  }
}

@Suite("kpstock command line")
struct CommandLineTests {
  @Test func aMalformedCommandLineIsBadInputToo() throws {
    let outcome = try CLI().run("site", "list", "--bogus")
    #expect(outcome.status == 2)
    #expect(outcome.stderr.hasPrefix("Error: Unknown option '--bogus'"))
  }

  @Test func normListRefusesADateTogetherWithHistory() throws {
    let outcome = try CLI().run("norm", "list", "--history", "--on", "2026-01-01")
    #expect(outcome.status == 2)
    #expect(outcome.stderr.contains("--on and --history do not go together"))
  }

  @Test func aSubCountyFilterWorksWithoutACountyAndInAnyCase() throws {
    let cli = try CLI(demo: true)
    let sites = try cli.jsonArray("site", "list", "--sub-county", "matuga")
    #expect(
      Set(sites.compactMap { $0["code"] as? String }) == [
        "STORE-KWALE", "MAT-KOMBANI", "DICE-KWALE", "SAT-MATUGA",
        "PRISON-KWALE",
      ])
    expectRefused(
      try cli.run("site", "list", "--sub-county", "Atlantis"), "--sub-county: unknown sub-county 'Atlantis'")
  }

  @Test func aNameTheCSVExportGuardsAgainstFormulasImportsBackUnchanged() throws {
    let cli = try CLI()
    expectSuccess(try cli.run("site", "add", "DICE-X", "--name", "=Likoni", "--kind", "dice", "--county", "001"))
    let exported = try cli.run("site", "list", "--format", "csv")
    #expect(exported.stdout.contains(",'=Likoni,"))
    let path = try temporaryFile(named: "sites.csv", contents: exported.stdout)
    defer { removeTemporaryFile(path) }
    expectSuccess(try cli.run("import", "sites", path))
    #expect(try cli.text("SELECT name FROM sites WHERE code = 'DICE-X'") == "=Likoni")
  }

  @Test func countyListGivesEveryCodeWithItsSubCountiesAndSites() throws {
    let counties = try CLI(demo: true).jsonArray("county", "list")
    #expect(counties.count == 47)
    let kwale = try #require(counties.first { $0["code"] as? String == "002" })
    #expect(kwale["name"] as? String == "Kwale")
    #expect(kwale["sub_counties"] as? Int == 4)
    #expect(kwale["sites"] as? Int == 10)
  }
}
