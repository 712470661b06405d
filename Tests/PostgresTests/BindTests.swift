import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("Binding values as parameters")
struct BindTests {
  /// Strings that would break, or rewrite, a statement if they were pasted into its text.
  static let hostileStrings: [String] = [
    "it's",
    "''",
    "say \"hi\"",
    #"back\slash \\ \' \n \x00"#,
    "$1",
    "$2 then $1",
    "; DROP TABLE x; --",
    "'); DROP TABLE x; --",
    "emoji 🐄🐐🐑 and a family 👨‍👩‍👧",
    "RTL עברית العربية \u{202E}reversed",
    "combining e\u{0301} vs precomposed \u{00E9}",
    "a\u{0308}\u{0323}\u{20DD}",
    "",
    "  spaces  ",
    "new\nline\ttab\r",
    "NULL",
    "{a,\"b\"}",
    "E'\\x41'",
  ]

  @Test func aQueryRendersEachValueAsANumberedParameter() {
    let name = "it's"
    let query: Query = "SELECT \(name)::text, \(42), \(name)::text"
    #expect(query.sql == "SELECT $1::text, $2, $3::text")
    #expect(query.binds.count == 3)
    #expect(query.binds[0] == .text("it's"))
    #expect(query.binds[1] == .text("42", typeOID: PostgresOID.int8))
  }

  @Test func parametersPastTheNinthAreNumberedInFull() {
    let values = Array(1...12)
    let query: Query =
      "SELECT \(values[0]), \(values[1]), \(values[2]), \(values[3]), \(values[4]), \(values[5]), \(values[6]), \(values[7]), \(values[8]), \(values[9]), \(values[10]), \(values[11])"
    #expect(query.sql == "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12")
    #expect(query.binds.count == 12)
    #expect(query.binds[11] == .text("12", typeOID: PostgresOID.int8))
  }

  @Test func splicedFragmentsKeepTheirValuesAsParameters() {
    let conditions: [Query] = ["county = \("Turkana")", "kind = \("dispensary")"]
    let query: Query = "SELECT * FROM sites WHERE \(Query.joined(conditions, separator: " AND ")) LIMIT \(5)"
    #expect(query.sql == "SELECT * FROM sites WHERE county = $1 AND kind = $2 LIMIT $3")
    #expect(query.binds == [.text("Turkana"), .text("dispensary"), .text("5", typeOID: PostgresOID.int8)])
  }

