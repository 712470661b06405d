import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// The result of work done on another thread.
@Suite("Concurrent catalogue updates")
struct ConcurrentUpdateTests {
  /// Another session changes the site's name and holds its row lock; our update of the kind reads the
  /// old row, then waits on that lock. When the other session commits, a lost update would write the old
  /// name back. Both changes must survive.
  ///
  /// The update runs on its own OS thread: libpq blocks, and the cooperative pool may be busy with other
  /// suites' blocking work.
  @Test func twoPeopleChangingDifferentFieldsOfASiteKeepBothChanges() throws {
    let database = try TestDatabase.fresh()
    let setup = try database.store()
    try Seeds.loadKwaleDemo(setup)
    try setup.execute("BEGIN")
    try setup.execute("UPDATE sites SET name = 'Kinango outreach point' WHERE code = 'SAT-KINANGO'")

    let outcome = ThreadOutcome {
      let store = try database.store()
      var values = InputValues()
      values["kind"] = "dice"
      return try SiteCatalog.update(store, code: "sat-kinango", values).site.kind
    }
    try database.waitUntilASessionWaitsOnALock()
    try setup.execute("COMMIT")
    let kind = try #require(outcome.wait(seconds: 30), "the update did not finish")
    #expect(try kind.get() == "dice")

    let site = try #require(try SiteCatalog.find(setup, code: "SAT-KINANGO"))
    #expect(site.name == "Kinango outreach point")
    #expect(site.kind == "dice")
  }
}
