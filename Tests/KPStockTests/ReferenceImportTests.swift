import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("Reference import")
struct ReferenceImportTests {
  func csv(_ text: String, name: String = "in.csv") throws -> CSVTable {
    try CSVReader.parse(Array(text.utf8), fileName: name)
  }

  func count(_ store: Store, _ table: String) throws -> Int {
    try store.query("SELECT count(*) AS n FROM \(identifier: table)")[0].decode("n")
  }

  @Test func sitesAreAddedThenReplacedByCode() throws {
    let store = try TestDatabase.fresh().store()
    let first = try ReferenceImport.load(
      .sites, from: try csv("code,name,kind,county,sub_county\ndice-likoni,Likoni DICE,DICE,Mombasa,likoni\n"),
      into: store)
    #expect(first.inserted == 1)
    let again = try ReferenceImport.load(
      .sites, from: try csv("code,name,kind,county\nDICE-LIKONI,Likoni drop-in centre,dice,001\n"), into: store)
    #expect(again.updated == 1 && again.inserted == 0)
    let site = try #require(try SiteCatalog.find(store, code: "DICE-LIKONI"))
    #expect(site.name == "Likoni drop-in centre")
    #expect(site.subCounty == "Likoni", "a column left out of the file keeps its stored value")
  }

  @Test func aDatabaseRefusalLateInTheFileLeavesNothingBehind() throws {
    let store = try TestDatabase.fresh().store()
    try Seeds.loadKwaleDemo(store)
    let before = try count(store, "supply_lines")
    let file = try csv(
      """
      site,category,supplier
      PRISON-KWALE,condom,STORE-KWALE
      STORE-KWALE,condom,SAT-KINANGO
      """, name: "lines.csv")
    #expect {
      try ReferenceImport.load(.supplyLines, from: file, into: store)
    } throws: { error in
      (error as? KPStockError)?.message.hasPrefix(
        "nothing imported: lines.csv:3: supplier: this supply line would make a loop")
        == true
    }
    #expect(try count(store, "supply_lines") == before)
    #expect(try SupplyLineCatalog.find(store, site: "PRISON-KWALE", category: "condom") == nil)
  }

  @Test func aDryRunCountsButWritesNothing() throws {
    let store = try TestDatabase.fresh().store()
    let summary = try ReferenceImport.load(
      .commodities, from: try csv("code,name,category,base_unit,pack_size\nPREP,PrEP tablet,condom,piece,30\n"),
      into: store, dryRun: true)
    #expect(summary.inserted == 1)
    #expect(try CommodityCatalog.find(store, code: "PREP") == nil)
  }

  @Test func normsKeepTheirHistory() throws {
    let store = try TestDatabase.fresh().store()
    try ReferenceImport.load(
      .norms,
      from: try csv(
        "commodity,population,per_person_per_week,effective_from,source\nMALE-CONDOM,FSW,4,2026-01-01,rural median\n"),
      into: store)
    let inForce = try NormCatalog.list(
      store, on: CalendarDate("2026-06-01")!, commodity: "MALE-CONDOM", population: "FSW")
    #expect(inForce.map(\.quantityPerWeek) == [4])
    let before = try NormCatalog.list(
      store, on: CalendarDate("2025-06-01")!, commodity: "MALE-CONDOM", population: "FSW")
    #expect(before.map(\.quantityPerWeek) == [9])
    #expect(
      try NormCatalog.list(
        store, on: CalendarDate("2026-06-01")!, history: true, commodity: "MALE-CONDOM",
        population: "FSW"
      ).count == 2)
  }
}
