import KPStockTestSupport
import Postgres
import Testing

@Suite("Server notices")
struct NoticeTests {
  @Test func aServerNoticeIsKeptOnTheConnectionInsteadOfBeingPrinted() throws {
    let connection = try TestDatabase.fresh().connect()
    let create = "CREATE TABLE IF NOT EXISTS notice_probe (id int)"
    try connection.executeScript(unsafeSQL: create)
    #expect(connection.notices.isEmpty)

    try connection.executeScript(unsafeSQL: create)
    let notice = try #require(connection.notices.last)
    #expect(connection.notices.count == 1)
    #expect(notice.severity == "NOTICE")
    #expect(notice.sqlState == SQLState("42P07"))
    #expect(notice.message.contains("notice_probe"))
    #expect(notice.message.contains("already exists"))
  }

  @Test func noticesAndWarningsAreKeptInOrderWithTheirFields() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.executeScript(
      unsafeSQL: "DO $$ BEGIN RAISE NOTICE 'first' USING HINT = 'a hint'; RAISE WARNING 'second'; END $$")
    try connection.execute("ROLLBACK")
    #expect(connection.notices.map(\.message) == ["first", "second", "there is no transaction in progress"])
    #expect(connection.notices.map(\.severity) == ["NOTICE", "WARNING", "WARNING"])
    #expect(connection.notices.first?.hint == "a hint")
  }

  @Test func onlyTheNewestFiftyNoticesAreKeptAndTheyCanBeCleared() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.executeScript(
      unsafeSQL: "DO $$ BEGIN FOR i IN 1..60 LOOP RAISE NOTICE 'notice %', i; END LOOP; END $$")
    #expect(connection.notices.count == 50)
    #expect(connection.notices.first?.message == "notice 11")
    #expect(connection.notices.last?.message == "notice 60")

    connection.removeAllNotices()
    #expect(connection.notices.isEmpty)
    try connection.execute("ROLLBACK")
    #expect(connection.notices.map(\.message) == ["there is no transaction in progress"])
  }
}
