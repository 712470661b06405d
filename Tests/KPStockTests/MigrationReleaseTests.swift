import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("Released migrations")
struct MigrationReleaseTests {
  /// Every database kpstock has migrated holds these checksums and refuses to run against a file that
  /// no longer matches. When a migration is released, add it here; never change a line of this table.
  /// (0001–0006 as first released were squashed into these two before any database was deployed; a database
  /// made from them is refused with what to do.)
  static let released: [String: String] = [
    "0001_reference": "821f48c54ccb4a11323d3acf606b28493cf0747eaa3c4bada02fedbf5687ae89",
    "0002_ledger": "06ef6f4f6022f4f02c8ff8b336df57dce4250529447c69ccd629994e6d6636b5",
    "0003_lot_daily": "e5f9f092c9c37209ccba132b8208b5fe1aa3ea03a017fdb9f791b01d655f20ae",
    "0004_event_domains": "3cf9e3c58d19d02a8a26c7df4b6d18588aa2f6ca81a4acf10f8b0e5f0d299f5b",
    "0005_event_references": "abb5b700f0ae69423514463e3e6a590684683c25a59bbf0bf4ba332a338dfc83",
  ]

  @Test func releasedMigrationsAreNeverEdited() throws {
    let store = try TestDatabase.fresh().store()
    var recorded: [String: String] = [:]
    for row in try store.query("SELECT name, checksum FROM schema_migrations") {
      recorded[try row.decode("name")] = try row.decode("checksum")
    }
    for (name, checksum) in Self.released {
      #expect(
        recorded[name] == checksum,
        "Schema/\(name).sql was edited after release; put the change in a new migration instead")
    }
    for name in recorded.keys where Self.released[name] == nil {
      Issue.record("add \(name) and its checksum \(recorded[name] ?? "") to MigrationReleaseTests.released")
    }
  }
}
