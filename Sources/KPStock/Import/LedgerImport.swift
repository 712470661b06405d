import Foundation
import Postgres

/// The registers `kpstock import` reads into the ledger, with the columns each file has.
public enum LedgerImportKind: String, CaseIterable, Sendable {
  case dispensing, receipts, adjustments, counts

  public var requiredColumns: [String] {
    switch self {
    case .dispensing: ["site", "commodity", "qty", "date", "population", "channel"]
    case .receipts, .counts: ["site", "commodity", "qty", "date"]
    case .adjustments: ["site", "commodity", "qty", "reason", "date"]
    }
  }

  /// What a rejected-rows file adds to the register's columns. An import ignores them, so that file, once fixed,
  /// imports as it is.
  public static let rejectionColumns = ["line", "problem"]

  public var optionalColumns: [String] {
    switch self {
    case .dispensing: ["lot", "worker", "client", "note", "key"]
    case .receipts: ["lot", "expiry", "note", "key"]
    case .adjustments: ["lot", "expiry", "note", "key"]
    case .counts: ["lot", "expiry", "reason", "note", "key"]
    }
  }
}

/// One row that was not posted, and why: the place as data (file, line, column), for the front end to word.
public struct RejectedRow: Sendable, Equatable {
  public var fileName: String
  public var line: Int
  public var field: String?
  public var problem: String
  public var hint: RefusalHint?

  public init(fileName: String, line: Int, field: String?, problem: String, hint: RefusalHint? = nil) {
    self.fileName = fileName
    self.line = line
    self.field = field
    self.problem = problem
    self.hint = hint
  }
}

/// A register with bad rows, imported without `skipInvalid`: nothing was posted, and the report says why.
public struct ImportRefused: Error, Sendable, Equatable, CustomStringConvertible {
  public var report: LedgerImportReport

  public init(report: LedgerImportReport) {
    self.report = report
  }

  public var description: String {
    "\(report.fileName): \(Set(report.rejected.map(\.line)).count) of \(report.rows) rows have problems; nothing was imported"
  }
}

public struct LedgerImportReport: Sendable, Equatable {
  public var fileName: String
  public var rows: Int
  public var posted: Int
  /// Rows whose key was already in the ledger with the same content: imported before.
  public var repeats: Int
  public var rejected: [RejectedRow]
  public var dryRun: Bool
  /// Where the rejected rows were written (with --skip-invalid).
  public var rejectedFile: String?

  public init(
    fileName: String, rows: Int, posted: Int, repeats: Int, rejected: [RejectedRow], dryRun: Bool,
    rejectedFile: String? = nil
  ) {
    self.fileName = fileName
    self.rows = rows
    self.posted = posted
    self.repeats = repeats
    self.rejected = rejected
    self.dryRun = dryRun
    self.rejectedFile = rejectedFile
  }
}

/// Imports a register file: stream it into a staging table, check every cell set-wise, post each row
/// through the ledger's posting functions in date order, all in one transaction. With any bad row nothing
/// is posted, unless `skipInvalid`, which posts the good rows and writes the bad ones to `rejectedFile`.
public enum LedgerImport {
  /// Rows booked per call to ledger_import_post (whole days, so about this many): one ledger_book batch, and a point
  /// to show progress.
  static let batchRows = 50_000

  public static func run(
    _ store: Store, kind: LedgerImportKind, path: String, dryRun: Bool = false, skipInvalid: Bool = false,
    rejectedFile: String? = nil, progress: ((String) -> Void)? = nil
  ) throws -> LedgerImportReport {
    try store.run {
      try run(
        $0, kind: kind, path: path, dryRun: dryRun, skipInvalid: skipInvalid, rejectedFile: rejectedFile,
        progress: progress)
    }
  }

  static func run(
    _ connection: Connection, kind: LedgerImportKind, path: String, dryRun: Bool = false, skipInvalid: Bool = false,
    rejectedFile: String? = nil, progress: ((String) -> Void)? = nil
  ) throws -> LedgerImportReport {
    if let rejectedFile { try FileIdentity.refuseOverwriting(input: path, with: rejectedFile) }
    try connection.execute("BEGIN")
    do {
      let report = try importInTransaction(
        connection, kind: kind, path: path, dryRun: dryRun, skipInvalid: skipInvalid, rejectedFile: rejectedFile,
        progress: progress)
      if dryRun || (!report.rejected.isEmpty && !skipInvalid) {
        try connection.execute("ROLLBACK")
      } else {
        try connection.execute(
          "DROP TABLE pg_temp.ledger_staging")
        try connection.execute("COMMIT")
      }
      if !report.rejected.isEmpty && !skipInvalid { throw ImportRefused(report: report) }
      var finished = report
      finished.dryRun = dryRun
      return finished
    } catch {
      if connection.isInTransaction { _ = try? connection.execute("ROLLBACK") }
      throw error
    }
  }

