import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// A paper dosing register imported whole or not at all (Sources/KPStock/Import/MATDoseImport.swift).
@Suite("MAT dose import")
struct MATDoseImportTests {
  private let database: TestDatabaseHandle
  private let store: Store

  init() throws {
    (database, store) = try matDatabase()
    try matDay(store, "2026-11-20")
    for number in 1...300 {
      try Methadone.enrol(
        store, clinic: "MAT-KOMBANI", client: String(format: "KWL-C-%04d", number), mg: 20, prescriber: "DR-01")
    }
    try matDay(store, "2026-12-01")
  }

  private func register(badLine: Int?) throws -> String {
    var text = "site,client,witness,date,mg\n"
    for number in 1...300 {
      let mg = number + 1 == badLine ? "twenty" : "20"
      text += "MAT-KOMBANI,\(String(format: "KWL-C-%04d", number)),NURSE-07,2026-11-30,\(mg)\n"
    }
    return try temporaryFile(named: "doses.csv", contents: text)
  }

  private func doses() throws -> Int64 {
    try store.query("SELECT count(*)::bigint AS n FROM mat_doses")[0].decode("n")
  }

  @Test func threeHundredDosesWithOneBadRowPostNothingAndOnceFixedPostOnce() throws {
    let bad = try register(badLine: 150)
    let refused = try #require(throws: ImportRefused.self) { try MATDoseImport.run(store, path: bad) }
    #expect(
      refused.report.rejected.map { "\($0.line) \($0.field ?? "") \($0.problem)" } == [
        "150 mg 'twenty' is not a whole number"
      ])
    #expect(try doses() == 0)

    // A rule the database judges (a client not enrolled) is reported by line too, and nothing is posted.
    let unknown = try temporaryFile(
      named: "unknown.csv",
      contents:
        "site,client,witness,date\nMAT-KOMBANI,KWL-C-0001,NURSE-07,2026-11-30\nMAT-KOMBANI,KWL-Z-0001,NURSE-07,2026-11-30\n"
    )
    let refusedByRule = try #require(throws: ImportRefused.self) { try MATDoseImport.run(store, path: unknown) }
    #expect(
      refusedByRule.report.rejected.map { "\($0.line) \($0.field ?? "") \($0.problem)" } == [
        "3 client no MAT client KWL-Z-0001"
      ])
    #expect(try doses() == 0)

    let good = try register(badLine: nil)
    let dry = try MATDoseImport.run(store, path: good, dryRun: true)
    #expect((dry.posted, dry.dryRun) == (300, true))
    #expect(try doses() == 0)
    let report = try MATDoseImport.run(store, path: good)
    #expect((report.posted, report.repeats) == (300, 0))
    #expect(try doses() == 300)
    let again = try MATDoseImport.run(store, path: good)
    #expect((again.posted, again.repeats) == (0, 300))
    #expect(try doses() == 300)
  }
}
