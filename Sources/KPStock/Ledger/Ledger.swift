import Foundation
import Postgres

public enum StockEventKind: String, Sendable, CaseIterable, PostgresDecodable {
  case receipt, dispense, adjustment, count
  case transferOut = "transfer_out"
  case transferIn = "transfer_in"

  public init?(postgresText text: String) { self.init(rawValue: text) }
}

/// One event a request wrote, as the posting functions return it.
public struct PostedEvent: Sendable, Equatable {
  public var id: Int64
  public var siteCode: String
  public var commodityCode: String
  /// nil for commodities that are not lot-tracked.
  public var lotCode: String?
  public var expiresOn: CalendarDate?
  public var kind: StockEventKind
  /// Signed base units: negative took stock out.
  public var quantity: Int64
  public var reasonCode: String?
  public var occurredOn: CalendarDate
  public var transferID: Int64?
  public var countID: Int64?
  public var reversesEventID: Int64?
}

/// What a request left in the ledger. `replayed` means an earlier call with the same key and content
/// recorded these events; this call changed nothing.
public struct Posting: Sendable, Equatable {
  public var replayed: Bool
  public var events: [PostedEvent]
}

/// Writes to the stock ledger. Every rule (stock never negative, lots and expiry, back-dating, idempotency) is judged
/// by ledger_book (Schema/functions/20_ledger_book.sql), the one writer of stock, so the CLI, imports and the
/// simulator all go through the same checks.
public enum Ledger {
  /// Posts a request under an idempotency key (a fresh one when none is given, so the request can never be applied
  /// twice by accident but is not deduplicated either).
  ///
  /// Failures come back as `FieldError` (a bad value, naming its field) or `LedgerRefusal` (not enough stock, a
  /// back-dated entry that would break history, …).
  @discardableResult
  public static func post(_ store: Store, _ request: some LedgerRequest, key: String? = nil) throws -> Posting {
    try store.run { try post($0, request, key: key) }
  }

  @discardableResult
  static func post(_ connection: Connection, _ request: some LedgerRequest, key: String? = nil) throws -> Posting {
    let key = key ?? freshKey()
    let rows = try retryingTransient(connection) { try request.post(connection, key: key) }
    return try posting(Array(rows), BookedColumns(rows))
  }

