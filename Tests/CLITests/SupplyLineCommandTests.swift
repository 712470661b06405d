import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock supply-line")
struct SupplyLineCommandTests {
  static let columns = [
    "site", "category", "supplier", "external_supplier", "lead_time_days", "review_period_days", "safety_stock_weeks",
    "variant", "emergency_order_point_weeks",
  ]

  static let loopMessage = "--supplier: this supply line would make a loop (a site would end up supplying itself)"

  // MARK: list

  @Test func listingBySupplierGivesEveryLineItFeeds() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run("supply-line", "list", "--supplier", "store-kwale", "--format", "csv")
    expectSuccess(outcome)
    #expect(outcome.outputLines.first == Self.columns.joined(separator: ","))
    #expect(outcome.outputLines.count == 11)
    #expect(outcome.outputLines.contains("MAT-KOMBANI,opioid_agonist,STORE-KWALE,,14,14,2,standard,1"))
    let sites = Set(outcome.outputLines.dropFirst().map { String($0.prefix { $0 != "," }) })
    #expect(sites == ["DICE-KWALE", "DICE-UKUNDA", "MAT-KOMBANI"])
  }

  @Test func listingFiltersBySiteCountyAndCategory() throws {
    let cli = try CLI(demo: true)
    let kinango = try cli.jsonArray("supply-line", "list", "--site", "sat-kinango")
    #expect(Set(kinango.compactMap { $0["category"] as? String }) == ["condom", "lubricant", "injecting_equipment"])
    #expect(Set(kinango.compactMap { $0["supplier"] as? String }) == ["DICE-KWALE"])
    #expect(try cli.jsonArray("supply-line", "list", "--county", "Kwale").count == 29)
    #expect(try cli.jsonArray("supply-line", "list", "--county", "001").isEmpty)
    let opioid = try cli.jsonArray("supply-line", "list", "--category", "opioid-agonist")
    #expect(
      Set(opioid.compactMap { $0["site"] as? String }) == [
        "STORE-KWALE", "MAT-KOMBANI", "PRISON-KWALE", "HOSP-MSAMBWENI",
      ])
    #expect(opioid.first { $0["site"] as? String == "STORE-KWALE" }?["external_supplier"] as? String == "KEMSA")
    let prison = try #require(opioid.first { $0["site"] as? String == "PRISON-KWALE" })
    #expect(prison["safety_stock_weeks"] as? Double == 0.5)
    #expect(prison["lead_time_days"] as? Int == 1)
  }

  @Test func anUnknownSupplierInAFilterSuggestsTheNearestSite() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run("supply-line", "list", "--supplier", "STORE-KWAL"),
      "--supplier: unknown site 'STORE-KWAL' (did you mean STORE-KWALE?)")
  }

  // MARK: set

  @Test func aNewLineGetsTheWeeklyForcedOrderingDefaults() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run(
      "supply-line", "set", "--site", "prison-kwale", "--category", "condom", "--supplier", "dice-kwale")
    expectSuccess(outcome)
    #expect(outcome.outputLines.first == "added supply line")
    let lines = try cli.jsonArray("supply-line", "list", "--site", "PRISON-KWALE", "--category", "condom")
    let line = try #require(lines.first)
    #expect(lines.count == 1)
    #expect(line["supplier"] as? String == "DICE-KWALE")
    #expect(line["lead_time_days"] as? Int == 7)
    #expect(line["review_period_days"] as? Int == 7)
    #expect(line["safety_stock_weeks"] as? Double == 1)
    #expect(line["variant"] as? String == "forced")
    #expect(line["emergency_order_point_weeks"] as? Double == 1)
  }

  @Test func aPartialUpdateKeepsTheOtherValues() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run(
      "supply-line", "set", "--site", "MAT-KOMBANI", "--category", "opioid_agonist", "--lead-time-days", "10")
    expectSuccess(outcome)
    #expect(outcome.outputLines.first == "updated supply line")
    let line = try #require(
      try cli.jsonArray("supply-line", "list", "--site", "MAT-KOMBANI", "--category", "opioid_agonist").first)
    #expect(line["supplier"] as? String == "STORE-KWALE")
    #expect(line["lead_time_days"] as? Int == 10)
    #expect(line["review_period_days"] as? Int == 14)
    #expect(line["safety_stock_weeks"] as? Double == 2)
    #expect(line["variant"] as? String == "standard")
    #expect(line["emergency_order_point_weeks"] as? Double == 1)
    #expect(try cli.integer("SELECT count(*) FROM supply_lines") == 29)
  }

  @Test func changingTheSupplierMovesTheLine() throws {
    let cli = try CLI(demo: true)
    expectSuccess(
      try cli.run(
        "supply-line", "set", "--site", "SAT-MATUGA", "--category", "condom", "--supplier", "STORE-KWALE",
        "--variant", "continuous", "--eop-weeks", "0.75", "--safety-stock-weeks", "1.5", "--review-period-days", "14"))
    let line = try #require(
      try cli.jsonArray("supply-line", "list", "--site", "SAT-MATUGA", "--category", "condom").first)
    #expect(line["supplier"] as? String == "STORE-KWALE")
    #expect(line["lead_time_days"] as? Int == 2)
    #expect(line["review_period_days"] as? Int == 14)
    #expect(line["safety_stock_weeks"] as? Double == 1.5)
    #expect(line["variant"] as? String == "continuous")
    #expect(line["emergency_order_point_weeks"] as? Double == 0.75)
  }

  @Test func aLineThatWouldMakeALoopIsRefusedAndNothingIsWritten() throws {
    let cli = try CLI(demo: true)
    // STORE-KWALE supplies DICE-UKUNDA with condoms; DICE-UKUNDA must not then supply the store.
    let outcome = try cli.run(
      "supply-line", "set", "--site", "STORE-KWALE", "--category", "condom", "--supplier", "DICE-UKUNDA")
    expectRefused(outcome, Self.loopMessage)
    #expect(outcome.stderr.contains("loop"))
    // A longer loop through a satellite DICE-UKUNDA feeds is refused too.
    expectRefused(
      try cli.run("supply-line", "set", "--site", "STORE-KWALE", "--category", "condom", "--supplier", "SAT-MSAMBWENI"),
      Self.loopMessage)
    #expect(
      try cli.integer("SELECT count(*) FROM supply_lines WHERE site_code = 'STORE-KWALE' AND supplier_code IS NOT NULL")
        == 0)
    #expect(try cli.integer("SELECT count(*) FROM supply_lines") == 29)
  }

  @Test func anExistingLineRedirectedIntoALoopKeepsItsSupplier() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run(
        "supply-line", "set", "--site", "DICE-UKUNDA", "--category", "condom", "--supplier", "SAT-LUNGALUNGA"),
      Self.loopMessage)
    #expect(
      try cli.text("SELECT supplier_code FROM supply_lines WHERE site_code = 'DICE-UKUNDA' AND category = 'condom'")
        == "STORE-KWALE")
  }

  @Test func theSameSitesMaySupplyEachOtherInDifferentCategories() throws {
    let cli = try CLI(demo: true)
    // DICE-UKUNDA gets condoms from the store; the store may still get something else from the DICE (instead of
    // from KEMSA, its external supplier).
    let outcome = try cli.run(
      "supply-line", "set", "--site", "STORE-KWALE", "--category", "opioid_agonist", "--supplier", "DICE-UKUNDA")
    expectSuccess(outcome)
    #expect(try cli.integer("SELECT count(*) FROM supply_lines") == 29)
    #expect(
      try cli.text(
        "SELECT coalesce(external_supplier, 'none') FROM supply_lines WHERE site_code = 'STORE-KWALE' AND category = 'opioid_agonist'"
      ) == "none")
  }

  @Test func aSiteCannotSupplyItself() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run("supply-line", "set", "--site", "DICE-UKUNDA", "--category", "condom", "--supplier", "dice-ukunda"),
      "--supplier: DICE-UKUNDA cannot supply itself")
    #expect(
      try cli.text("SELECT supplier_code FROM supply_lines WHERE site_code = 'DICE-UKUNDA' AND category = 'condom'")
        == "STORE-KWALE")
  }

  @Test func aNewLineWithoutASupplierIsRefused() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run("supply-line", "set", "--site", "PRISON-KWALE", "--category", "lubricant"),
      "--supplier: is required (a supplying site, or an external supplier)")
    #expect(try cli.integer("SELECT count(*) FROM supply_lines") == 29)
  }

  @Test func badParametersAreRefusedNamingTheFlag() throws {
    let cli = try CLI(demo: true)
    let base = ["supply-line", "set", "--site", "SAT-KINANGO", "--category", "condom"]
    expectRefused(
      try cli.run(base + ["--variant", "fixed"]),
      "--variant: 'fixed' is not a max-min variant (forced, standard, continuous)")
    expectRefused(try cli.run(base + ["--eop-weeks", "60"]), "--eop-weeks: 60 is out of range (0–52)")
    expectRefused(try cli.run(base + ["--lead-time-days", "-1"]), "--lead-time-days: -1 is out of range (0–365)")
    expectRefused(try cli.run(base + ["--review-period-days", "0"]), "--review-period-days: 0 is out of range (1–365)")
    expectRefused(
      try cli.run(base + ["--safety-stock-weeks", "1.125"]),
      "--safety-stock-weeks: '1.125' has more than 2 decimal places")
    expectRefused(
      try cli.run(["supply-line", "set", "--site", "SAT-KINANGO", "--category", "condoms", "--lead-time-days", "1"]),
      "--category: 'condoms' is not a commodity category "
        + "(condom, injecting_equipment, lubricant, opioid_agonist, overdose_reversal)")
    expectRefused(
      try cli.run(["supply-line", "set", "--site", "SAT-KINANG", "--category", "condom", "--lead-time-days", "1"]),
      "--site: unknown site 'SAT-KINANG' (did you mean SAT-KINANGO?)")
    let line = try #require(
      try cli.jsonArray("supply-line", "list", "--site", "SAT-KINANGO", "--category", "condom").first)
    #expect(line["lead_time_days"] as? Int == 2)
    #expect(line["variant"] as? String == "forced")
  }
}
