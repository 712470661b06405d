import Foundation
import Postgres

/// A physical count in progress: the balances it started from, and what has been counted so far.
public struct StockCountSheet: Sendable, Equatable {
  public struct Line: Sendable, Equatable {
    public var commodityCode: String
    public var lotCode: String?
    public var expiresOn: CalendarDate?
    public var snapshot: Int64
    public var counted: Int64?
    public var eventID: Int64?
  }

  public var id: Int64
  public var siteCode: String
  public var commodityCode: String?
  public var countedOn: CalendarDate
  public var lines: [Line]
}

/// Count sessions: `start` freezes the balances, then each lot's counted quantity is posted against that
/// snapshot (`Ledger.post(CountEntry(countID:))`), so stock that moves while people count is kept.
public enum StockCounts {
  public static func start(_ store: Store, site: String, commodity: String?, date: CalendarDate?) throws
    -> StockCountSheet
  {
    try store.run { try start($0, site: site, commodity: commodity, date: date) }
  }

  static func start(_ connection: Connection, site: String, commodity: String?, date: CalendarDate?) throws
    -> StockCountSheet
  {
    let id: Int64 = try connection.query("SELECT count_start(\(site), \(commodity), \(date)) AS id")[0].decode("id")
    return try sheet(connection, id: id)
  }

  public static func sheet(_ store: Store, id: Int64) throws -> StockCountSheet {
    try store.run { try sheet($0, id: id) }
  }

  static func sheet(_ connection: Connection, id: Int64) throws -> StockCountSheet {
    let header = try connection.query("SELECT * FROM stock_counts WHERE id = \(id)")
    guard let count = header.first else { throw FieldError(field: "count", problem: "no count \(id)") }
    let lines = try connection.query(
      """
      SELECT c.*, l.expires_on FROM stock_count_lines c
      LEFT JOIN lots l ON l.commodity_code = c.commodity_code AND l.lot_code = c.lot_code
      WHERE c.count_id = \(id) ORDER BY c.commodity_code, l.expires_on NULLS FIRST, c.lot_code
      """)
    return StockCountSheet(
      id: id, siteCode: try count.decode("site_code"), commodityCode: try count.decode("commodity_code"),
      countedOn: try count.decode("counted_on"),
      lines: try lines.map { row in
        let lot: String = try row.decode("lot_code")
        return StockCountSheet.Line(
          commodityCode: try row.decode("commodity_code"), lotCode: lot.isEmpty ? nil : lot,
          expiresOn: try row.decode("expires_on"), snapshot: try row.decode("snapshot_on_hand"),
          counted: try row.decode("counted"), eventID: try row.decode("event_id"))
      })
  }
}
