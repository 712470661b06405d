import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock import")
struct ImportCommandTests {
  static let siteHeader = "code,name,kind,county,sub_county,dhis2_uid,opened_on,closed_on"
  static let expectedSiteColumns =
    "(expected code,name,kind,county,sub_county,dhis2_uid,opened_on,closed_on,county_name)"

  /// Writes `contents` to a temporary file called `name`, runs `kpstock import TABLE FILE EXTRA…`, removes the file.
  func importing(
    _ table: String, _ name: String, _ contents: String, _ extra: String..., with cli: CLI
  ) throws -> KPStockProcess.Outcome {
    let path = try temporaryFile(named: name, contents: contents)
    defer { removeTemporaryFile(path) }
    return try cli.run(["import", table, path] + extra)
  }

  func importing(
    _ table: String, _ name: String, bytes: [UInt8], with cli: CLI
  ) throws -> KPStockProcess.Outcome {
    let path = try temporaryFile(named: name, bytes: bytes)
    defer { removeTemporaryFile(path) }
    return try cli.run(["import", table, path])
  }

  // MARK: good files

  @Test func aGoodSitesFileImportsAndPrintsItsCounts() throws {
    let cli = try CLI()
    let outcome = try importing(
      "sites", "sites.csv",
      """
      \(Self.siteHeader)
      DICE-LIKONI,Likoni DICE,dice,001,Likoni,,2024-01-15,
      sat-nyali,Nyali satellite,Satellite,Mombasa,nyali,,,
      STORE-MOMBASA,Mombasa County Store,store,1,Mvita,Abcdefghij1,2010-01-01,

      """, with: cli)
    expectSuccess(outcome)
    #expect(outcome.stdout == "sites.csv: 3 added, 0 updated, 0 unchanged\n")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 3)
    let nyali = try cli.jsonObject("site", "show", "SAT-NYALI")
    #expect(nyali["kind"] as? String == "satellite")
    #expect(nyali["sub_county"] as? String == "Nyali")
    #expect(nyali["opened_on"] is NSNull)

    let again = try importing(
      "sites", "more.csv",
      """
      code,name,kind,county
      SAT-NYALI,Nyali outreach point,satellite,001
      SAT-JOMVU,Jomvu satellite,satellite,001

      """, with: cli)
    expectSuccess(again)
    #expect(again.stdout == "more.csv: 1 added, 1 updated, 0 unchanged\n")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 4)
  }

  @Test func columnsLeftOutOfTheFileKeepTheirStoredValues() throws {
    let cli = try CLI(demo: true)
    let outcome = try importing(
      "sites", "names.csv", "code,name,kind,county\nDICE-UKUNDA,Ukunda Drop-in Centre,dice,002\n", with: cli)
    expectSuccess(outcome)
    #expect(outcome.stdout == "names.csv: 0 added, 1 updated, 0 unchanged\n")
    let ukunda = try cli.jsonObject("site", "show", "DICE-UKUNDA")
    #expect(ukunda["name"] as? String == "Ukunda Drop-in Centre")
    #expect(ukunda["sub_county"] as? String == "Msambweni")
    #expect(ukunda["opened_on"] as? String == "2016-03-01")
  }

  @Test func goodCommodityNormAndSupplyLineFilesImport() throws {
    let cli = try CLI(demo: true)
    let commodities = try importing(
      "commodities", "commodities.csv",
      """
      code,name,category,base_unit,pack_size,pack_rounding_threshold,lot_tracked,controlled
      PREP-TDF,TDF/FTC tablet,opioid_agonist,piece,30,0,false,false
      FEMALE-CONDOM,Female condom,condom,piece,25,10,true,false

      """, with: cli)
    expectSuccess(commodities)
    #expect(commodities.stdout == "commodities.csv: 1 added, 1 updated, 0 unchanged\n")
    #expect(try cli.integer("SELECT pack_size FROM commodities WHERE code = 'FEMALE-CONDOM'") == 25)

    let norms = try importing(
      "norms", "norms.csv",
      """
      commodity,population,per_person_per_week,effective_from,source
      PREP-TDF,MSM,7,2030-01-01,one tablet a day
      MALE-CONDOM,FSW,4,2030-01-01,"rural median, Kwale survey"

      """, with: cli)
    expectSuccess(norms)
    #expect(norms.stdout == "norms.csv: 2 added, 0 updated, 0 unchanged\n")
    #expect(
      try cli.text(
        """
        SELECT source FROM norms
        WHERE commodity_code = 'MALE-CONDOM' AND population_code = 'FSW' AND effective_from = '2030-01-01'
        """) == "rural median, Kwale survey")

