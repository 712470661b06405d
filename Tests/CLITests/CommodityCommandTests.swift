import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock commodity")
struct CommodityCommandTests {
  static let columns = [
    "code", "name", "category", "base_unit", "pack_size", "pack_rounding_threshold", "lot_tracked", "controlled",
  ]

  // MARK: list and show

  @Test func listingACategoryGivesOnlyItsCommodities() throws {
    let cli = try CLI()
    let outcome = try cli.run("commodity", "list", "--category", "condom", "--format", "csv")
    expectSuccess(outcome)
    #expect(
      outcome.outputLines == [
        Self.columns.joined(separator: ","),
        "FEMALE-CONDOM,Female condom,condom,piece,20,10,true,false",
        "MALE-CONDOM,Male condom,condom,piece,144,72,true,false",
      ])
    let injecting = try cli.jsonArray("commodity", "list", "--category", "injecting-equipment")
    #expect(Set(injecting.compactMap { $0["code"] as? String }) == ["NS-SET", "ALCOHOL-SWAB"])
  }

  @Test func listingEverythingGivesTheSeededCatalogue() throws {
    let cli = try CLI()
    let all = try cli.jsonArray("commodity", "list")
    #expect(
      Set(all.compactMap { $0["code"] as? String }) == [
        "MALE-CONDOM", "FEMALE-CONDOM", "LUBRICANT", "NS-SET", "ALCOHOL-SWAB", "METHADONE", "NALOXONE",
      ])
    for commodity in all { #expect(Set(commodity.keys) == Set(Self.columns)) }
  }

  @Test func anUnknownCategoryIsRefusedListingTheCategories() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("commodity", "list", "--category", "condoms"),
      "--category: 'condoms' is not a commodity category "
        + "(condom, injecting_equipment, lubricant, opioid_agonist, overdose_reversal)")
  }

  @Test func showingACommodityGivesTypedJSONAndAcceptsAnyCase() throws {
    let cli = try CLI()
    let methadone = try cli.jsonObject("commodity", "show", "methadone")
    #expect(methadone["code"] as? String == "METHADONE")
    #expect(methadone["base_unit"] as? String == "mg")
    #expect(methadone["pack_size"] as? Int == 5000)
    #expect(methadone["lot_tracked"] as? Bool == true)
    #expect(methadone["controlled"] as? Bool == true)
  }

  @Test func anUnknownCommodityCodeSuggestsTheNearestOne() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("commodity", "show", "MALE-CONDON"), "unknown commodity 'MALE-CONDON' (did you mean MALE-CONDOM?)")
  }

  // MARK: add

  @Test func addingACommodityStoresItWithDefaultsForTheOptionalFields() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "commodity", "add", "prep-tdf", "--name", "TDF/FTC tablet", "--category", "opioid-agonist", "--base-unit",
      "piece", "--pack-size", "30")
    expectSuccess(outcome)
    #expect(outcome.outputLines.first == "added commodity PREP-TDF")
    let prep = try cli.jsonObject("commodity", "show", "PREP-TDF")
    #expect(prep["category"] as? String == "opioid_agonist")
    #expect(prep["pack_size"] as? Int == 30)
    #expect(prep["pack_rounding_threshold"] as? Int == 0)
    #expect(prep["lot_tracked"] as? Bool == false)
    #expect(prep["controlled"] as? Bool == false)
  }

  @Test func addingAControlledLotTrackedDrugWorks() throws {
    let cli = try CLI()
    expectSuccess(
      try cli.run(
        "commodity", "add", "BUPRENORPHINE", "--name", "Buprenorphine 8 mg", "--category", "opioid_agonist",
        "--base-unit", "mg", "--pack-size", "224", "--pack-rounding-threshold", "112", "--lot-tracked", "yes",
        "--controlled", "true"))
    let drug = try cli.jsonObject("commodity", "show", "BUPRENORPHINE")
    #expect(drug["lot_tracked"] as? Bool == true)
    #expect(drug["controlled"] as? Bool == true)
    #expect(drug["pack_rounding_threshold"] as? Int == 112)
  }

  @Test func addingAnExistingCodeIsRefused() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run(
        "commodity", "add", "NALOXONE", "--name", "Naloxone", "--category", "overdose_reversal", "--base-unit",
        "piece", "--pack-size", "5"),
      "commodity NALOXONE already exists; change it with 'kpstock commodity update NALOXONE'")
    #expect(try cli.integer("SELECT pack_size FROM commodities WHERE code = 'NALOXONE'") == 10)
  }

  @Test func aPackRoundingThresholdNotBelowThePackSizeIsRefused() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "commodity", "add", "PREP-TDF", "--name", "TDF/FTC tablet", "--category", "opioid_agonist", "--base-unit",
      "piece", "--pack-size", "30", "--pack-rounding-threshold", "30")
    expectRefused(
      outcome, "--pack-rounding-threshold: the pack rounding threshold (30) must be smaller than the pack size (30)")
    #expect(try cli.integer("SELECT count(*) FROM commodities WHERE code = 'PREP-TDF'") == 0)
  }

  @Test func aControlledCommodityThatIsNotLotTrackedIsRefused() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "commodity", "add", "BUPRENORPHINE", "--name", "Buprenorphine", "--category", "opioid_agonist", "--base-unit",
      "mg", "--pack-size", "224", "--controlled", "true")
    expectRefused(outcome, "--controlled: a controlled commodity must also be lot-tracked")
    #expect(try cli.integer("SELECT count(*) FROM commodities WHERE code = 'BUPRENORPHINE'") == 0)
  }

  @Test func aBaseUnitOtherThanPieceOrMilligramIsRefused() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "commodity", "add", "PREP-TDF", "--name", "TDF/FTC tablet", "--category", "opioid_agonist", "--base-unit", "box",
      "--pack-size", "30")
    expectRefused(outcome, "--base-unit: 'box' is not a base unit (piece, mg)")
    #expect(try cli.integer("SELECT count(*) FROM commodities") == 7)
  }

  @Test func badNumbersAndFlagsAreRefusedNamingTheFlag() throws {
    let cli = try CLI()
    let base = ["commodity", "add", "PREP-TDF", "--name", "TDF/FTC", "--category", "condom", "--base-unit", "piece"]
    expectRefused(try cli.run(base + ["--pack-size", "abc"]), "--pack-size: 'abc' is not a whole number")
    expectRefused(try cli.run(base + ["--pack-size", "0"]), "--pack-size: 0 is out of range (1–1000000000)")
    expectRefused(try cli.run(base + ["--pack-size", "-5"]), "--pack-size: -5 is out of range (1–1000000000)")
    expectRefused(
      try cli.run(base + ["--pack-size", "30", "--pack-rounding-threshold", "-1"]),
      "--pack-rounding-threshold: -1 is out of range (0–1000000000)")
    expectRefused(
      try cli.run(base + ["--pack-size", "30", "--lot-tracked", "perhaps"]),
      "--lot-tracked: 'perhaps' is not true or false")
    expectRefused(try cli.run(base), "--pack-size: is required")
    #expect(try cli.integer("SELECT count(*) FROM commodities") == 7)
  }

  // MARK: update

  @Test func updatingChangesOnlyTheFieldsGiven() throws {
    let cli = try CLI()
    let outcome = try cli.run("commodity", "update", "female-condom", "--pack-size", "25")
    expectSuccess(outcome)
    #expect(outcome.outputLines.first == "updated commodity FEMALE-CONDOM")
    let condom = try cli.jsonObject("commodity", "show", "FEMALE-CONDOM")
    #expect(condom["pack_size"] as? Int == 25)
    #expect(condom["pack_rounding_threshold"] as? Int == 10)
    #expect(condom["name"] as? String == "Female condom")
    #expect(condom["lot_tracked"] as? Bool == true)
  }

  @Test func shrinkingThePackBelowTheStoredThresholdIsRefused() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("commodity", "update", "FEMALE-CONDOM", "--pack-size", "10"),
      "--pack-size: the pack rounding threshold (10) must be smaller than the pack size (10)")
    #expect(try cli.integer("SELECT pack_size FROM commodities WHERE code = 'FEMALE-CONDOM'") == 20)
  }

  @Test func clearingLotTrackingOfAControlledDrugIsRefused() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("commodity", "update", "METHADONE", "--lot-tracked", "false"),
      "--controlled: a controlled commodity must also be lot-tracked")
    let methadone = try cli.jsonObject("commodity", "show", "METHADONE")
    #expect(methadone["lot_tracked"] as? Bool == true)
  }

  @Test func updatingWithNothingToChangeIsRefused() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("commodity", "update", "MALE-CONDOM"),
      "nothing to change: give at least one of --name, --category, --pack-size, ...")
  }

  @Test func updatingAnUnknownCommodityIsRefused() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("commodity", "update", "LUBRICANTS", "--pack-size", "50"),
      "unknown commodity 'LUBRICANTS' (did you mean LUBRICANT?)")
    #expect(try cli.integer("SELECT count(*) FROM commodities") == 7)
  }
}
