import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock site")
struct SiteCommandTests {
  // MARK: list

  @Test func listingKwaleAsCSVGivesTheTenDemoSitesUnderTheDocumentedHeader() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run("site", "list", "--county", "002", "--format", "csv")
    expectSuccess(outcome)
    let lines = outcome.outputLines
    #expect(lines.first == "code,name,kind,county,county_name,sub_county,dhis2_uid,opened_on,closed_on")
    #expect(lines.count == 11)
    #expect(Set(lines.dropFirst().map { String($0.prefix { $0 != "," }) }) == kwaleSites)
    #expect(lines.contains("DICE-UKUNDA,Ukunda DICE,dice,002,Kwale,Msambweni,kpDemoKwl02,2016-03-01,"))
  }

  @Test func listingAsJSONGivesAnArrayOfObjectsKeyedByTheCSVColumns() throws {
    let cli = try CLI(demo: true)
    let sites = try cli.jsonArray("site", "list", "--county", "002")
    #expect(sites.count == 10)
    for site in sites {
      #expect(Set(site.keys) == Set(siteColumns))
    }
    let ukunda = try #require(sites.first { $0["code"] as? String == "DICE-UKUNDA" })
    #expect(ukunda["county_name"] as? String == "Kwale")
    #expect(ukunda["sub_county"] as? String == "Msambweni")
    #expect(ukunda["opened_on"] as? String == "2016-03-01")
    #expect(ukunda["closed_on"] is NSNull)
  }

  @Test func aCountyNameSelectsTheSameSitesAsItsCode() throws {
    let cli = try CLI(demo: true)
    let byCode = try cli.run("site", "list", "--county", "002", "--format", "csv")
    expectSuccess(byCode)
    for county in ["Kwale", "kwale", "2"] {
      let byName = try cli.run("site", "list", "--county", county, "--format", "csv")
      expectSuccess(byName)
      #expect(byName.stdout == byCode.stdout, "--county \(county)")
    }
    let mombasa = try cli.run("site", "list", "--county", "Mombasa", "--format", "csv")
    #expect(mombasa.outputLines == [siteColumns.joined(separator: ",")])
  }

  @Test func theTableListingAlignsEveryColumnUnderItsHeading() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run("site", "list", "--county", "002")
    expectSuccess(outcome)
    let lines: [[Character]] = outcome.outputLines.map { Array($0) }
    #expect(lines.count == 11)
    let header = try #require(lines.first)
    #expect(String(header).hasPrefix("CODE  "))
    // A heading starts after two spaces (headings such as COUNTY NAME hold one).
    let starts = header.indices.filter { index in
      header[index] != " " && (index == 0 || (index >= 2 && header[index - 1] == " " && header[index - 2] == " "))
    }
    #expect(starts.count == siteColumns.count)
    // dhis2_uid and closed_on are empty for every demo site; every other column starts on its heading.
    let filled = starts.enumerated().filter { !["dhis2_uid", "closed_on"].contains(siteColumns[$0.offset]) }
    for row in lines.dropFirst() {
      #expect(row.last != " ", "no trailing spaces: \(String(row))")
      for (_, start) in filled {
        #expect(row.count > start && row[start] != " " && (start == 0 || row[start - 1] == " "), "\(String(row))")
      }
    }
  }

  @Test func kindAndOpenOnlyFiltersNarrowTheListing() throws {
    let cli = try CLI(demo: true)
    expectSuccess(try cli.run("site", "update", "SAT-MATUGA", "--closed-on", "2022-06-30"))
    let satellites = try cli.jsonArray("site", "list", "--kind", "SATELLITE")
    #expect(satellites.count == 4)
    let open = try cli.jsonArray("site", "list", "--kind", "satellite", "--open-only")
    #expect(Set(open.compactMap { $0["code"] as? String }) == ["SAT-KINANGO", "SAT-LUNGALUNGA", "SAT-MSAMBWENI"])
    let matuga = try cli.jsonArray("site", "list", "--county", "002", "--sub-county", "matuga")
    #expect(matuga.count == 5)
  }

  @Test func anUnknownKindInAListFilterIsRefusedNamingTheFlag() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run("site", "list", "--kind", "clinic"),
      "--kind: 'clinic' is not a site kind (dice, hospital, mat_clinic, prison, satellite, store)")
  }

  @Test func aSubCountyFilterOutsideTheCountyIsRefused() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run("site", "list", "--county", "002", "--sub-county", "Likoni"),
      "--sub-county: unknown sub-county 'Likoni' in Kwale (Kinango, Lunga Lunga, Matuga, Msambweni)")
  }

  // MARK: show

  @Test func anUnknownSiteCodeSuggestsTheNearestOne() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run("site", "show", "DICE-UKUNDAA")
    expectRefused(outcome, "unknown site 'DICE-UKUNDAA' (did you mean DICE-UKUNDA?)")
  }

  @Test func aCodeFarFromEverySiteGetsNoSuggestion() throws {
    let cli = try CLI(demo: true)
    expectRefused(try cli.run("site", "show", "NAIROBI-CENTRAL"), "unknown site 'NAIROBI-CENTRAL'")
  }

  @Test func siteCodesAreCaseInsensitiveOnInput() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run("site", "show", "dice-ukunda")
    expectSuccess(outcome)
    #expect(outcome.outputLines.contains { $0.hasPrefix("code ") && $0.hasSuffix("DICE-UKUNDA") })
    #expect(outcome.outputLines.contains { $0.hasPrefix("name ") && $0.hasSuffix("Ukunda DICE") })
    let site = try cli.jsonObject("site", "show", " Dice-Ukunda ")
    #expect(site["code"] as? String == "DICE-UKUNDA")
    #expect(Set(site.keys) == Set(siteColumns))
  }

  @Test func showingAsCSVGivesTheHeaderAndOneRow() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run("site", "show", "STORE-KWALE", "--format", "csv")
    expectSuccess(outcome)
    #expect(
      outcome.outputLines == [
        siteColumns.joined(separator: ","),
        "STORE-KWALE,Kwale County Store,store,002,Kwale,Matuga,kpDemoKwl01,2015-07-01,",
      ])
  }

  // MARK: add

  @Test func addingASiteStoresItWithItsCodeUpperCased() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "site", "add", "dice-likoni", "--name", "Likoni DICE", "--kind", "DICE", "--county", "Mombasa",
      "--sub-county", "likoni", "--dhis2-uid", "aBcDeFgHiJ1", "--opened-on", "2024-01-15")
    expectSuccess(outcome)
    #expect(outcome.outputLines.first == "added site DICE-LIKONI")
    let site = try cli.jsonObject("site", "show", "DICE-LIKONI")
    #expect(site["name"] as? String == "Likoni DICE")
    #expect(site["kind"] as? String == "dice")
    #expect(site["county"] as? String == "001")
    #expect(site["county_name"] as? String == "Mombasa")
    #expect(site["sub_county"] as? String == "Likoni")
    #expect(site["dhis2_uid"] as? String == "aBcDeFgHiJ1")
    #expect(site["opened_on"] as? String == "2024-01-15")
    #expect(site["closed_on"] is NSNull)
  }

  @Test func addingAnExistingCodeIsRefusedAndLeavesTheSiteAlone() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run("site", "add", "dice-ukunda", "--name", "Another", "--kind", "dice", "--county", "002")
    expectRefused(
      outcome, "site DICE-UKUNDA already exists; change it with 'kpstock site update DICE-UKUNDA'")
    #expect(try cli.text("SELECT name FROM sites WHERE code = 'DICE-UKUNDA'") == "Ukunda DICE")
  }

  @Test func anUnknownKindIsRefusedNamingTheFlagAndNothingIsWritten() throws {
    let cli = try CLI()
    let outcome = try cli.run("site", "add", "CLINIC-1", "--name", "Clinic", "--kind", "clinic", "--county", "001")
    expectRefused(outcome, "--kind: 'clinic' is not a site kind (dice, hospital, mat_clinic, prison, satellite, store)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aMissingRequiredFieldIsRefusedNamingTheFlag() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("site", "add", "DICE-LIKONI", "--name", "Likoni DICE", "--kind", "dice"), "--county: is required")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aMalformedCodeIsRefusedNamingTheArgument() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("site", "add", "X", "--name", "X", "--kind", "dice", "--county", "001"),
      "CODE: 'X' is not a valid code (2–32 letters, digits or dashes, starting with a letter or digit)")
    expectRefused(
      try cli.run("site", "add", "DICE LIKONI", "--name", "X", "--kind", "dice", "--county", "001"),
      "CODE: 'DICE LIKONI' is not a valid code (2–32 letters, digits or dashes, starting with a letter or digit)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aClosingDateBeforeTheOpeningDateIsRefused() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "site", "add", "DICE-LIKONI", "--name", "Likoni DICE", "--kind", "dice", "--county", "001",
      "--opened-on", "2024-01-15", "--closed-on", "2023-12-31")
    expectRefused(outcome, "--closed-on: 2023-12-31 is before the opening date 2024-01-15")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aClosingDateBeforeTheStoredOpeningDateIsRefusedOnUpdate() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run("site", "update", "SAT-MATUGA", "--closed-on", "2020-01-01"),
      "--closed-on: 2020-01-01 is before the opening date 2021-02-01")
    #expect(try cli.text("SELECT closed_on::text FROM sites WHERE code = 'SAT-MATUGA'") == nil)
  }

  @Test func anImpossibleDateIsRefused() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run(
        "site", "add", "DICE-LIKONI", "--name", "Likoni DICE", "--kind", "dice", "--county", "001",
        "--opened-on", "2024-02-30"),
      "--opened-on: '2024-02-30' is not a date (YYYY-MM-DD)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aSubCountyOfAnotherCountyIsRefused() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "site", "add", "DICE-LIKONI", "--name", "Likoni DICE", "--kind", "dice", "--county", "002",
      "--sub-county", "Likoni")
    expectRefused(
      outcome, "--sub-county: unknown sub-county 'Likoni' in Kwale (Kinango, Lunga Lunga, Matuga, Msambweni)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func anUnknownCountySuggestsTheNearestName() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "site", "add", "DICE-LIKONI", "--name", "Likoni DICE", "--kind", "dice", "--county", "Mombasaa")
    expectRefused(outcome, "--county: unknown county 'Mombasaa' (did you mean Mombasa, 001?)")
    expectRefused(
      try cli.run("site", "add", "DICE-LIKONI", "--name", "Likoni DICE", "--kind", "dice", "--county", "099"),
      "--county: unknown county '099' (use the code, e.g. 002, or the name)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aMalformedDHIS2UIDIsRefused() throws {
    let cli = try CLI()
    let outcome = try cli.run(
      "site", "add", "DICE-LIKONI", "--name", "Likoni DICE", "--kind", "dice", "--county", "001", "--dhis2-uid",
      "1abcdefghij")
    expectRefused(outcome, "--dhis2-uid: '1abcdefghij' is not a DHIS2 uid (11 letters or digits, first a letter)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aDHIS2UIDAlreadyUsedByAnotherSiteIsRefused() throws {
    let cli = try CLI(demo: true)
    expectSuccess(try cli.run("site", "update", "DICE-UKUNDA", "--dhis2-uid", "Ukunda00001"))
    let outcome = try cli.run("site", "update", "DICE-KWALE", "--dhis2-uid", "Ukunda00001")
    #expect(outcome.status == 2)
    #expect(outcome.stderr.hasSuffix("already used by another site\n"))
    #expect(outcome.errorLines.count == 1)
    #expect(try cli.text("SELECT dhis2_uid FROM sites WHERE code = 'DICE-KWALE'") == "kpDemoKwl03")
  }

  // MARK: update

  @Test func updatingChangesOnlyTheFieldsGiven() throws {
    let cli = try CLI(demo: true)
    let outcome = try cli.run("site", "update", "dice-ukunda", "--name", "Ukunda Drop-in Centre")
    expectSuccess(outcome)
    #expect(outcome.outputLines.first == "updated site DICE-UKUNDA")
    let site = try cli.jsonObject("site", "show", "DICE-UKUNDA")
    #expect(site["name"] as? String == "Ukunda Drop-in Centre")
    #expect(site["kind"] as? String == "dice")
    #expect(site["sub_county"] as? String == "Msambweni")
    #expect(site["opened_on"] as? String == "2016-03-01")
  }

  @Test func anEmptyStringClearsAnOptionalField() throws {
    let cli = try CLI(demo: true)
    expectSuccess(try cli.run("site", "update", "SAT-MATUGA", "--dhis2-uid", "Matuga00001"))
    expectSuccess(try cli.run("site", "update", "SAT-MATUGA", "--sub-county", "", "--opened-on", "", "--dhis2-uid", ""))
    let site = try cli.jsonObject("site", "show", "SAT-MATUGA")
    #expect(site["sub_county"] is NSNull)
    #expect(site["opened_on"] is NSNull)
    #expect(site["dhis2_uid"] is NSNull)
    #expect(site["name"] as? String == "Matuga satellite")
  }

  @Test func anEmptyStringForARequiredFieldIsRefused() throws {
    let cli = try CLI(demo: true)
    expectRefused(try cli.run("site", "update", "SAT-MATUGA", "--name", " "), "--name: must not be empty")
    #expect(try cli.text("SELECT name FROM sites WHERE code = 'SAT-MATUGA'") == "Matuga satellite")
  }

  @Test func movingASiteToAnotherCountyDropsItsOldSubCounty() throws {
    let cli = try CLI(demo: true)
    expectSuccess(try cli.run("site", "update", "SAT-MATUGA", "--county", "001"))
    let moved = try cli.jsonObject("site", "show", "SAT-MATUGA")
    #expect(moved["county"] as? String == "001")
    #expect(moved["sub_county"] is NSNull)
    expectSuccess(try cli.run("site", "update", "SAT-MATUGA", "--county", "Kwale", "--sub-county", "Matuga"))
    #expect(try cli.text("SELECT sub_county FROM sites WHERE code = 'SAT-MATUGA'") == "Matuga")
  }

  @Test func updatingWithNothingToChangeIsRefused() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run("site", "update", "SAT-MATUGA"),
      "nothing to change: give at least one of --name, --kind, --county, ...")
  }

  @Test func updatingAnUnknownSiteSuggestsTheNearestOneAndAddsNothing() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run("site", "update", "SAT-MATUGAA", "--name", "Matuga"),
      "unknown site 'SAT-MATUGAA' (did you mean SAT-MATUGA?)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 10)
  }
}
