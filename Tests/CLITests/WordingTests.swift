import KPStock
import Testing

@testable import KPStockCLI

@Suite("how the CLI words the domain's refusals")
struct WordingTests {
  @Test func aLedgerRefusalNamesTheFlagAndTheCommandItsHintPointsTo() {
    let refusal = LedgerRefusal(
      rule: .historyBroken, field: nil, problem: "date: 2026-01-09 is more than 60 days ago", hint: .backdatingWindow)
    #expect(
      FlagNames().worded(refusal)?.message
        == "date: 2026-01-09 is more than 60 days ago (kpstock settings set --backdating-window-days)")
    let reason = LedgerRefusal(
      rule: .invalidValue, field: "reason", problem: "a rejection needs a reason", hint: .reasons)
    #expect(FlagNames().worded(reason)?.message == "--reason: a rejection needs a reason (see kpstock reason list)")
    let renamed = FlagNames(renamed: ["transfer": "TRANSFER"])
    let unknown = LedgerRefusal(rule: .invalidValue, field: "transfer", problem: "no transfer 9")
    #expect(renamed.worded(unknown)?.message == "TRANSFER: no transfer 9")
  }

  @Test func aRejectedRegisterRowIsNamedByFileLineAndColumn() {
    let row = RejectedRow(
      fileName: "ukunda.csv", line: 7, field: "reason", problem: "unknown reason stolen", hint: .reasons)
    #expect(RegisterWording.row(row) == "ukunda.csv:7: reason: unknown reason stolen (see kpstock reason list)")
    let whole = RejectedRow(fileName: "ukunda.csv", line: 8, field: nil, problem: "insufficient stock")
    #expect(RegisterWording.row(whole) == "ukunda.csv:8: insufficient stock")
    let report = LedgerImportReport(
      fileName: "ukunda.csv", rows: 10, posted: 0, repeats: 0, rejected: [row, whole], dryRun: false)
    let refusal = RegisterWording.refusal(ImportRefused(report: report))
    #expect(refusal.kind == .badInput)
    #expect(refusal.details == [RegisterWording.row(row), RegisterWording.row(whole)])
    #expect(
      refusal.message
        == "ukunda.csv: 2 of 10 rows have problems; nothing was imported "
        + "(fix them and import again, or use --skip-invalid)")
  }

  @Test func aDatabaseThatCannotBeUsedIsNamedWithoutItsPassword() {
    let target = DatabaseTarget.server("postgres://kp:s3cret@db.example/kpstock")
    let message = StoreUnavailable.unreachable("connection refused").worded(at: target).message
    #expect(message == "cannot use the database (server postgres://kp:***@db.example/kpstock): connection refused")
    let old = StoreUnavailable.madeBeforeSquash(migration: "0003_ledger_import").worded(at: target).message
    #expect(old.contains("it has migration 0003_ledger_import") && old.contains("kpstock db destroy --yes"))
  }
}