    let lines = try importing(
      "supply-lines", "lines.csv",
      """
      site,category,supplier,lead_time_days
      PRISON-KWALE,condom,DICE-KWALE,3
      SAT-KINANGO,condom,DICE-KWALE,4

      """, with: cli)
    expectSuccess(lines)
    #expect(lines.stdout == "lines.csv: 1 added, 1 updated, 0 unchanged\n")
    let prison = try #require(
      try cli.jsonArray("supply-line", "list", "--site", "PRISON-KWALE", "--category", "condom").first)
    #expect(prison["lead_time_days"] as? Int == 3)
    #expect(prison["review_period_days"] as? Int == 7)
    #expect(prison["variant"] as? String == "forced")
  }

  @Test func whatTheListCommandsExportImportsBackUnchanged() throws {
    let source = try CLI(demo: true)
    let target = try CLI()
    for (table, list) in [("sites", ["site", "list"]), ("supply-lines", ["supply-line", "list"])] {
      let exported = try source.run(list + ["--format", "csv"])
      expectSuccess(exported)
      let imported = try importing(table, "\(table).csv", exported.stdout, with: target)
      expectSuccess(imported)
      #expect(imported.stdout == "\(table).csv: \(exported.outputLines.count - 1) added, 0 updated, 0 unchanged\n")
      #expect(try target.run(list + ["--format", "csv"]).stdout == exported.stdout)
    }
    for (table, list) in [("commodities", ["commodity", "list"]), ("norms", ["norm", "list", "--history"])] {
      let exported = try source.run(list + ["--format", "csv"])
      expectSuccess(exported)
      let imported = try importing(table, "\(table).csv", exported.stdout, with: source)
      expectSuccess(imported)
      #expect(imported.stdout == "\(table).csv: 0 added, 0 updated, \(exported.outputLines.count - 1) unchanged\n")
      #expect(try source.run(list + ["--format", "csv"]).stdout == exported.stdout)
    }
  }

  // MARK: bad rows

  @Test func everyBadRowIsReportedByFileAndLineAndNothingIsImported() throws {
    let cli = try CLI(demo: true)
    let outcome = try importing(
      "sites", "sites.csv",
      """
      code,name,kind,county,sub_county,opened_on,closed_on
      DICE-LIKONI,Likoni DICE,dice,001,Likoni,2024-01-15,
      SAT-X,X satellite,clinic,001,,,
      SAT-NYALI,Nyali satellite,satellite,001,Nyali,,
      SAT-Y,Y satellite,satellite,Mombasaa,,,
      SAT-Z,Z satellite,satellite,001,,2024-05-01,2024-04-30
      DICE-UKUNDA,Renamed,dice,002,,,

      """, with: cli)
    #expect(outcome.status == 2)
    #expect(outcome.stdout == "")
    #expect(
      outcome.errorLines == [
        "sites.csv:3: kind: 'clinic' is not a site kind (dice, hospital, mat_clinic, prison, satellite, store)",
        "sites.csv:5: county: unknown county 'Mombasaa' (did you mean Mombasa, 001?)",
        "sites.csv:6: closed_on: 2024-04-30 is before the opening date 2024-05-01",
        "kpstock: error: nothing imported: 3 of 6 rows in sites.csv have errors",
      ])
    #expect(try cli.integer("SELECT count(*) FROM sites") == 10)
    #expect(try cli.text("SELECT name FROM sites WHERE code = 'DICE-UKUNDA'") == "Ukunda DICE")
  }

  @Test func badNormRowsAreReportedByColumn() throws {
    let cli = try CLI()
    let outcome = try importing(
      "norms", "norms.csv",
      """
      commodity,population,per_person_per_week,effective_from,source
      MALE-CONDOM,FSW,-1,2030-01-01,survey
      MALE-CONDOM,FSWS,4,2030-01-01,survey
      LUBRICANT,MSM,abc,2030-01-01,survey
      LUBRICANT,MSW,3,2030-02-30,survey
      LUBRICANT,TG,3,2030-01-01,

      """, with: cli)
    #expect(outcome.status == 2)
    #expect(
      outcome.errorLines == [
        "norms.csv:2: per_person_per_week: -1 is out of range (0–100000)",
        "norms.csv:3: population: unknown population 'FSWS' (did you mean FSW?)",
        "norms.csv:4: per_person_per_week: 'abc' is not a number",
        "norms.csv:5: effective_from: '2030-02-30' is not a date (YYYY-MM-DD)",
        "norms.csv:6: source: must not be empty",
        "kpstock: error: nothing imported: 5 of 5 rows in norms.csv have errors",
      ])
    #expect(try cli.integer("SELECT count(*) FROM norms") == 13)
  }

  @Test func aDryRunReportsWhatWouldChangeAndWritesNothing() throws {
    let cli = try CLI(demo: true)
    let contents = """
      code,name,kind,county
      DICE-LIKONI,Likoni DICE,dice,001
      SAT-NYALI,Nyali satellite,satellite,001
      DICE-UKUNDA,Renamed,dice,002

      """
    let outcome = try importing("sites", "sites.csv", contents, "--dry-run", with: cli)
    expectSuccess(outcome)
    #expect(outcome.stdout == "dry run, nothing written: sites.csv: 2 added, 1 updated, 0 unchanged\n")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 10)
    #expect(try cli.text("SELECT name FROM sites WHERE code = 'DICE-UKUNDA'") == "Ukunda DICE")

    let bad = try importing("sites", "bad.csv", "code,name,kind,county\nSAT-X,X,clinic,001\n", "--dry-run", with: cli)
    #expect(bad.status == 2)
    #expect(bad.errorLines.last == "kpstock: error: nothing imported: 1 of 1 row in bad.csv has errors")

    let real = try importing("sites", "sites.csv", contents, with: cli)
    #expect(real.stdout == "sites.csv: 2 added, 1 updated, 0 unchanged\n")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 12)
  }

  @Test func aDuplicateCodeWithinAFileIsRefusedNamingBothLines() throws {
    let cli = try CLI()
    let outcome = try importing(
      "sites", "dup.csv",
      """
      code,name,kind,county
      dice-likoni,Likoni DICE,dice,001
      SAT-NYALI,Nyali satellite,satellite,001
      DICE-LIKONI,Likoni drop-in centre,dice,001

      """, with: cli)
    #expect(outcome.status == 2)
    #expect(outcome.stdout == "")
    #expect(outcome.errorLines.count == 2)
    #expect(outcome.errorLines.first == "dup.csv:4: code: 'DICE-LIKONI' repeats line 2")
    #expect(outcome.errorLines.last?.hasPrefix("kpstock: error: nothing imported: ") == true)
    #expect(outcome.errorLines.last?.contains("dup.csv") == true)
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aSupplyLineFileWhoseSecondRowMakesALoopImportsNothing() throws {
    let cli = try CLI(demo: true)
    // Row 2 is fine on its own; row 3 closes a loop with it; row 2 must not be left behind.
    let outcome = try importing(
      "supply-lines", "loop.csv",
      """
      site,category,supplier
      SAT-KINANGO,overdose_reversal,SAT-MATUGA
      SAT-MATUGA,overdose_reversal,SAT-KINANGO

      """, with: cli)
    expectRefused(
      outcome,
      "nothing imported: loop.csv:3: supplier: this supply line would make a loop (a site would end up supplying itself)"
    )
    #expect(try cli.integer("SELECT count(*) FROM supply_lines") == 29)
    #expect(try cli.integer("SELECT count(*) FROM supply_lines WHERE category = 'overdose_reversal'") == 4)

    // A row that loops back through the demo network is refused the same way.
    let throughNetwork = try importing(
      "supply-lines", "loop.csv",
      "site,category,supplier\nPRISON-KWALE,condom,DICE-KWALE\nSTORE-KWALE,condom,SAT-MSAMBWENI\n", with: cli)
    #expect(throughNetwork.status == 2)
    #expect(throughNetwork.stderr.contains("loop.csv:3: supplier: this supply line would make a loop"))
    #expect(try cli.integer("SELECT count(*) FROM supply_lines WHERE site_code = 'PRISON-KWALE'") == 1)
  }

  // MARK: file format

  @Test func aFileWithAByteOrderMarkAndCRLFLineEndingsIsAccepted() throws {
    let cli = try CLI()
    let text =
      "code,name,kind,county,closed_on\r\nDICE-LIKONI,Likoni DICE,dice,001,2030-12-31\r\nSAT-NYALI,Nyali,satellite,001,\r\n"
    let outcome = try importing("sites", "excel.csv", bytes: [0xEF, 0xBB, 0xBF] + Array(text.utf8), with: cli)
    expectSuccess(outcome)
    #expect(outcome.stdout == "excel.csv: 2 added, 0 updated, 0 unchanged\n")
    let likoni = try cli.jsonObject("site", "show", "DICE-LIKONI")
    #expect(likoni["closed_on"] as? String == "2030-12-31")
    #expect(try cli.integer("SELECT count(*) FROM sites WHERE name LIKE E'%\\r%' OR code LIKE E'%\\r%'") == 0)
    #expect(try cli.jsonObject("site", "show", "SAT-NYALI")["closed_on"] is NSNull)
  }

  @Test func aLatin1FileIsRefusedNamingTheLineAndByte() throws {
    let cli = try CLI()
    let bytes =
      Array("code,name,kind,county\nSAT-NYALI,Nyali,satellite,001\nSAT-CAFE,Caf".utf8) + [0xE9]
      + Array(" point,satellite,001\n".utf8)
    let outcome = try importing("sites", "latin1.csv", bytes: bytes, with: cli)
    expectRefused(outcome, "latin1.csv:3: not UTF-8 text (byte 0xE9); save the file as \"CSV UTF-8\"")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aUTF16FileIsRefused() throws {
    let cli = try CLI()
    var bytes: [UInt8] = [0xFF, 0xFE]
    for unit in "code,name,kind,county\n".utf16 { bytes += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
    expectRefused(
      try importing("sites", "utf16.csv", bytes: bytes, with: cli),
      "utf16.csv: the file is UTF-16 text; save it as \"CSV UTF-8\"")
  }

  @Test func quotedFieldsMayHoldCommasAndDoubledQuotes() throws {
    let cli = try CLI()
    let outcome = try importing(
      "sites", "quoted.csv",
      """
      "code","name",kind,county
      DICE-LIKONI,"Likoni ""Safe Space"", Mombasa",dice,"001"
      SAT-NYALI,"",satellite,001

      """, with: cli)
    #expect(
      outcome.errorLines == [
        "quoted.csv:3: name: must not be empty",
        "kpstock: error: nothing imported: 1 of 2 rows in quoted.csv has errors",
      ])

    let good = try importing(
      "sites", "quoted.csv",
      """
      "code","name",kind,county
      DICE-LIKONI,"Likoni ""Safe Space"", Mombasa",dice,"001"

      """, with: cli)
    expectSuccess(good)
    #expect(try cli.text("SELECT name FROM sites WHERE code = 'DICE-LIKONI'") == "Likoni \"Safe Space\", Mombasa")
    let exported = try cli.run("site", "show", "DICE-LIKONI", "--format", "csv")
    #expect(exported.outputLines.last == "DICE-LIKONI,\"Likoni \"\"Safe Space\"\", Mombasa\",dice,001,Mombasa,,,,")
  }

  @Test func aRowAfterAMultiLineFieldIsReportedOnItsOwnLine() throws {
    let cli = try CLI()
    let outcome = try importing(
      "sites", "multi.csv", "code,name,kind,county\nSAT-A,\"two\nlines\",satellite,001\nSAT-B,B,clinic,001\n", with: cli
    )
    #expect(outcome.status == 2)
    #expect(
      outcome.errorLines == [
        "multi.csv:2: name: contains a control character",
        "multi.csv:4: kind: 'clinic' is not a site kind (dice, hospital, mat_clinic, prison, satellite, store)",
        "kpstock: error: nothing imported: 2 of 2 rows in multi.csv have errors",
      ])
  }

  @Test func anUnknownHeaderColumnIsRefused() throws {
    let cli = try CLI()
    let outcome = try importing(
      "sites", "colour.csv", "code,name,kind,county,colour\nDICE-LIKONI,Likoni DICE,dice,001,red\n", with: cli)
    expectRefused(outcome, "colour.csv:1: unknown column 'colour' \(Self.expectedSiteColumns)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aMissingRequiredColumnIsRefused() throws {
    let cli = try CLI()
    let outcome = try importing("sites", "nokind.csv", "code,name,county\nDICE-LIKONI,Likoni DICE,001\n", with: cli)
    expectRefused(outcome, "nokind.csv:1: missing column 'kind' \(Self.expectedSiteColumns)")
    expectRefused(
      try importing("supply-lines", "lines.csv", "site,supplier\nSAT-A,DICE-KWALE\n", with: cli),
      "lines.csv:1: missing column 'category' (expected site,category,supplier,external_supplier,lead_time_days,"
        + "review_period_days,safety_stock_weeks,variant,emergency_order_point_weeks)")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func aRowWithTheWrongNumberOfFieldsIsRefused() throws {
    let cli = try CLI()
    let outcome = try importing(
      "sites", "short.csv", "code,name,kind,county\nDICE-LIKONI,Likoni DICE,dice,001\nSAT-NYALI,satellite,001\n",
      with: cli)
    expectRefused(outcome, "short.csv:3: expected 4 fields as in the header, found 3")
    #expect(try cli.integer("SELECT count(*) FROM sites") == 0)
  }

  @Test func anEmptyOrMissingFileIsRefused() throws {
    let cli = try CLI()
    expectRefused(
      try importing("sites", "empty.csv", "", with: cli), "empty.csv: the file is empty; it needs a header row")
    let missing = "/tmp/kpstock-no-such-folder/sites.csv"
    expectRefused(try cli.run("import", "sites", missing), "\(missing): cannot read the file (does it exist?)")
  }
}
