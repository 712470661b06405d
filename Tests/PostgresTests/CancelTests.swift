import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("cancelling a connection's work from another thread")
struct CancelTests {
  static func expectCancelled(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    let error = #expect(throws: PostgresError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.sqlState == .queryCanceled, "\(String(describing: error))", sourceLocation: sourceLocation)
  }

  @Test func aRunningStatementStopsAtOnceAndTheConnectionIsUsableAfterwards() throws {
    let database = try TestDatabase.fresh()
    let connection = try database.connect()
    let canceller = try #require(connection.canceller())
    let backend: Int = try connection.value("SELECT pg_backend_pid()")
    let sent = ThreadOutcome { () throws -> Bool in
      let observer = try database.connect()
      while try observer.value("SELECT count(*)::int FROM pg_stat_activity WHERE pid = \(backend) AND state = 'active'")
        == 0
      {
        usleep(10_000)
      }
      return canceller.cancel()
    }
    let start = ContinuousClock.now
    Self.expectCancelled { try connection.execute("SELECT pg_sleep(30)") }
    #expect(ContinuousClock.now - start < .seconds(10))
    #expect(try sent.wait(seconds: 10)?.get() == true)
    #expect(try connection.value("SELECT 1") == 1)
  }

  @Test func aCancelBetweenStatementsStopsTheNextOneOnly() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.execute("BEGIN")
    try connection.execute("CREATE TEMP TABLE cancel_probe (id int)")
    try #require(connection.canceller()).cancel()
    Self.expectCancelled { try connection.execute("INSERT INTO cancel_probe VALUES (1)") }
    try connection.execute("ROLLBACK")
    #expect(!connection.isInTransaction)
    #expect(try connection.value("SELECT to_regclass('pg_temp.cancel_probe') IS NULL") == true)
  }

  @Test func aCancelStopsACopyWhileItStreams() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.execute("CREATE TEMP TABLE cancel_copy (id int)")
    let canceller = try #require(connection.canceller())
    var written = 0
    Self.expectCancelled {
      try connection.copyFrom("COPY cancel_copy (id) FROM STDIN") { writer in
        for id in 1...1_000_000 {
          if id == 1_000 { canceller.cancel() }
          try writer.write("\(id)\n")
          written = id
        }
      }
    }
    #expect(written < 100_000)
    #expect(try connection.count("cancel_copy") == 0)
    #expect(try connection.value("SELECT 1") == 1)
  }
}
