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

/// `--site` and `--commodity`, which open every command that moves one commodity's stock at one site, declared
/// once so their help and parsing cannot drift apart. A transfer's dispatch names its sending site among other
/// sites, so it keeps its own.
struct StockLineOptions: ParsableArguments {
  @Option(help: "Site code.") var site: String
  @Option(help: "Commodity code.") var commodity: String

  var values: InputValues { InputValues(["site": site, "commodity": commodity]) }
}

/// The one way the ledger commands write: judge every flag, post the request, print what it recorded.
enum LedgerEntry {
  /// Field values and database refusals both come out as `--flag: problem`, exit status 2, and a failed
  /// request writes nothing: the posting function checks everything before its single insert.
  static func record<Request: LedgerRequest>(
    _ database: DatabaseOptions, _ values: InputValues, options: EntryOptions, flags: FlagNames = FlagNames(),
    _ request: (LedgerInput, InputValues) throws(FieldError) -> Request
  ) throws {
    var values = values
    values["note"] = options.note
    let store = try database.open()
    let posting = try flags.check {
      let key = try LedgerInput.key(options.key)
      let request = try request(try LedgerInput.load(store), values)
      return try Ledger.post(store, request, key: key)
    }
    Console.output(posting.summary)
  }
}
