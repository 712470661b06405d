import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("libpq parameters in the caller's URL")
struct ConnectionParameterTests {
  /// A `postgres://` URL to a fresh test database, as a hosted server's would be written, with `parameters` added.
  static func url(_ parameters: String) throws -> String {
    let probe = try TestDatabase.fresh().connect()
    let row = try probe.query(
      """
      SELECT current_user AS usr, current_database() AS db, current_setting('port') AS port,
        split_part(current_setting('unix_socket_directories'), ',', 1) AS socket
      """)[0]
    let user: String = try row.decode("usr")
    let database: String = try row.decode("db")
    let port: String = try row.decode("port")
    let socket: String = try row.decode("socket")
    let host = socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socket
    return "postgresql://\(user)@/\(database)?host=\(host)&port=\(port)&\(parameters)"
  }

  @Test func theURLsApplicationNameAndOptionsReachTheSessionBesideKPStocksOwn() throws {
    let connection = try Connection(
      connectingTo: try Self.url(
        "application_name=kp-url-test&connect_timeout=5&sslmode=prefer"
          + "&options=-c%20statement_timeout%3D1234%20-c%20TimeZone%3DAfrica%2FNairobi"))
    let row = try connection.query(
      """
      SELECT a.application_name, current_setting('statement_timeout') AS timeout,
        current_setting('TimeZone') AS zone, current_setting('DateStyle') AS style
      FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()
      """)[0]
    #expect(try row.decode("application_name") == "kp-url-test")
    #expect(try row.decode("timeout") == "1234ms")
    // The decoders read timestamps in the session's own settings, so kpstock's win where both set one.
    #expect(try row.decode("zone") == "UTC")
    #expect(try row.decode("style") == "ISO, YMD")
  }

  @Test func anInvalidSSLModeIsRefusedInOneLine() throws {
    let error = try #require(throws: PostgresError.self) {
      try Connection(connectingTo: try Self.url("sslmode=bogus"))
    }
    #expect(error.kind == .connection)
    #expect(error.message == "invalid sslmode value: \"bogus\"")
  }
}
