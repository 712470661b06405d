import KPStockTestSupport
import Postgres
import Testing

@Suite("Prepared queries")
struct PreparedQueryTests {
  static func preparedCount(_ connection: Connection) throws -> Int {
    try connection.value("SELECT count(*)::bigint FROM pg_prepared_statements")
  }

  @Test func aRepeatedQueryIsPreparedOnceAndTakesNewValuesEachTime() throws {
    let connection = try TestDatabase.fresh().connect()
    for value in [1, 2, 3] {
      let row = try connection.preparedQuery("SELECT \(value)::bigint * 10 AS n, \("it's")::text AS t")[0]
      #expect(try row.decode("n") == Int64(value * 10))
      #expect(try row.decode("t") == "it's")
    }
    #expect(try Self.preparedCount(connection) == 1)
    try connection.preparedQuery("SELECT \(1)::bigint + 1 AS n")
    #expect(try Self.preparedCount(connection) == 2)
  }

  /// A statement is found by its literals' places in the binary, its spliced SQL and its parameters' types: text
  /// spliced in or a parameter of another type makes another statement, the same again finds the one prepared.
  @Test func statementsThatDifferInSplicedSQLOrAParameterTypeArePreparedApart() throws {
    let connection = try TestDatabase.fresh().connect()
    for (term, expected) in [("1", Int64(6)), ("2", 7), ("1", 6)] {
      let row = try connection.preparedQuery("SELECT \(unsafeRaw: term)::bigint + \(5)::bigint AS n")[0]
      #expect(try row.decode("n") == expected)
    }
    #expect(try Self.preparedCount(connection) == 2)
    for type: UInt32 in [20, 23, 20] {
      let row = try connection.preparedQuery("SELECT pg_typeof(\(bind: .text("5", typeOID: type)))::text AS t")[0]
      #expect(try row.decode("t") == (type == 20 ? "bigint" : "integer"))
    }
    #expect(try Self.preparedCount(connection) == 4)
  }

  @Test func aSessionThatLostItsStatementsPreparesThemAgain() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.preparedQuery("SELECT \(1)::bigint AS n")
    try connection.execute("DEALLOCATE ALL")
    let row = try connection.preparedQuery("SELECT \(7)::bigint AS n")[0]
    #expect(try row.decode("n") == Int64(7))
    #expect(try Self.preparedCount(connection) == 1)
  }

  @Test func aFailingPreparedQueryReportsTheServerError() throws {
    let connection = try TestDatabase.fresh().connect()
    let error = #expect(throws: PostgresError.self) {
      try connection.preparedQuery("SELECT 1 / \(0)::integer")
    }
    #expect(error?.sqlState == SQLState("22012"))
    #expect(try connection.preparedQuery("SELECT 10 / \(2)::integer AS n")[0].decode("n") == Int32(5))
  }
}
