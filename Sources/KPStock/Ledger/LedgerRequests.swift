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

/// A receipt, dispense, adjustment or dispatch: a request that ledger_request_line turns into a ledger line.
protocol StockRequest {
  var fields: StockRequestFields { get }
}

/// The fields of a receipt, dispense, adjustment or dispatch, in the one list ledger_request_line takes: sent as an
/// element of a `ledger_post` batch, or on its own as the parameters of ledger_request_line. Absent values are NULL.
struct StockRequestFields {
  var kind: String
  var site: String
  var commodity: String
  var lot: String?
  var expiry: CalendarDate? = nil
  var quantity: Int64
  var date: CalendarDate?
  var population: String? = nil
  var channel: String? = nil
  var worker: String? = nil
  var client: String? = nil
  var reason: String? = nil
  var note: String?
  var to: String? = nil

  func batchElement(req: Int, key: String) -> String {
    var element = BatchElement(req: req, kind: kind, key: key)
    element.add("site", site)
    element.add("commodity", commodity)
    element.add("lot", lot)
    element.add("expiry", expiry)
    element.add("qty", quantity)
    element.add("date", date)
    element.add("population", population)
    element.add("channel", channel)
    element.add("worker", worker)
    element.add("client", client)
    element.add("reason", reason)
    element.add("note", note)
    element.add("to", to)
    return element.json
  }

  /// The request posted on its own: the everyday command, through ledger_post_request, which takes the same two
  /// steps a `ledger_post` batch does (ledger_request_line, then ledger_book) without a JSON document to unpack, and
  /// runs with the schema owner's rights, since the person's own role may not write the ledger (docs/security.md).
  func posting(key: String) -> Query {
    """
    SELECT * FROM ledger_post_request(\(kind), \(key), \(site), \(commodity), \(lot), \(expiry), \(quantity), \(date),
      \(population), \(channel), \(worker), \(client), \(reason), \(note), \(to))
    """
  }
}

extension LedgerRequest {
  public func batchElement(req: Int, key: String) -> String? {
    (self as? any StockRequest)?.fields.batchElement(req: req, key: key)
  }

  /// Posts the request on its own; its rows are `ledger_booked`.
  func post(_ connection: Connection, key: String) throws -> QueryResult {
    // The everyday kinds first: each cast that fails is a lookup in the runtime's conformance cache.
    if let request = self as? any StockRequest { return try connection.repeatedQuery(request.fields.posting(key: key)) }
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

extension Receipt: LedgerRequest, StockRequest {
  var fields: StockRequestFields {
    StockRequestFields(
      kind: "receipt", site: site, commodity: commodity, lot: lot, expiry: expiry, quantity: quantity, date: date,
      note: note)
  }
}

extension Dispensing: LedgerRequest, StockRequest {
  var fields: StockRequestFields {
    StockRequestFields(
      kind: "dispense", site: site, commodity: commodity, lot: lot, quantity: quantity, date: date,
      population: population, channel: channel.rawValue, worker: worker, client: client, note: note)
  }
}

extension Adjustment: LedgerRequest, StockRequest {
  var fields: StockRequestFields {
    StockRequestFields(
      kind: "adjustment", site: site, commodity: commodity, lot: lot, expiry: expiry, quantity: quantity, date: date,
      reason: reason, note: note)
  }
}

extension Dispatch: LedgerRequest, StockRequest {
  var fields: StockRequestFields {
    StockRequestFields(
      kind: "dispatch", site: from, commodity: commodity, lot: lot, quantity: quantity, date: date, note: note, to: to)
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
