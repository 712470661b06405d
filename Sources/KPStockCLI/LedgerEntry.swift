import ArgumentParser
import KPStock

/// `--note` and `--key`, which every command that writes to the stock ledger takes.
struct EntryOptions: ParsableArguments {
  @Option(help: "Free text kept with the entry, at most 500 characters. Never a client's name.")
  var note: String?
  @Option(
    help: ArgumentHelp(
      "Idempotency key, up to 100 characters.",
      discussion: "Running the same entry again with the same key records nothing new, so a retry is safe."))
  var key: String?
}

/// What the shared ledger options say in one command's help: the same flag asks for a different thing in each (the
/// lot a receipt brings, the lot a dispense takes from, the lot a count found).
protocol LedgerOptionHelp {
  static var siteHelp: String { get }
  static var qtyHelp: String { get }
  static var lotHelp: String { get }
  static var dateHelp: String { get }
}

extension LedgerOptionHelp {
  static var siteHelp: String { "Site code." }
  static var qtyHelp: String { "Quantity in base units." }
}

/// `--lot` and `--date`: how every ledger entry names its stock and its day, including the receipt of a transfer,
/// which names neither site nor commodity.
struct LotDayOptions<Help: LedgerOptionHelp>: ParsableArguments {
  @Option(help: ArgumentHelp(Help.lotHelp)) var lot: String?
  @Option(help: ArgumentHelp(Help.dateHelp)) var date: String?

  /// Fills in the values these options carry, keyed as the domain reads them.
  func add(to values: inout InputValues) {
    values["lot"] = lot
    values["date"] = date
  }
}

/// `--site`, `--commodity`, `--qty`, `--lot` and `--date`, which every command that moves one commodity's stock at
/// one site takes, declared once so their parsing cannot drift apart between commands. `EntryOptions` follows each
/// command's own options, so `--note` and `--key` stay last in its help.
struct LedgerLineOptions<Help: LedgerOptionHelp>: ParsableArguments {
  @Option(help: ArgumentHelp(Help.siteHelp)) var site: String
  @Option(help: "Commodity code.") var commodity: String
  @Option(parsing: .unconditional, help: ArgumentHelp(Help.qtyHelp)) var qty: String
  @OptionGroup var lotAndDay: LotDayOptions<Help>

  /// The values these options carry, keyed as the domain reads them.
  var values: InputValues {
    var values = InputValues(["site": site, "commodity": commodity, "qty": qty])
    lotAndDay.add(to: &values)
    return values
  }
}

/// The one way the ledger commands write: judge every flag, post the request, print what it recorded.
enum LedgerEntry {
  /// Field values and database refusals both come out as `--flag: problem`, exit status 2, and a failed
  /// request writes nothing: the posting function checks everything before its single insert.
  static func record<Request: LedgerRequest>(
    _ database: DatabaseOptions, _ values: InputValues, entry: EntryOptions, flags: FlagNames = FlagNames(),
    _ request: (LedgerInput, InputValues) throws(FieldError) -> Request
  ) throws {
    var values = values
    values["note"] = entry.note
    let store = try database.open()
    let posting = try flags.check {
      let key = try LedgerInput.key(entry.key)
      let request = try request(try LedgerInput.load(store), values)
      return try Ledger.post(store, request, key: key)
    }
    Console.output(posting.summary)
  }
}
