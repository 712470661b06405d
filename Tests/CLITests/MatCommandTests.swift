import Foundation
import KPStockTestSupport
import Postgres
import Testing

/// A MAT clinic's day from the command line: a batch received and measured, a client enrolled and dosed, the
/// refusals a pharmacist meets worded with their flags, and the register.
@Suite("kpstock mat")
struct MatCommandTests {
  private func clinic() throws -> CLI {
    let cli = try CLI(demo: true)
    expectSuccess(
      try cli.run(
        "receive", "--site", "MAT-KOMBANI", "--commodity", "METHADONE", "--lot", "MB-2611", "--expiry", "2028-06-30",
        "--qty", "100000"))
    expectSuccess(try cli.run("mat", "batch", "--lot", "mb-2611", "--mg-per-ml", "10"))
    let enrolled = try cli.run(
      "mat", "enrol", "--site", "MAT-KOMBANI", "--client", "kwl-mat-0042", "--mg", "20", "--prescriber", "DR-OKELLO")
    expectSuccess(enrolled)
    #expect(enrolled.stdout.hasPrefix("enrolled KWL-MAT-0042 at MAT-KOMBANI on "))
    return cli
  }

  @Test func aClientIsEnrolledDosedAndListedAndTheRegisterBalances() throws {
    let cli = try clinic()
    let dosed = try cli.run("mat", "dose", "--site", "MAT-KOMBANI", "--client", "KWL-MAT-0042", "--witness", "NURSE-07")
    expectSuccess(dosed)
    #expect(dosed.stdout.hasPrefix("dosed KWL-MAT-0042 20 mg (2 ml) at MAT-KOMBANI on "))
    #expect(dosed.stdout.hasSuffix(", batch MB-2611 20 mg\n"))

    expectRefused(
      try cli.run("mat", "dose", "--site", "MAT-KOMBANI", "--client", "KWL-MAT-0042", "--witness", "NURSE-07"),
      "--client: client KWL-MAT-0042 has had 20 mg of the day's 20 mg on \(try today(cli))")

    let clients = try cli.jsonArray("mat", "clients", "--site", "MAT-KOMBANI")
    #expect(clients.map { $0["uic"] as? String } == ["KWL-MAT-0042"])
    #expect(clients.first?["status"] as? String == "active")
    #expect(clients.first?["mg"] as? Int == 20)

    let client = try cli.run("mat", "client", "kwl-mat-0042")
    expectSuccess(client)
    #expect(client.stdout.hasPrefix("KWL-MAT-0042 (PWID), enrolled at MAT-KOMBANI on "))
    #expect(client.stdout.contains("\nDAY "))

    let register = try cli.run(
      "report", "mat-register", "--site", "MAT-KOMBANI", "--from", "2026-01-01", "--to", "2030-12-31", "--format", "csv"
    )
    expectSuccess(register)
    #expect(
      register.outputLines.first
        == "day,event,entry,client,batch,mg_per_ml,mg,ml,balance_mg,balance_ml,recorded_by,witness,detail")
    #expect(
      register.outputLines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[2] } == [
        "opening balance", "receipt", "dose",
      ])
    #expect(register.outputLines.last?.contains(",-20,-2,99980,9998,") == true, "\(register.stdout)")
  }

  @Test func badInputIsRefusedNamingTheFlagAndWritesNothing() throws {
    let cli = try clinic()
    // The demo's network allows take-homes; a programme that has not decided allows none.
    expectSuccess(try cli.run("mat", "settings", "--take-home-max-days", "0"))
    expectRefused(
      try cli.run("mat", "dose", "--site", "PRISON-KWALE", "--client", "KWL-MAT-0042", "--witness", "NURSE-07"),
      "--site: client KWL-MAT-0042 doses at MAT-KOMBANI, not at PRISON-KWALE")
    expectRefused(
      try cli.run(
        "mat", "dose", "--site", "MAT-KOMBANI", "--client", "KWL-MAT-0042", "--witness", "NURSE-07", "--mg", "25"),
      "--mg: 25 mg is above the prescription (20 mg a day)")
    expectRefused(
      try cli.run(
        "mat", "dose", "--site", "MAT-KOMBANI", "--client", "KWL-MAT-0042", "--witness", "NURSE-07", "--take-home",
        "2"),
      "--take-home: take-home doses are not allowed: the programme's limit is 0 days (see kpstock mat settings)")
    expectRefused(
      try cli.run(
        "mat", "dose", "--site", "MAT-KOMBANI", "--client", "KWL-MAT-0042", "--witness", "NURSE-07", "--date",
        "2026-02-30"),
      "--date: '2026-02-30' is not a date (YYYY-MM-DD)")
    expectRefused(
      try cli.run(
        "mat", "prescribe", "--client", "KWL-MAT-0042", "--mg", "40", "--prescriber", "DR-1", "--reason", "x"),
      "--mg: an increase of 20 mg (from 20) is more than 10 mg in one change "
        + "(give --override REASON if it is right for this client)")
    expectRefused(
      try cli.run("mat", "exit", "--client", "KWL-MAT-0042", "--reason", "gone"),
      "--reason: 'gone' is not a reason (completed, transferred-out, died, other)")
    expectRefused(
      try cli.run("mat", "exit", "--client", "KWL-MAT-0042", "--reason", "other"),
      "--note: an exit for another reason needs a note saying which")
    expectRefused(
      try cli.run("mat", "batch", "--lot", "MB-2611", "--mg-per-ml", "5"),
      "--mg-per-ml: batch MB-2611 is 10.00 mg/ml already; a concentration never changes")
    expectRefused(
      try cli.run("mat", "client", "NOBODY-01"), "UIC: no MAT client NOBODY-01")
    expectRefused(
      try cli.run("report", "mat-register", "--site", "MAT-KOMBANI", "--from", "2026-12-31", "--to", "2026-12-01"),
      "--from: 2026-12-31 is after --to 2026-12-01")
    let words = try cli.run(
      "mat", "enrol", "--site", "MAT-KOMBANI", "--client", "X", "--mg", "ten", "--prescriber", "D")
    #expect(words.status == 2)
    #expect(try cli.integer("SELECT count(*)::integer FROM mat_doses") == 0)
    #expect(try cli.integer("SELECT count(*)::integer FROM mat_exits") == 0)
    #expect(try cli.integer("SELECT count(*)::integer FROM mat_prescriptions") == 1)
  }

  @Test func takeHomesFollowTheSettingAndComeBackToStock() throws {
    let cli = try clinic()
    // Enrolled more than 90 days ago: move the enrolment back (the back-dating window stops the command doing it).
    let connection = try cli.database.connect()
    try connection.execute("UPDATE mat_episodes SET enrolled_on = enrolled_on - 120")
    try connection.execute("UPDATE mat_prescriptions SET starts_on = starts_on - 120")
    try connection.execute("UPDATE mat_dosing_sites SET from_on = from_on - 120")
    expectSuccess(try cli.run("mat", "settings", "--take-home-max-days", "3"))
    let dosed = try cli.run(
      "mat", "dose", "--site", "MAT-KOMBANI", "--client", "KWL-MAT-0042", "--witness", "NURSE-07", "--take-home", "2")
    expectSuccess(dosed)
    #expect(dosed.outputLines.count == 3)
    #expect(dosed.outputLines[1].hasPrefix("take-home KWL-MAT-0042 20 mg (2 ml) at MAT-KOMBANI for "))
    let takeOn = try #require(
      try cli.text("SELECT max(take_on)::text FROM mat_doses"))
    let returned = try cli.run(
      "mat", "return", "--site", "MAT-KOMBANI", "--client", "KWL-MAT-0042", "--take-on", takeOn, "--reason",
      "admitted to hospital", "--key", "ret-1")
    expectSuccess(returned)
    let again = try cli.run(
      "mat", "return", "--site", "MAT-KOMBANI", "--client", "KWL-MAT-0042", "--take-on", takeOn, "--reason",
      "admitted to hospital", "--key", "ret-1")
    expectSuccess(again)
    #expect(again.stdout.hasPrefix("already recorded with this key; nothing changed:\n"))
    #expect(
      try cli.integer("SELECT sum(on_hand)::integer FROM stock_balances WHERE commodity_code = 'METHADONE'") == 99960)
  }

  private func today(_ cli: CLI) throws -> String {
    try #require(try cli.text("SELECT programme_today()::text"))
  }
}
