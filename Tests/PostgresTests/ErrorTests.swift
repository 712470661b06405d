import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("Server errors and their SQLSTATE fields")
struct ErrorTests {
  /// A fresh database with a parent/child pair carrying one of each kind of constraint.
  static func connectionWithConstraints() throws -> Connection {
    let connection = try TestDatabase.fresh().connect()
    try connection.executeScript(
      unsafeSQL: """
        CREATE TABLE probe_parent (
          id int PRIMARY KEY,
          code text NOT NULL CONSTRAINT probe_parent_code_key UNIQUE
        );
        CREATE TABLE probe_child (
          id int PRIMARY KEY,
          parent_id int NOT NULL CONSTRAINT probe_child_parent_fk REFERENCES probe_parent (id),
          quantity int CONSTRAINT probe_child_quantity_positive CHECK (quantity > 0)
        );
        INSERT INTO probe_parent VALUES (1, 'A');
        """)
    return connection
  }

  /// Runs `body`, expecting a server error, and checks the connection still answers afterwards.
  static func serverError(on connection: Connection, _ body: () throws -> Void) throws -> PostgresError {
    let error = try #require(throws: PostgresError.self) { try body() }
    #expect(error.kind == .server)
    #expect(error.severity == "ERROR")
    #expect(!connection.isInTransaction)
    #expect(try connection.value("SELECT 1") == 1)
    return error
  }

  @Test func aUniqueViolationNamesTheConstraintAndTable() throws {
    let connection = try Self.connectionWithConstraints()
    let error = try Self.serverError(on: connection) {
      try connection.execute("INSERT INTO probe_parent VALUES (\(2), \("A"))")
    }
    #expect(error.sqlState == .uniqueViolation)
    #expect(error.sqlState?.isIntegrityConstraintViolation == true)
    #expect(error.constraint == "probe_parent_code_key")
    #expect(error.table == "probe_parent")
    #expect(error.schema == "public")
    #expect(error.detail?.contains("(code)=(A)") == true)
    #expect(error.description.contains("[SQLSTATE 23505]"))
    #expect(!error.isTransient)
  }

  @Test func aForeignKeyViolationNamesTheConstraint() throws {
    let connection = try Self.connectionWithConstraints()
    let error = try Self.serverError(on: connection) {
      try connection.execute("INSERT INTO probe_child (id, parent_id, quantity) VALUES (1, \(999), 1)")
    }
    #expect(error.sqlState == .foreignKeyViolation)
    #expect(error.constraint == "probe_child_parent_fk")
    #expect(error.table == "probe_child")
    #expect(error.detail?.contains("999") == true)
  }

  @Test func aCheckViolationNamesTheConstraint() throws {
    let connection = try Self.connectionWithConstraints()
    let error = try Self.serverError(on: connection) {
      try connection.execute("INSERT INTO probe_child (id, parent_id, quantity) VALUES (1, 1, \(0))")
    }
    #expect(error.sqlState == .checkViolation)
    #expect(error.constraint == "probe_child_quantity_positive")
    #expect(error.table == "probe_child")
  }

  @Test func aNotNullViolationNamesTheColumn() throws {
    let connection = try Self.connectionWithConstraints()
    let error = try Self.serverError(on: connection) {
      try connection.execute("INSERT INTO probe_parent (id, code) VALUES (2, \(String?.none))")
    }
    #expect(error.sqlState == .notNullViolation)
    #expect(error.column == "code")
    #expect(error.table == "probe_parent")
  }

  @Test func aSyntaxErrorIs42601() throws {
    let connection = try TestDatabase.fresh().connect()
    let error = try Self.serverError(on: connection) { try connection.query("SELEC 1") }
    #expect(error.sqlState == .syntaxError)
    #expect(error.message.contains("SELEC"))
  }

  @Test func anUndefinedTableIs42P01AndNamesTheTable() throws {
    let connection = try TestDatabase.fresh().connect()
    let error = try Self.serverError(on: connection) { try connection.query("SELECT * FROM no_such_table") }
    #expect(error.sqlState == .undefinedTable)
    #expect(error.message.contains("no_such_table"))
  }

  @Test func divisionByZeroIs22012() throws {
    let connection = try TestDatabase.fresh().connect()
    let error = try Self.serverError(on: connection) { try connection.query("SELECT 1 / \(0) AS v") }
    #expect(error.sqlState == SQLState("22012"))
    #expect(error.sqlState?.isDataException == true)
    #expect(error.sqlState?.errorClass == "22")
  }

