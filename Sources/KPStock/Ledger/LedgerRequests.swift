import Foundation
import Postgres

/// How dispensed stock left the site: handed to a client, or to a peer educator for the field.
public enum DispensingChannel: String, Sendable, CaseIterable {
  case clinic, outreach
}

/// Stock that arrived from outside the programme's network (KEMSA, a donor).
public struct Receipt: Sendable, Equatable {
  public var site: String
  public var commodity: String
  public var lot: String?
  public var expiry: CalendarDate?
  public var quantity: Int64
  /// nil: today in the programme's time zone, decided by the database.
  public var date: CalendarDate?
  public var note: String?

  public init(
    site: String, commodity: String, lot: String? = nil, expiry: CalendarDate? = nil, quantity: Int64,
    date: CalendarDate? = nil, note: String? = nil
  ) {
    self.site = site
    self.commodity = commodity
    self.lot = lot
    self.expiry = expiry
    self.quantity = quantity
    self.date = date
    self.note = note
  }
}

public struct Dispensing: Sendable, Equatable {
  public var site: String
  public var commodity: String
  /// nil: first-expiry-first-out across the lots on hand.
  public var lot: String?
  public var quantity: Int64
  public var date: CalendarDate?
  public var population: String
  public var channel: DispensingChannel
  /// The peer educator's code; outreach only.
  public var worker: String?
  /// The client's UIC, when the register has one.
  public var client: String?
  public var note: String?

  public init(
    site: String, commodity: String, lot: String? = nil, quantity: Int64, date: CalendarDate? = nil,
    population: String, channel: DispensingChannel, worker: String? = nil, client: String? = nil, note: String? = nil
  ) {
    self.site = site
    self.commodity = commodity
    self.lot = lot
    self.quantity = quantity
    self.date = date
    self.population = population
    self.channel = channel
    self.worker = worker
    self.client = client
    self.note = note
  }
}

/// A change of stock for a reason; `quantity` is signed (negative removes stock).
public struct Adjustment: Sendable, Equatable {
  public var site: String
  public var commodity: String
  public var lot: String?
  /// Only when adding stock of a lot the programme has not seen.
  public var expiry: CalendarDate?
  public var quantity: Int64
  public var reason: String
  public var date: CalendarDate?
  public var note: String?

  public init(
    site: String, commodity: String, lot: String? = nil, expiry: CalendarDate? = nil, quantity: Int64,
    reason: String, date: CalendarDate? = nil, note: String? = nil
  ) {
    self.site = site
    self.commodity = commodity
    self.lot = lot
    self.expiry = expiry
    self.quantity = quantity
    self.reason = reason
    self.date = date
    self.note = note
  }
}

/// The quantity found on the shelf for one lot. With `countID` the variance is taken against that count's
/// snapshot; without, against the balance at the end of `date`.
public struct CountEntry: Sendable, Equatable {
  public var site: String
  public var commodity: String
  public var lot: String?
  public var expiry: CalendarDate?
  public var counted: Int64
  /// nil: `unexplained` when there is a variance.
  public var reason: String?
  public var date: CalendarDate?
  public var countID: Int64?
  public var note: String?

  public init(
    site: String, commodity: String, lot: String? = nil, expiry: CalendarDate? = nil, counted: Int64,
    reason: String? = nil, date: CalendarDate? = nil, countID: Int64? = nil, note: String? = nil
  ) {
    self.site = site
    self.commodity = commodity
    self.lot = lot
    self.expiry = expiry
    self.counted = counted
    self.reason = reason
    self.date = date
    self.countID = countID
    self.note = note
  }
}

public struct Dispatch: Sendable, Equatable {
  public var from: String
  public var to: String
  public var commodity: String
  public var lot: String?
  public var quantity: Int64
  public var date: CalendarDate?
  public var note: String?

  public init(
    from: String, to: String, commodity: String, lot: String? = nil, quantity: Int64, date: CalendarDate? = nil,
    note: String? = nil
  ) {
    self.from = from
    self.to = to
    self.commodity = commodity
    self.lot = lot
    self.quantity = quantity
    self.date = date
    self.note = note
  }
}

/// Arrival of a transfer at its destination; a rejected part is written off there with its reason.
public struct TransferReceipt: Sendable, Equatable {
  public var transfer: Int64
  public var rejected: Int64
  public var reason: String?
  /// Which lot the rejected stock belongs to, when the transfer carries several.
  public var lot: String?
  public var date: CalendarDate?
  public var note: String?

  public init(
    transfer: Int64, rejected: Int64 = 0, reason: String? = nil, lot: String? = nil, date: CalendarDate? = nil,
    note: String? = nil
  ) {
    self.transfer = transfer
    self.rejected = rejected
    self.reason = reason
    self.lot = lot
    self.date = date
    self.note = note
  }
}

public struct Undo: Sendable, Equatable {
  public var event: Int64
  public var reason: String
  public var note: String?

