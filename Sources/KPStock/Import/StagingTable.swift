import Foundation
import Postgres

/// A CSV file copied into a temporary table, one text column per known column, ready to be checked and
/// merged with set-based SQL instead of row by row in Swift.
public struct StagedFile: Sendable, Equatable {
  public let tableName: String
  /// The columns of the file that were staged, in file order, spelled as the caller declared them; the table's other
  /// declared columns are NULL in every row.
  public let columns: [String]
  public let rowCount: Int
  public let fileName: String
}

/// Streams a CSV file into a temporary table through COPY, so a million-row import never holds the file
/// in memory and the database does the bulk work.
public enum StagingTable {
  /// Lets the import's functions, which run with the schema owner's rights, read a staging table the person made.
  /// A temporary table is seen by its own session only, so a grant to PUBLIC reaches no one else.
  static func shareWithOwner(_ connection: Connection, _ tableName: String) throws {
    try connection.execute("GRANT SELECT ON pg_temp.\(identifier: tableName) TO PUBLIC")
  }

  /// Output is handed to the COPY in batches at least this big, since each hand-over costs a libpq call.
  static let batchSize = 256 * 1024

  /// Creates `tableName` as `(line bigint NOT NULL, <required + optional> text)` and copies every record
  /// into it, with `line` the record's line in the file, cells of only spaces as NULL, and the formula
  /// guard of our CSV export removed as `CSVRow` removes it.
  ///
  /// It neither begins nor commits: inside the caller's transaction the table and its rows come and go
  /// with that transaction. Outside one, a failed load drops the table again so the caller can retry on
  /// the same connection.
  ///
  /// - Parameters:
  ///   - fileName: how messages name the file; the path's last component when nil.
  ///   - ignored: columns a file may hold that are neither staged nor refused as unknown, such as the `line` and
  ///     `problem` of a rejected-rows file, so that file imports back as it is once fixed.
  ///   - progress: called at most every quarter second while rows are copied.
  package static func load(
    connection: Connection, file path: String, fileName: String? = nil, required: [String], optional: [String] = [],
    ignored: [String] = [], tableName: String, chunkSize: Int = CSVStream.defaultChunkSize,
    progress: ((_ bytesRead: Int, _ totalBytes: Int) -> Void)? = nil
  ) throws(KPStockError) -> StagedFile {
    let declared = required + optional
    precondition(
      Set(declared.map { $0.lowercased() }).count == declared.count && !declared.contains { $0.lowercased() == "line" },
      "staging columns must be distinct and must not be called 'line'")
    let stream = try CSVStream(path: path, fileName: fileName, chunkSize: chunkSize)
    try stream.requireColumns(required: required, optional: optional + ignored)
    let staged = stream.header.map { name in !ignored.contains { $0.lowercased() == name.lowercased() } }
    let present = zip(stream.header, staged).filter(\.1).map { name, _ in
      declared.first { $0.lowercased() == name.lowercased() } ?? name
    }

    let definitions = Query.joined(declared.map { "\(identifier: $0) text" }, separator: ", ")
    let copied = Query.joined(present.map { "\(identifier: $0)" }, separator: ", ")
    var created = false
    do {
      try connection.execute("CREATE TEMP TABLE \(identifier: tableName) (line bigint NOT NULL, \(definitions))")
      created = true
      try StagingTable.shareWithOwner(connection, tableName)
      let rows = try connection.copyFrom("COPY \(identifier: tableName) (line, \(copied)) FROM STDIN") { writer in
        try copyRows(from: stream, staging: staged, to: writer, progress: progress)
      }
      return StagedFile(tableName: tableName, columns: present, rowCount: rows, fileName: stream.fileName)
    } catch {
      if created && !connection.isInTransaction {
        _ = try? connection.execute("DROP TABLE IF EXISTS pg_temp.\(identifier: tableName)")
      }
      switch error {
      case let error as KPStockError: throw error
      case let error as PostgresError:
        let meaning = Store.domainError(error)
        throw meaning as? KPStockError ?? KPStockError.badInput("\(meaning)")
      default: throw KPStockError(.operational, "\(stream.fileName): \(error)")
      }
    }
  }

  /// Writes each record as a line of COPY text format: `line`, then the cells whose column is `staged`,
  /// tab-separated.
  private static func copyRows(
    from stream: CSVStream, staging staged: [Bool], to writer: CopyWriter,
    progress: ((_ bytesRead: Int, _ totalBytes: Int) -> Void)?
  ) throws {
    var output: [UInt8] = []
    output.reserveCapacity(batchSize + (1 << 16))
    var record = CSVStreamRecord()
    let clock = ContinuousClock()
    var lastReport = clock.now
    while try stream.next(into: &record) {
      appendDecimal(record.line, to: &output)
      for index in 0..<record.count where staged[index] {
        output.append(UInt8(ascii: "\t"))
        record.withField(index) { appendCell($0, to: &output) }
      }
      output.append(UInt8(ascii: "\n"))
      guard output.count >= batchSize else { continue }
      try writer.write(output)
      output.removeAll(keepingCapacity: true)
      if let progress, clock.now - lastReport >= .milliseconds(250) {
        lastReport = clock.now
        progress(stream.bytesRead, stream.totalBytes)
      }
    }
    try writer.write(output)
  }

  private static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
    let start = output.count
    var rest = value
    repeat {
      output.append(UInt8(ascii: "0") + UInt8(rest % 10))
      rest /= 10
    } while rest > 0
    output[start...].reverse()
  }

  /// One cell in COPY text format: `\N` when blank, else the text with the formula guard removed and
  /// backslash, tab, LF and CR escaped, since those are COPY's own delimiters.
  private static func appendCell(_ cell: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
    var cell = cell
    if cell.count >= 2, cell[0] == UInt8(ascii: "'"), isFormulaStart(cell[1]) {
      cell = UnsafeBufferPointer(rebasing: cell[1...])
    }
    if CSVStreamRecord.isBlank(cell) {
      output.append(UInt8(ascii: "\\"))
      output.append(UInt8(ascii: "N"))
      return
    }
    var runStart = 0
    for index in 0..<cell.count {
      let escaped: UInt8
      switch cell[index] {
      case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
      case UInt8(ascii: "\t"): escaped = UInt8(ascii: "t")
      case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
      case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
      default: continue
      }
      output.append(contentsOf: UnsafeBufferPointer(rebasing: cell[runStart..<index]))
      output.append(UInt8(ascii: "\\"))
      output.append(escaped)
      runStart = index + 1
    }
    output.append(contentsOf: UnsafeBufferPointer(rebasing: cell[runStart...]))
  }

  /// The characters after which our CSV export puts a `'` so spreadsheets do not run the cell (see Listing).
  private static func isFormulaStart(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), UInt8(ascii: "\t"),
      UInt8(ascii: "\r"):
      true
    default: false
    }
  }
}
