import ArgumentParser
import KPStock

struct ReceiveCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "receive",
    abstract: "Record stock that arrived from outside the network (KEMSA, a donor).",
    discussion: """
      Stock sent by another site is received with 'kpstock transfer receive' instead, so it is not counted twice.
      Example: kpstock receive --site STORE-KWALE --commodity MALE-CONDOM --qty 14400 --lot LC2407 --expiry 2027-06-30
      """)

  @OptionGroup var database: DatabaseOptions
  @OptionGroup var stock: StockLineOptions
  @Option(parsing: .unconditional, help: "Quantity in base units (pieces, or mg of methadone).") var qty: String
  @Option(help: "Lot (batch) number; required for lot-tracked commodities.") var lot: String?
  @Option(help: "Expiry date of a lot not seen before, YYYY-MM-DD.") var expiry: String?
  @Option(help: "Day the stock arrived, YYYY-MM-DD (default today; back-dating has a window).") var date: String?
  @OptionGroup var entry: EntryOptions

  func run() throws {
    var values = stock.values
    values["qty"] = qty
    values["lot"] = lot
    values["expiry"] = expiry
    values["date"] = date
    try LedgerEntry.record(database, values, options: entry) { input, values throws(FieldError) in
      try input.receipt(values)
    }
  }
}
