import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("Released migrations")
struct MigrationReleaseTests {
  /// Every database kpstock has migrated holds these checksums and refuses to run against a file that
  /// no longer matches. When a migration is released, add it here; never change a line of this table.
  static let released: [String: String] = [
    "0001_reference": "e7e8a7e0f7c6f885691c1aa5a19c6c35146e6eeedc797477953b49c5966a4e0d"
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
