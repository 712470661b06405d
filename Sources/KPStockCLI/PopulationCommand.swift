import ArgumentParser
import KPStock

struct PopulationCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "population",
    abstract: "Key populations (FSW, MSW, MSM, TG, PWID, PWUD, PRISONER).",
    subcommands: [List.self])

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List key populations and their codes.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      Console.output(try PopulationCatalog.listing(PopulationCatalog.list(store)).rendered(as: output.format))
    }
  }
}
