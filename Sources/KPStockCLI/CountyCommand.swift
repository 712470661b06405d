import ArgumentParser
import KPStock

struct CountyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "county",
    abstract: "Kenya's counties and their official codes.",
    subcommands: [List.self])

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List counties with their sub-counties and sites.", discussion: "Example: kpstock county list")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      Console.output(try CountyCatalog.listing(CountyCatalog.list(store)).rendered(as: output.format))
    }
  }
}
