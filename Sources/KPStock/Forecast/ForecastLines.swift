import Foundation
import Postgres

/// One site and commodity of a run: the need of the target week by each method (nil: unknown, never zero), the one
/// used, the back-test's error of each method, and flags. Quantities are base units.
public struct ForecastLine: Sendable, Equatable {
  public var runID: Int64
  public var siteCode: String
  public var commodityCode: String
  /// The target week, written 2026-W49.
  public var week: String
  /// The commodity's method setting: outreach, consumption, max, clients or auto.
  public var method: String
  /// The method whose figure is the own need (for max and auto, the one chosen); `none` for a store that gives
  /// nothing out; nil when no method could give one.
  public var chosenMethod: String?
  /// own need + supplied need: the echelon need that orders use.
  public var need: Int64?
  public var ownNeed: Int64?
  public var suppliedNeed: Int64
  public var outreachNeed: Int64?
  public var consumptionNeed: Int64?
  public var clientNeed: Int64?
  public var naiveNeed: Int64?
  public var wape: BacktestErrors
  public var flags: [String]
  public var supplierCode: String?
}

/// The back-test's error of each method at a line: WAPE = Σ|forecast − N| / ΣN over origins W−8 … W−1 (nil: unknown).
public struct BacktestErrors: Sendable, Equatable {
  public var outreach: Decimal?
  public var consumption: Decimal?
  public var naive: Decimal?
}

extension Forecast {
  /// What a line can be flagged with (domain.md; issue "Outreach counts and the weekly forecast").
  public static let flags = [
    "methods_disagree", "missing_outreach", "recent_stockout", "capped", "unknown", "unknown_supplied", "flat",
  ]

  /// A run's lines, by site and commodity; `site`, `commodity` and `flag` narrow them.
  public static func lines(
    _ store: Store, run id: Int64, site: String? = nil, commodity: String? = nil, flag: String? = nil
  ) throws -> [ForecastLine] {
    try store.run { connection in
      _ = try existingRun(connection, id)
      let site = site.map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
      let commodity = commodity.map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
      let flag = flag.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
      if let site, try connection.query("SELECT FROM sites WHERE code = \(site)").isEmpty {
        throw FieldError(field: "site", problem: "no site \(site)")
      }
      if let commodity, try connection.query("SELECT FROM commodities WHERE code = \(commodity)").isEmpty {
        throw FieldError(field: "commodity", problem: "no commodity \(commodity)")
      }
      if let flag, !flags.contains(flag) {
        throw FieldError(field: "flag", problem: "no flag '\(flag)': one of \(flags.joined(separator: ", "))")
      }
      return try lines(connection, run: id, site: site, commodity: commodity, flag: flag)
    }
  }

  static func lines(
    _ connection: Connection, run id: Int64, site: String? = nil, commodity: String? = nil, flag: String? = nil
  ) throws -> [ForecastLine] {
    try connection.query(
      """
      SELECT l.*, iso_week_label(r.week) AS week, array_to_string(l.flags, ',') AS flag_list
      FROM forecast_lines l JOIN forecast_runs r ON r.id = l.run_id
      WHERE l.run_id = \(id) AND (\(site)::text IS NULL OR l.site_code = \(site))
        AND (\(commodity)::text IS NULL OR l.commodity_code = \(commodity))
        AND (\(flag)::text IS NULL OR \(flag) = ANY (l.flags))
      ORDER BY l.site_code, l.commodity_code
      """
    ).map { row in
      let flagList: String = try row.decode("flag_list")
      return ForecastLine(
        runID: id, siteCode: try row.decode("site_code"), commodityCode: try row.decode("commodity_code"),
        week: try row.decode("week"), method: try row.decode("method"), chosenMethod: try row.decode("chosen_method"),
        need: try row.decode("need"), ownNeed: try row.decode("own_need"),
        suppliedNeed: try row.decode("supplied_need"),
        outreachNeed: try row.decode("outreach_need"), consumptionNeed: try row.decode("consumption_need"),
        clientNeed: try row.decode("client_need"), naiveNeed: try row.decode("naive_need"),
        wape: BacktestErrors(
          outreach: try row.decode("wape_outreach"), consumption: try row.decode("wape_consumption"),
          naive: try row.decode("wape_naive")),
        flags: flagList.isEmpty ? [] : flagList.split(separator: ",").map(String.init),
        supplierCode: try row.decode("supplier_code"))
    }
  }
}