  private static func importInTransaction(
    _ connection: Connection, kind: LedgerImportKind, path: String, dryRun: Bool, skipInvalid: Bool,
    rejectedFile: String?,
    progress: ((String) -> Void)?
  ) throws -> LedgerImportReport {
    // Imports take turns: two overlapping files then see each other's rows as already recorded.
    try connection.execute("SELECT pg_advisory_xact_lock(hashtext('kpstock.ledger_import'))")
    let staged = try StagingTable.load(
      connection: connection, file: path, required: kind.requiredColumns, optional: kind.optionalColumns,
      ignored: LedgerImportKind.rejectionColumns, tableName: "ledger_staging",
      progress: progress.map { report in
        { read, total in report("read \(percent(read, of: total)) of \(total / 1_000_000) MB") }
      })
    try connection.execute("SELECT staging_columns('ledger_staging', ledger_import_columns())")
    try connection.execute("SELECT ledger_import_prepare(\(kind.rawValue))")
    var posted = 0
    var repeats = 0
    var rejected: [RejectedRow] = []
    let growth = try LedgerGrowth(connection)
    let spans = try connection.query("SELECT * FROM ledger_import_spans(\(Int64(batchRows)))")
    // Rows without a readable date are in no span: they are reported, not booked.
    let dated = try spans.reduce(0) { $0 + Int(try $1.decode("rows") as Int64) }
    var booked = 0
    for span in spans {
      let postedBefore = posted
      let firstDay: CalendarDate = try span.decode("first_day")
      let lastDay: CalendarDate = try span.decode("last_day")
      let outcomes = try connection.query(
        "SELECT * FROM ledger_import_post(\(kind.rawValue), \(firstDay), \(lastDay), \(dryRun))")
      for row in outcomes {
        let rows = Int(try row.decode("rows") as Int64)
        switch try row.decode("outcome") as String {
        case "posted": posted += rows
        case "repeat": repeats += rows
        default: rejected.append(try rejection(row, fileName: staged.fileName))
        }
      }
      try growth.wrote(posted - postedBefore, connection)
      booked += Int(try span.decode("rows") as Int64)
      progress?("posted \(percent(booked, of: dated)) of \(dated) rows")
    }
    rejected += try connection.query("SELECT line, field, problem FROM ledger_import_errors").map { row in
      RejectedRow(
        fileName: staged.fileName, line: Int(try row.decode("line") as Int64), field: try row.decode("field"),
        problem: try row.decode("problem"))
    }
    rejected.sort { ($0.line, $0.field ?? "") < ($1.line, $1.field ?? "") }
    var written: String?
    if skipInvalid, !rejected.isEmpty, let rejectedFile {
      try writeRejected(connection, rejected, kind: kind, to: rejectedFile)
      written = rejectedFile
    }
    return LedgerImportReport(
      fileName: staged.fileName, rows: staged.rowCount, posted: posted, repeats: repeats, rejected: rejected,
      dryRun: false, rejectedFile: written)
  }

  private static func rejection(_ row: Row, fileName: String) throws -> RejectedRow {
    let line = Int(try row.decode("line") as Int64)
    if let constraint: String = try row.decode("constraint_name"),
      let refusal = ConstraintMessages.fieldError(for: constraint)
    {
      return RejectedRow(fileName: fileName, line: line, field: refusal.field, problem: refusal.problem)
    }
    return RejectedRow(
      fileName: fileName, line: line, field: try row.decode("field"), problem: try row.decode("problem"),
      hint: (try row.decode("hint") as String?).flatMap(RefusalHint.init))
  }

  /// The rejected rows as they were in the file, with the line and the problem, ready to fix and import again.
  private static func writeRejected(
    _ connection: Connection, _ rejected: [RejectedRow], kind: LedgerImportKind, to path: String
  ) throws {
    let columns = kind.requiredColumns + kind.optionalColumns
    let lines = PostgresArray(Set(rejected.map(\.line)).sorted())
    let rows = try connection.query("SELECT * FROM ledger_staging WHERE line = ANY(\(lines)) ORDER BY line")
    // Each row keeps the key it was imported under, so once fixed it is told apart from an identical row of its
    // day that was posted. A row without a readable date has none: it is keyed by its content when imported again.
    let keys = try connection.query(
      """
      SELECT k.line, k.row_key FROM ledger_import_span(
        (SELECT min(r.day) FROM ledger_import_rows r WHERE r.line = ANY(\(lines))),
        (SELECT max(r.day) FROM ledger_import_rows r WHERE r.line = ANY(\(lines)))) k
      WHERE k.line = ANY(\(lines))
      """
    ).reduce(into: [Int: String]()) { keys, row in
      keys[Int(try row.decode("line") as Int64)] = try row.decode("row_key")
    }
    let cells = try rows.map { row in
      let line = Int(try row.decode("line") as Int64)
      return (
        line: line,
        cells: try columns.map { column in
          let cell = try row.decode(column) as String? ?? ""
          return column == "key" && cell.isEmpty ? keys[line] ?? "" : cell
        }
      )
    }
    try RejectedFile.write(columns: columns, rows: cells, rejected: rejected, to: path)
  }

  private static func percent(_ part: Int, of whole: Int) -> String {
    whole == 0 ? "100%" : "\(part * 100 / whole)%"
  }
}
