import ArgumentParser
import KPStock

struct OutreachCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "outreach",
    abstract: "People reached by peer educators, week by week: what the outreach-based forecast projects.",
    discussion: """
      A week is an ISO week, 2026-W47 (or 2026W47). Reports of one site, week and population are summed over peer \
      educators and hotspots; recording the same site, week, population, worker and hotspot again replaces the \
      figures and keeps the old ones. Files: kpstock import outreach.
      """,
    subcommands: [Record.self, List.self])

  struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Record (or correct) the people reached at a DICE or satellite in a week.",
      discussion: "Example: kpstock outreach record --site DICE-UKUNDA --week 2026-W47 --population FSW --reached 236")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "DICE or satellite code.") var site: String
    @Option(help: "ISO week, 2026-W47.") var week: String
    @Option(help: "Key population code.") var population: String
    @Option(parsing: .unconditional, help: "People reached that week (unique individuals).") var reached: String
    @Option(name: .customLong("new"), parsing: .unconditional, help: "New enrolments that week (default 0).")
    var newEnrolments: String?
    @Option(help: "Peer educator's code, when the report is per educator.") var worker: String?
    @Option(help: "street, bar, brothel, home, injecting_den, beach, virtual or other.") var hotspot: String?
    @Option(help: "Where the figure comes from (a register page, a form number): kept with it for an auditor.")
    var key: String?

    func run() throws {
      let store = try database.open()
      let report = try FlagNames().check {
        try OutreachImport.record(
          store, kind: .reach,
          fields: [
            "site": site, "week": week, "population": population, "reached": reached, "new": newEnrolments,
            "worker": worker, "hotspot": hotspot, "key": key,
          ])
      }
      let verb =
        report.added > 0 ? "recorded" : report.replaced > 0 ? "corrected (the old figures are kept)" : "unchanged:"
      Console.output("\(verb) \(reached) \(population.uppercased()) reached at \(site.uppercased()) in \(week)\n")
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List outreach reports as recorded.",
      discussion: "Example: kpstock outreach list --county 002 --from-week 2026-W40 --format csv")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Site code.") var site: String?
    @Option(help: "County code.") var county: String?
    @Option(name: .customLong("from-week"), help: "First ISO week.") var fromWeek: String?
    @Option(name: .customLong("to-week"), help: "Last ISO week.") var toWeek: String?

    func run() throws {
      let store = try database.open()
      let reports = try FlagNames().check {
        try Outreach.reach(store, site: site, county: county, fromWeek: fromWeek, toWeek: toWeek)
      }
      Console.output(Outreach.listing(reports).rendered(as: output.format))
    }
  }
}

struct SizeEstimateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "size-estimate",
    abstract: "People in a key population per site or county and year: the cap on projected reach.",
    subcommands: [SetCommand.self, List.self])

  struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "set",
      abstract: "Set (or correct) a size estimate; the figure it replaces is kept.",
      discussion:
        "Example: kpstock size-estimate set --area 002 --population FSW --year 2026 --size 4200 --source 'KP mapping 2025'"
    )

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Site code or county code.") var area: String
    @Option(help: "Key population code.") var population: String
    @Option(parsing: .unconditional, help: "Year, 2026.") var year: String
    @Option(parsing: .unconditional, help: "People in the population.") var size: String
    @Option(help: "Where the figure comes from.") var source: String

    func run() throws {
      let store = try database.open()
      let report = try FlagNames().check {
        try OutreachImport.record(
          store, kind: .sizeEstimates,
          fields: ["area": area, "population": population, "year": year, "size": size, "source": source])
      }
      let verb = report.added > 0 ? "set" : report.replaced > 0 ? "replaced (the old figure is kept)" : "unchanged:"
      Console.output(
        "\(verb) size estimate of \(population.uppercased()) in \(area.uppercased()) for \(year): \(size)\n")
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List size estimates.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Key population code.") var population: String?

    func run() throws {
      let store = try database.open()
      Console.output(
        Outreach.listing(try Outreach.sizeEstimates(store, population: population)).rendered(as: output.format))
    }
  }
}
