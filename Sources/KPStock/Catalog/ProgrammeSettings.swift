import Foundation
import Postgres

/// Settings every capability reads: the programme's time zone and its default percentages and windows.
public struct ProgrammeSettings: Sendable, Equatable {
  public var timeZone: String
  public var wastagePercent: Decimal
  public var forecastTolerancePercent: Decimal
  public var backdatingWindowDays: Int
  /// Holt's smoothing constants for the outreach-based forecast: α for the level, β for the trend.
  public var forecastAlpha: Decimal
  public var forecastBeta: Decimal

  public static func load(_ store: Store) throws -> ProgrammeSettings {
    try store.run { try load($0) }
  }

  static func load(_ connection: Connection) throws -> ProgrammeSettings {
    let row = try connection.query("SELECT * FROM programme_settings")[0]
    return ProgrammeSettings(
      timeZone: try row.decode("time_zone"), wastagePercent: try row.decode("wastage_percent"),
      forecastTolerancePercent: try row.decode("forecast_tolerance_percent"),
      backdatingWindowDays: try row.decode("backdating_window_days"), forecastAlpha: try row.decode("forecast_alpha"),
      forecastBeta: try row.decode("forecast_beta"))
  }
}

/// The programme's calendar: a stock day ends at midnight in the programme's time zone, not UTC.
public enum ProgrammeCalendar {
  public static func today(_ store: Store) throws -> CalendarDate {
    try store.run { try today($0) }
  }

  static func today(_ connection: Connection) throws -> CalendarDate {
    try connection.query("SELECT programme_today() AS today")[0].decode("today")
  }
}

public enum ProgrammeSettingsInput {
  public static let columns = [
    "time_zone", "wastage_percent", "forecast_tolerance_percent", "backdating_window_days", "forecast_alpha",
    "forecast_beta",
  ]

  /// Applies the given changes to `current`; a time zone is checked against PostgreSQL's list on save.
  public static func settings(_ input: InputValues, current: ProgrammeSettings) throws(FieldError)
    -> ProgrammeSettings
  {
    var settings = current
    settings.timeZone = try input.required("time_zone", current: current.timeZone) { text throws(FieldError) in
      try FieldParsing.requiredText(text, field: "time_zone", maxLength: 64)
    }
    settings.wastagePercent = try input.required("wastage_percent", current: current.wastagePercent) {
      text throws(FieldError) in
      try FieldParsing.decimal(text, field: "wastage_percent", range: 0...100, maxFractionDigits: 2)
    }
    settings.forecastTolerancePercent = try input.required(
      "forecast_tolerance_percent", current: current.forecastTolerancePercent
    ) { text throws(FieldError) in
      try FieldParsing.decimal(text, field: "forecast_tolerance_percent", range: 0...100, maxFractionDigits: 2)
    }
    settings.backdatingWindowDays = try input.required(
      "backdating_window_days", current: current.backdatingWindowDays
    ) { text throws(FieldError) in
      try FieldParsing.integer(text, field: "backdating_window_days", range: 0...3660)
    }
    settings.forecastAlpha = try input.required("forecast_alpha", current: current.forecastAlpha) {
      text throws(FieldError) in
      let alpha = try FieldParsing.decimal(text, field: "forecast_alpha", range: 0...1, maxFractionDigits: 3)
      guard alpha > 0 else { throw FieldError(field: "forecast_alpha", problem: "must be above 0 (at most 1)") }
      return alpha
    }
    settings.forecastBeta = try input.required("forecast_beta", current: current.forecastBeta) {
      text throws(FieldError) in
      try FieldParsing.decimal(text, field: "forecast_beta", range: 0...1, maxFractionDigits: 3)
    }
    return settings
  }
}

extension ProgrammeSettings {
  /// Applies the given changes and saves them.
  /// One repeatable-read transaction, as in `SiteCatalog.update`.
  public static func update(_ store: Store, _ values: InputValues) throws -> ProgrammeSettings {
    try store.run { try update($0, values) }
  }

  static func update(_ connection: Connection, _ values: InputValues) throws -> ProgrammeSettings {
    try connection.transaction(isolation: .repeatableRead) { connection in
      let settings = try ProgrammeSettingsInput.settings(values, current: try load(connection))
      try settings.save(connection)
      return settings
    }
  }

  func save(_ connection: Connection) throws {
    try connection.execute(
      """
      UPDATE programme_settings SET time_zone = \(timeZone), wastage_percent = \(wastagePercent),
        forecast_tolerance_percent = \(forecastTolerancePercent), backdating_window_days = \(backdatingWindowDays),
        forecast_alpha = \(forecastAlpha), forecast_beta = \(forecastBeta)
      """)
  }
}
