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

extension CLI {
  /// The draft order to a site from its supplier in the network (or, with `external`, the requisition outside it):
  /// looked up, since how many orders come before it depends on the whole simulated network.
  fileprivate func order(to site: String, external: Bool = false) throws -> String {
    String(
      try integer(
        """
        SELECT id::integer FROM orders WHERE site_code = \(site)
          AND (external_supplier IS NOT NULL) = \(external) ORDER BY id LIMIT 1
        """))
  }
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
    let drafts = try cli.integer("SELECT count(*)::integer FROM orders WHERE status = 'draft'")
    #expect(weekly.stdout.contains("\n\(drafts) draft orders:\nORDER  FROM "))
    // The MAT clinic supplies the prison and the hospital: their clients' doses are ordered from it.
    #expect(weekly.stdout.contains("  MAT-KOMBANI       PRISON-KWALE    METHADONE  "))
    #expect(weekly.stdout.contains("\nNeeds attention:\n"))
    // Methadone's need comes from the register's clients, so it is ordered like the rest.
    #expect(!weekly.stdout.contains("METHADONE: unknown need"))

    let ukunda = try cli.order(to: "DICE-UKUNDA")
    let lines = try cli.jsonArray("orders", "show", ukunda)
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
    let requisition = try cli.run("orders", "show", try cli.order(to: "STORE-KWALE", external: true), "--format", "csv")
    expectSuccess(requisition)
    #expect(requisition.outputLines.dropFirst().allSatisfy { $0.contains(",STORE-KWALE,KEMSA (external),") })

    let explained = try cli.run("orders", "explain", ukunda, "--commodity", "male-condom")
    expectSuccess(explained)
    #expect(explained.stdout.contains("  max − position "))
    #expect(explained.stdout.contains("  in packs of 144 (round up above 72) "))
  }

  @Test func anOrderIsApprovedPickedDispatchedAndReceivedFromTheCommandLine() throws {
    let (cli, _) = try weekly()
    let ukunda = try cli.order(to: "DICE-UKUNDA")
    expectSuccess(try cli.run("orders", "approve", ukunda))
    let again = try cli.run("orders", "approve", ukunda)
    expectRefused(again, startingWith: "ORDER: order \(ukunda) is approved (approved by ")
    let picks = try cli.run("orders", "pick-list", ukunda)
    expectSuccess(picks)
    #expect(picks.stdout.hasPrefix("Pick-list for order \(ukunda): STORE-KWALE → DICE-UKUNDA (approved)\n"))
    #expect(picks.stdout.contains("MALE-CONDOM "))
    expectRefused(
      try cli.run("orders", "set", ukunda, "--commodity", "MALE-CONDOM", "--packs", "2.5", "--reason", "room"),
      "--packs: '2.5' is not a whole number")
    expectRefused(
      try cli.run("orders", "set", ukunda, "--commodity", "MALE-CONDOM", "--packs", "20", "--reason", ""),
      "--reason: a changed quantity needs a reason")
    expectSuccess(
      try cli.run("orders", "set", ukunda, "--commodity", "MALE-CONDOM", "--packs", "20", "--reason", "room"))
    let dispatched = try cli.run("orders", "dispatch", ukunda)
    expectSuccess(dispatched)
    #expect(dispatched.stdout.hasPrefix("order \(ukunda) dispatched: transfers "))
    expectRefused(
      try cli.run("orders", "receive", ukunda, "--reject", "MALE-CONDOM=144"),
      "--reject: MALE-CONDOM: a rejection needs a reason")
    expectRefused(
      try cli.run("orders", "receive", ukunda, "--reject", "MALE-CONDOM"),
      "--reject: 'MALE-CONDOM' is not COMMODITY=UNITS:REASON")
    expectRefused(
      try cli.run("orders", "receive", ukunda, "--reject", "MALE-CONDOM=99999:damaged"),
      "--reject: MALE-CONDOM: must be between 0 and the 2880 dispatched")
    #expect(
      try cli.integer(
        "SELECT count(*) FROM transfers t JOIN order_line_lots k ON k.transfer_id = t.id WHERE k.order_id = \(Int(ukunda)!)::bigint AND t.status = 'received'"
      ) == 0)
    expectRefused(
      try cli.run("orders", "receive", ukunda, "--reject", "MALE-CONDOM=144:found"),
      "--reject: MALE-CONDOM: found is not a reason for writing stock off")
    expectSuccess(try cli.run("orders", "receive", ukunda, "--reject", "MALE-CONDOM=144:damaged"))
    let line = try #require(
      try cli.jsonArray("orders", "show", ukunda).first { $0["commodity"] as? String == "MALE-CONDOM" })
    #expect(line["status"] as? String == "received")
    expectSuccess(try cli.run("ledger", "verify"))
  }

  @Test func checkRunsTheRuleForOneSiteAgainstTheWeeksLatestRun() throws {
    let (cli, _) = try weekly()
    let drafts = try cli.integer("SELECT count(*) FROM orders WHERE status = 'draft'")
    let check = try cli.run("orders", "check", "--site", "dice-ukunda")
    expectSuccess(check)
    #expect(check.stdout.hasPrefix("1 draft order:\n"))
    #expect(try cli.integer("SELECT count(*) FROM orders WHERE site_code = 'DICE-UKUNDA' AND status = 'draft'") == 1)
    // Only DICE-UKUNDA's draft was made again: the others of the run's orders are as they were.
    #expect(try cli.integer("SELECT count(*) FROM orders WHERE status = 'draft'") == drafts)
  }

  @Test func badOrderArgumentsAreRefusedNamingTheField() throws {
    let (cli, _) = try weekly()
    let ukunda = try cli.order(to: "DICE-UKUNDA")
    expectRefused(try cli.run("orders", "approve", "999"), "ORDER: no order 999")
    expectRefused(
      try cli.run("orders", "list", "--status", "sent"),
      "--status: 'sent' is not one of draft, approved, dispatched, received, cancelled")
    expectRefused(try cli.run("orders", "generate", "--run", "42"), "--run: no forecast run 42")
    expectRefused(
      try cli.run("orders", "explain", ukunda, "--commodity", "NALOXONE-X"),
      "--commodity: order \(ukunda) has no line for NALOXONE-X")
    expectRefused(
      try cli.run("orders", "dispatch", ukunda), startingWith: "ORDER: order \(ukunda) is draft (generated by ")
    expectRefused(try cli.run("orders", "cancel", ukunda, "--reason", " "), "--reason: a cancellation needs a reason")
    expectSuccess(try cli.run("orders", "cancel", ukunda, "--reason", "sent by hand"))
    #expect(try cli.text("SELECT status FROM orders WHERE id = \(Int(ukunda)!)::bigint") == "cancelled")
  }
}
