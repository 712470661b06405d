import ArgumentParser
import Foundation
import KPStock

struct SimulateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "simulate",
    abstract: "Write a deterministic synthetic stock history through the ledger.",
    discussion: """
      Walks day by day up to today: county stores receive supply, stores and DICEs send stock down the supply \
      lines, DICEs and satellites dispense by population and channel, MAT sites dose methadone, expired lots are \
      written off. Every entry goes through the same checks as a real one. The same profile and seed always give \
      the same history, and running it again adds only the days since the last run.

      Profiles: kwale (the 10 demo sites, 26 weeks by default) and national (1,000 sites in 47 counties, \
      104 weeks by default; over twelve million events, for benchmarks: about 15 minutes on two cores).

      Example: kpstock simulate --profile kwale --weeks 12
      """)

  @Option(help: "Which network to simulate: the Kwale demo, or 1,000 sites across Kenya.")
  var profile: SimulationProfile

  @Option(help: "Weeks of history ending today (default: 26 for kwale, 104 for national).")
  var weeks: Int?

  @Option(help: "Which of the possible histories to write (a whole number).")
  var seed: UInt64 = 1

  @OptionGroup var database: DatabaseOptions

  func run() throws {
    let store = try database.open(asOwner: true)
    let report = try FlagNames().check {
      try Simulator.run(store, profile: profile, weeks: weeks, seed: seed, progress: Self.progressPrinter())
    }
    Console.output(Self.summary(report))
  }

  /// A line per simulated week on stderr, only when someone is watching it: a log or a pipe stays clean.
  static func progressPrinter() -> ((SimulationProgress) -> Void)? {
    guard isatty(STDERR_FILENO) == 1 else { return nil }
    return { progress in
      Console.notice(
        "week \(progress.week) of \(progress.weeks) simulated (to \(progress.lastDay)): "
          + "\(progress.eventsWritten) events written")
    }
  }

  static func summary(_ report: SimulationReport) -> String {
    var text =
      "kpstock simulate: \(report.profile.rawValue), seed \(report.seed), \(report.weeks) weeks "
      + "(\(report.firstDay) to \(report.lastDay)), \(report.sites) sites\n"
    if let first = report.continuedFrom {
      text += "  carried on the history begun on \(first) (a profile and seed keep their first day)\n"
    }
    text += """
        events written            \(report.eventsWritten)
        events already recorded   \(report.eventsAlreadyRecorded)
        stock-out site-days       \(report.stockOutSiteDays)
        requests posted           \(report.requestsPosted) in \(report.batchesPosted) batches

      """
    return text
  }
}

extension SimulationProfile: ExpressibleByArgument {}

extension SimulateCommand: CommitsAsItGoes {
  static var keptWhenInterrupted: String {
    "the weeks recorded before the one in progress are kept; run it again to carry on"
  }
}
