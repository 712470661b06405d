import Foundation
import KPStockTestSupport
import Postgres
import Testing

@Suite("kpstock receive, dispense, adjust, undo, stock, stock-card, ledger verify, reason")
struct LedgerCommandTests {
  /// One line per stock row: site, commodity, lot (- when none), on hand, in transit and status.
  static func stock(_ cli: CLI, _ filters: String...) throws -> [String] {
    let outcome = try cli.run(["stock"] + filters + ["--format", "json"])
    expectSuccess(outcome)
    return try parsedArray(outcome.stdout).map { row in
      ["site", "commodity", "lot", "on_hand", "in_transit", "status"].map { cell(row[$0]) }.joined(separator: " ")
    }
  }

  // MARK: receive

  @Test func receivingALotRecordsItAndStockShowsItOnHand() throws {
    let cli = try CLI.ledger()
    let lot = try cli.record(
      "receive", "--site", "dice-ukunda", "--commodity", "male-condom", "--qty", "1440", "--lot", "lc-2407",
      "--expiry", "2027-06-30", "--note", "KEMSA delivery note 4471")
    #expect(lot == "event 1: received 1440 MALE-CONDOM lot LC-2407 (expires 2027-06-30) at DICE-UKUNDA on 2026-03-02\n")
    let swabs = try cli.record(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "500", "--date", "2026-02-20")
    #expect(swabs == "event 2: received 500 ALCOHOL-SWAB at DICE-UKUNDA on 2026-02-20\n")

    #expect(try cli.text("SELECT note FROM stock_events WHERE id = 1") == "KEMSA delivery note 4471")
    #expect(try cli.text("SELECT recorded_by FROM stock_events WHERE id = 1") == cli.text("SELECT session_user::text"))
    #expect(
      try Self.stock(cli, "--site", "DICE-UKUNDA") == [
        "DICE-UKUNDA ALCOHOL-SWAB - 500 0 usable", "DICE-UKUNDA MALE-CONDOM LC-2407 1440 0 usable",
      ])
  }

  // MARK: dispense

  @Test func dispensingKeepsPopulationChannelAndWorkerButTheStockCardNeverShowsTheClient() throws {
    let cli = try CLI.ledger()
    try cli.record(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "1000", "--lot", "LC1", "--expiry",
      "2027-06-30", "--date", "2026-02-20")
    let outreach = try cli.record(
      "dispense", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "144", "--population", "fsw",
      "--channel", "outreach", "--worker", "pe-017", "--client", "kwa-fsw-0042", "--note", "Diani hotspot")
    #expect(
      outreach == "event 2: dispensed 144 MALE-CONDOM lot LC1 (expires 2027-06-30) at DICE-UKUNDA on 2026-03-02\n")
    try cli.record(
      "dispense", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "20", "--population", "MSM",
      "--channel", "CLINIC", "--date", "2026-03-01")
    #expect(
      try cli.text(
        "SELECT concat_ws(' ', population_code, channel, worker_code, client_uic) FROM stock_events WHERE id = 2")
        == "FSW outreach PE-017 KWA-FSW-0042")

    let card = try cli.run("stock-card", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--format", "json")
    expectSuccess(card)
    #expect(!card.stdout.contains("KWA-FSW-0042"))
    let rows = try parsedArray(card.stdout)
    // In the order things happened: the back-dated clinic dispensing comes before today's outreach.
    #expect(rows.map { $0["event"] as? Int } == [1, 3, 2])
    #expect(rows.map { $0["balance"] as? Int } == [1000, 980, 836])
    #expect(rows.map { $0["detail"] as? String } == [nil, "MSM clinic", "FSW outreach via PE-017"])
    #expect(rows.last?["note"] as? String == "Diani hotspot")
  }

  @Test func stockNeverGoesNegativeTodayOrOnABackDatedDay() throws {
    let cli = try CLI.ledger()
    try cli.record(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "120", "--lot", "LC1", "--expiry",
      "2027-06-30")
    let dispense = [
      "dispense", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--population", "FSW", "--channel", "clinic",
    ]
    expectRefused(
      try cli.run(dispense + ["--qty", "144"]),
      "insufficient stock of MALE-CONDOM at DICE-UKUNDA: on hand 120, asked 144")
    // The stock arrived today, so a paper register entry dated before it has nothing to take from.
    expectRefused(
      try cli.run(dispense + ["--qty", "12", "--date", "2026-02-20"]),
      "back-dated to 2026-02-20, this would make the stock of MALE-CONDOM at DICE-UKUNDA negative on 2026-02-20: "
        + "balance then 0, asked 12")
    #expect(try cli.events() == 1)
  }

  @Test func dispensingTakesTheFirstExpiringLotAndExpiredLotsOnlyLeaveAsExpired() throws {
    let cli = try CLI.ledger()
    let receive = ["receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "100"]
    try cli.record(receive + ["--lot", "LC-OLD", "--expiry", "2026-02-28", "--date", "2026-02-10"])
    try cli.record(receive + ["--lot", "LC-B", "--expiry", "2026-09-30"])
    try cli.record(receive + ["--lot", "LC-A", "--expiry", "2027-06-30"])
    let dispense = [
      "dispense", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--population", "FSW", "--channel", "clinic",
    ]

    let fefo = try cli.record(dispense + ["--qty", "150"])
    #expect(
      fefo == """
        event 4: dispensed 100 MALE-CONDOM lot LC-B (expires 2026-09-30) at DICE-UKUNDA on 2026-03-02
        event 5: dispensed 50 MALE-CONDOM lot LC-A (expires 2027-06-30) at DICE-UKUNDA on 2026-03-02

        """)
    #expect(
      try Self.stock(cli, "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM") == [
        "DICE-UKUNDA MALE-CONDOM LC-A 50 0 usable", "DICE-UKUNDA MALE-CONDOM LC-OLD 100 0 expired",
      ])
    expectRefused(
      try cli.run(dispense + ["--qty", "10", "--lot", "LC-OLD"]),
      "--lot: lot LC-OLD of MALE-CONDOM expired on 2026-02-28: it can only be adjusted out as expired")
    expectRefused(
      try cli.run(dispense + ["--qty", "60"]),
      "insufficient stock of MALE-CONDOM at DICE-UKUNDA: on hand 50, asked 60 (another 100 are in expired lots)")

    let expired = try cli.record(
      "adjust", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "100", "--reason", "expired")
    #expect(
      expired
        == "event 6: adjusted -100 MALE-CONDOM lot LC-OLD (expires 2026-02-28) at DICE-UKUNDA on 2026-03-02, "
        + "reason expired\n")
    let card = try cli.jsonArray("stock-card", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM")
    #expect(
      card.map { row in ["lot", "in", "out", "balance"].map { cell(row[$0]) }.joined(separator: " ") } == [
        "LC-OLD 100 - 100", "LC-B 100 - 200", "LC-A 100 - 300", "LC-B - 100 200", "LC-A - 50 150",
        "LC-OLD - 100 50",
      ])
    let window = try cli.jsonArray(
      "stock-card", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--from", "2026-03-01", "--to",
      "2026-03-02")
    #expect(window.map { $0["event"] as? Int } == [2, 3, 4, 5, 6])
    #expect(window.first?["balance"] as? Int == 200)
  }

  // MARK: adjust

  @Test func anAdjustmentsReasonDecidesItsDirectionAndEitherWayReasonsNeedASign() throws {
    let cli = try CLI.ledger()
    try cli.record(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "500", "--lot", "LC1", "--expiry",
      "2027-06-30")
    let adjust = ["adjust", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM"]
    let damaged = try cli.record(adjust + ["--qty", "36", "--reason", "damaged", "--note", "rain at the store"])
    #expect(
      damaged
        == "event 2: adjusted -36 MALE-CONDOM lot LC1 (expires 2027-06-30) at DICE-UKUNDA on 2026-03-02, "
        + "reason damaged\n")
    try cli.record(adjust + ["--qty", "10", "--reason", "found", "--lot", "LC1"])
    try cli.record(adjust + ["--qty", "24", "--reason", "Found", "--lot", "LC9", "--expiry", "2027-01-31"])
    // Without a lot, stock removed comes from the lot that expires first: LC9.
    try cli.record(adjust + ["--qty", "-4", "--reason", "correction"])
    try cli.record(adjust + ["--qty=+2", "--reason", "correction", "--lot", "LC1"])
    let swabs = try cli.record(
      "adjust", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "5", "--reason", "returned")
    #expect(swabs == "event 7: adjusted 5 ALCOHOL-SWAB at DICE-UKUNDA on 2026-03-02, reason returned\n")

    #expect(
      try cli.text("SELECT string_agg(quantity || ' ' || reason_code, ', ' ORDER BY id) FROM stock_events WHERE id > 1")
        == "-36 damaged, 10 found, 24 found, -4 correction, 2 correction, 5 returned")
    #expect(
      try Self.stock(cli, "--site", "DICE-UKUNDA") == [
        "DICE-UKUNDA ALCOHOL-SWAB - 5 0 usable", "DICE-UKUNDA MALE-CONDOM LC9 20 0 usable",
        "DICE-UKUNDA MALE-CONDOM LC1 476 0 usable",
      ])
  }

  // MARK: idempotency

  @Test func aRepeatWithTheSameKeyRecordsNothingAndOtherContentUnderItIsRefused() throws {
    let cli = try CLI.ledger()
    let receive = [
      "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "1440", "--lot", "LC1", "--expiry",
      "2027-06-30", "--key", "delivery-4471",
    ]
    let first = try cli.record(receive)
    let again = try cli.record(receive)
    #expect(again == "already recorded with this key; nothing changed:\n" + first)
    #expect(try cli.events() == 1)

    expectRefused(
      try cli.run(receive.changing(["--qty": "1400"])),
      "--key: key delivery-4471 was already used at DICE-UKUNDA for a different entry (event 1)")
    #expect(try cli.events() == 1)
    // Keys belong to a site: another site's register may use the same one.
    try cli.record(receive.changing(["--site": "DICE-KWALE"]))
    #expect(try cli.events() == 2)
  }

  // MARK: undo and verify

  @Test func undoingReversesAnEntryOnItsOwnDayAndLeavesTheLedgerConsistent() throws {
    let cli = try CLI.ledger()
    try cli.record(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "100", "--lot", "LC1", "--expiry",
      "2027-06-30", "--date", "2026-02-20")
    try cli.record(
      "dispense", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "30", "--population", "FSW",
      "--channel", "clinic", "--date", "2026-02-25")
    let undo = try cli.record("undo", "2", "--reason", "correction", "--note", "entered twice", "--key", "undo-2")
    #expect(
      undo
        == "event 3: reversed dispense +30 MALE-CONDOM lot LC1 (expires 2027-06-30) at DICE-UKUNDA on 2026-02-25, "
        + "reason correction, undoing event 2\n")
    #expect(try cli.text("SELECT occurred_on::text FROM stock_events WHERE id = 3") == "2026-02-25")
    #expect(try Self.stock(cli, "--site", "DICE-UKUNDA") == ["DICE-UKUNDA MALE-CONDOM LC1 100 0 usable"])

    let verify = try cli.run("ledger", "verify")
    expectSuccess(verify)
    #expect(
      verify.stdout == "ledger consistent: every balance, daily total, transfer and kept week matches its events\n")
    #expect(try cli.jsonArray("ledger", "verify").isEmpty)
  }

  @Test func ledgerVerifyListsEveryDifferenceAndExitsOne() throws {
    let cli = try CLI.ledger()
    try cli.record(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "100", "--lot", "LC1", "--expiry",
      "2027-06-30")
    // Balances are kept by a trigger that refuses direct changes; only a replica session gets past it.
    let connection = try cli.database.connect()
    try connection.execute("SET session_replication_role = replica")
    try connection.execute("UPDATE stock_balances SET on_hand = on_hand + 5")

    let verify = try cli.run("ledger", "verify", "--format", "csv")
    #expect(verify.status == 1)
    #expect(
      verify.outputLines == [
        "check,site,commodity,lot,day,from_events,recorded", "balance,DICE-UKUNDA,MALE-CONDOM,LC1,,100,105",
      ])
    #expect(verify.stderr == "kpstock: error: the ledger does not match its events in 1 place\n")
  }

  @Test func recordedStockFreezesWhatACommoditysQuantitiesMeanAndTheProgrammeTimeZone() throws {
    let cli = try CLI.ledger()
    try cli.record("receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "100")
    expectRefused(
      try cli.run("commodity", "update", "ALCOHOL-SWAB", "--lot-tracked", "true"),
      "CODE: has stock recorded, so its base unit, lot tracking and controlled status can no longer change")
    expectRefused(
      try cli.run("settings", "set", "--time-zone", "Africa/Kampala"),
      "--time-zone: cannot change once stock is recorded: every event's day was decided in the current time zone")
  }

  // MARK: stock filters

  @Test func theCountyFilterKeepsOnlyThatCountysSites() throws {
    let cli = try CLI.ledger()
    try cli.record("site", "add", "DICE-LIKONI", "--name", "Likoni DICE", "--kind", "dice", "--county", "001")
    for (site, qty) in [("DICE-UKUNDA", "100"), ("STORE-KWALE", "1000"), ("DICE-LIKONI", "50")] {
      try cli.record("receive", "--site", site, "--commodity", "ALCOHOL-SWAB", "--qty", qty)
    }
    #expect(
      try Self.stock(cli, "--county", "002") == [
        "DICE-UKUNDA ALCOHOL-SWAB - 100 0 usable", "STORE-KWALE ALCOHOL-SWAB - 1000 0 usable",
      ])
    #expect(try Self.stock(cli, "--county", "mombasa") == ["DICE-LIKONI ALCOHOL-SWAB - 50 0 usable"])
    #expect(try Self.stock(cli, "--county", "Kwale", "--commodity", "MALE-CONDOM") == [])
    expectRefused(
      try cli.run("stock", "--county", "999"), "--county: unknown county '999' (use the code, e.g. 002, or the name)")
    expectRefused(
      try cli.run("stock-card", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--from", "1/3/2026"),
      "--from: '1/3/2026' is not a date (YYYY-MM-DD)")
  }

  @Test func aStockCardWhoseFromIsAfterItsToIsRefusedButOneDayIsShown() throws {
    let cli = try CLI.ledger()
    try cli.record(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "100", "--date", "2026-03-01")
    let card = ["stock-card", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB"]
    expectRefused(
      try cli.run(card + ["--from", "2026-03-10", "--to", "2026-03-01"]), "--from: 2026-03-10 is after --to 2026-03-01")
    let oneDay = try cli.run(card + ["--from", "2026-03-01", "--to", "2026-03-01", "--format", "json"])
    expectSuccess(oneDay)
    #expect(try parsedArray(oneDay.stdout).count == 1)
  }

  // MARK: reasons

  @Test func aNewReasonIsListedAndCanBeUsed() throws {
    let cli = try CLI.ledger()
    let added = try cli.record(
      "reason", "add", "recalled", "--direction", "out", "--description", "Recalled by the manufacturer")
    #expect(added == "added reason recalled (out): Recalled by the manufacturer\n")
    let reasons = try cli.jsonArray("reason", "list")
    #expect(reasons.count == 11)
    #expect(reasons.contains { $0["code"] as? String == "recalled" && $0["direction"] as? String == "out" })

    try cli.record("receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "100")
    let recalled = try cli.record(
      "adjust", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "100", "--reason", "RECALLED")
    #expect(recalled == "event 2: adjusted -100 ALCOHOL-SWAB at DICE-UKUNDA on 2026-03-02, reason recalled\n")

    let add = ["reason", "add", "recalled", "--direction", "out", "--description", "Recalled"]
    expectRefused(try cli.run(add), "CODE: reason recalled already exists")
    expectRefused(
      try cli.run(add.changing(["2": "Bad Code"])),
      "CODE: 'bad code' is not a reason code (2–32 lower-case letters, digits, dashes)")
    expectRefused(
      try cli.run(add.changing(["2": "recall-2", "--direction": "sideways"])),
      "--direction: 'sideways' is not a direction (in, out, either)")
    expectRefused(
      try cli.run(add.changing(["2": "recall-2", "--description": " "])), "--description: must not be empty")
    #expect(try cli.integer("SELECT count(*)::int FROM stock_reasons") == 11)
  }
}

/// A JSON value as a test compares it: "-" for null or absent.
func cell(_ value: Any?) -> String {
  guard let value, !(value is NSNull) else { return "-" }
  return "\(value)"
}

/// A JSON array of objects, parsed.
func parsedArray(_ json: String) throws -> [[String: Any]] {
  try #require(
    try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]], "not a JSON array: \(json)")
}
