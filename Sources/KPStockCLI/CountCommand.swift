import ArgumentParser
import KPStock

struct CountCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "count",
    abstract: "Record physical stock counts; the difference from the books is posted as a variance.",
    discussion: """
      'kpstock count --site S --commodity C --qty N' records one lot's count against the balance at the end of \
      the day. For a whole shelf, 'kpstock count start' freezes the balances first; record each lot with \
      --count ID, and stock dispensed while people count is kept.
      """,
    subcommands: [Record.self, Start.self, Show.self],
    defaultSubcommand: Record.self)

  struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Record the quantity counted of one lot (the default subcommand).",
      discussion: """
        Without --reason a variance is recorded as 'unexplained'.
        Example: kpstock count --site DICE-UKUNDA --commodity MALE-CONDOM --lot LC2407 --qty 1180 --count 3
        """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var line: LedgerLineOptions<Self>
    @Option(help: "Expiry date of a lot found that the books do not know, YYYY-MM-DD.") var expiry: String?
    @Option(help: "Reason for a variance (default unexplained).") var reason: String?
    @Option(parsing: .unconditional, help: "Count session id from 'kpstock count start'.") var count: String?
    @OptionGroup var entry: EntryOptions

    func run() throws {
      var values = line.values
      values["expiry"] = expiry
      values["reason"] = reason
      values["count"] = count
      try LedgerEntry.record(database, values, entry: entry) { input, values throws(FieldError) in
        try input.count(values)
      }
    }
  }

  struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Start a count session: freeze the balances to count against and print the count sheet.",
      discussion: "Example: kpstock count start --site DICE-UKUNDA --commodity MALE-CONDOM")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Site code.") var site: String
    @Option(help: "Count only this commodity (default: everything on hand).") var commodity: String?
    @Option(help: "Day of the count, YYYY-MM-DD (default today).") var date: String?

    func run() throws {
      let store = try database.open()
      let reference = try ReferenceData.load(store)
      let sheet = try FlagNames().check {
        let site = try reference.sites.resolve(self.site, field: "site")
        let commodity = try self.commodity.map { text throws(FieldError) in
          try reference.commodities.resolve(text, field: "commodity")
        }
        let date = try self.date.map { text throws(FieldError) in try FieldParsing.date(text, field: "date") }
        return try StockCounts.start(store, site: site, commodity: commodity, date: date)
      }
      Console.output(
        "started count \(sheet.id) at \(sheet.siteCode) on \(sheet.countedOn); "
          + "record each lot with: kpstock count --count \(sheet.id) --site \(sheet.siteCode) ...\n")
      Console.output(StockCounts.listing(sheet).rendered(as: .table))
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show a count sheet: balances at the start, what has been counted, and the variances.",
      discussion: "Example: kpstock count show 3 --format csv")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Argument(help: "Count session id.") var id: Int64

    func run() throws {
      let store = try database.open()
      let sheet = try FlagNames(renamed: ["count": "ID"]).check { try StockCounts.sheet(store, id: id) }
      if output.format == .table {
        Console.output(
          "count \(sheet.id) at \(sheet.siteCode) on \(sheet.countedOn)"
            + " (\(sheet.commodityCode ?? "every commodity"))\n")
      }
      Console.output(StockCounts.listing(sheet).rendered(as: output.format))
    }
  }
}

extension CountCommand.Record: LedgerOptionHelp {
  static let qtyHelp = "Quantity counted, in base units (0 for a lot that is gone)."
  static let lotHelp = "Lot counted; required for lot-tracked commodities."
  static let dateHelp = "Day of the count, YYYY-MM-DD (default today; a session's own day with --count)."
}
