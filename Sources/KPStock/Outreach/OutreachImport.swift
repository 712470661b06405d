import Foundation
import Postgres

/// The outreach files `kpstock import` reads, with their columns. Every cell is checked and every row saved by
/// outreach_import_check and outreach_import_apply (Schema/functions/70_outreach.sql).
public enum OutreachImportKind: String, CaseIterable, Sendable {
  case reach = "outreach"
  case peerNeed = "peer-need"
  case sizeEstimates = "size-estimates"

  /// The kind as the SQL functions name it.
  var sqlName: String {
    switch self {
    case .reach: "reach"
    case .peerNeed: "peer_need"
    case .sizeEstimates: "size_estimates"
    }
  }

  public var requiredColumns: [String] {
    switch self {
    case .reach: ["site", "week", "population", "reached"]
    case .peerNeed: ["site", "week", "population", "commodity", "qty"]
    case .sizeEstimates: ["area", "population", "year", "size", "source"]
    }
  }

  public var optionalColumns: [String] {
    switch self {
    case .reach: ["new", "worker", "hotspot", "key"]
    case .peerNeed: ["key"]
    case .sizeEstimates: []
    }
  }
}

/// What an outreach file (or one recorded row) changed: rows added, rows that replaced what was recorded (kept in
/// the history), and rows equal to what was recorded.
public struct OutreachImportReport: Sendable, Equatable {
  public var fileName: String
  public var rows: Int
  public var added: Int
  public var replaced: Int
  public var unchanged: Int
  public var rejected: [RejectedRow]
  public var dryRun: Bool
  /// Where the rejected rows were written (with `skipInvalid`).
  public var rejectedFile: String?
}

/// Imports outreach reports, peer-reported need and size estimates: the file is streamed into a staging table,
/// every cell is checked set-wise and every problem reported as FILE:LINE: column: problem; with any bad row nothing
/// is saved, unless `skipInvalid`, which saves the good rows and writes the bad ones, as they were with their line
/// and problem, to `rejectedFile` (a file that imports again as it is, once fixed). A correction replaces what was
/// recorded for the same site, week and population (and worker and hotspot) and keeps the old figures.
public enum OutreachImport {
  public static func run(
    _ store: Store, kind: OutreachImportKind, path: String, dryRun: Bool = false, skipInvalid: Bool = false,
    rejectedFile: String? = nil
  ) throws -> OutreachImportReport {
    try store.run {
      try run($0, kind: kind, path: path, dryRun: dryRun, skipInvalid: skipInvalid, rejectedFile: rejectedFile)
    }
  }

  static func run(
    _ connection: Connection, kind: OutreachImportKind, path: String, dryRun: Bool = false, skipInvalid: Bool = false,
    rejectedFile: String? = nil
  ) throws -> OutreachImportReport {
    if let rejectedFile { try FileIdentity.refuseOverwriting(input: path, with: rejectedFile) }
    return try inTransaction(connection, dryRun: dryRun, skipInvalid: skipInvalid) { connection in
      let staged = try StagingTable.load(
        connection: connection, file: path, required: kind.requiredColumns, optional: kind.optionalColumns,
        ignored: LedgerImportKind.rejectionColumns, tableName: "outreach_staging")
      var report = try checkAndApply(connection, kind: kind, fileName: staged.fileName, rows: staged.rowCount)
      if skipInvalid, !report.rejected.isEmpty, let rejectedFile {
        try writeRejected(connection, report.rejected, kind: kind, to: rejectedFile)
        report.rejectedFile = rejectedFile
      }
      return report
    }
  }

  /// Saves one row given field by field (`outreach record`, `size-estimate set`) through the same checks as a file's
  /// row. The first problem is thrown as a `FieldError` naming its column.
  public static func record(_ store: Store, kind: OutreachImportKind, fields: [String: String?]) throws
    -> OutreachImportReport
  {
    try store.run { try record($0, kind: kind, fields: fields) }
  }

  static func record(_ connection: Connection, kind: OutreachImportKind, fields: [String: String?]) throws
    -> OutreachImportReport
  {
    try inTransaction(
      connection, dryRun: false, skipInvalid: false,
      refusing: { rejected in
        let first = rejected.min { ($0.line, $0.field ?? "") < ($1.line, $1.field ?? "") }
        return FieldError(field: first?.field ?? "input", problem: first?.problem ?? "was refused")
      }
    ) { connection in
      try stage(connection, kind: kind, rows: [fields.mapValues { $0 ?? "" }])
      return try checkAndApply(connection, kind: kind, fileName: "input", rows: 1)
    }
  }