  public init(event: Int64, reason: String, note: String? = nil) {
    self.event = event
    self.reason = reason
    self.note = note
  }
}

/// One ledger request. The database normalises it, digests it (ledger_fingerprint: the same digest whichever way the
/// request arrives, so a repeat under the same key is recognised) and books it through ledger_book.
public protocol LedgerRequest: Sendable {
  /// The request as one element of a `ledger_post` batch (receipts, dispenses, adjustments, dispatches, transfer
  /// receipts), or nil for requests that have their own posting function.
  func batchElement(req: Int, key: String) -> String?
}

/// A request with a posting function of its own, which checks what is its own (a count's snapshot, the event being
/// undone) before handing its lines to ledger_book.
protocol PostsItself {
  func postItself(_ connection: Connection, key: String) throws -> QueryResult
}

extension LedgerRequest {
  public func batchElement(req: Int, key: String) -> String? { nil }

  /// Posts the request on its own; its rows are `ledger_booked`.
  func post(_ connection: Connection, key: String) throws -> QueryResult {
    if let request = self as? any PostsItself { return try request.postItself(connection, key: key) }
    guard let element = batchElement(req: 1, key: key) else {
      preconditionFailure("\(Self.self) must post itself or be batchable")
    }
    return try connection.repeatedQuery("SELECT * FROM ledger_post(\("[" + element + "]")::jsonb)")
  }
}

/// Builds one JSON object of a `ledger_post` batch; absent values are left out (NULL in SQL).
struct BatchElement {
  private var text: String

  init(req: Int, kind: String, key: String) {
    text = "{\"req\":\(req),\"kind\":\"\(kind)\""
    add("key", key)
  }

  mutating func add(_ name: String, _ value: String?) {
    guard let value else { return }
    text += ",\"\(name)\":"
    JSONText.appendQuoted(value, to: &text)
  }

  mutating func add(_ name: String, _ value: Int64) {
    text += ",\"\(name)\":\(value)"
  }

  mutating func add(_ name: String, _ value: CalendarDate?) {
    add(name, value?.description)
  }

  var json: String { text + "}" }
}

extension Receipt: LedgerRequest {
  public func batchElement(req: Int, key: String) -> String? {
    var element = BatchElement(req: req, kind: "receipt", key: key)
    element.add("site", site)
    element.add("commodity", commodity)
    element.add("lot", lot)
    element.add("expiry", expiry)
    element.add("qty", quantity)
    element.add("date", date)
    element.add("note", note)
    return element.json
  }
}

extension Dispensing: LedgerRequest {
  public func batchElement(req: Int, key: String) -> String? {
    var element = BatchElement(req: req, kind: "dispense", key: key)
    element.add("site", site)
    element.add("commodity", commodity)
    element.add("lot", lot)
    element.add("qty", quantity)
    element.add("date", date)
    element.add("population", population)
    element.add("channel", channel.rawValue)
    element.add("worker", worker)
    element.add("client", client)
    element.add("note", note)
    return element.json
  }
}

extension Adjustment: LedgerRequest {
  public func batchElement(req: Int, key: String) -> String? {
    var element = BatchElement(req: req, kind: "adjustment", key: key)
    element.add("site", site)
    element.add("commodity", commodity)
    element.add("lot", lot)
    element.add("expiry", expiry)
    element.add("qty", quantity)
    element.add("reason", reason)
    element.add("date", date)
    element.add("note", note)
    return element.json
  }
}

extension Dispatch: LedgerRequest {
  public func batchElement(req: Int, key: String) -> String? {
    var element = BatchElement(req: req, kind: "dispatch", key: key)
    element.add("site", from)
    element.add("to", to)
    element.add("commodity", commodity)
    element.add("lot", lot)
    element.add("qty", quantity)
    element.add("date", date)
    element.add("note", note)
    return element.json
  }
}

extension CountEntry: LedgerRequest, PostsItself {
  func postItself(_ connection: Connection, key: String) throws -> QueryResult {
    try connection.query(
      """
      SELECT * FROM ledger_count(\(key), \(site), \(commodity), \(lot), \(expiry), \(counted), \(reason), \(date),
        \(countID), \(note))
      """)
  }
}

extension TransferReceipt: LedgerRequest {
  public func batchElement(req: Int, key: String) -> String? {
    var element = BatchElement(req: req, kind: "transfer_receipt", key: key)
    element.add("transfer", transfer)
    element.add("rejected", rejected)
    element.add("reason", reason)
    element.add("lot", lot)
    element.add("date", date)
    element.add("note", note)
    return element.json
  }
}

extension Undo: LedgerRequest, PostsItself {
  func postItself(_ connection: Connection, key: String) throws -> QueryResult {
    try connection.query("SELECT * FROM ledger_undo(\(key), \(event), \(reason), \(note))")
  }
}
