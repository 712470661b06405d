import ArgumentParser
import KPStock

struct UndoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "undo",
    abstract: "Reverse a mistaken entry with an opposite event on the original's day; nothing is deleted.",
    discussion: """
      The event id is printed when an entry is recorded and shown on the stock card. Transfers are corrected \
      by receiving with --rejected, or with an adjustment.
      Example: kpstock undo 42 --reason correction --note 'entered twice'
      """)

  @OptionGroup var database: DatabaseOptions
  @Argument(help: "Id of the event to reverse.") var event: String
  @Option(help: "Why it is undone, e.g. correction (kpstock reason list).") var reason: String
  @OptionGroup var entry: EntryOptions

  func run() throws {
    var values = InputValues()
    values["event"] = event
    values["reason"] = reason
    try LedgerEntry.record(
      database, values, entry: entry, flags: FlagNames(renamed: ["event": "EVENT", "date": "EVENT"])
    ) {
      input, values throws(FieldError) in
      try input.undo(values)
    }
  }
}
