import Foundation
import Postgres

/// An order from a destination to its supplier, made from a forecast run: a draft, approved, dispatched, received or
/// cancelled. A requisition goes to a supplier outside the programme (`externalSupplier`).
public struct Order: Sendable, Equatable {
  public var id: Int64
  public var runID: Int64
  public var siteCode: String
  public var supplierCode: String?
  public var externalSupplier: String?
  public var status: String
  public var madeOn: CalendarDate
  public var lines: Int
  public var emergencyLines: Int
  public var units: Int64
  public var shortfallUnits: Int64

  /// The supplier as a person reads it: a site code, or the external supplier's name.
  public var supplier: String { supplierCode ?? externalSupplier.map { "\($0) (external)" } ?? "" }
  public var isRequisition: Bool { supplierCode == nil }
}

/// One commodity of an order and how its quantity came out of the max–min rule (units are base units).
public struct OrderLine: Sendable, Equatable {
  public var orderID: Int64
  public var siteCode: String
  public var supplier: String
  public var commodityCode: String
  public var packSize: Int
  /// A remainder above this many units rounds up to one more pack.
  public var packRoundingThreshold: Int
  /// The destination's echelon weekly need in the run.
  public var need: Int64
  public var variant: String
  public var minLevel: Decimal
  public var maxLevel: Decimal
  public var emergencyPoint: Decimal
  public var usableOnHand: Int64
  /// On hand in lots that expire before the end of the next cover period: not counted.
  public var unusableOnHand: Int64
  public var inTransit: Int64
  public var onOrder: Int64
  public var position: Int64
  /// max − position in whole units, and the shortfall of the sites below added to it.
  public var rawUnits: Int64
  public var rolledUpUnits: Int64
  public var requestedPacks: Int
  public var requestedUnits: Int64
  public var packs: Int
  public var units: Int64
  public var shortfallUnits: Int64
  public var emergency: Bool
  public var changedReason: String?
  public var acceptedUnits: Int64?
  public var rejectedUnits: Int64?
  public var rejectionReason: String?
  public var status: String
}

/// A lot picked for a line at the supplier, and the transfer it left as.
public struct OrderPick: Sendable, Equatable {
  public var commodityCode: String
  public var lotCode: String
  public var expiresOn: CalendarDate?
  public var units: Int64
  public var shortDated: Bool
  public var transferID: Int64?
}

/// A change of an order: who, when, what.
public struct OrderChange: Sendable, Equatable {
  public var change: String
  public var detail: String?
  public var changedAt: Date
  public var changedBy: String
}

/// A line that got no order for a reason to see (an unknown need).
public struct OrderWarning: Sendable, Equatable {
  public var siteCode: String
  public var commodityCode: String
  public var warning: String
}

/// What a person rejects of a line on delivery, and why.
public struct OrderRejection: Sendable, Equatable {
  public var commodity: String
  public var units: Int64
  public var reason: String?

  public init(commodity: String, units: Int64, reason: String?) {
    self.commodity = commodity
    self.units = units
    self.reason = reason
  }
}

public struct OrderFilter: Sendable {
  public var id: Int64?
  public var run: Int64?
  public var site: String?
  public var supplier: String?
  public var status: String?

  public init(
    id: Int64? = nil, run: Int64? = nil, site: String? = nil, supplier: String? = nil, status: String? = nil
  ) {
    self.id = id
    self.run = run
    self.site = site
    self.supplier = supplier
    self.status = status
  }
}

/// Replenishment orders (../shared/domain.md, "Replenishment"): computed, picked and moved through their lifecycle by
/// the functions of Schema/functions/90_orders.sql; this type passes what the user typed and reads orders back.
public enum Orders {
  public static let statuses = ["draft", "approved", "dispatched", "received", "cancelled"]

  /// Generates the orders of forecast run `run` (of one destination with `site`) and returns them with the run's
  /// warnings. Drafts of the run are replaced; approved and later orders are left alone.
  public static func generate(_ store: Store, run: Int64, site: String? = nil) throws -> ([Order], [OrderWarning]) {
    try store.run { connection in
      try connection.transaction { connection in
        _ = try connection.query("SELECT orders_generate(\(run), \(site))")
        return (
          try list(connection, OrderFilter(run: run, site: site)).filter { $0.status == "draft" },
          try warnings(connection, run: run, site: site)
        )
      }
    }
  }

