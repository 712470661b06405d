import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("Reference import")
struct ReferenceImportTests {
  func csv(_ text: String, name: String = "in.csv") throws -> CSVTable {
    try CSVReader.parse(Array(text.utf8), fileName: name)
  }

  func count(_ connection: Connection, _ table: String) throws -> Int {
    try connection.query("SELECT count(*) AS n FROM \(identifier: table)")[0].decode("n")
  }

  @Test func sitesAreAddedThenReplacedByCode() throws {
    let connection = try TestDatabase.fresh().connect()
    let first = try ReferenceImport.load(
      .sites, from: try csv("code,name,kind,county,sub_county\ndice-likoni,Likoni DICE,DICE,Mombasa,likoni\n"),
      into: connection)
    #expect(first.inserted == 1)
    let again = try ReferenceImport.load(
      .sites, from: try csv("code,name,kind,county\nDICE-LIKONI,Likoni drop-in centre,dice,001\n"), into: connection)
    #expect(again.updated == 1 && again.inserted == 0)
    let site = try #require(try SiteCatalog.find(connection, code: "DICE-LIKONI"))
    #expect(site.name == "Likoni drop-in centre")
    #expect(site.subCounty == "Likoni", "a column left out of the file keeps its stored value")
  }

  @Test func aDatabaseRefusalLateInTheFileLeavesNothingBehind() throws {
    let connection = try TestDatabase.fresh().connect()
    try Seeds.loadKwaleDemo(connection)
    let before = try count(connection, "supply_lines")
    let file = try csv(
      """
      site,category,supplier
      PRISON-KWALE,condom,STORE-KWALE
      STORE-KWALE,condom,SAT-KINANGO
      """, name: "lines.csv")
    #expect {
      try ReferenceImport.load(.supplyLines, from: file, into: connection)
    } throws: { error in
      (error as? KPStockError)?.message.hasPrefix(
        "nothing imported: lines.csv:3: supplier: this supply line would make a loop")
        == true
    }
    #expect(try count(connection, "supply_lines") == before)
    #expect(try SupplyLineCatalog.find(connection, site: "PRISON-KWALE", category: "condom") == nil)
  }

  @Test func aDryRunCountsButWritesNothing() throws {
    let connection = try TestDatabase.fresh().connect()
    let summary = try ReferenceImport.load(
      .commodities, from: try csv("code,name,category,base_unit,pack_size\nPREP,PrEP tablet,condom,piece,30\n"),
      into: connection, dryRun: true)
    #expect(summary.inserted == 1)
    #expect(try CommodityCatalog.find(connection, code: "PREP") == nil)
  }

  @Test func normsKeepTheirHistory() throws {
    let connection = try TestDatabase.fresh().connect()
    try ReferenceImport.load(
      .norms,
      from: try csv(
        "commodity,population,per_person_per_week,effective_from,source\nMALE-CONDOM,FSW,4,2026-01-01,rural median\n"),
      into: connection)
    let inForce = try NormCatalog.list(
      connection, on: CalendarDate("2026-06-01")!, commodity: "MALE-CONDOM", population: "FSW")
    #expect(inForce.map(\.quantityPerWeek) == [4])
    let before = try NormCatalog.list(
      connection, on: CalendarDate("2025-06-01")!, commodity: "MALE-CONDOM", population: "FSW")
    #expect(before.map(\.quantityPerWeek) == [9])
    #expect(
      try NormCatalog.list(
        connection, on: CalendarDate("2026-06-01")!, history: true, commodity: "MALE-CONDOM",
        population: "FSW"
      ).count == 2)
  }
}

@Suite("Database target")
struct DatabaseTargetTests {
  @Test func theFlagWinsThenDatabaseURLThenPGVariablesThenTheEmbeddedCluster() {
    let env = ["DATABASE_URL": "postgres://env/db", "PGHOST": "/tmp", "KPSTOCK_HOME": "/tmp/kp"]
    #expect(
      DatabaseTarget.resolve(databaseURL: "postgres://flag/db", environment: env).conninfo == "postgres://flag/db")
    #expect(DatabaseTarget.resolve(databaseURL: nil, environment: env).conninfo == "postgres://env/db")
    guard case .libpqEnvironment = DatabaseTarget.resolve(databaseURL: nil, environment: ["PGDATABASE": "x"]) else {
      Issue.record("PG* variables should select libpq's environment")
      return
    }
    guard
      case .embedded(let cluster) = DatabaseTarget.resolve(databaseURL: nil, environment: ["KPSTOCK_HOME": "/tmp/kp"])
    else {
      Issue.record("no server named should select the embedded cluster")
      return
    }
    #expect(cluster.configuration.home == "/tmp/kp")
  }

  @Test func passwordsNeverReachTheDescription() {
    let url = DatabaseTarget.server("postgres://kp:s3cret@db.example/kpstock").description
    #expect(!url.contains("s3cret"))
    let conninfo = DatabaseTarget.server("host=db user=kp password='s3 cret' dbname=kpstock").description
    #expect(!conninfo.contains("s3"))
  }
}
