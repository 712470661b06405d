import ArgumentParser
import KPStock

struct ImportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Load reference data from CSV files, all or nothing.",
    discussion: """
      Each file needs a header row; columns are as in 'kpstock <thing> list --format csv'. Rows whose code
      exists replace it; columns left out of the file keep their stored values. Every bad row is reported
      as FILE:LINE: column: problem, and then nothing is written.
      """,
    subcommands: [Sites.self, Commodities.self, Norms.self, SupplyLines.self])

  struct FileOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "CSV file (UTF-8, with or without BOM; CRLF or LF).") var file: String
    @Flag(name: .customLong("dry-run"), help: "Check the file and report what would change; write nothing.")
    var dryRun = false

    func run(_ table: ReferenceTable) throws {
      let csv = try CSVReader.read(path: file)
      let connection = try database.open()
      let summary = try ReferenceImport.load(table, from: csv, into: connection, dryRun: dryRun)
      Console.output((dryRun ? "dry run, nothing written: " : "") + summary.description + "\n")
    }
  }

  struct Sites: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import sites: code,name,kind,county[,sub_county,dhis2_uid,opened_on,closed_on].",
      discussion: "Example: kpstock import sites new-sites.csv --dry-run")
    @OptionGroup var options: FileOptions
    func run() throws { try options.run(.sites) }
  }

  struct Commodities: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Import commodities: code,name,category,base_unit,pack_size[,pack_rounding_threshold,lot_tracked,controlled].")
    @OptionGroup var options: FileOptions
    func run() throws { try options.run(.commodities) }
  }

  struct Norms: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import norms: commodity,population,per_person_per_week,effective_from,source.")
    @OptionGroup var options: FileOptions
    func run() throws { try options.run(.norms) }
  }

  struct SupplyLines: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "supply-lines",
      abstract:
        "Import supply lines: site,category,supplier[,lead_time_days,review_period_days,safety_stock_weeks,variant,emergency_order_point_weeks]."
    )
    @OptionGroup var options: FileOptions
    func run() throws { try options.run(.supplyLines) }
  }
}
