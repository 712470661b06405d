import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("No phone or ID numbers in UICs and notes; kpstock privacy check")
struct PrivacyCommandTests {
  @Test func aUICHoldingAPhoneNumberIsRefusedOnADispenseAndInAnImportRow() throws {
    let cli = try CLI(demo: true)
    let today = try cli.today()
    expectSuccess(
      try cli.run(
        "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "1000", "--lot", "A1", "--expiry",
        "2030-01-31"))
    let events = try cli.integer("SELECT count(*)::int FROM stock_events")
    let refusal = "holds a run of 7 or more digits, as a phone or ID number does; a UIC never carries one"
    expectRefused(
      try cli.run(
        "dispense", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "10", "--population", "FSW",
        "--channel", "clinic", "--client", "JANE-WANJIRU-0712345678"),
      "--client: \(refusal)")

    let path = try temporaryFile(
      named: "ukunda.csv",
      contents: """
        site,commodity,qty,date,population,channel,client
        DICE-UKUNDA,MALE-CONDOM,10,\(today),FSW,clinic,KWL-A-0001
        DICE-UKUNDA,MALE-CONDOM,10,\(today),FSW,clinic,KWL-12345678

        """)
    defer { removeTemporaryFile(path) }
    let imported = try cli.run("import", "dispensing", path)
    #expect(imported.status == 2)
    #expect(imported.errorLines.first == "ukunda.csv:3: client: \(refusal)")
    #expect(!imported.stderr.contains("12345678"), "a refusal does not repeat the number")
    #expect(try cli.integer("SELECT count(*)::int FROM stock_events") == events)
  }

  @Test func aLedgerNoteHoldingAPhoneNumberIsRefusedAtEntry() throws {
    let cli = try CLI(demo: true)
    let base = ["receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "100"]
    for note in ["called her on 0712 345 678", "+254-722-111-222", "ID 23456789"] {
      expectRefused(
        try cli.run(base + ["--note", note]),
        "--note: looks like it holds a phone or ID number; kpstock never stores one — leave it out")
    }
    expectSuccess(try cli.run(base + ["--note", "box 3 of 12, delivered 2026-11-30 by KEMSA"]))
  }

  @Test func privacyCheckListsSeededNumbersMaskedAndExitsThree() throws {
    let cli = try CLI(demo: true)
    let clean = try cli.run("privacy", "check")
    expectSuccess(clean)
    #expect(clean.stdout == "no phone or ID numbers found in notes, reasons, sources or client UICs\n")

    // A database from before migration 0022 may hold a number in a ledger note: made here by taking 0022's checks
    // off, writing the note and applying 0022 again, which an upgrade with such rows must survive.
    let connection = try cli.database.connect()
    try connection.execute("ALTER DOMAIN stock_event_note DROP CONSTRAINT stock_events_note_identifier")
    try connection.execute("ALTER DOMAIN client_uic DROP CONSTRAINT stock_events_client_uic_digits")
    let received = try cli.run(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "100", "--note",
      "driver 0712 345 678")
    expectSuccess(received)
    try connection.executeScript(unsafeSQL: try migration("0022_identity_checks"))
    let event = try cli.integer("SELECT max(id)::int FROM stock_events")

    expectSuccess(
      try cli.run(
        "receive", "--site", "MAT-KOMBANI", "--commodity", "METHADONE", "--lot", "MB-2611", "--expiry", "2028-06-30",
        "--qty", "100000"))
    expectSuccess(try cli.run("mat", "batch", "--lot", "mb-2611", "--mg-per-ml", "10"))
    expectSuccess(
      try cli.run(
        "mat", "enrol", "--site", "MAT-KOMBANI", "--client", "KWL-MAT-0042", "--mg", "20", "--prescriber", "DR-1"))
    expectSuccess(
      try cli.run("mat", "exit", "--client", "KWL-MAT-0042", "--reason", "other", "--note", "national ID 23456789"))

    let found = try cli.run("privacy", "check", "--format", "csv")
    #expect(found.status == 3)
    #expect(
      found.outputLines == [
        "table,row,site,column,found,masked",
        "mat_exits,\(try cli.integer("SELECT max(episode_id)::int FROM mat_exits")),MAT-KOMBANI,note,ID number,••••••89",
        "stock_events,\(event),DICE-UKUNDA,note,phone number,07•• ••• 678",
      ])
    #expect(found.errorLines.count == 1)
    #expect(found.stderr.hasPrefix("kpstock: error: 2 rows hold what looks like a phone or ID number"))
    for number in ["345", "234567"] { #expect(!found.stdout.contains(number)) }
    #expect(try cli.run("privacy", "check").status == 3)
  }

  private func migration(_ name: String) throws -> String {
    let schema = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appending(path: "Schema")
    return try String(contentsOf: schema.appending(path: "\(name).sql"), encoding: .utf8)
  }
}
