import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("Seeds")
struct SeedTests {
  @Test func aFreshDatabaseHasKenyasCountiesAndTheCatalogue() throws {
    let store = try TestDatabase.fresh().store()
    let reference = try ReferenceData.load(store)
    #expect(reference.counties.count == 47)
    #expect(reference.counties["002"] == "Kwale")
    #expect(reference.counties["047"] == "Nairobi")
    #expect(reference.subCounties["002"] == ["Kinango", "Lunga Lunga", "Matuga", "Msambweni"])
    #expect(reference.populations.codes == ["FSW", "MSW", "MSM", "TG", "PWID", "PWUD", "PRISONER"])
    #expect(
      reference.commodities.codes.isSuperset(of: ["MALE-CONDOM", "LUBRICANT", "NS-SET", "METHADONE", "NALOXONE"]))
  }

  @Test func seedingTwiceAddsNothingTheSecondTime() throws {
    let store = try TestDatabase.fresh().store()
    let first = try Seeds.loadKwaleDemo(store)
    #expect(first.added["sites"] == 10)
    #expect(first.added["supply_lines"] == 29)
    // The demo adds its size estimates once.
    #expect(try Demo.load(store).added["size_estimates"] == 6)
    let again = try Demo.load(store)
    #expect(again.total == 0)
    let sites: Int = try store.query("SELECT count(*) AS n FROM sites")[0].decode("n")
    #expect(sites == 10)
  }

  @Test func seedingKeepsALocalEdit() throws {
    let store = try TestDatabase.fresh().store()
    try store.execute("UPDATE commodities SET pack_size = 288 WHERE code = 'MALE-CONDOM'")
    try Seeds.loadReference(store)
    let pack: Int = try store.query("SELECT pack_size FROM commodities WHERE code = 'MALE-CONDOM'")[0]
      .decode("pack_size")
    #expect(pack == 288)
  }

  @Test func theMethadoneCatalogueEntryIsAControlledLotTrackedMilligramItem() throws {
    let store = try TestDatabase.fresh().store()
    let methadone = try #require(try CommodityCatalog.find(store, code: "METHADONE"))
    #expect(methadone.baseUnit == "mg")
    #expect(methadone.controlled && methadone.lotTracked)
  }
}
