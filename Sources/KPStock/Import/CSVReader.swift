import Foundation

/// One record of a CSV file, with the line it starts on so errors can point at it.
public struct CSVRecord: Sendable {
  public let line: Int
  public let fields: [String]
}

/// A CSV file read whole: a header row naming the columns, then records.
public struct CSVTable: Sendable {
  public let fileName: String
  public let header: [String]
  public let records: [CSVRecord]

  /// The column's position, matching the header case-insensitively.
  public func column(_ name: String) -> Int? {
    CSVHeader.position(of: name, in: header)
  }

  /// Refuses files missing a required column or holding one nobody reads, since a typo'd header
  /// would otherwise import silently as empty values, and files with a personal identifier's column.
  /// - Parameter notPersonal: declared columns that only look like an identifier (a site's `name`).
  public func requireColumns(
    required: [String], optional: [String] = [], notPersonal: [String] = []
  ) throws(KPStockError) {
    try CSVHeader.requireColumns(
      header, fileName: fileName, required: required, optional: optional, notPersonal: notPersonal)
  }
}

/// Header rules kept in one place so a file read whole (CSVReader) and one streamed (CSVStream)
/// are accepted or refused alike.
enum CSVHeader {
  static func position(of name: String, in header: [String]) -> Int? {
    header.firstIndex { $0.lowercased() == name.lowercased() }
  }

  static func requireColumns(
    _ header: [String], fileName: String, required: [String], optional: [String], notPersonal: [String]
  ) throws(KPStockError) {
    try PersonalIdentifiers.refuseColumns(header, fileName: fileName, owned: notPersonal)
    if let position = header.firstIndex(of: "") {
      throw .badInput("\(fileName):1: column \(position + 1) of the header has no name")
    }
    var seen = Set<String>()
    if let repeated = header.first(where: { !seen.insert($0.lowercased()).inserted }) {
      throw .badInput("\(fileName):1: column '\(repeated)' appears twice in the header")
    }
    let known = Set((required + optional).map { $0.lowercased() })
    if let missing = required.first(where: { position(of: $0, in: header) == nil }) {
      throw .badInput(
        "\(fileName):1: missing column '\(missing)' (expected \((required + optional).joined(separator: ",")))")
    }
    if let unknown = header.first(where: { !known.contains($0.lowercased()) }) {
      throw .badInput(
        "\(fileName):1: unknown column '\(unknown)' (expected \((required + optional).joined(separator: ",")))")
    }
  }
}

