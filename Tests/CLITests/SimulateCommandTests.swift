import Foundation
import KPStockTestSupport
import Testing

@Suite("kpstock simulate")
struct SimulateCommandTests {
  @Test func aKwaleSimulationPrintsWhatItWroteAndARerunWritesNothing() throws {
    let cli = try CLI()
    let first = try cli.run("simulate", "--profile", "kwale", "--weeks", "1", "--seed", "3")
    expectSuccess(first)
    #expect(first.outputLines.first?.hasPrefix("kpstock simulate: kwale, seed 3, 1 weeks (") == true)
    #expect(first.outputLines.first?.hasSuffix("), 10 sites") == true)
    let events = try cli.integer("SELECT count(*) FROM stock_events")
    #expect(events > 500)
    #expect(first.outputLines.contains("  events written            \(events)"))
    #expect(first.outputLines.contains("  events already recorded   0"))
    #expect(first.stderr.isEmpty, "progress goes to a terminal only")

    let again = try cli.run("simulate", "--profile", "kwale", "--weeks", "1", "--seed", "3")
    expectSuccess(again)
    #expect(again.outputLines.contains("  events written            0"))
    #expect(again.outputLines.contains("  events already recorded   \(events)"))
    #expect(try cli.integer("SELECT count(*) FROM stock_events") == events)
  }

  @Test func anUnknownProfileOrAnEmptySpanIsRefused() throws {
    let cli = try CLI()
    let profile = try cli.run("simulate", "--profile", "mombasa")
    #expect(profile.status == 2)
    #expect(profile.stderr.contains("'mombasa'"))
    expectRefused(
      try cli.run("simulate", "--profile", "kwale", "--weeks", "0"), "--weeks: must be between 1 and 520, not 0")
    #expect(try cli.integer("SELECT count(*) FROM stock_events") == 0)
  }
}
