import ArgumentParser
import KPStock

struct ReasonCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reason",
    abstract: "Reasons for adjustments, count variances and rejected deliveries.",
    subcommands: [List.self, Add.self])

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List reasons and which way each may move stock.", discussion: "Example: kpstock reason list")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      Console.output(StockReasons.listing(try StockReasons.list(store)).rendered(as: output.format))
    }
  }

  struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Add a reason.",
      discussion: "Example: kpstock reason add recalled --direction out --description 'Recalled by the manufacturer'")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "New reason code: 2-32 lower-case letters, digits or dashes.") var code: String
    @Option(help: "in (adds stock), out (removes it) or either (needs +N or -N).") var direction: String
    @Option(help: "What the reason means, for reports.") var description: String

    func run() throws {
      let store = try database.open()
      let reason = try FlagNames(renamed: ["code": "CODE"]).check {
        try StockReasons.add(store, code: code, description: description, direction: direction)
      }
      Console.output("added reason \(reason.code) (\(reason.direction)): \(reason.description)\n")
    }
  }
}
