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
  @OptionGroup var line: LedgerLineOptions<Self>
  @Option(help: "Expiry date of a lot not seen before, YYYY-MM-DD.") var expiry: String?
  @OptionGroup var entry: EntryOptions

  func run() throws {
    var values = line.values
    values["expiry"] = expiry
    try LedgerEntry.record(database, values, entry: entry) { input, values throws(FieldError) in
      try input.receipt(values)
    }
  }
}

extension ReceiveCommand: LedgerOptionHelp {
  static let qtyHelp = "Quantity in base units (pieces, or mg of methadone)."
  static let lotHelp = "Lot (batch) number; required for lot-tracked commodities."
  static let dateHelp = "Day the stock arrived, YYYY-MM-DD (default today; back-dating has a window)."
}
