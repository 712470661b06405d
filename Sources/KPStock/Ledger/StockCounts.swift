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
  public static func start(_ connection: Connection, site: String, commodity: String?, date: CalendarDate?) throws
    -> StockCountSheet
  {
    let id: Int64 = try refusalsAsLedgerErrors {
      try connection.query("SELECT count_start(\(site), \(commodity), \(date)) AS id")[0].decode("id")
    }
    return try sheet(connection, id: id)
  }

  public static func sheet(_ connection: Connection, id: Int64) throws -> StockCountSheet {
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

  public static func listing(_ sheet: StockCountSheet) -> Listing {
    Listing(
      columns: ["commodity", "lot", "expiry", "on_hand_at_start", "counted", "variance", "event"],
      rows: sheet.lines.map { line in
        [
          .text(line.commodityCode), Cell(line.lotCode), Cell(line.expiresOn), .integer(Int(line.snapshot)),
          line.counted.map { .integer(Int($0)) } ?? .empty,
          line.counted.map { .integer(Int($0 - line.snapshot)) } ?? .empty,
          line.eventID.map { .integer(Int($0)) } ?? .empty,
        ]
      })
  }
}

/// Why stock was adjusted; seeded by the schema, extendable with `kpstock reason add`.
public struct StockReason: Sendable, Equatable {
  public var code: String
  public var description: String
  /// in, out or either.
  public var direction: String
}

public enum StockReasons {
  public static func list(_ connection: Connection) throws -> [StockReason] {
    try connection.query("SELECT code, description, direction FROM stock_reasons ORDER BY direction, code").map {
      row in
      StockReason(
        code: try row.decode("code"), description: try row.decode("description"),
        direction: try row.decode("direction"))
    }
  }

  static func directions(_ connection: Connection) throws -> [String: String] {
    Dictionary(uniqueKeysWithValues: try list(connection).map { ($0.code, $0.direction) })
  }

  /// Adds a reason; codes are lower-case words so they read well in reports.
  public static func add(_ connection: Connection, code: String, description: String, direction: String) throws
    -> StockReason
  {
    let code = code.trimmingCharacters(in: .whitespaces).lowercased()
    guard code.wholeMatch(of: /[a-z][a-z0-9-]{1,31}/) != nil else {
      throw FieldError(
        field: "code", problem: "'\(code)' is not a reason code (2–32 lower-case letters, digits, dashes)")
    }
    let description = try FieldParsing.requiredText(description, field: "description")
    let direction = try FieldParsing.choice(
      direction, field: "direction", noun: "direction", from: ["in", "out", "either"])
    let added = try connection.execute(
      """
      INSERT INTO stock_reasons (code, description, direction) VALUES (\(code), \(description), \(direction))
      ON CONFLICT (code) DO NOTHING
      """)
    guard added == 1 else { throw FieldError(field: "code", problem: "reason \(code) already exists") }
    return StockReason(code: code, description: description, direction: direction)
  }

  public static func listing(_ reasons: [StockReason]) -> Listing {
    Listing(
      columns: ["code", "direction", "description"],
      rows: reasons.map { [.text($0.code), .text($0.direction), .text($0.description)] })
  }
}

extension Posting {
  /// What the request recorded, a line per event, worded for the person who typed it.
  public var summary: String {
    let lead = replayed ? "already recorded with this key; nothing changed:\n" : ""
    return lead
      + events.map { event in
        let verb: String
        switch event.kind {
        case .receipt: verb = "received"
        case .dispense: verb = "dispensed"
        case .transferOut: verb = "dispatched"
        case .transferIn: verb = "received"
        case .adjustment: verb = "adjusted"
        case .count: verb = "counted, variance"
        }
        // A reversal moves stock the other way from its kind, so it says so and shows the sign:
        // "dispensed 1000" would read as a second dispensing.
        let reversal = event.reversesEventID != nil
        let signed = reversal || event.kind == .count || event.kind == .adjustment
        var text = "event \(event.id): "
        text += reversal ? "reversed \(event.kind.rawValue.replacingOccurrences(of: "_", with: " ")) " : "\(verb) "
        text += event.quantity > 0 && (reversal || event.kind == .count) ? "+" : ""
        text += "\(signed ? event.quantity : abs(event.quantity))"
        text += " \(event.commodityCode)"
        if let lot = event.lotCode {
          text += " lot \(lot)" + (event.expiresOn.map { " (expires \($0))" } ?? "")
        }
        text += " at \(event.siteCode) on \(event.occurredOn)"
        if let transfer = event.transferID { text += ", transfer \(transfer)" }
        if let reason = event.reasonCode { text += ", reason \(reason)" }
        if let reversed = event.reversesEventID { text += ", undoing event \(reversed)" }
        return text
      }.joined(separator: "\n") + "\n"
  }
}
