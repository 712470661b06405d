import ArgumentParser
import KPStock

struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Set up the Kwale demo from nothing and show what exists.",
    discussion: """
      Starts the embedded database (unless --database-url or DATABASE_URL names one), migrates it, loads
      reference data and the Kwale network, simulates 12 weeks of stock history up to today (kpstock simulate
      --profile kwale --weeks 12), and prints a tour. Running it again the same day adds nothing.
      """)

  @OptionGroup var database: DatabaseOptions

  func run() throws {
    let store = try database.open()
    let loaded = try Demo.load(store)
    Console.output(
      loaded.total == 0
        ? "kpstock demo: the Kwale demo was already loaded (\(database.target))\n"
        : "kpstock demo: added \(loaded.summary) (\(database.target))\n")
    let report = try Demo.simulate(store, progress: SimulateCommand.progressPrinter())
    Console.output(
      report.eventsWritten == 0
        ? "kpstock demo: the \(Demo.simulatedWeeks)-week Kwale stock history was already recorded "
          + "(\(report.eventsAlreadyRecorded) events)\n\n"
        : "kpstock demo: simulated \(report.daysSimulated) days of Kwale stock, \(report.firstDay) to "
          + "\(report.lastDay): \(report.eventsWritten) events, \(report.stockOutSiteDays) stock-out site-days\n\n")
    for section in try Demo.tour(store).sections {
      Console.output("== \(section.title)\n\(section.text)\n")
    }
    Console.output(
      """
      Next: kpstock site list --county 002 --format csv
            kpstock supply-line list --supplier STORE-KWALE
            kpstock norm list --commodity MALE-CONDOM

      """)
  }
}

extension DemoCommand: CommitsAsItGoes {
  static var keptWhenInterrupted: String {
    "the weeks recorded before the one in progress are kept; run it again to carry on"
  }
}
