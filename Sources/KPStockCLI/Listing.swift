import Foundation
import KPStock

/// How a listing is printed: aligned for a terminal, CSV for a spreadsheet, JSON for a program.
enum OutputFormat: String, CaseIterable, Sendable {
  case table, csv, json
}

/// One value in a listing; the case decides alignment in a table and the JSON type.
enum Cell: Sendable, Equatable {
  case text(String)
  case integer(Int)
  case decimal(Decimal)
  case boolean(Bool)
  case empty

  /// Text, or a value (a date) as it reads; nil is an empty cell.
  init(_ value: (some CustomStringConvertible)?) { self = value.map { .text($0.description) } ?? .empty }

  var plain: String {
    switch self {
    case .text(let text): text
    case .integer(let value): String(value)
    case .decimal(let value): value.description
    case .boolean(let value): value ? "true" : "false"
    case .empty: ""
    }
  }

  var isNumeric: Bool {
    switch self {
    case .integer, .decimal: true
    default: false
    }
  }
}

/// Rows under named columns. Column names are the JSON keys and CSV header: snake_case, stable.
struct Listing: Sendable, Equatable {
  var columns: [String]
  var rows: [[Cell]]

  init(columns: [String], rows: [[Cell]]) {
    self.columns = columns
    self.rows = rows
  }

  func rendered(as format: OutputFormat) -> String {
    switch format {
    case .table: table()
    case .csv: csv()
    case .json: json()
    }
  }

  func table() -> String {
    let headers = columns.map { $0.replacingOccurrences(of: "_", with: " ").uppercased() }
    var widths = headers.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.plain.count) }
    }
    func line(_ cells: [String], numeric: [Bool]) -> String {
      var parts: [String] = []
      for (index, text) in cells.enumerated() {
        let padding = String(repeating: " ", count: widths[index] - text.count)
        parts.append(numeric[index] ? padding + text : text + padding)
      }
      return parts.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }
    var lines = [line(headers, numeric: headers.map { _ in false })]
    for row in rows {
      lines.append(line(row.map(\.plain), numeric: row.map(\.isNumeric)))
    }
    if rows.isEmpty { lines.append("(none)") }
    return lines.joined(separator: "\n") + "\n"
  }

  func csv() -> String {
    var text = CSVWriter.record(columns, defusingFormulas: false)
    for row in rows {
      text +=
        row.map { cell in
          guard case .text(let value) = cell else { return cell.plain }
          return CSVWriter.field(value, defusingFormulas: true)
        }.joined(separator: ",") + "\n"
    }
    return text
  }

  /// An instant as people read it in a listing: UTC, to the second, ISO 8601.
  static func timestamp(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }

  /// One row as a record, for `show` commands.
  func record(at index: Int) -> Record {
    Record(fields: Array(zip(columns, rows[index])).map { (name: $0, value: $1) })
  }

  func json() -> String {
    guard !rows.isEmpty else { return "[]\n" }
    let objects = rows.map { row in
      "  {" + zip(columns, row).map { "\(Self.jsonString($0)): \(Self.jsonValue($1))" }.joined(separator: ", ") + "}"
    }
    return "[\n" + objects.joined(separator: ",\n") + "\n]\n"
  }

  static func jsonValue(_ cell: Cell) -> String {
    switch cell {
    case .text(let text): jsonString(text)
    case .integer(let value): String(value)
    case .decimal(let value): value.description
    case .boolean(let value): value ? "true" : "false"
    case .empty: "null"
    }
  }

  static func jsonString(_ text: String) -> String { JSONText.quoted(text) }
}

/// A single record shown as `field: value` lines (for `show` commands), or as a one-row listing.
struct Record: Sendable {
  var fields: [(name: String, value: Cell)]

  init(fields: [(name: String, value: Cell)]) { self.fields = fields }

  func rendered(as format: OutputFormat) -> String {
    switch format {
    case .table:
      let width = fields.map(\.name.count).max() ?? 0
      return fields.map { name, value in
        name.replacingOccurrences(of: "_", with: " ").padding(toLength: width + 2, withPad: " ", startingAt: 0)
          + value.plain
      }.joined(separator: "\n") + "\n"
    case .csv:
      return Listing(columns: fields.map(\.name), rows: [fields.map(\.value)]).csv()
    case .json:
      return "{"
        + fields.map { "\(Listing.jsonString($0.name)): \(Listing.jsonValue($0.value))" }.joined(separator: ", ")
        + "}\n"
    }
  }
}

extension Listing {
  /// A check's findings: a sentence when there are none and the output is for a person, else the listing (empty in
  /// CSV or JSON, so a program always reads one shape). True when something was found.
  func printedAsFindings(_ format: OutputFormat, noneFound: String) -> Bool {
    if rows.isEmpty && format == .table {
      Console.output(noneFound + "\n")
      return false
    }
    Console.output(rendered(as: format))
    return !rows.isEmpty
  }
}
