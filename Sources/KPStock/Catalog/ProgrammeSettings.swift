import Foundation
import Postgres

/// Settings every capability reads: the programme's time zone and its default percentages and windows.
public struct ProgrammeSettings: Sendable, Equatable {
  public var timeZone: String
  public var wastagePercent: Decimal
  public var forecastTolerancePercent: Decimal
  public var backdatingWindowDays: Int

  public static func load(_ connection: Connection) throws -> ProgrammeSettings {
    let row = try connection.query("SELECT * FROM programme_settings")[0]
    return ProgrammeSettings(
      timeZone: try row.decode("time_zone"), wastagePercent: try row.decode("wastage_percent"),
      forecastTolerancePercent: try row.decode("forecast_tolerance_percent"),
      backdatingWindowDays: try row.decode("backdating_window_days"))
  }
}

/// The programme's calendar: a stock day ends at midnight in the programme's time zone, not UTC.
public enum ProgrammeCalendar {
  public static func today(_ connection: Connection) throws -> CalendarDate {
    try connection.query("SELECT programme_today() AS today")[0].decode("today")
  }
}
