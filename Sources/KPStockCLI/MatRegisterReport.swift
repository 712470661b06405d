import ArgumentParser
import KPStock

extension ReportCommand {
  /// The controlled-drug register: a site's page, not an aggregate report (it names clients by UIC).
  struct MatRegister: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "mat-register",
      abstract: "A site's methadone register: every receipt, dose, take-home, return and adjustment, with balances.",
      discussion: """
        Chronological, with the running balance in mg and in ml (each batch at its concentration), opening with the \
        balance the day before --from. It names clients by UIC: for clinic staff and inspectors, never shared as \
        a report.
        Example: kpstock report mat-register --site MAT-KOMBANI --from 2026-11-01 --to 2026-11-30
        """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "MAT clinic, prison or hospital code.") var site: String
    @Option(help: "First day, YYYY-MM-DD.") var from: String
    @Option(help: "Last day, YYYY-MM-DD.") var to: String

    func run() throws {
      let store = try database.open()
      let entries = try FlagNames().check {
        try Methadone.register(
          store, site: site, from: try FieldParsing.date(from, field: "from"),
          to: try FieldParsing.date(to, field: "to"))
      }
      Console.output(MatText.register(entries).rendered(as: output.format))
    }
  }
}
