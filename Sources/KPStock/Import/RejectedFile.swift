import Foundation

/// The rows an import rejected, as they were in the file, each with its line and problems: fixed, the file imports
/// as it is, since imports ignore the `line` and `problem` columns.
enum RejectedFile {
  static func write(
    columns: [String], rows: [(line: Int, cells: [String])], rejected: [RejectedRow], to path: String
  ) throws {
    let problems = Dictionary(grouping: rejected, by: \.line)
    var text = CSVWriter.record(columns + LedgerImportKind.rejectionColumns, defusingFormulas: false)
    for row in rows {
      let problem = (problems[row.line] ?? []).map { ($0.field.map { "\($0): " } ?? "") + $0.problem }
      text += CSVWriter.record(row.cells + [String(row.line), problem.joined(separator: "; ")], defusingFormulas: true)
    }
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
      throw KPStockError(.operational, "\(path): cannot write the rejected rows")
    }
  }
}
