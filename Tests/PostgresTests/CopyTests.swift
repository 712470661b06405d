import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("COPY FROM STDIN")
struct CopyTests {
  static func connection() throws -> Connection {
    let connection = try TestDatabase.fresh().connect()
    try connection.execute("CREATE TEMP TABLE copy_probe (id int NOT NULL, name text, quantity numeric)")
    return connection
  }

  static func expectUsable(_ connection: Connection) throws {
    #expect(!connection.isInTransaction)
    #expect(try connection.value("SELECT \("still here")::text") == "still here")
  }

  @Test func aHundredThousandCSVRowsAreStored() throws {
    let connection = try Self.connection()
    let rows = 100_000
    let stored = try connection.copyFrom("COPY copy_probe (id, name, quantity) FROM STDIN (FORMAT csv)") { writer in
      for id in 1...rows {
        try writer.write("\(id),\"item, \(id)\",\(id).5\n")
      }
    }
    #expect(stored == rows)
    let summary = try connection.query(
      "SELECT count(*) AS n, sum(id) AS ids, max(name) FILTER (WHERE id = 42) AS name42 FROM copy_probe")[0]
    #expect(try summary.decode("n", as: Int.self) == rows)
    #expect(try summary.decode("ids", as: Int.self) == rows * (rows + 1) / 2)
    #expect(try summary.decode("name42", as: String.self) == "item, 42")
  }

  @Test func awkwardCSVFieldsArriveIntact() throws {
    let connection = try Self.connection()
    let names = ["say \"hi\"", "line\nbreak", "comma, inside", #"back\slash"#, "é🐄 עברית", ""]
    try connection.copyFrom("COPY copy_probe (id, name) FROM STDIN (FORMAT csv)") { writer in
      for (id, name) in names.enumerated() {
        try writer.write("\(id),\"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"\n")
      }
      try writer.write(Array("99,\n".utf8))
    }
    let stored = try connection.query("SELECT id, name FROM copy_probe ORDER BY id")
    #expect(stored.count == names.count + 1)
    for row in stored.dropLast() {
      #expect(try row.decode("name", as: String.self) == names[try row.decode("id", as: Int.self)])
    }
    #expect(try stored.last?.decode("name", as: String?.self) == .some(nil))
  }

  @Test func aProducerThatThrowsMidwayAbortsTheWholeCopy() throws {
    let connection = try Self.connection()
    var written = 0
    let error = try #require(throws: DeliberateFailure.self) {
      try connection.copyFrom("COPY copy_probe (id, name) FROM STDIN (FORMAT csv)") { writer in
        // Well past one 64 KiB chunk, so some rows have already reached the server.
        for id in 1...10_000 {
          try writer.write("\(id),row number \(id)\n")
          written += 1
        }
        throw DeliberateFailure(reason: "source file truncated")
      }
    }
    #expect(error == DeliberateFailure(reason: "source file truncated"))
    #expect(written == 10_000)
    #expect(try connection.count("copy_probe") == 0)
    try Self.expectUsable(connection)
  }

  @Test func anAbortedCopyInsideATransactionLeavesItUsable() throws {
    let connection = try Self.connection()
    try connection.transaction { connection in
      try connection.execute("INSERT INTO copy_probe (id) VALUES (\(1))")
      #expect(throws: DeliberateFailure.self) {
        try connection.transaction { connection in
          try connection.copyFrom("COPY copy_probe (id) FROM STDIN") { writer in
            try writer.write("2\n")
            throw DeliberateFailure()
          }
        }
      }
      try connection.execute("INSERT INTO copy_probe (id) VALUES (\(3))")
    }
    #expect(
      try connection.query("SELECT id FROM copy_probe ORDER BY id").map { try $0.decode("id", as: Int.self) } == [1, 3])
  }

  @Test func aMalformedRowIsAServerErrorAndStoresNothing() throws {
    let connection = try Self.connection()
    let error = try #require(throws: PostgresError.self) {
      try connection.copyFrom("COPY copy_probe (id, name) FROM STDIN (FORMAT csv)") { writer in
        try writer.write("1,first\n")
        try writer.write("two,second\n")
        try writer.write("3,third\n")
      }
    }
    #expect(error.kind == .server)
    #expect(error.sqlState == .invalidTextRepresentation)
    #expect(error.message.contains("two"))
    #expect(error.context?.contains("line 2") == true)
    #expect(try connection.count("copy_probe") == 0)
    try Self.expectUsable(connection)
  }

  @Test func aCopyWithABindParameterIsRefused() throws {
    let connection = try Self.connection()
    var producerRan = false
    let error = try #require(throws: PostgresError.self) {
      try connection.copyFrom("COPY copy_probe (id) FROM STDIN WHERE id > \(5)") { _ in producerRan = true }
    }
    #expect(error.kind == .usage)
    #expect(!producerRan)
    try Self.expectUsable(connection)
  }

  @Test func aStatementThatIsNotCopyFromStdinIsRefused() throws {
    let connection = try Self.connection()
    var producerRan = false
    let error = try #require(throws: PostgresError.self) {
      try connection.copyFrom("SELECT 1") { _ in producerRan = true }
    }
    #expect(error.kind == .usage)
    #expect(!producerRan)
    try Self.expectUsable(connection)
  }

  @Test func aCopyToStdoutPassedByMistakeIsRefusedAndTheConnectionRecovers() throws {
    let connection = try Self.connection()
    try connection.execute("INSERT INTO copy_probe (id) SELECT generate_series(1, 1000)")
    #expect {
      try connection.copyFrom("COPY copy_probe TO STDOUT") { _ in }
    } throws: { error in
      (error as? PostgresError)?.kind == .usage
    }
    try Self.expectUsable(connection)
  }

  @Test func copyIntoAMissingTableIsAServerError() throws {
    let connection = try Self.connection()
    let error = try #require(throws: PostgresError.self) {
      try connection.copyFrom("COPY no_such_table FROM STDIN") { writer in try writer.write("1\n") }
    }
    #expect(error.kind == .server)
    #expect(error.sqlState == .undefinedTable)
    try Self.expectUsable(connection)
  }
}
