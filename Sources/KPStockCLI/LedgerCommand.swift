import ArgumentParser
import KPStock

struct LedgerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ledger",
    abstract: "Checks on the stock ledger as a whole.",
    subcommands: [Verify.self])

  struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Recompute balances, daily totals and transfers from the events and list any difference.",
      discussion: """
        Exits 0 when everything matches and 1 when something does not, so it can run from cron or CI.
        Example: kpstock ledger verify
        """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      let differences = try StockQueries.verify(store)
      let found = StockQueries.verificationListing(differences).printedAsFindings(
        output.format,
        noneFound: "ledger consistent: every balance, daily total, transfer and kept week matches its events")
      if found {
        throw KPStockError(
          .operational,
          "the ledger does not match its events in \(differences.count) place\(differences.count == 1 ? "" : "s")")
      }
    }
  }
}
