import Postgres

/// The simulator's copy of the stock it has put in the ledger: lots on hand per site and commodity, and
/// transfers on the road, so the simulator can ask for no more than is there (an over-issue would be refused).
///
/// Requests wait in a batch before they are posted, and decisions in between must see their effect: a request
/// is applied as the changes the ledger's rules will make (`taking` follows its first-expiry-first-out), and
/// once posted those are exchanged for the events the ledger returns, so after every batch the copy matches the
/// ledger exactly.
struct StockModel {
  struct Lot {
    /// "" for a commodity that is not lot-tracked.
    var code: String
    var expiresOn: CalendarDate?
    var quantity: Int64
  }

  struct Shipment {
    var transfer: Int64
    var from: Int
    var to: Int
    var commodity: Int
    var dispatchedOn: CalendarDate
    var arrivesOn: CalendarDate
    /// The lots it carries, in the order the ledger took them.
    var lots: [(code: String, expiresOn: CalendarDate?, quantity: Int64)]
    var quantity: Int64 { lots.reduce(0) { $0 + $1.quantity } }
    /// Dispatched in a batch not posted yet: the ledger has not numbered the transfer, and `transfer` is a
    /// negative stand-in.
    var isProvisional: Bool { transfer < 0 }
  }

  /// What one event does to one lot at one site.
  struct Change: Equatable {
    var site: Int
    var commodity: Int
    /// "" for a commodity that is not lot-tracked.
    var lot: String
    var expiresOn: CalendarDate?
    var quantity: Int64

    var undone: Change {
      var change = self
      change.quantity = -quantity
      return change
    }
  }

  /// [site][commodity]: lots with stock, earliest expiry first (the order the ledger takes them in).
  private(set) var lots: [[[Lot]]]
  /// In dispatch order.
  private(set) var shipments: [Shipment] = []

  init(sites: Int, commodities: Int) {
    lots = [[[Lot]]](repeating: [[Lot]](repeating: [], count: commodities), count: sites)
  }

  /// Stock that can be given out on `day`: lots that have not expired (a lot is usable on its expiry date).
  func usable(_ site: Int, _ commodity: Int, on day: CalendarDate) -> Int64 {
    lots[site][commodity].reduce(0) { total, lot in
      (lot.expiresOn.map { $0 >= day } ?? true) ? total + lot.quantity : total
    }
  }

  func expired(_ site: Int, _ commodity: Int, on day: CalendarDate) -> [Lot] {
    lots[site][commodity].filter { lot in lot.expiresOn.map { $0 < day } ?? false }
  }

  func inTransit(to site: Int, _ commodity: Int) -> Int64 {
    shipments.reduce(0) { $0 + ($1.to == site && $1.commodity == commodity ? $1.quantity : 0) }
  }

  func arriving(on day: CalendarDate) -> [Shipment] {
    shipments.filter { $0.arrivesOn <= day }
  }

  /// The stock `quantity` takes out as the ledger takes it: the named lot, or else first-expiry-first-out from
  /// the lots usable on `day`.
  func taking(_ quantity: Int64, _ site: Int, _ commodity: Int, lot: String? = nil, on day: CalendarDate) -> [Change] {
    var left = quantity
    var changes: [Change] = []
    for held in lots[site][commodity] where left > 0 && held.quantity > 0 {
      if let lot {
        guard held.code == lot else { continue }
      } else if let expiry = held.expiresOn, expiry < day {
        continue
      }
      let taken = min(left, held.quantity)
      changes.append(
        Change(site: site, commodity: commodity, lot: held.code, expiresOn: held.expiresOn, quantity: -taken))
      left -= taken
    }
    return changes
  }

  static func changes(_ events: [PostedEvent], network: SimulationNetwork) -> [Change] {
    events.compactMap { event in
      guard let site = network.siteIndex[event.siteCode], let commodity = network.commodityIndex[event.commodityCode]
      else { return nil }
      return Change(
        site: site, commodity: commodity, lot: event.lotCode ?? "", expiresOn: event.expiresOn,
        quantity: event.quantity)
    }
  }

  /// Lots are kept in one canonical order whatever order changes come in, so undoing an expected change and
  /// applying the recorded one leaves the copy as if only the recorded one had happened.
  mutating func apply(_ changes: [Change]) {
    for change in changes {
      add(change.quantity, site: change.site, commodity: change.commodity, lot: change.lot, expiresOn: change.expiresOn)
    }
  }

