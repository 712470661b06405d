import Foundation
import Postgres

/// The method a commodity's need is taken from: its own setting, or its category's default (forecast_commodity_methods
/// in Schema/functions/81_forecast_run.sql).
public struct ForecastMethodSetting: Sendable, Equatable {
  public var commodityCode: String
  public var category: String
  public var method: String
  public var isDefault: Bool
}

extension Forecast {
  /// outreach, consumption, max (the larger known), clients (methadone) or auto (the best back-test at each site).
  public static let methods = ["outreach", "consumption", "max", "clients", "auto"]

  public static func methodSettings(_ store: Store) throws -> [ForecastMethodSetting] {
    try store.run { try methodSettings($0) }
  }

  static func methodSettings(_ connection: Connection) throws -> [ForecastMethodSetting] {
    try connection.query(
      "SELECT commodity_code, category, method, is_default FROM forecast_commodity_methods ORDER BY commodity_code"
    ).map { row in
      ForecastMethodSetting(
        commodityCode: try row.decode("commodity_code"), category: try row.decode("category"),
        method: try row.decode("method"), isDefault: try row.decode("is_default"))
    }
  }

  /// Sets a commodity's method; `default` returns it to its category's default.
  @discardableResult
  public static func setMethod(_ store: Store, commodity: String, method: String) throws -> ForecastMethodSetting {
    let commodity = commodity.trimmingCharacters(in: .whitespaces).uppercased()
    let method = method.trimmingCharacters(in: .whitespaces).lowercased()
    guard methods.contains(method) || method == "default" else {
      throw FieldError(
        field: "METHOD", problem: "no method '\(method)': one of \(methods.joined(separator: ", ")) or default")
    }
    return try store.run { connection in
      try connection.transaction { connection in
        guard try !connection.query("SELECT FROM commodities WHERE code = \(commodity)").isEmpty else {
          throw FieldError(field: "COMMODITY", problem: "no commodity \(commodity)")
        }
        if method == "default" {
          try connection.execute("DELETE FROM forecast_methods WHERE commodity_code = \(commodity)")
        } else {
          try connection.execute(
            """
            INSERT INTO forecast_methods (commodity_code, method) VALUES (\(commodity), \(method))
            ON CONFLICT (commodity_code) DO UPDATE SET method = excluded.method, recorded_at = now(),
              recorded_by = session_user
            """)
        }
        return try methodSettings(connection).first { $0.commodityCode == commodity }!
      }
    }
  }
}
