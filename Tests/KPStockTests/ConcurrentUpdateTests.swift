import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("Concurrent catalogue updates")
struct ConcurrentUpdateTests {
  /// Another session changes the site's name and holds its row lock; our update of the kind reads the
  /// old row, then waits on that lock. When the other session commits, a lost update would write the old
  /// name back. Both changes must survive.
  @Test func twoPeopleChangingDifferentFieldsOfASiteKeepBothChanges() async throws {
    let database = try TestDatabase.fresh()
    let setup = try database.connect()
    try Seeds.loadKwaleDemo(setup)
    try setup.execute("BEGIN")
    try setup.execute("UPDATE sites SET name = 'Kinango outreach point' WHERE code = 'SAT-KINANGO'")

    let update = Task.detached {
      let connection = try database.connect()
      var values = InputValues()
      values["kind"] = "dice"
      return try SiteCatalog.update(connection, code: "sat-kinango", values).site.kind
    }
    let observer = try database.connect()
    var waited = 0
    while try observer.query(
      """
      SELECT count(*) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'
      """
    )[0].decode("n", as: Int.self) == 0 {
      try #require(waited < 200, "the update never waited on the row lock")
      usleep(25_000)
      waited += 1
    }
    try setup.execute("COMMIT")
    #expect(try await update.value == "dice")

    let site = try #require(try SiteCatalog.find(observer, code: "SAT-KINANGO"))
    #expect(site.name == "Kinango outreach point")
    #expect(site.kind == "dice")
  }
}
