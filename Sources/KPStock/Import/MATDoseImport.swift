import Foundation
import Postgres

/// A paper dosing register (clinics that dose 300 clients a day keep paper first) posted dose by dose through
/// mat_dose, under the ledger imports' rules: all or nothing, every bad row reported as FILE:LINE: column: problem, and
/// idempotent (a row's key is its `key` column or its content and its place among identical rows, so a file imported
/// twice posts once).
public enum MATDoseImport {
  public static let required = ["site", "client", "witness", "date"]
  public static let optional = ["mg", "take_home", "override", "note", "key"]

  public static func run(_ store: Store, path: String, dryRun: Bool = false) throws -> LedgerImportReport {
    let table = try CSVReader.read(path: path)
    try table.requireColumns(required: required, optional: optional)
    let fileName = table.fileName
    var rejected: [RejectedRow] = []
    var requests: [(line: Int, request: MATDoseRequest, key: String?)] = []
    var occurrences: [String: Int] = [:]
    for record in table.records {
      func cell(_ name: String) -> String? {
        guard let position = table.column(name), position < record.fields.count else { return nil }
        let text = record.fields[position].trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? nil : text
      }
      do throws(FieldError) {
        let date = try FieldParsing.date(cell("date") ?? "", field: "date")
        let mg = try cell("mg").map { text throws(FieldError) in
          try FieldParsing.integer(text, field: "mg", range: 1...1000)
        }
        let takeHome = try cell("take_home").map { text throws(FieldError) in
          try FieldParsing.integer(text, field: "take_home", range: 0...31)
        }
        for name in ["site", "client", "witness"] where cell(name) == nil {
          throw FieldError(field: name, problem: "is required")
        }
        let request = MATDoseRequest(
          site: cell("site")!, client: cell("client")!, mg: mg, witness: cell("witness")!,
          takeHomeDays: takeHome ?? 0, date: date, override: cell("override"), note: cell("note"))
        var key = try cell("key").map { text throws(FieldError) in try LedgerInput.key(text) } ?? nil
        if key == nil {
          let content = [
            "mat-dose", Methadone.code(request.site), Methadone.code(request.client), date.description,
            mg.map(String.init) ?? "", String(request.takeHomeDays),
          ].joined(separator: "\u{1f}")
          let occurrence = occurrences[content, default: 0] + 1
          occurrences[content] = occurrence
          key = "mat-" + String(SHA256.hex(content).prefix(32)) + "-\(occurrence)"
        }
        requests.append((record.line, request, key))
      } catch {
        rejected.append(RejectedRow(fileName: fileName, line: record.line, field: error.field, problem: error.problem))
      }
    }

    var posted = 0
    var repeats = 0
    if rejected.isEmpty {
      do {
        try store.run { connection in
          try connection.transaction { connection in
            // In day order, so a row back-filled for an earlier day is judged before a later one; within a day, in
            // file order.
            for row in requests.sorted(by: { ($0.request.date!, $0.line) < ($1.request.date!, $1.line) }) {
              do {
                let doses = try connection.transaction { connection in
                  try Methadone.dose(connection, row.request, key: row.key)
                }
                if doses.first?.outcome == "repeat" { repeats += 1 } else { posted += 1 }
              } catch let error as PostgresError {
                let refusal = Store.domainError(error)
                switch refusal {
                case let refusal as LedgerRefusal:
                  rejected.append(
                    RejectedRow(
                      fileName: fileName, line: row.line, field: refusal.field, problem: refusal.problem,
                      hint: refusal.hint))
                case let refusal as FieldError:
                  rejected.append(
                    RejectedRow(
                      fileName: fileName, line: row.line, field: refusal.field, problem: refusal.problem,
                      hint: refusal.hint))
                default:
                  throw error
                }
              }
            }
            if !rejected.isEmpty || dryRun { throw Abandoned() }
          }
        }
      } catch is Abandoned {}
    }
    let report = LedgerImportReport(
      fileName: fileName, rows: table.records.count, posted: rejected.isEmpty ? posted : 0,
      repeats: rejected.isEmpty ? repeats : 0, rejected: rejected.sorted { $0.line < $1.line }, dryRun: dryRun)
    guard rejected.isEmpty else { throw ImportRefused(report: report) }
    return report
  }

  /// Rolls the whole file back once every row has been judged.
  private struct Abandoned: Error {}
}
