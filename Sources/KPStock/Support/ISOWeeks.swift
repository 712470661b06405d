import Postgres

/// ISO weeks as people type and read them (2026-W47), read and worded by the database (iso_week_start,
/// iso_week_problem, iso_week_label in Schema/functions/70_outreach.sql), so a file, a flag and a listing agree.
enum ISOWeeks {
  /// The Monday of a week as typed, or a refusal naming `field`.
  static func start(_ connection: Connection, _ text: String, field: String) throws -> CalendarDate {
    let row = try connection.query("SELECT iso_week_start(\(text)) AS week, iso_week_problem(\(text)) AS problem")[0]
    if let problem: String = try row.decode("problem") { throw FieldError(field: field, problem: problem) }
    return try row.decode("week")
  }

  /// How a week (given by any of its days) is written: 2026-W47.
  static func label(_ connection: Connection, _ day: CalendarDate) throws -> String {
    try connection.query("SELECT iso_week_label(\(day)) AS label")[0].decode("label")
  }
}