/// RFC 4180 CSV as spreadsheets write it: UTF-8 with or without a byte-order mark, CRLF or LF,
/// quoted fields that may hold commas, quotes ("") and line breaks.
public enum CSVReader {
  public static func read(path: String) throws(KPStockError) -> CSVTable {
    let name = (path as NSString).lastPathComponent
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .badInput("\(path): cannot read the file (does it exist?)")
    }
    return try parse(Array(data), fileName: name)
  }

  public static func parse(_ input: [UInt8], fileName: String) throws(KPStockError) -> CSVTable {
    var bytes = input[...]
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
    if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
      throw .badInput("\(fileName): the file is UTF-16 text; save it as \"CSV UTF-8\"")
    }
    try checkEncoding(bytes, fileName: fileName)

    var records: [CSVRecord] = []
    var fields: [String] = []
    var field: [UInt8] = []
    var line = 1
    var recordLine = 1
    var inQuotes = false
    var wasQuoted = false
    var index = bytes.startIndex

    func endField() {
      fields.append(String(decoding: field, as: UTF8.self))
      field.removeAll(keepingCapacity: true)
      wasQuoted = false
    }
    // A row of empty cells (",,,") is what a spreadsheet leaves where a row was cleared: skip it like a blank line.
    func endRecord() {
      endField()
      if !fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
        records.append(CSVRecord(line: recordLine, fields: fields))
      }
      fields.removeAll(keepingCapacity: true)
    }

    let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
    while index < bytes.endIndex {
      let byte = bytes[index]
      index += 1
      if inQuotes {
        if byte == quote {
          if index < bytes.endIndex, bytes[index] == quote {
            field.append(quote)
            index += 1
          } else {
            inQuotes = false
          }
        } else {
          if byte == lf { line += 1 }
          field.append(byte)
        }
        continue
      }
      switch byte {
      case quote:
        guard field.isEmpty, !wasQuoted else {
          throw .badInput(
            "\(fileName):\(line): stray quote inside a field; quote the whole field and double inner quotes")
        }
        inQuotes = true
        wasQuoted = true
      case comma:
        endField()
      case cr, lf:
        if byte == cr, index < bytes.endIndex, bytes[index] == lf { index += 1 }
        endRecord()
        line += 1
        recordLine = line
      default:
        guard !wasQuoted else {
          throw .badInput("\(fileName):\(line): text after a closing quote; quote the whole field")
        }
        field.append(byte)
      }
    }
    if inQuotes {
      throw .badInput("\(fileName):\(recordLine): a quoted field is never closed")
    }
    if !field.isEmpty || !fields.isEmpty || wasQuoted { endRecord() }

    guard let headerRecord = records.first else {
      throw .badInput("\(fileName): the file is empty; it needs a header row")
    }
    let header = headerRecord.fields.map { $0.trimmingCharacters(in: .whitespaces) }
    let body = Array(records.dropFirst())
    if let short = body.first(where: { $0.fields.count != header.count }) {
      throw .badInput(
        "\(fileName):\(short.line): expected \(header.count) fields as in the header, found \(short.fields.count)")
    }
    return CSVTable(fileName: fileName, header: header, records: body)
  }

  private static func checkEncoding(_ bytes: ArraySlice<UInt8>, fileName: String) throws(KPStockError) {
    if let nul = bytes.firstIndex(of: 0) {
      let line = bytes[..<nul].count(where: { $0 == UInt8(ascii: "\n") }) + 1
      throw .badInput("\(fileName):\(line): the file holds a NUL byte; it is not a text CSV file")
    }
    guard String(validating: bytes, as: UTF8.self) == nil else { return }
    var lineStart = bytes.startIndex
    var line = 1
    while lineStart < bytes.endIndex {
      let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
      let slice = bytes[lineStart..<lineEnd]
      if String(validating: slice, as: UTF8.self) == nil {
        let bad = slice.first(where: { $0 >= 0x80 }) ?? 0
        throw .badInput(
          "\(fileName):\(line): not UTF-8 text (byte 0x\(String(bad, radix: 16, uppercase: true))); "
            + "save the file as \"CSV UTF-8\"")
      }
      lineStart = lineEnd + 1
      line += 1
    }
  }
}

extension CSVTable {
  /// Runs `parse` on every record and gathers every bad row, so one run of an import reports all of
  /// them (as `FILE:LINE: column: problem`) instead of one per attempt.
  public func parseRecords<T>(_ parse: (CSVRow) throws(FieldError) -> T) throws(KPStockError) -> [(line: Int, value: T)]
  {
    var values: [(line: Int, value: T)] = []
    var problems: [String] = []
    for record in records {
      do {
        values.append((record.line, try parse(CSVRow(table: self, record: record))))
      } catch {
        problems.append("\(fileName):\(record.line): \(error.field): \(error.problem)")
      }
    }
    if !problems.isEmpty {
      throw .badInput(
        "nothing imported: \(problems.count) of \(rows(records.count)) in \(fileName) "
          + "\(problems.count == 1 ? "has" : "have") errors", details: problems)
    }
    return values
  }
}

/// A record viewed through its file's header.
public struct CSVRow {
  let table: CSVTable
  let record: CSVRecord

  public var line: Int { record.line }

  /// The cell, or "" when the column is absent from this file.
  ///
  /// A leading `'` before `=`, `+`, `-`, `@`, tab or CR is the formula guard our CSV export adds
  /// (see Listing), so it is removed and an exported file imports back unchanged.
  public subscript(column: String) -> String {
    guard let position = table.column(column) else { return "" }
    let cell = record.fields[position]
    if cell.hasPrefix("'"), let next = cell.dropFirst().first, "=+-@\t\r".contains(next) {
      return String(cell.dropFirst())
    }
    return cell
  }
}

/// "1 row", "3 rows".
func rows(_ count: Int) -> String {
  count == 1 ? "1 row" : "\(count) rows"
}