  @Test func aJoinSeparatorIsAQuerySoItsValuesStayParameters() {
    let conditions: [Query] = ["a = \(1)", "b = \(2)"]
    let separator: Query = " OR c = \("it's") OR "
    let query = Query.joined(conditions, separator: separator)
    #expect(query.sql == "a = $1 OR c = $2 OR b = $3")
    #expect(
      query.binds == [.text("1", typeOID: PostgresOID.int8), .text("it's"), .text("2", typeOID: PostgresOID.int8)])
  }

  @Test func hostileStringsRoundTripExactlyThroughSelect() throws {
    let connection = try TestDatabase.fresh().connect()
    for value in Self.hostileStrings {
      let row = try #require(try connection.query("SELECT \(value)::text AS v, octet_length(\(value)) AS n").first)
      let back: String = try row.decode("v")
      // Swift's String equality is canonical equivalence; compare bytes so "e\u{301}" ≠ "é".
      #expect(Array(back.utf8) == Array(value.utf8), "value \(value.debugDescription)")
      #expect(try row.decode("n", as: Int.self) == value.utf8.count)
    }
  }

  @Test func hostileStringsRoundTripExactlyThroughATable() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.execute("CREATE TABLE bind_probe (id int PRIMARY KEY, v text)")
    for (id, value) in Self.hostileStrings.enumerated() {
      #expect(try connection.execute("INSERT INTO bind_probe (id, v) VALUES (\(id), \(value))") == 1)
    }
    let rows = try connection.query("SELECT id, v FROM bind_probe ORDER BY id")
    #expect(rows.count == Self.hostileStrings.count)
    for row in rows {
      let id: Int = try row.decode("id")
      let back: String = try row.decode("v")
      #expect(Array(back.utf8) == Array(Self.hostileStrings[id].utf8), "row \(id)")
    }
    for value in Self.hostileStrings {
      let matches: Int = try connection.value("SELECT count(*) FROM bind_probe WHERE v = \(value)")
      #expect(matches == 1, "lookup of \(value.debugDescription)")
    }
  }

  @Test func aDropTableStringIsStoredAsDataAndTheTableSurvives() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.execute("CREATE TABLE x (note text)")
    for attack in ["; DROP TABLE x; --", "'); DROP TABLE x; --", "x'; DROP TABLE x; SELECT '"] {
      try connection.execute("INSERT INTO x (note) VALUES (\(attack))")
      #expect(try connection.value("SELECT \(attack)::text") == attack)
    }
    #expect(try connection.tableExists("x"))
    #expect(try connection.count("x") == 3)
    #expect(try connection.value("SELECT count(*) FROM x WHERE note LIKE '%DROP TABLE x%'", as: Int.self) == 3)
  }

  @Test func aOneMegabyteStringRoundTrips() throws {
    let connection = try TestDatabase.fresh().connect()
    let big = String(repeating: "ab'\\\"é🐄", count: 100_000)
    #expect(big.utf8.count > 1_000_000)
    let back: String = try connection.value("SELECT \(big)::text AS v")
    #expect(back == big)
    try connection.execute("CREATE TABLE big_probe (v text)")
    try connection.execute("INSERT INTO big_probe VALUES (\(big))")
    #expect(try connection.value("SELECT octet_length(v) FROM big_probe") == big.utf8.count)
    #expect(try connection.value("SELECT v FROM big_probe") == big)
  }

  @Test func anEmptyStringIsNotNull() throws {
    let connection = try TestDatabase.fresh().connect()
    let row = try connection.query("SELECT \("")::text AS v, \("")::text IS NULL AS isnull")[0]
    #expect(try row.decode("v", as: String.self) == "")
    #expect(try row.decode("isnull", as: Bool.self) == false)
  }

  @Test func aNilOptionalIsBoundAsNull() throws {
    let connection = try TestDatabase.fresh().connect()
    let missing: String? = nil
    let present: String? = "here"
    let row = try connection.query(
      "SELECT \(missing)::text AS a, \(missing)::text IS NULL AS a_null, \(present)::text AS b, \(Int?.none)::int8 AS c"
    )[0]
    #expect(try row.decode("a", as: String?.self) == nil)
    #expect(row.text("a") == nil)
    #expect(try row.decode("a_null", as: Bool.self))
    #expect(try row.decode("b", as: String?.self) == "here")
    #expect(try row.decode("c", as: Int?.self) == nil)

    try connection.execute("CREATE TABLE null_probe (id int, note text)")
    try connection.execute("INSERT INTO null_probe VALUES (1, \(missing)), (2, \(present))")
    #expect(try connection.value("SELECT count(*) FROM null_probe WHERE note IS NULL") == 1)
  }

  @Test func anIdentifierIsQuotedSoItCannotBreakOut() throws {
    let connection = try TestDatabase.fresh().connect()
    let name = "odd\"name; DROP TABLE x; --"
    try connection.execute("CREATE TABLE x (id int)")
    try connection.execute("CREATE TABLE \(identifier: name) (\(identifier: "select") int)")
    try connection.execute("INSERT INTO \(identifier: name) (\(identifier: "select")) VALUES (\(7))")
    #expect(try connection.value("SELECT \(identifier: "select") FROM \(identifier: name)", as: Int.self) == 7)
    #expect(try connection.tableExists("x"))
  }

  @Test func aNulByteInAStringIsRefusedAndNamesTheParameter() throws {
    let connection = try TestDatabase.fresh().connect()
    let first = try #require(throws: PostgresError.self) {
      try connection.query("SELECT \("a\u{0}b")::text AS v")
    }
    #expect(first.kind == .bind)
    #expect(first.message.contains("$1"))
    #expect(first.message.contains("NUL"))

    let second = try #require(throws: PostgresError.self) {
      try connection.query("SELECT \("fine")::text, \("a\u{0}b")::text")
    }
    #expect(second.kind == .bind)
    #expect(second.message.contains("$2"))
    #expect(!second.message.contains("$1"))
  }

  @Test func aNulByteIsRefusedBeforeAnythingReachesTheServer() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.execute("CREATE TABLE nul_probe (v text)")
    // Sent as a C string, "a\0b" would arrive as "a" and be stored; it must not be.
    #expect(throws: PostgresError.self) {
      try connection.execute("INSERT INTO nul_probe VALUES (\("a\u{0}b"))")
    }
    #expect(try connection.count("nul_probe") == 0)
    #expect(try connection.value("SELECT 1") == 1)
  }

  @Test func nonUTF8TextIsRefusedWithAClearMessage() throws {
    let connection = try TestDatabase.fresh().connect()
    let error = try #require(throws: PostgresError.self) {
      try connection.query("SELECT \(bind: PostgresBind.text(bytes: [0x66, 0xFF, 0xFE]))::text AS v")
    }
    #expect(error.kind == .bind)
    #expect(error.sqlState == nil)
    #expect(error.message.contains("$1"))
    #expect(error.message.contains("UTF-8"))
    #expect(try connection.value("SELECT \("still usable")::text") == "still usable")
  }

  @Test func aRefusedBindDoesNotAbortTheSurroundingTransaction() throws {
    let handle = try TestDatabase.fresh()
    let connection = try handle.connect()
    try connection.execute("CREATE TABLE refused_probe (v text)")
    try connection.transaction { connection in
      try connection.execute("INSERT INTO refused_probe VALUES (\("before"))")
      // Had either value reached the server, the transaction would now be aborted (25P02).
      #expect(throws: PostgresError.self) {
        try connection.execute("INSERT INTO refused_probe VALUES (\(bind: .text(bytes: [0x66, 0xFF, 0xFE])))")
      }
      #expect(throws: PostgresError.self) {
        try connection.execute("INSERT INTO refused_probe VALUES (\("a\u{0}b"))")
      }
      try connection.execute("INSERT INTO refused_probe VALUES (\("after"))")
    }
    let other = try handle.connect()
    let values = try other.query("SELECT v FROM refused_probe ORDER BY v").map { try $0.decode("v", as: String.self) }
    #expect(values == ["after", "before"])
  }

  @Test func everyByteValueRoundTripsThroughBytea() throws {
    let connection = try TestDatabase.fresh().connect()
    let bytes = (0...255).map(UInt8.init)
    let reversed = Array(bytes.reversed())
    let row = try connection.query("SELECT \(bytes) AS b, octet_length(\(bytes)) AS n")[0]
    #expect(try row.decode("b", as: [UInt8].self) == bytes)
    #expect(try row.decode("n", as: Int.self) == 256)

    try connection.execute("CREATE TABLE bytea_probe (id int, b bytea)")
    try connection.execute("INSERT INTO bytea_probe VALUES (1, \(bytes)), (2, \([UInt8]())), (3, \(reversed))")
    let stored = try connection.query("SELECT b FROM bytea_probe ORDER BY id").map {
      try $0.decode("b", as: [UInt8].self)
    }
    #expect(stored == [bytes, [], reversed])
    #expect(try connection.value("SELECT get_byte(b, 0) FROM bytea_probe WHERE id = 3") == 255)
  }

  @Test func numbersBoolsAndUUIDsBindWithTheirTypes() throws {
    let connection = try TestDatabase.fresh().connect()
    let id = UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")!
    let row = try connection.query(
      """
      SELECT pg_typeof(\(Int.max))::text AS int_type, \(Int.max) = 9223372036854775807 AS int_ok,
             pg_typeof(\(Int32.min))::text AS int32_type, \(Int32.min) = -2147483648 AS int32_ok,
             pg_typeof(\(true))::text AS bool_type, \(true) AND NOT \(false) AS bool_ok,
             pg_typeof(\(id))::text AS uuid_type, \(id) = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid_ok
      """)[0]
    #expect(try row.decode("int_type", as: String.self) == "bigint")
    #expect(try row.decode("int32_type", as: String.self) == "integer")
    #expect(try row.decode("bool_type", as: String.self) == "boolean")
    #expect(try row.decode("uuid_type", as: String.self) == "uuid")
    for column in ["int_ok", "int32_ok", "bool_ok", "uuid_ok"] {
      #expect(try row.decode(column, as: Bool.self), "\(column)")
    }
  }
}