  /// Saves rows given column by column, inside the caller's transaction, through the same checks and save as a
  /// file's rows: the simulator's weekly reports. A refused row is an operational error (the simulator writes only
  /// rows the rules allow, so it is a bug, not bad input), and leaves the caller's transaction to be rolled back.
  @discardableResult
  static func save(_ connection: Connection, kind: OutreachImportKind, rows: [[String: String]]) throws
    -> OutreachImportReport
  {
    try stage(connection, kind: kind, rows: rows)
    let report = try checkAndApply(connection, kind: kind, fileName: "simulation", rows: rows.count)
    try connection.execute(
      "DROP TABLE pg_temp.outreach_staging")
    if let first = report.rejected.first {
      let row = rows[first.line - 1]
      throw KPStockError(
        .operational,
        "\(kind.rawValue) row for \(row["site"] ?? row["area"] ?? "?") week \(row["week"] ?? "?") refused: "
          + (first.field.map { "\($0): " } ?? "") + first.problem)
    }
    return report
  }

  /// Stages rows as a file's rows are staged, numbered from 1: one text column per column of `kind`, and a blank or
  /// missing value absent (NULL), as a file's blank cell is.
  private static func stage(_ connection: Connection, kind: OutreachImportKind, rows: [[String: String]]) throws {
    let columns = kind.requiredColumns + kind.optionalColumns
    // Every kind's columns, so that outreach_import_check has none to add.
    let everyColumn = OutreachImportKind.allCases.flatMap { $0.requiredColumns + $0.optionalColumns }
      .reduce(into: [String]()) { all, column in if !all.contains(column) { all.append(column) } }
    let definitions = Query.joined(everyColumn.map { "\(identifier: $0) text" }, separator: ", ")
    try connection.execute("CREATE TEMP TABLE outreach_staging (line bigint NOT NULL, \(definitions))")
    try StagingTable.shareWithOwner(connection, "outreach_staging")
    guard !rows.isEmpty else { return }
    let names = Query.joined(columns.map { "\(identifier: $0)" }, separator: ", ")
    let arrays = Query.joined(
      columns.map { column in "\(PostgresArray(rows.map { $0[column] ?? "" }))::text[]" }, separator: ", ")
    let unnested = Query.joined(columns.map { "nullif(btrim(u.\(identifier: $0)), '')" }, separator: ", ")
    try connection.execute(
      """
      INSERT INTO outreach_staging (line, \(names))
      SELECT u.line, \(unnested) FROM unnest(\(PostgresArray(Array(1...rows.count)))::bigint[], \(arrays))
        AS u (line, \(names))
      """)
  }

  /// Runs `body` in a transaction that is rolled back for a dry run and when rows were refused without
  /// `skipInvalid` (then `refusing` says what to throw), and committed otherwise.
  private static func inTransaction(
    _ connection: Connection, dryRun: Bool, skipInvalid: Bool,
    refusing: (([RejectedRow]) -> any Error)? = nil, _ body: (Connection) throws -> OutreachImportReport
  ) throws -> OutreachImportReport {
    try connection.execute("BEGIN")
    do {
      var report = try body(connection)
      let refused = !report.rejected.isEmpty && !skipInvalid
      if dryRun || refused {
        try connection.execute("ROLLBACK")
      } else {
        try connection.execute(
          "DROP TABLE pg_temp.outreach_staging")
        try connection.execute("COMMIT")
      }
      if refused {
        if let refusing { throw refusing(report.rejected) }
        throw ImportRefused(
          report: LedgerImportReport(
            fileName: report.fileName, rows: report.rows, posted: 0, repeats: 0, rejected: report.rejected,
            dryRun: dryRun))
      }
      report.dryRun = dryRun
      return report
    } catch {
      if connection.isInTransaction { _ = try? connection.execute("ROLLBACK") }
      throw error
    }
  }

  private static func checkAndApply(_ connection: Connection, kind: OutreachImportKind, fileName: String, rows: Int)
    throws -> OutreachImportReport
  {
    try connection.execute("SELECT staging_columns('outreach_staging', outreach_import_columns())")
    try connection.execute("SELECT outreach_import_check(\(kind.sqlName))")
    let rejected = try connection.query("SELECT line, field, problem FROM outreach_import_errors ORDER BY line, field")
      .map { row in
        RejectedRow(
          fileName: fileName, line: Int(try row.decode("line") as Int64), field: try row.decode("field"),
          problem: try row.decode("problem"))
      }
    let saved = try connection.query("SELECT * FROM outreach_import_apply(\(kind.sqlName))")[0]
    return OutreachImportReport(
      fileName: fileName, rows: rows, added: Int(try saved.decode("added") as Int64),
      replaced: Int(try saved.decode("replaced") as Int64), unchanged: Int(try saved.decode("unchanged") as Int64),
      rejected: rejected, dryRun: false)
  }

  private static func writeRejected(
    _ connection: Connection, _ rejected: [RejectedRow], kind: OutreachImportKind, to path: String
  ) throws {
    let columns = kind.requiredColumns + kind.optionalColumns
    let lines = PostgresArray(Set(rejected.map(\.line)).sorted())
    let rows = try connection.query("SELECT * FROM outreach_staging WHERE line = ANY(\(lines)) ORDER BY line").map {
      row in
      (line: Int(try row.decode("line") as Int64), cells: try columns.map { try row.decode($0) as String? ?? "" })
    }
    try RejectedFile.write(columns: columns, rows: rows, rejected: rejected, to: path)
  }
}