  /// The latest forecast run of the coming week with a line for `site`, if any: the run its orders are made from.
  public static func latestRun(_ store: Store, site: String) throws -> Int64? {
    try store.run { connection in
      try connection.query(
        """
        SELECT max(r.id) AS id FROM forecast_runs r
        WHERE r.week = forecast_coming_week()
          AND EXISTS (SELECT FROM forecast_lines f WHERE f.run_id = r.id AND f.site_code = \(site))
        """)[0].decode("id")
    }
  }

  public static func list(_ store: Store, _ filter: OrderFilter = OrderFilter()) throws -> [Order] {
    try store.run { try list($0, filter) }
  }

  static func list(_ connection: Connection, _ filter: OrderFilter) throws -> [Order] {
    try connection.query(
      """
      SELECT o.id, o.run_id, o.site_code, o.supplier_code, o.external_supplier, o.status, o.made_on,
        count(l.*)::integer AS lines, (count(*) FILTER (WHERE l.emergency))::integer AS emergency_lines,
        coalesce(sum(l.units), 0)::bigint AS units, coalesce(sum(l.shortfall_units), 0)::bigint AS shortfall
      FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
      WHERE (\(filter.id)::bigint IS NULL OR o.id = \(filter.id))
        AND (\(filter.run)::bigint IS NULL OR o.run_id = \(filter.run))
        AND (\(filter.site)::text IS NULL OR o.site_code = \(filter.site))
        AND (\(filter.supplier)::text IS NULL OR o.supplier_code = \(filter.supplier)
          OR o.external_supplier = \(filter.supplier))
        AND (\(filter.status)::text IS NULL OR o.status = \(filter.status))
      GROUP BY o.id ORDER BY o.id
      """
    ).map { row in
      Order(
        id: try row.decode("id"), runID: try row.decode("run_id"), siteCode: try row.decode("site_code"),
        supplierCode: try row.decode("supplier_code"), externalSupplier: try row.decode("external_supplier"),
        status: try row.decode("status"), madeOn: try row.decode("made_on"), lines: try row.decode("lines"),
        emergencyLines: try row.decode("emergency_lines"), units: try row.decode("units"),
        shortfallUnits: try row.decode("shortfall"))
    }
  }

  /// One order, or a refusal naming it.
  public static func order(_ store: Store, _ id: Int64) throws -> Order {
    try store.run { connection in try existing(connection, id) }
  }

  static func existing(_ connection: Connection, _ id: Int64) throws -> Order {
    guard let order = try list(connection, OrderFilter(id: id)).first else {
      throw FieldError(field: "order", problem: "no order \(id)")
    }
    return order
  }

  /// Order lines; `order` keeps one order's, `commodity` one commodity's.
  public static func lines(_ store: Store, order: Int64? = nil, run: Int64? = nil, commodity: String? = nil) throws
    -> [OrderLine]
  {
    try store.run { connection in
      if let order { _ = try existing(connection, order) }
      return try connection.query(
        """
        SELECT l.*, o.site_code, coalesce(o.supplier_code, o.external_supplier || ' (external)') AS supplier,
          o.status, c.pack_size, c.pack_rounding_threshold
        FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN commodities c ON c.code = l.commodity_code
        WHERE (\(order)::bigint IS NULL OR l.order_id = \(order))
          AND (\(run)::bigint IS NULL OR o.run_id = \(run))
          AND (\(commodity)::text IS NULL OR l.commodity_code = \(commodity))
        ORDER BY l.order_id, l.commodity_code
        """
      ).map(decodeLine)
    }
  }

