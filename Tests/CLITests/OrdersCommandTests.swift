import Foundation
import KPStockTestSupport
import Postgres
import Testing

/// Refused with a message that starts so (the rest names who changed the order and when).
private func expectRefused(_ outcome: KPStockProcess.Outcome, startingWith prefix: String) {
  #expect(outcome.status == 2, "exit status; stderr: \(outcome.stderr)")
  #expect(outcome.stdout == "")
  #expect(outcome.stderr.hasPrefix("kpstock: error: \(prefix)"), "\(outcome.stderr)")
}

@Suite("kpstock orders and weekly")
struct OrdersCommandTests {
  /// The Kwale network with 20 weeks of history, forecast and ordered by `kpstock weekly`.
  private func weekly() throws -> (CLI, KPStockProcess.Outcome) {
    let cli = try CLI(demo: true)
    let simulated = try cli.run("simulate", "--profile", "kwale", "--weeks", "20", "--seed", "1")
    try #require(simulated.status == 0, "\(simulated.stderr)")
    let weekly = try cli.run("weekly", "--county", "002")
    return (cli, weekly)
  }

  @Test func weeklyForecastsOrdersAndSaysWhatNeedsAttention() throws {
    let (cli, weekly) = try weekly()
    expectSuccess(weekly)
    #expect(weekly.stdout.hasPrefix("Forecast run 1 for "))
    #expect(weekly.stdout.contains("\n7 draft orders:\nORDER  FROM "))
    #expect(weekly.stdout.contains("\nNeeds attention:\n"))
    #expect(weekly.stdout.contains("  MAT-KOMBANI METHADONE: unknown need: no order computed\n"))

    let lines = try cli.jsonArray("orders", "show", "6")
    let condoms = try #require(lines.first { $0["commodity"] as? String == "MALE-CONDOM" })
    for key in [
      "order", "site", "supplier", "commodity", "need", "min", "max", "eop", "position", "usable_on_hand",
      "in_transit", "on_order", "units", "packs", "emergency", "shortfall", "status",
    ] {
      #expect(condoms.keys.contains(key), "\(key)")
    }
    #expect(condoms["site"] as? String == "DICE-UKUNDA")
    #expect(condoms["supplier"] as? String == "STORE-KWALE")
    let units = try #require(condoms["units"] as? Int)
    #expect(units % 144 == 0 && units / 144 == condoms["packs"] as? Int)

    // The store's requisition to KEMSA, exportable as CSV.
    let requisition = try cli.run("orders", "show", "7", "--format", "csv")
    expectSuccess(requisition)
    #expect(requisition.outputLines.dropFirst().allSatisfy { $0.contains(",STORE-KWALE,KEMSA (external),") })

    let explained = try cli.run("orders", "explain", "6", "--commodity", "male-condom")
    expectSuccess(explained)
    #expect(explained.stdout.contains("  max − position "))
    #expect(explained.stdout.contains("  in packs of 144 (round up above 72) "))
  }

  @Test func anOrderIsApprovedPickedDispatchedAndReceivedFromTheCommandLine() throws {
    let (cli, _) = try weekly()
    expectSuccess(try cli.run("orders", "approve", "6"))
    let again = try cli.run("orders", "approve", "6")
    expectRefused(again, startingWith: "ORDER: order 6 is approved (approved by ")
    let picks = try cli.run("orders", "pick-list", "6")
    expectSuccess(picks)
    #expect(picks.stdout.hasPrefix("Pick-list for order 6: STORE-KWALE → DICE-UKUNDA (approved)\n"))
    #expect(picks.stdout.contains("MALE-CONDOM "))
    expectRefused(
      try cli.run("orders", "set", "6", "--commodity", "MALE-CONDOM", "--packs", "2.5", "--reason", "room"),
      "--packs: '2.5' is not a whole number")
    expectRefused(
      try cli.run("orders", "set", "6", "--commodity", "MALE-CONDOM", "--packs", "20", "--reason", ""),
      "--reason: a changed quantity needs a reason")
    expectSuccess(try cli.run("orders", "set", "6", "--commodity", "MALE-CONDOM", "--packs", "20", "--reason", "room"))
    let dispatched = try cli.run("orders", "dispatch", "6")
    expectSuccess(dispatched)
    #expect(dispatched.stdout.hasPrefix("order 6 dispatched: transfers "))
    expectRefused(
      try cli.run("orders", "receive", "6", "--reject", "MALE-CONDOM=144"),
      "--reject: MALE-CONDOM: a rejection needs a reason")
    expectRefused(
      try cli.run("orders", "receive", "6", "--reject", "MALE-CONDOM"),
      "--reject: 'MALE-CONDOM' is not COMMODITY=UNITS:REASON")
    expectRefused(
      try cli.run("orders", "receive", "6", "--reject", "MALE-CONDOM=99999:damaged"),
      "--reject: MALE-CONDOM: must be between 0 and the 2880 dispatched")
    #expect(
      try cli.integer(
        "SELECT count(*) FROM transfers t JOIN order_line_lots k ON k.transfer_id = t.id WHERE k.order_id = 6 AND t.status = 'received'"
      ) == 0)
    expectRefused(
      try cli.run("orders", "receive", "6", "--reject", "MALE-CONDOM=144:found"),
      "--reject: MALE-CONDOM: found is not a reason for writing stock off")
    expectSuccess(try cli.run("orders", "receive", "6", "--reject", "MALE-CONDOM=144:damaged"))
    let line = try #require(
      try cli.jsonArray("orders", "show", "6").first { $0["commodity"] as? String == "MALE-CONDOM" })
    #expect(line["status"] as? String == "received")
    expectSuccess(try cli.run("ledger", "verify"))
  }

  @Test func checkRunsTheRuleForOneSiteAgainstTheWeeksLatestRun() throws {
    let (cli, _) = try weekly()
    let check = try cli.run("orders", "check", "--site", "dice-ukunda")
    expectSuccess(check)
    #expect(check.stdout.hasPrefix("1 draft order:\n"))
    #expect(try cli.integer("SELECT count(*) FROM orders WHERE site_code = 'DICE-UKUNDA' AND status = 'draft'") == 1)
    #expect(try cli.integer("SELECT count(*) FROM orders WHERE status = 'draft'") == 7)
  }

  @Test func badOrderArgumentsAreRefusedNamingTheField() throws {
    let (cli, _) = try weekly()
    expectRefused(try cli.run("orders", "approve", "999"), "ORDER: no order 999")
    expectRefused(
      try cli.run("orders", "list", "--status", "sent"),
      "--status: 'sent' is not one of draft, approved, dispatched, received, cancelled")
    expectRefused(try cli.run("orders", "generate", "--run", "42"), "--run: no forecast run 42")
    expectRefused(
      try cli.run("orders", "explain", "6", "--commodity", "NALOXONE-X"),
      "--commodity: order 6 has no line for NALOXONE-X")
    expectRefused(try cli.run("orders", "dispatch", "6"), startingWith: "ORDER: order 6 is draft (generated by ")
    expectRefused(try cli.run("orders", "cancel", "6", "--reason", " "), "--reason: a cancellation needs a reason")
    expectSuccess(try cli.run("orders", "cancel", "6", "--reason", "sent by hand"))
    #expect(try cli.text("SELECT status FROM orders WHERE id = 6") == "cancelled")
  }
}
