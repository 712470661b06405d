import ArgumentParser
import KPStock

struct DispenseCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dispense",
    abstract: "Record stock given to clients at the site or handed to a peer educator for outreach.",
    discussion: """
      Without --lot, stock comes from the lot that expires first (expired lots are never dispensed). Clients \
      are named only by their UIC, never by name or phone number.
      Example: kpstock dispense --site DICE-UKUNDA --commodity MALE-CONDOM --qty 144 --population FSW --channel outreach --worker PE-017
      """)

  @OptionGroup var database: DatabaseOptions
  @OptionGroup var line: LedgerLineOptions<Self>
  @Option(help: "Key population: FSW, MSW, MSM, TG, PWID, PWUD or PRISONER.") var population: String
  @Option(help: "clinic (given at the site) or outreach (handed to a peer educator).") var channel: String
  @Option(help: "The peer educator's code; outreach only.") var worker: String?
  @Option(help: "The client's UIC, when the register has one.") var client: String?
  @OptionGroup var entry: EntryOptions

  func run() throws {
    var values = line.values
    values["population"] = population
    values["channel"] = channel
    values["worker"] = worker
    values["client"] = client
    try LedgerEntry.record(database, values, entry: entry) { input, values throws(FieldError) in
      try input.dispensing(values)
    }
  }
}

extension DispenseCommand: LedgerOptionHelp {
  static let lotHelp = "Lot to take the stock from (default: first expiry first out)."
  static let dateHelp = "Day of dispensing, YYYY-MM-DD (default today; back-dating has a window)."
}
