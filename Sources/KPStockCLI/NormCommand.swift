import ArgumentParser
import KPStock

struct NormCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "norm",
    abstract: "Weekly quantity per person of a key population, used by the outreach-based forecast.",
    subcommands: [List.self, SetCommand.self])

  static let flags = FlagNames(renamed: ["per_person_per_week": "--qty", "effective_from": "--from"])

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the norms in force (or their whole history).",
      discussion: "Example: kpstock norm list --commodity MALE-CONDOM --history")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Commodity code.") var commodity: String?
    @Option(help: "Key population: FSW, MSW, MSM, TG, PWID, PWUD or PRISONER.") var population: String?
    @Option(help: "Show the norms in force on this date, YYYY-MM-DD (default today).") var on: String?
    @Flag(help: "Show every dated norm, not only those in force.") var history = false

    func validate() throws {
      if history && on != nil {
        throw ValidationError("--on and --history do not go together: --history lists every date")
      }
    }

    func run() throws {
      let store = try database.open()
      let reference = try ReferenceData.load(store)
      let today = try ProgrammeCalendar.today(store)
      let (commodity, population, date) = try NormCommand.flags.check {
        (
          try self.commodity.map { text throws(FieldError) in
            try reference.commodities.resolve(text, field: "commodity")
          },
          try self.population.map { text throws(FieldError) in
            try reference.populations.resolve(text, field: "population")
          },
          try on.map { text throws(FieldError) in try FieldParsing.date(text, field: "on") } ?? today
        )
      }
      let norms = try NormCatalog.list(
        store, on: date, history: history, commodity: commodity, population: population)
      Console.output(NormCatalog.listing(norms, history: history).rendered(as: output.format))
    }
  }

  struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "set",
      abstract: "Set a norm from a date on; earlier weeks keep the norm they had.",
      discussion:
        "Example: kpstock norm set --commodity MALE-CONDOM --population FSW --qty 4 --from 2026-12-01 --source 'rural median, Kwale survey'"
    )

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Commodity code.") var commodity: String
    @Option(help: "Key population code.") var population: String
    @Option(parsing: .unconditional, help: "Base units per person per week (decimals allowed).") var qty: String
    @Option(help: "Effective date, YYYY-MM-DD (default today).") var from: String?
    @Option(help: "Where the figure comes from.") var source: String
    @Option(help: "A county's own norm, which its sites use instead of the national one (code or name).")
    var county: String?
    @Option(help: "A site's own norm, which it uses instead of its county's or the national one.") var site: String?

    func run() throws {
      let store = try database.open()
      var values = InputValues()
      values["county"] = county
      values["site"] = site
      values["commodity"] = commodity
      values["population"] = population
      values["per_person_per_week"] = qty
      values["effective_from"] = from
      values["source"] = source
      let (norm, outcome) = try NormCommand.flags.check { try NormCatalog.set(store, values) }
      let verb = outcome == .inserted ? "set" : outcome == .updated ? "replaced" : "unchanged:"
      let scope = norm.siteCode.map { " at \($0)" } ?? norm.countyCode.map { " in county \($0)" } ?? ""
      Console.output(
        "\(verb) norm \(norm.commodityCode) for \(norm.populationCode)\(scope): "
          + "\(norm.quantityPerWeek) per person per week from \(norm.effectiveFrom)\n")
    }
  }
}
