import ArgumentParser
import Foundation
import KPStock
import KPStockTestSupport
import Testing

@testable import KPStockCLI

@Suite("an option given twice")
struct RepeatedOptionTests {
  @Test func aSingleValuedOptionGivenTwiceIsRefusedBeforeAnythingIsWritten() throws {
    let cli = try CLI.ledger()
    let base = ["receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB"]
    for extra in [["--qty", "1", "--qty", "2"], ["--qty=1", "--qty", "2"], ["--qty", "1", "--qty=2"]] {
      expectRefused(try cli.run(base + extra), "--qty: given more than once (1, 2); give it once")
    }
    #expect(try cli.events() == 0)
  }

  @Test func optionsFromSharedGroupsAreCheckedInEveryCommand() throws {
    let cli = try CLI()
    expectRefused(
      try cli.run("site", "list", "--format", "csv", "--format", "json"),
      "--format: given more than once (csv, json); give it once")
    expectRefused(
      try cli.run("county", "list", "--database-url", cli.database.conninfo, "--database-url", "postgres://elsewhere"),
      "--database-url: given more than once (\(cli.database.conninfo), postgres://elsewhere); give it once")
  }

  @Test func aValueThatLooksLikeAnOptionIsNotCountedAsOne() throws {
    let cli = try CLI.ledger()
    try cli.record("receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "5", "--note=--qty 9")
    #expect(try cli.text("SELECT note FROM stock_events") == "--qty 9")
  }

  @Test func aRepeatableOptionMayBeGivenOftenButASingleOneBesideItMayNot() throws {
    struct Tagging: ParsableCommand {
      @Option var tag: [String] = []
      @Option(name: [.customShort("q"), .long]) var qty: String?
    }
    try RepeatedOptions.check(Tagging.self, arguments: ["--tag", "a", "--tag=b", "--tag", "c", "--qty", "1"])
    let error = #expect(throws: KPStockError.self) {
      try RepeatedOptions.check(Tagging.self, arguments: ["--tag", "a", "-q", "1", "--qty", "2"])
    }
    #expect(error?.message == "-q: given more than once (1, 2); give it once")
  }
}
