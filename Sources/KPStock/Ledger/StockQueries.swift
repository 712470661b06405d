import Foundation
import Postgres

/// Stock on hand per lot at a site, or stock on its way to one.
public struct StockLine: Sendable, Equatable {
  public var siteCode: String
  public var commodityCode: String
  public var lotCode: String?
  public var expiresOn: CalendarDate?
  public var onHand: Int64
  public var inTransit: Int64
  /// usable, expired, or in transit (with the transfer and its origin in `detail`).
  public var status: String
  public var detail: String?
}

/// One line of a stock card: an event and the site's balance of the commodity after it.
public struct StockCardLine: Sendable, Equatable {
  public var eventID: Int64
  public var occurredOn: CalendarDate
  public var kind: StockEventKind
  public var lotCode: String?
  public var quantity: Int64
  public var balance: Int64
  /// Who or what was on the other side: population and channel, a transfer's other site, a reason.
  public var detail: String
  public var note: String?
  public var recordedBy: String
  public var recordedAt: Date
}

public struct Transfer: Sendable, Equatable {
  public var id: Int64
  public var fromSite: String
  public var toSite: String
  public var commodityCode: String
  public var quantity: Int64
  public var lots: [String]
  public var dispatchedOn: CalendarDate
  public var status: String
  public var receivedOn: CalendarDate?
  public var accepted: Int64?
  public var rejected: Int64?
  public var rejectionReason: String?
}

/// A difference between what the ledger keeps and what its events add up to.
public struct LedgerDifference: Sendable, Equatable {
  public var check: String
  public var siteCode: String
  public var commodityCode: String
  public var lotCode: String?
  public var day: CalendarDate?
  public var expected: Int64
  public var recorded: Int64
}

public enum StockQueries {
  /// On hand per site, commodity and lot (lots at zero are left out), then what is in transit to each site.
  public static func stock(_ store: Store, county: String? = nil, site: String? = nil, commodity: String? = nil) throws
    -> [StockLine]
  {
    try store.run { try stock($0, county: county, site: site, commodity: commodity) }
  }

  static func stock(
    _ connection: Connection, county: String? = nil, site: String? = nil, commodity: String? = nil
  ) throws -> [StockLine] {
    let rows = try connection.query(
      """
      WITH scope AS (
        SELECT code FROM sites WHERE (\(county)::text IS NULL OR county_code = \(county))
          AND (\(site)::text IS NULL OR code = \(site))
      )
      SELECT b.site_code, b.commodity_code, b.lot_code, l.expires_on, b.on_hand, 0::bigint AS in_transit,
        CASE WHEN l.expires_on < programme_today() THEN 'expired' ELSE 'usable' END AS status, NULL AS detail
      FROM stock_balances b JOIN scope s ON s.code = b.site_code
      LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
      WHERE b.on_hand > 0 AND (\(commodity)::text IS NULL OR b.commodity_code = \(commodity))
      UNION ALL
      SELECT t.to_site_code, t.commodity_code, e.lot_code, l.expires_on, 0, -e.quantity, 'in transit',
        format('transfer %s from %s, dispatched %s', t.id, t.from_site_code, t.dispatched_on)
      FROM transfers t JOIN scope s ON s.code = t.to_site_code
      JOIN stock_events e ON e.transfer_id = t.id AND e.kind = 'transfer_out'
      LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
      WHERE t.status = 'in_transit' AND (\(commodity)::text IS NULL OR t.commodity_code = \(commodity))
      ORDER BY 1, 2, 7 DESC, 4 NULLS FIRST, 3
      """)
    return try rows.map { row in
      let lot: String = try row.decode("lot_code")
      return StockLine(
        siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
        lotCode: lot.isEmpty ? nil : lot, expiresOn: try row.decode("expires_on"), onHand: try row.decode("on_hand"),
        inTransit: try row.decode("in_transit"), status: try row.decode("status"), detail: try row.decode("detail"))
    }
  }

  /// Events of one commodity at one site in the order they happened, each with the balance after it.
  /// Client UICs are never shown: a stock card is read over a counter.
  public static func stockCard(
    _ store: Store, site: String, commodity: String, from: CalendarDate? = nil, to: CalendarDate? = nil
  ) throws -> [StockCardLine] {
    try store.run { try stockCard($0, site: site, commodity: commodity, from: from, to: to) }
  }

