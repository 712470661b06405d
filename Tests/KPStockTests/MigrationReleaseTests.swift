import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("Released migrations")
struct MigrationReleaseTests {
  /// Every database kpstock has migrated holds these checksums and refuses to run against a file that
  /// no longer matches. When a migration is released, add it here; never change a line of this table.
  static let released: [String: String] = [
    "0001_reference": "e7e8a7e0f7c6f885691c1aa5a19c6c35146e6eeedc797477953b49c5966a4e0d",
    "0002_ledger": "f373f703622fd20122ceab51f0594a720888e902f93db038d9b88012ab047944",
    "0003_ledger_import": "e57f3db709dc63339819f28751ca94212f98a17ba819419c336763607170e471",
    "0004_ledger_fast_paths": "55cec01e78af36dc7c0ced87a10a6602fb3e54d85d1d9771df4165c6a17bd23a",
    "0005_ledger_verify_references": "db41f1d200d1b7e201736c15b8f42a954138b1a8242a1b2f6a82d551f4b94bfc",
    "0006_ledger_dispense_fast_path": "e6be93504d3be93fc3061086d9dcff9e5150a4cb650599da572e7cd7afc3d79a",
  ]

  @Test func releasedMigrationsAreNeverEdited() throws {
    let connection = try TestDatabase.fresh().connect()
    var recorded: [String: String] = [:]
    for row in try connection.query("SELECT name, checksum FROM schema_migrations") {
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