  @Test func castingTextToAnIntegerIs22P02() throws {
    let connection = try TestDatabase.fresh().connect()
    let literal = try Self.serverError(on: connection) { try connection.query("SELECT 'x'::int") }
    #expect(literal.sqlState == .invalidTextRepresentation)
    #expect(literal.message.contains("\"x\""))
    let bound = try Self.serverError(on: connection) { try connection.query("SELECT \("x")::int") }
    #expect(bound.sqlState == .invalidTextRepresentation)
  }

  @Test func raiseExceptionCarriesItsCodeDetailAndHint() throws {
    let connection = try TestDatabase.fresh().connect()
    let error = try Self.serverError(on: connection) {
      try connection.executeScript(
        unsafeSQL: """
          DO $$
          BEGIN
            RAISE EXCEPTION 'stock would go negative'
              USING ERRCODE = 'KP001', DETAIL = 'balance 3, issue 5', HINT = 'receive stock first';
          END
          $$
          """)
    }
    #expect(error.sqlState == SQLState("KP001"))
    #expect(error.message == "stock would go negative")
    #expect(error.detail == "balance 3, issue 5")
    #expect(error.hint == "receive stock first")
    #expect(error.context?.contains("PL/pgSQL") == true)
    #expect(error.description == "stock would go negative [SQLSTATE KP001] — balance 3, issue 5")
  }

  @Test func raiseExceptionWithoutACodeIsP0001() throws {
    let connection = try TestDatabase.fresh().connect()
    let error = try Self.serverError(on: connection) {
      try connection.executeScript(unsafeSQL: "DO $$ BEGIN RAISE EXCEPTION 'plain'; END $$")
    }
    #expect(error.sqlState == .raiseException)
    #expect(error.detail == nil)
    #expect(error.hint == nil)
  }

  @Test func anErrorInsideAScriptStopsTheScriptAndRollsItBack() throws {
    let connection = try TestDatabase.fresh().connect()
    let error = try Self.serverError(on: connection) {
      try connection.executeScript(
        unsafeSQL: "CREATE TABLE script_probe (id int); SELECT 1 / 0; CREATE TABLE after (id int)")
    }
    #expect(error.sqlState == SQLState("22012"))
    #expect(try !connection.tableExists("script_probe"))
    #expect(try !connection.tableExists("after"))
  }

  @Test func aNulByteInScriptTextIsRefused() throws {
    let connection = try TestDatabase.fresh().connect()
    let error = try #require(throws: PostgresError.self) {
      try connection.executeScript(unsafeSQL: "SELECT 1;\u{0} DROP TABLE x")
    }
    #expect(error.kind == .bind)
  }

  @Test func aSessionTheServerTerminatesIsAConnectionErrorWithItsCode() throws {
    let database = try TestDatabase.fresh()
    let victim = try database.connect()
    let pid: Int32 = try victim.value("SELECT pg_backend_pid()")
    let admin = try database.connect()
    try admin.execute("SELECT pg_terminate_backend(\(pid))")
    #expect {
      try victim.execute("SELECT 1")
    } throws: { error in
      guard let error = error as? PostgresError else { return false }
      return error.kind == .connection && (error.sqlState == nil || error.sqlState == .adminShutdown)
    }
  }

  @Test func connectingToAMissingSocketDirectoryIsAConnectionError() throws {
    let error = try #require(throws: PostgresError.self) {
      try Connection(connectingTo: "host=/nonexistent/kpstock-socket-dir dbname=postgres connect_timeout=2")
    }
    #expect(error.kind == .connection)
    #expect(error.sqlState == nil)
    #expect(error.message.contains("/nonexistent/kpstock-socket-dir"))
    #expect(!error.message.contains("\n"))
  }

  @Test func aMalformedConninfoIsAConnectionError() throws {
    let error = try #require(throws: PostgresError.self) {
      try Connection(connectingTo: "this is not = a conninfo")
    }
    #expect(error.kind == .connection)
    #expect(!error.message.isEmpty)
  }

  @Test func connectingToAMissingDatabaseReportsTheServerSaidSo() throws {
    let handle = try TestDatabase.fresh()
    let conninfo = handle.conninfo.replacingOccurrences(of: handle.name, with: "no_such_database_\(handle.name)")
    #expect(conninfo != handle.conninfo)
    let error = try #require(throws: PostgresError.self) { try Connection(connectingTo: conninfo) }
    #expect(error.kind == .connection)
    #expect(error.message.contains("no_such_database_"))
  }
}
