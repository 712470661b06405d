import ArgumentParser
import KPStock

struct AdjustCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "adjust",
    abstract: "Add or remove stock for a reason: expired, damaged, lost, found, returned, correction...",
    discussion: """
      --qty is a count: the reason decides whether it adds or removes stock ('kpstock reason list'). A reason \
      that can go either way (correction, unexplained) needs a sign: +N or -N. Expired lots leave only this way, \
      with --reason expired.
      Example: kpstock adjust --site DICE-UKUNDA --commodity MALE-CONDOM --lot LC2407 --qty 36 --reason damaged --note 'rain at the store'
      """)

  @OptionGroup var database: DatabaseOptions
  @OptionGroup var line: LedgerLineOptions<Self>
  @Option(help: "Reason code (kpstock reason list).") var reason: String
  @Option(help: "Expiry date, only when adding stock of a lot not seen before, YYYY-MM-DD.") var expiry: String?
  @OptionGroup var entry: EntryOptions

  func run() throws {
    var values = line.values
    values["reason"] = reason
    values["expiry"] = expiry
    try LedgerEntry.record(database, values, entry: entry) { input, values throws(FieldError) in
      try input.adjustment(values)
    }
  }
}

extension AdjustCommand: LedgerOptionHelp {
  static let qtyHelp = "Quantity in base units; +N or -N for correction and unexplained."
  static let lotHelp = "Lot (default: first expiry first out when removing)."
  static let dateHelp = "Day of the adjustment, YYYY-MM-DD (default today)."
}