  static func decodeLine(_ row: Row) throws -> OrderLine {
    OrderLine(
      orderID: try row.decode("order_id"), siteCode: try row.decode("site_code"), supplier: try row.decode("supplier"),
      commodityCode: try row.decode("commodity_code"), packSize: Int(try row.decode("pack_size") as Int32),
      packRoundingThreshold: Int(try row.decode("pack_rounding_threshold") as Int32),
      need: try row.decode("need"), variant: try row.decode("variant"), minLevel: try row.decode("min_level"),
      maxLevel: try row.decode("max_level"), emergencyPoint: try row.decode("emergency_point"),
      usableOnHand: try row.decode("usable_on_hand"), unusableOnHand: try row.decode("unusable_on_hand"),
      inTransit: try row.decode("in_transit"), onOrder: try row.decode("on_order"),
      position: try row.decode("position"), rawUnits: try row.decode("raw_units"),
      rolledUpUnits: try row.decode("rolled_up_units"),
      requestedPacks: Int(try row.decode("requested_packs") as Int32),
      requestedUnits: try row.decode("requested_units"), packs: Int(try row.decode("packs") as Int32),
      units: try row.decode("units"), shortfallUnits: try row.decode("shortfall_units"),
      emergency: try row.decode("emergency"), changedReason: try row.decode("changed_reason"),
      acceptedUnits: try row.decode("accepted_units"), rejectedUnits: try row.decode("rejected_units"),
      rejectionReason: try row.decode("rejection_reason"), status: try row.decode("status"))
  }

  /// The lots picked for an order, first expiry first.
  public static func picks(_ store: Store, order: Int64) throws -> [OrderPick] {
    try store.run { connection in
      _ = try existing(connection, order)
      return try connection.query(
        """
        SELECT k.commodity_code, k.lot_code, k.expires_on, k.units, k.short_dated, k.transfer_id
        FROM order_line_lots k
        WHERE k.order_id = \(order)
        ORDER BY k.commodity_code, k.expires_on NULLS LAST, k.lot_code
        """
      ).map { row in
        OrderPick(
          commodityCode: try row.decode("commodity_code"), lotCode: try row.decode("lot_code"),
          expiresOn: try row.decode("expires_on"), units: try row.decode("units"),
          shortDated: try row.decode("short_dated"), transferID: try row.decode("transfer_id"))
      }
    }
  }

  public static func changes(_ store: Store, order: Int64) throws -> [OrderChange] {
    try store.run { connection in
      _ = try existing(connection, order)
      return try connection.query(
        "SELECT change, detail::text AS detail, changed_at, changed_by FROM order_changes WHERE order_id = \(order) ORDER BY id"
      ).map { row in
        OrderChange(
          change: try row.decode("change"), detail: try row.decode("detail"), changedAt: try row.decode("changed_at"),
          changedBy: try row.decode("changed_by"))
      }
    }
  }

  public static func warnings(_ store: Store, run: Int64) throws -> [OrderWarning] {
    try store.run { try warnings($0, run: run, site: nil) }
  }

  static func warnings(_ connection: Connection, run: Int64, site: String?) throws -> [OrderWarning] {
    try connection.query(
      """
      SELECT site_code, commodity_code, warning FROM order_warnings
      WHERE run_id = \(run) AND (\(site)::text IS NULL OR site_code = \(site))
      ORDER BY site_code, commodity_code, warning
      """
    ).map { row in
      OrderWarning(
        siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
        warning: try row.decode("warning"))
    }
  }

  public static func approve(_ store: Store, _ id: Int64) throws {
    try change(store, "SELECT order_approve(\(id))")
  }

  public static func setPacks(_ store: Store, _ id: Int64, commodity: String, packs: Int, reason: String) throws {
    try change(store, "SELECT order_set_packs(\(id), \(commodity), \(packs)::integer, \(reason))")
  }

  public static func dispatch(_ store: Store, _ id: Int64, date: CalendarDate? = nil) throws {
    try change(store, "SELECT order_dispatch(\(id), \(date)::date)")
  }

  public static func receive(_ store: Store, _ id: Int64, rejections: [OrderRejection] = [], date: CalendarDate? = nil)
    throws
  {
    let elements: [String] = rejections.map { rejection in
      let reason: String = rejection.reason.map(JSONText.quoted) ?? "null"
      let commodity: String = JSONText.quoted(rejection.commodity)
      return "{\"commodity\": \(commodity), \"rejected\": \(rejection.units), \"reason\": \(reason)}"
    }
    let json = "[" + elements.joined(separator: ", ") + "]"
    try change(store, "SELECT order_receive(\(id), \(json)::jsonb, \(date)::date)")
  }

  public static func cancel(_ store: Store, _ id: Int64, reason: String) throws {
    try change(store, "SELECT order_cancel(\(id), \(reason))")
  }

  private static func change(_ store: Store, _ query: Query) throws {
    try store.run { connection in
      try connection.transaction { connection in _ = try connection.query(query) }
    }
  }
}
