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
  @OptionGroup var stock: StockLineOptions
  @Option(parsing: .unconditional, help: "Quantity in base units; +N or -N for correction and unexplained.")
  var qty: String
  @Option(help: "Reason code (kpstock reason list).") var reason: String
  @Option(help: "Lot (default: first expiry first out when removing).") var lot: String?
  @Option(help: "Expiry date, only when adding stock of a lot not seen before, YYYY-MM-DD.") var expiry: String?
  @Option(help: "Day of the adjustment, YYYY-MM-DD (default today).") var date: String?
  @OptionGroup var entry: EntryOptions

  func run() throws {
    var values = stock.values
    values["qty"] = qty
    values["reason"] = reason
    values["lot"] = lot
    values["expiry"] = expiry
    values["date"] = date
    try LedgerEntry.record(database, values, options: entry) { input, values throws(FieldError) in
      try input.adjustment(values)
    }
  }
}
