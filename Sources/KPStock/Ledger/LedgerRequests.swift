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

/// One ledger request: what it asks and the digest that tells a repeat from a different request
/// under the same idempotency key.
public protocol LedgerRequest: Sendable {
  /// Every field as the user gave it (nil stays nil: "today" is not resolved here), so a retry the next
  /// day with the same key is still recognised as the same request.
  var canonicalFields: [(String, String?)] { get }
  func post(_ connection: Connection, key: String, fingerprint: [UInt8]) throws -> QueryResult
}

extension LedgerRequest {
  public var fingerprint: [UInt8] {
    var text = String(describing: Self.self)
    for (name, value) in canonicalFields {
      text += "\n\(name)=" + (value.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? "null")
    }
    return Array(SHA256.digest(Array(text.utf8)).prefix(16))
  }
}

extension Receipt: LedgerRequest {
  public var canonicalFields: [(String, String?)] {
    [
      ("site", site), ("commodity", commodity), ("lot", lot), ("expiry", expiry?.description),
      ("qty", String(quantity)), ("date", date?.description), ("note", note),
    ]
  }

  public func post(_ connection: Connection, key: String, fingerprint: [UInt8]) throws -> QueryResult {
    try connection.preparedQuery(
      """
      SELECT * FROM ledger_receive(\(key), \(fingerprint), \(site), \(commodity), \(lot), \(expiry), \(quantity),
        \(date), \(note))
      """)
  }
}

extension Dispensing: LedgerRequest {
  public var canonicalFields: [(String, String?)] {
    [
      ("site", site), ("commodity", commodity), ("lot", lot), ("qty", String(quantity)), ("date", date?.description),
      ("population", population), ("channel", channel.rawValue), ("worker", worker), ("client", client),
      ("note", note),
    ]
  }

  public func post(_ connection: Connection, key: String, fingerprint: [UInt8]) throws -> QueryResult {
    try connection.preparedQuery(
      """
      SELECT * FROM ledger_dispense(\(key), \(fingerprint), \(site), \(commodity), \(lot), \(quantity), \(date),
        \(population), \(channel.rawValue), \(worker), \(client), \(note))
      """)
  }
}

extension Adjustment: LedgerRequest {
  public var canonicalFields: [(String, String?)] {
    [
      ("site", site), ("commodity", commodity), ("lot", lot), ("expiry", expiry?.description),
      ("qty", String(quantity)), ("reason", reason), ("date", date?.description), ("note", note),
    ]
  }

  public func post(_ connection: Connection, key: String, fingerprint: [UInt8]) throws -> QueryResult {
    try connection.preparedQuery(
      """
      SELECT * FROM ledger_adjust(\(key), \(fingerprint), \(site), \(commodity), \(lot), \(expiry), \(quantity),
        \(reason), \(date), \(note))
      """)
  }
}

extension CountEntry: LedgerRequest {
  public var canonicalFields: [(String, String?)] {
    [
      ("site", site), ("commodity", commodity), ("lot", lot), ("expiry", expiry?.description),
      ("qty", String(counted)), ("reason", reason), ("date", date?.description),
      ("count", countID.map { String($0) }), ("note", note),
    ]
  }

  public func post(_ connection: Connection, key: String, fingerprint: [UInt8]) throws -> QueryResult {
    try connection.preparedQuery(
      """
      SELECT * FROM ledger_count(\(key), \(fingerprint), \(site), \(commodity), \(lot), \(expiry), \(counted),
        \(reason), \(date), \(countID), \(note))
      """)
  }
}

extension Dispatch: LedgerRequest {
  public var canonicalFields: [(String, String?)] {
    [
      ("site", from), ("to", to), ("commodity", commodity), ("lot", lot), ("qty", String(quantity)),
      ("date", date?.description), ("note", note),
    ]
  }

  public func post(_ connection: Connection, key: String, fingerprint: [UInt8]) throws -> QueryResult {
    try connection.preparedQuery(
      """
      SELECT * FROM ledger_dispatch(\(key), \(fingerprint), \(from), \(to), \(commodity), \(lot), \(quantity),
        \(date), \(note))
      """)
  }
}

extension TransferReceipt: LedgerRequest {
  public var canonicalFields: [(String, String?)] {
    [
      ("transfer", String(transfer)), ("rejected", String(rejected)), ("reason", reason), ("lot", lot),
      ("date", date?.description), ("note", note),
    ]
  }

  public func post(_ connection: Connection, key: String, fingerprint: [UInt8]) throws -> QueryResult {
    try connection.preparedQuery(
      """
      SELECT * FROM ledger_receive_transfer(\(key), \(fingerprint), \(transfer), \(rejected), \(reason), \(lot),
        \(date), \(note))
      """)
  }
}

extension Undo: LedgerRequest {
  public var canonicalFields: [(String, String?)] {
    [("event", String(event)), ("reason", reason), ("note", note)]
  }

  public func post(_ connection: Connection, key: String, fingerprint: [UInt8]) throws -> QueryResult {
    try connection.preparedQuery(
      "SELECT * FROM ledger_undo(\(key), \(fingerprint), \(event), \(reason), \(note))")
  }
}
