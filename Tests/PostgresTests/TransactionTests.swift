import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("Transactions, savepoints and retries")
struct TransactionTests {
  static func database() throws -> (TestDatabaseHandle, Connection) {
    let handle = try TestDatabase.fresh()
    let connection = try handle.connect()
    try connection.execute("CREATE TABLE ledger (id int PRIMARY KEY, amount int NOT NULL DEFAULT 1)")
    return (handle, connection)
  }

  static func ids(_ connection: Connection) throws -> [Int] {
    try connection.query("SELECT id FROM ledger ORDER BY id").map { try $0.decode("id") }
  }

  @Test func returningCommitsAndHandsBackTheValue() throws {
    let (handle, connection) = try Self.database()
    let value = try connection.transaction { connection in
      #expect(connection.isInTransaction)
      try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
      return "done"
    }
    #expect(value == "done")
    #expect(!connection.isInTransaction)
    // Another session sees the row, so it was committed, not merely visible to its own session.
    #expect(try Self.ids(handle.connect()) == [1])
  }

  @Test func throwingRollsBackAndRethrowsTheSameError() throws {
    let (handle, connection) = try Self.database()
    let error = try #require(throws: DeliberateFailure.self) {
      try connection.transaction { connection in
        try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
        #expect(try Self.ids(connection) == [1])
        throw DeliberateFailure(reason: "changed my mind")
      }
    }
    #expect(error == DeliberateFailure(reason: "changed my mind"))
    #expect(!connection.isInTransaction)
    #expect(try Self.ids(connection) == [])
    #expect(try Self.ids(handle.connect()) == [])
  }

  @Test func aServerErrorRollsBackAndLeavesTheConnectionUsable() throws {
    let (_, connection) = try Self.database()
    let error = try #require(throws: PostgresError.self) {
      try connection.transaction { connection in
        try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
        try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
      }
    }
    #expect(error.sqlState == .uniqueViolation)
    #expect(!connection.isInTransaction)
    #expect(try Self.ids(connection) == [])
    let inserted = try connection.transaction { try $0.execute("INSERT INTO ledger (id) VALUES (\(2))") }
    #expect(inserted == 1)
    #expect(try Self.ids(connection) == [2])
  }

  @Test func theRequestedIsolationLevelIsUsed() throws {
    let (_, connection) = try Self.database()
    for (level, shown) in [
      (IsolationLevel.readCommitted, "read committed"), (.repeatableRead, "repeatable read"),
      (.serializable, "serializable"),
    ] {
      let actual: String = try connection.transaction(isolation: level) { try $0.value("SHOW transaction_isolation") }
      #expect(actual == shown)
    }
  }

  @Test func withoutALevelTheTopLevelUsesTheServerDefaultAndANestedCallTheOuterLevel() throws {
    let (_, connection) = try Self.database()
    let levels: [String] = try connection.transaction { connection in
      let outer: String = try connection.value("SHOW transaction_isolation")
      let nested: String = try connection.transaction { try $0.value("SHOW transaction_isolation") }
      return [outer, nested]
    }
    #expect(levels == ["read committed", "read committed"])
    let nested: String = try connection.transaction(isolation: .serializable) { connection in
      try connection.transaction { try $0.value("SHOW transaction_isolation") }
    }
    #expect(nested == "serializable")
  }

  @Test func aNestedCallMayRepeatTheOuterLevel() throws {
    let (handle, connection) = try Self.database()
    try connection.transaction(isolation: .repeatableRead) { connection in
      try connection.transaction(isolation: .repeatableRead) { connection in
        try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
      }
    }
    #expect(try Self.ids(handle.connect()) == [1])
  }

  @Test func aNestedCallAskingForADifferentLevelIsRefusedAndTheOuterCarriesOn() throws {
    let (handle, connection) = try Self.database()
    var nestedRan = false
    try connection.transaction { connection in
      try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
      let error = try #require(throws: PostgresError.self) {
        try connection.transaction(isolation: .serializable) { _ in nestedRan = true }
      }
      #expect(error.kind == .usage)
      #expect(error.message.contains("serializable"))
      #expect(error.message.contains("read committed"))
      #expect(error.message.contains("outermost"))
      try connection.execute("INSERT INTO ledger (id) VALUES (\(2))")
    }
    #expect(!nestedRan)
    #expect(try Self.ids(handle.connect()) == [1, 2])
  }

  @Test func aNestedCallThatFailsRollsBackOnlyItsOwnWork() throws {
    let (handle, connection) = try Self.database()
    var nestedLevels: [Bool] = []
    try connection.transaction { connection in
      try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
      #expect(throws: DeliberateFailure.self) {
        try connection.transaction { connection in
          nestedLevels.append(connection.isInTransaction)
          try connection.execute("INSERT INTO ledger (id) VALUES (\(2))")
          throw DeliberateFailure()
        }
      }
      #expect(try Self.ids(connection) == [1])
      try connection.execute("INSERT INTO ledger (id) VALUES (\(3))")
    }
    #expect(nestedLevels == [true])
    #expect(try Self.ids(handle.connect()) == [1, 3])
  }

  @Test func aNestedServerErrorDoesNotAbortTheOuterTransaction() throws {
    let (handle, connection) = try Self.database()
    try connection.transaction { connection in
      try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
      let error = try #require(throws: PostgresError.self) {
        try connection.transaction { connection in
          try connection.execute("INSERT INTO ledger (id) VALUES (\(2))")
          try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
        }
      }
      #expect(error.sqlState == .uniqueViolation)
      // Without the savepoint this would fail with 25P02 (current transaction is aborted).
      try connection.execute("INSERT INTO ledger (id) VALUES (\(3))")
    }
    #expect(try Self.ids(handle.connect()) == [1, 3])
  }

  @Test func aNestedCallThatSucceedsIsCommittedWithTheOuterOne() throws {
    let (handle, connection) = try Self.database()
    let observer = try handle.connect()
    try connection.transaction { connection in
      try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
      let inserted = try connection.transaction { connection in
        try connection.execute("INSERT INTO ledger (id) VALUES (\(2))")
      }
      #expect(inserted == 1)
      #expect(connection.isInTransaction)
      #expect(try Self.ids(observer) == [])
    }
    #expect(try Self.ids(observer) == [1, 2])
  }

  /// Two serializable sessions each read the ledger's total and then append a row based on it: the
  /// classic write skew. The barrier makes both read before either writes, so one must get 40001.
  static func conflictingAppends(conninfo: String, maxAttempts: Int) async throws -> [Result<Int, PostgresError>] {
    let barrier = Barrier(parties: 2)
    let session: @Sendable (Int) throws -> Result<Int, PostgresError> = { id in
      let connection = try Connection(connectingTo: conninfo)
      var invocations = 0
      do {
        try connection.transaction(isolation: .serializable, maxAttempts: maxAttempts) { connection in
          invocations += 1
          let total: Int = try connection.value("SELECT coalesce(sum(amount), 0)::int8 FROM ledger")
          if invocations == 1 { try barrier.arriveAndWait() }
          try connection.execute("INSERT INTO ledger (id, amount) VALUES (\(id), \(total + 1))")
        }
        return .success(invocations)
      } catch let error as PostgresError {
        return .failure(error)
      }
    }
    async let first = onThread { try session(1) }
    async let second = onThread { try session(2) }
    return try await [first, second]
  }

  @Test func aSerializationFailureIsRetriedUntilBothCommit() async throws {
    let (handle, connection) = try Self.database()
    let outcomes = try await Self.conflictingAppends(conninfo: handle.conninfo, maxAttempts: 5)
    let invocations = try outcomes.map { try $0.get() }
    #expect(invocations.contains(1))
    #expect(invocations.max()! > 1, "one session should have been rolled back and run again: \(invocations)")
    // The retried session saw the other's committed row, so the totals are serial: 1 then 2.
    let amounts = try connection.query("SELECT amount FROM ledger ORDER BY amount").map {
      try $0.decode("amount", as: Int.self)
    }
    #expect(amounts == [1, 2])
  }

  @Test func withOneAttemptTheSerializationFailureSurfaces() async throws {
    let (handle, connection) = try Self.database()
    let outcomes = try await Self.conflictingAppends(conninfo: handle.conninfo, maxAttempts: 1)
    let failures = outcomes.compactMap { outcome -> PostgresError? in
      if case .failure(let error) = outcome { return error }
      return nil
    }
    #expect(failures.count == 1)
    #expect(failures.first?.sqlState == .serializationFailure)
    #expect(failures.first?.isTransient == true)
    #expect(try connection.count("ledger") == 1)
  }

  @Test func aNonTransientErrorIsNotRetried() throws {
    let (_, connection) = try Self.database()
    try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
    var invocations = 0
    let error = try #require(throws: PostgresError.self) {
      try connection.transaction(isolation: .serializable) { connection in
        invocations += 1
        try connection.execute("INSERT INTO ledger (id) VALUES (\(1))")
      }
    }
    #expect(error.sqlState == .uniqueViolation)
    #expect(invocations == 1)
  }

  @Test func aSwiftErrorIsNotRetried() throws {
    let (_, connection) = try Self.database()
    var invocations = 0
    #expect(throws: DeliberateFailure.self) {
      try connection.transaction(isolation: .serializable) { _ in
        invocations += 1
        throw DeliberateFailure()
      }
    }
    #expect(invocations == 1)
  }
}
