import ArgumentParser
import KPStock

struct TransferCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "transfer",
    abstract: "Send stock from one site to another and receive it there.",
    discussion: """
      Dispatched stock leaves the sender at once and shows as in transit at the destination until it is \
      received. A part rejected on arrival is written off at the destination, with its reason.
      """,
    subcommands: [Dispatch.self, Receive.self, List.self])

  struct Dispatch: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Send stock to another site.",
      discussion: """
        Without --lot, stock goes first expiry first out, possibly from several lots.
        Example: kpstock transfer dispatch --site STORE-KWALE --to DICE-UKUNDA --commodity MALE-CONDOM --qty 2880
        """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var line: LedgerLineOptions<Self>
    @Option(help: "Receiving site code.") var to: String
    @OptionGroup var entry: EntryOptions

    func run() throws {
      var values = line.values
      values["to"] = to
      try LedgerEntry.record(database, values, entry: entry) { input, values throws(FieldError) in
        try input.dispatch(values)
      }
    }
  }

  struct Receive: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Receive a transfer at its destination, rejecting part of it if need be.",
      discussion: """
        Everything dispatched comes in; --rejected N writes N off at once as an adjustment with --reason, \
        linked to the transfer (it does not travel back). Name the --lot when the transfer carries several.
        Example: kpstock transfer receive 12 --rejected 10 --reason damaged
        """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "Transfer id (kpstock transfer list --in-transit).") var transfer: String
    @Option(parsing: .unconditional, help: "Base units refused on arrival (default 0).") var rejected: String?
    @Option(help: "Why stock was rejected, e.g. damaged or expired.") var reason: String?
    @OptionGroup var lotAndDay: LotDayOptions<Self>
    @OptionGroup var entry: EntryOptions

    func run() throws {
      var values = InputValues()
      values["transfer"] = transfer
      values["rejected"] = rejected
      values["reason"] = reason
      lotAndDay.add(to: &values)
      try LedgerEntry.record(
        database, values, entry: entry, flags: FlagNames(renamed: ["transfer": "TRANSFER"])
      ) { input, values throws(FieldError) in
        try input.transferReceipt(values)
      }
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List transfers, newest first.",
      discussion: "Example: kpstock transfer list --site DICE-UKUNDA --in-transit")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Only transfers sent or received by this site.") var site: String?
    @Flag(name: .customLong("in-transit"), help: "Only transfers not yet received.") var inTransit = false

    func run() throws {
      let store = try database.open()
      let reference = try ReferenceData.load(store)
      let site = try FlagNames().check {
        try self.site.map { text throws(FieldError) in try reference.sites.resolve(text, field: "site") }
      }
      let transfers = try StockQueries.transfers(store, site: site, inTransitOnly: inTransit)
      Console.output(StockQueries.transferListing(transfers).rendered(as: output.format))
    }
  }
}

extension TransferCommand.Dispatch: LedgerOptionHelp {
  static let siteHelp = "Sending site code."
  static let lotHelp = "Lot to send (default: first expiry first out)."
  static let dateHelp = "Day of dispatch, YYYY-MM-DD (default today)."
}

extension TransferCommand.Receive: LedgerOptionHelp {
  static let lotHelp = "Lot of the rejected stock, when the transfer carries several."
  static let dateHelp = "Day of arrival, YYYY-MM-DD (default today)."
}
