import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock transfer and count")
struct TransferAndCountCommandTests {
  @Test func aDispatchIsInTransitUntilReceivedAndARejectedPartIsWrittenOffAtTheDestination() throws {
    let cli = try CLI.ledger()
    try cli.record(
      "receive", "--site", "STORE-KWALE", "--commodity", "MALE-CONDOM", "--qty", "1000", "--lot", "LC1", "--expiry",
      "2027-06-30")
    let dispatched = try cli.record(
      "transfer", "dispatch", "--site", "store-kwale", "--to", "dice-ukunda", "--commodity", "male-condom", "--qty",
      "300")
    #expect(
      dispatched
        == "event 2: dispatched 300 MALE-CONDOM lot LC1 (expires 2027-06-30) at STORE-KWALE on 2026-03-02, transfer 1\n"
    )

    let arriving = try cli.jsonArray("stock", "--site", "DICE-UKUNDA")
    #expect(arriving.count == 1)
    #expect(cell(arriving.first?["on_hand"]) == "0")
    #expect(cell(arriving.first?["in_transit"]) == "300")
    #expect(cell(arriving.first?["status"]) == "in transit")
    #expect(cell(arriving.first?["detail"]) == "transfer 1 from STORE-KWALE, dispatched 2026-03-02")
    let inTransit = try cli.jsonArray("transfer", "list", "--site", "DICE-UKUNDA", "--in-transit")
    #expect(inTransit.map { cell($0["transfer"]) } == ["1"])

    let received = try cli.record(
      "transfer", "receive", "1", "--rejected", "10", "--reason", "damaged", "--note", "crushed carton")
    #expect(
      received == """
        event 3: received 300 MALE-CONDOM lot LC1 (expires 2027-06-30) at DICE-UKUNDA on 2026-03-02, transfer 1
        event 4: adjusted -10 MALE-CONDOM lot LC1 (expires 2027-06-30) at DICE-UKUNDA on 2026-03-02, transfer 1, \
        reason damaged

        """)
    #expect(
      try LedgerCommandTests.stock(cli, "--commodity", "MALE-CONDOM") == [
        "DICE-UKUNDA MALE-CONDOM LC1 290 0 usable", "STORE-KWALE MALE-CONDOM LC1 700 0 usable",
      ])
    let transfers = try cli.jsonArray("transfer", "list")
    #expect(
      transfers.map { row in
        ["status", "lots", "received_on", "accepted", "rejected", "rejection_reason"].map { cell(row[$0]) }
      } == [["received", "LC1", "2026-03-02", "290", "10", "damaged"]])
    #expect(try cli.jsonArray("transfer", "list", "--in-transit").isEmpty)
  }

  @Test func aCountSessionKeepsStockThatMovedWhilePeopleCounted() throws {
    let cli = try CLI.ledger()
    try cli.record(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "500", "--lot", "LC1", "--expiry",
      "2027-06-30")
    try cli.record("receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "200")

    let started = try cli.run("count", "start", "--site", "dice-ukunda")
    expectSuccess(started)
    #expect(
      started.outputLines.first
        == "started count 1 at DICE-UKUNDA on 2026-03-02; record each lot with: kpstock count --count 1 "
        + "--site DICE-UKUNDA ...")
    #expect(started.outputLines.count == 4)

    // Twenty go out while the shelf is being counted; the count is against the 500 frozen at the start.
    try cli.record(
      "dispense", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "20", "--population", "FSW",
      "--channel", "clinic")
    let condoms = try cli.record(
      "count", "--count", "1", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--lot", "LC1", "--qty", "470")
    #expect(
      condoms
        == "event 4: counted, variance -30 MALE-CONDOM lot LC1 (expires 2027-06-30) at DICE-UKUNDA on 2026-03-02, "
        + "reason unexplained\n")
    let swabs = try cli.record(
      "count", "--count", "1", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "200")
    #expect(swabs == "event 5: counted, variance 0 ALCOHOL-SWAB at DICE-UKUNDA on 2026-03-02\n")

    let sheet = try cli.jsonArray("count", "show", "1")
    #expect(
      sheet.map { row in ["commodity", "lot", "on_hand_at_start", "counted", "variance", "event"].map { cell(row[$0]) }
      }
        == [["ALCOHOL-SWAB", "-", "200", "200", "0", "5"], ["MALE-CONDOM", "LC1", "500", "470", "-30", "4"]])
    expectRefused(
      try cli.run(
        "count", "--count", "1", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--lot", "LC1", "--qty", "470"),
      "--count: MALE-CONDOM lot LC1 was already counted in count 1 (event 4)")

    // Without a session, a count is against the day's closing balance, and may carry its reason.
    let loose = try cli.record(
      "count", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "195", "--reason", "damaged")
    #expect(loose == "event 6: counted, variance -5 ALCOHOL-SWAB at DICE-UKUNDA on 2026-03-02, reason damaged\n")
    #expect(
      try LedgerCommandTests.stock(cli, "--site", "DICE-UKUNDA") == [
        "DICE-UKUNDA ALCOHOL-SWAB - 195 0 usable", "DICE-UKUNDA MALE-CONDOM LC1 450 0 usable",
      ])
    let verify = try cli.run("ledger", "verify")
    expectSuccess(verify)
  }
}