  static func stockCard(
    _ connection: Connection, site: String, commodity: String, from: CalendarDate? = nil, to: CalendarDate? = nil
  ) throws -> [StockCardLine] {
    let rows = try connection.query(
      """
      SELECT * FROM (
        SELECT e.id, e.occurred_on, e.kind, e.lot_code, e.quantity, e.note, e.recorded_by, e.recorded_at,
          sum(e.quantity) OVER (ORDER BY e.occurred_on, e.id) AS balance,
          concat_ws('; ',
            CASE WHEN e.kind = 'dispense' THEN e.population_code || ' ' || e.channel
              || coalesce(' via ' || e.worker_code, '') END,
            CASE WHEN e.kind = 'transfer_out' THEN 'to ' || t.to_site_code || ' (transfer ' || t.id || ')'
              WHEN e.transfer_id IS NOT NULL THEN 'from ' || t.from_site_code || ' (transfer ' || t.id || ')' END,
            CASE WHEN e.count_id IS NOT NULL THEN 'count ' || e.count_id END,
            e.reason_code,
            CASE WHEN e.reverses_event_id IS NOT NULL THEN 'undoes event ' || e.reverses_event_id END) AS detail
        FROM stock_events e LEFT JOIN transfers t ON t.id = e.transfer_id
        WHERE e.site_code = \(site) AND e.commodity_code = \(commodity)
      ) card
      WHERE (\(from)::date IS NULL OR occurred_on >= \(from)) AND (\(to)::date IS NULL OR occurred_on <= \(to))
      ORDER BY occurred_on, id
      """)
    return try rows.map { row in
      let lot: String = try row.decode("lot_code")
      return StockCardLine(
        eventID: try row.decode("id"), occurredOn: try row.decode("occurred_on"), kind: try row.decode("kind"),
        lotCode: lot.isEmpty ? nil : lot, quantity: try row.decode("quantity"), balance: try row.decode("balance"),
        detail: try row.decode("detail"), note: try row.decode("note"), recordedBy: try row.decode("recorded_by"),
        recordedAt: try row.decode("recorded_at"))
    }
  }

  /// Transfers touching a site (sent or received), newest first; `inTransitOnly` keeps those not yet received.
  public static func transfers(_ store: Store, site: String? = nil, inTransitOnly: Bool = false) throws
    -> [Transfer]
  {
    try store.run { try transfers($0, site: site, inTransitOnly: inTransitOnly) }
  }

  static func transfers(_ connection: Connection, site: String? = nil, inTransitOnly: Bool = false) throws
    -> [Transfer]
  {
    let rows = try connection.query(
      """
      SELECT t.*, (SELECT string_agg(nullif(lot_code, ''), ' ' ORDER BY key_part) FROM stock_events e
          WHERE e.transfer_id = t.id AND e.kind = 'transfer_out') AS lots
      FROM transfers t
      WHERE (\(site)::text IS NULL OR \(site) IN (t.from_site_code, t.to_site_code))
        AND (NOT \(inTransitOnly) OR t.status = 'in_transit')
      ORDER BY t.dispatched_on DESC, t.id DESC
      """)
    return try rows.map { row in
      let lots: String? = try row.decode("lots")
      return Transfer(
        id: try row.decode("id"), fromSite: try row.decode("from_site_code"), toSite: try row.decode("to_site_code"),
        commodityCode: try row.decode("commodity_code"), quantity: try row.decode("quantity"),
        lots: lots?.split(separator: " ").map(String.init) ?? [], dispatchedOn: try row.decode("dispatched_on"),
        status: try row.decode("status"), receivedOn: try row.decode("received_on"),
        accepted: try row.decode("accepted"), rejected: try row.decode("rejected"),
        rejectionReason: try row.decode("rejection_reason"))
    }
  }

  /// Recomputes balances, daily rollups and transfer totals from the events; an empty result means they agree.
  public static func verify(_ store: Store) throws -> [LedgerDifference] {
    try store.run { try verify($0) }
  }

  static func verify(_ connection: Connection) throws -> [LedgerDifference] {
    try connection.query("SELECT * FROM ledger_verify()").map { row in
      let lot: String? = try row.decode("lot_code")
      return LedgerDifference(
        check: try row.decode("check_name"), siteCode: try row.decode("site_code"),
        commodityCode: try row.decode("commodity_code"), lotCode: lot.flatMap { $0.isEmpty ? nil : $0 },
        day: try row.decode("day"), expected: try row.decode("expected"), recorded: try row.decode("recorded"))
    }
  }
}