  mutating func add(_ quantity: Int64, site: Int, commodity: Int, lot code: String, expiresOn: CalendarDate?) {
    if let index = lots[site][commodity].firstIndex(where: { $0.code == code }) {
      lots[site][commodity][index].quantity += quantity
      if lots[site][commodity][index].quantity == 0 { lots[site][commodity].remove(at: index) }
    } else if quantity != 0 {
      lots[site][commodity].append(Lot(code: code, expiresOn: expiresOn, quantity: quantity))
      lots[site][commodity].sort { left, right in
        switch (left.expiresOn, right.expiresOn) {
        case (let a?, let b?) where a != b: a < b
        case (.some, .none): true
        case (.none, .some): false
        default: left.code < right.code
        }
      }
    }
  }

  mutating func ship(_ shipment: Shipment) { shipments.append(shipment) }

  /// Gives a provisional shipment the transfer the ledger recorded and the lots it took, keeping its place in
  /// dispatch order (arrivals are received in that order). Without a transfer there is nothing on the road.
  /// Provisional shipments are the latest, so the search starts from the end: a national run keeps many on the
  /// road.
  mutating func confirm(
    _ provisional: Int64, transfer: Int64?, lots: [(code: String, expiresOn: CalendarDate?, quantity: Int64)]
  ) {
    guard let index = shipments.lastIndex(where: { $0.transfer == provisional }) else { return }
    guard let transfer else {
      shipments.remove(at: index)
      return
    }
    shipments[index].transfer = transfer
    shipments[index].lots = lots
  }

  mutating func delivered(_ transfer: Int64) { shipments.removeAll { $0.transfer == transfer } }

  /// The stock of an earlier run, read back from the ledger so that a later run carries on from it: lots on
  /// hand at the network's sites, and the shipments the simulation (keys starting `keyPrefix`) sent that are
  /// still on the road.
  static func load(
    _ connection: Connection, network: SimulationNetwork, keyPrefix: String,
    arrival: (_ from: Int, _ to: Int, _ commodity: Int, _ dispatchedOn: CalendarDate) -> CalendarDate
  ) throws -> StockModel {
    var model = StockModel(sites: network.sites.count, commodities: network.commodities.count)
    let codes = PostgresArray(network.sites.map(\.code))
    for row in try connection.query(
      """
      SELECT b.site_code, b.commodity_code, b.lot_code, b.on_hand, l.expires_on
      FROM stock_balances b LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
      WHERE b.site_code = ANY(\(codes)) AND b.on_hand > 0
      ORDER BY b.site_code, b.commodity_code, b.lot_code
      """)
    {
      guard let site = network.siteIndex[try row.decode("site_code")],
        let commodity = network.commodityIndex[try row.decode("commodity_code")]
      else { continue }
      model.add(
        try row.decode("on_hand"), site: site, commodity: commodity, lot: try row.decode("lot_code"),
        expiresOn: try row.decode("expires_on"))
    }
    for row in try connection.query(
      """
      SELECT t.id, t.from_site_code, t.to_site_code, t.commodity_code, t.dispatched_on, e.lot_code, l.expires_on,
        -e.quantity AS quantity
      FROM transfers t JOIN stock_events e ON e.transfer_id = t.id AND e.kind = 'transfer_out'
        LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
      WHERE t.status = 'in_transit' AND t.to_site_code = ANY(\(codes)) AND e.idempotency_key LIKE \(keyPrefix + "%")
      ORDER BY t.id, e.key_part
      """)
    {
      guard let from = network.siteIndex[try row.decode("from_site_code")],
        let to = network.siteIndex[try row.decode("to_site_code")],
        let commodity = network.commodityIndex[try row.decode("commodity_code")]
      else { continue }
      let transfer: Int64 = try row.decode("id")
      let lot = (
        code: try row.decode("lot_code", as: String.self),
        expiresOn: try row.decode("expires_on", as: CalendarDate?.self),
        quantity: try row.decode("quantity", as: Int64.self)
      )
      if model.shipments.last?.transfer == transfer {
        model.shipments[model.shipments.count - 1].lots.append(lot)
      } else {
        let dispatched: CalendarDate = try row.decode("dispatched_on")
        model.shipments.append(
          Shipment(
            transfer: transfer, from: from, to: to, commodity: commodity, dispatchedOn: dispatched,
            arrivesOn: arrival(from, to, commodity, dispatched), lots: [lot]))
      }
    }
    return model
  }
}