  /// A key no one else will use: a version 7 UUID (RFC 9562), lowercase, the time in milliseconds followed by 74
  /// random bits (the getrandom system call). Time first, so a site's new keys sort after its older ones and land at
  /// the end of its part of the events' key index, where a random (version 4) key fell on any of its leaf pages: on a
  /// busy ledger each of those pages was read and, after every checkpoint, written whole to the WAL
  /// (docs/benchmarks.md, twelfth round).
  static func freshKey() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    let milliseconds = UInt64(now.tv_sec) &* 1000 &+ UInt64(now.tv_nsec / 1_000_000)
    var bytes = [UInt8](repeating: 0, count: 16)
    // One system call for the sixteen bytes (getrandom, through getentropy), where the standard library's generator
    // makes one for every eight.
    if bytes.withUnsafeMutableBytes({ getentropy($0.baseAddress, 16) }) != 0 {
      var generator = SystemRandomNumberGenerator()
      for index in bytes.indices { bytes[index] = generator.next() }
    }
    for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * index)) }
    bytes[6] = bytes[6] & 0x0F | 0x70
    bytes[8] = bytes[8] & 0x3F | 0x80
    let digits = Array("0123456789abcdef".utf8)
    return String(unsafeUninitializedCapacity: 36) { text in
      var position = 0
      for (index, byte) in bytes.enumerated() {
        if index == 4 || index == 6 || index == 8 || index == 10 {
          text[position] = UInt8(ascii: "-")
          position += 1
        }
        text[position] = digits[Int(byte >> 4)]
        text[position + 1] = digits[Int(byte & 0x0F)]
        position += 2
      }
      return position
    }
  }

  /// One request of a batch and the idempotency key it is posted under.
  public struct KeyedRequest: Sendable {
    public var request: any LedgerRequest
    public var key: String

    public init(_ request: any LedgerRequest, key: String) {
      self.request = request
      self.key = key
    }
  }

  /// Posts a batch of requests in order, all or nothing, and returns one posting per request in the same order.
  /// Consecutive receipts, dispenses, adjustments, dispatches and transfer receipts go to the database as one
  /// `ledger_post` call (one ledger_book batch); counts and undos go one by one in between.
  public static func post(_ store: Store, batch: [KeyedRequest]) throws -> [Posting] {
    try store.run { try post($0, batch: batch) }
  }

  static func post(_ connection: Connection, batch: [KeyedRequest]) throws -> [Posting] {
    guard !batch.isEmpty else { return [] }
    return try retryingTransient(connection) {
      try connection.transaction { connection in
        var postings: [Posting] = []
        postings.reserveCapacity(batch.count)
        var elements: [String] = []
        func flush() throws {
          guard !elements.isEmpty else { return }
          let first = postings.count
          var rows: [[Row]] = Array(repeating: [], count: elements.count)
          let result = try connection.repeatedQuery(
            "SELECT * FROM ledger_post(\("[" + elements.joined(separator: ",") + "]")::jsonb)")
          let columns = try BookedColumns(result)
          for row in result {
            let req: Int32 = try row.decode(at: columns.req)
            rows[Int(req) - 1 - first].append(row)
          }
          postings += try rows.map { try posting($0, columns) }
          elements.removeAll(keepingCapacity: true)
        }
        for (index, entry) in batch.enumerated() {
          if let element = entry.request.batchElement(req: index + 1, key: entry.key) {
            elements.append(element)
          } else {
            try flush()
            let result = try entry.request.post(connection, key: entry.key)
            postings.append(try posting(Array(result), BookedColumns(result)))
          }
        }
        try flush()
        return postings
      }
    }
  }

  /// Where the columns of `ledger_booked` are in a result, found once: by name at every row, they were a tenth of
  /// a simulation's client time.
  struct BookedColumns {
    let req, outcome, id, site, commodity, lot, expiresOn, kind, quantity, reason, occurredOn, transfer, count,
      reverses: Int

    init(_ result: QueryResult) throws {
      /// Each column is looked for first where ledger_booked (Schema/0002_ledger.sql) puts it.
      func position(_ name: String, _ expected: Int) throws -> Int {
        guard let position = result.position(of: name, expectedAt: expected) else {
          throw KPStockError(.operational, "the ledger's reply has no column \(name)")
        }
        return position
      }
      (req, outcome, id, site, commodity, lot) = (
        try position("req", 0), try position("outcome", 1), try position("id", 6), try position("site_code", 8),
        try position("commodity_code", 9), try position("lot_code", 10)
      )
      (expiresOn, kind, quantity, reason, occurredOn) = (
        try position("expires_on", 11), try position("kind", 12), try position("quantity", 13),
        try position("reason_code", 14), try position("occurred_on", 15)
      )
      (transfer, count, reverses) = (
        try position("transfer_id", 16), try position("count_id", 17), try position("reverses_event_id", 18)
      )
    }
  }

  /// A request's rows of `ledger_booked`: its events, recorded now or (outcome 'repeat') by an earlier call.
  static func posting(_ rows: [Row], _ columns: BookedColumns) throws -> Posting {
    let replayed = try rows.first.map { try $0.decode(at: columns.outcome) as String == "repeat" } ?? false
    return Posting(
      replayed: replayed,
      events: try rows.filter { try $0.decode(at: columns.id) as Int64? != nil }.map { try event($0, columns) })
  }

  static func event(_ row: Row, _ columns: BookedColumns) throws -> PostedEvent {
    let lot: String = try row.decode(at: columns.lot)
    return PostedEvent(
      id: try row.decode(at: columns.id), siteCode: try row.decode(at: columns.site),
      commodityCode: try row.decode(at: columns.commodity), lotCode: lot.isEmpty ? nil : lot,
      expiresOn: try row.decode(at: columns.expiresOn), kind: try row.decode(at: columns.kind),
      quantity: try row.decode(at: columns.quantity), reasonCode: try row.decode(at: columns.reason),
      occurredOn: try row.decode(at: columns.occurredOn), transferID: try row.decode(at: columns.transfer),
      countID: try row.decode(at: columns.count), reversesEventID: try row.decode(at: columns.reverses))
  }

  /// A posting on its own is one statement in its own transaction, so a deadlock, a serialization failure or a
  /// concurrent request under the same key (which meets it at the events' unique key) can simply be tried again:
  /// the second try sees the other request's events and answers as a repeat or a conflict. Inside a caller's
  /// transaction the failure has aborted that transaction: only the caller can retry, so the error goes up.
  static func retryingTransient<T>(_ connection: Connection, attempts: Int = 5, _ body: () throws -> T) throws -> T {
    var attempt = 1
    while true {
      do {
        return try body()
      } catch let error as PostgresError
        where (error.isTransient || error.constraint == "stock_events_key") && attempt < attempts
        && !connection.isInTransaction
      {
        attempt += 1
      }
    }
  }
}

/// The ledger refused a request under one of its rules (SQLSTATE class KP, raised by ledger_book and the functions
/// that hand it lines, see Schema/functions/20_ledger_book.sql).
public struct LedgerRefusal: Error, Sendable, Equatable, CustomStringConvertible {
  /// The rule, from the refusal's SQLSTATE.
  public enum Rule: String, Sendable {
    case insufficientStock = "KP001"
    case invalidValue = "KP002"
    case keyReused = "KP003"
    case historyBroken = "KP004"
    case forbidden = "KP005"
    /// A record is not in the state the change needs (an order already approved, dispatched, …).
    case wrongState = "KP006"
    /// The person may not do this here: their role or their sites do not allow it (Schema/functions/05_access.sql).
    case notPermitted = "KP007"
  }

  public var rule: Rule
  /// The field at fault, from the refusal's COLUMN; nil when the request as a whole is refused (not enough stock, a
  /// history that would break), where no one value could be changed to make it pass.
  public var field: String?
  public var problem: String
  public var hint: RefusalHint?

  public init(rule: Rule, field: String?, problem: String, hint: RefusalHint? = nil) {
    self.rule = rule
    self.field = field
    self.problem = problem
    self.hint = hint
  }

  /// The refusal a database error carries, or nil when it is not one.
  init?(_ error: PostgresError) {
    guard let state = error.sqlState, state.errorClass == "KP" else { return nil }
    let rule = Rule(rawValue: state.code) ?? .invalidValue
    let field = rule == .insufficientStock || rule == .historyBroken ? nil : error.column
    self.init(rule: rule, field: field, problem: error.message, hint: error.hint.flatMap(RefusalHint.init))
  }

  public var description: String { (field.map { "\($0): " } ?? "") + problem }
}
