import ArgumentParser
import KPStock

struct SiteCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "site",
    abstract: "List, show, add and update sites (stores, DICEs, satellites, MAT clinics, prisons, hospitals).",
    subcommands: [List.self, Show.self, Add.self, Update.self])

  static let flags = FlagNames(renamed: ["code": "CODE"])

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List sites.",
      discussion: "Example: kpstock site list --county 002 --format csv")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "County code or name, e.g. 002 or Kwale.") var county: String?
    @Option(help: "Site kind: store, dice, satellite, mat_clinic, prison or hospital.") var kind: String?
    @Option(name: .customLong("sub-county"), help: "Sub-county name.") var subCounty: String?
    @Flag(name: .customLong("open-only"), help: "Leave out sites that have closed.") var openOnly = false

    func run() throws {
      let store = try database.open()
      let reference = try ReferenceData.load(store)
      var filter = SiteFilter(includeClosed: !openOnly)
      try SiteCommand.flags.check {
        filter.countyCode = try county.map { text throws(FieldError) in try reference.county(text, field: "county") }
        filter.kind = try kind.map { text throws(FieldError) in
          try FieldParsing.choice(text, field: "kind", noun: "site kind", from: reference.siteKinds)
        }
        if let subCounty {
          filter.subCounty = try reference.subCounty(subCounty, county: filter.countyCode, field: "sub_county")
        }
      }
      let sites = try SiteCatalog.list(store, filter: filter)
      Console.output(SiteCatalog.listing(sites).rendered(as: output.format))
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one site.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Argument(help: "Site code, e.g. DICE-UKUNDA (any case).") var code: String

    func run() throws {
      let store = try database.open()
      let reference = try ReferenceData.load(store)
      let site = try SiteCatalog.find(store, code: try reference.sites.resolveArgument(code))!
      Console.output(
        SiteCatalog.listing([site]).record(at: 0).rendered(as: output.format))
    }
  }

  struct SiteFields: ParsableArguments {
    @Option(help: "Site name.") var name: String?
    @Option(help: "store, dice, satellite, mat_clinic, prison or hospital.") var kind: String?
    @Option(help: "County code or name, e.g. 002 or Kwale.") var county: String?
    @Option(name: .customLong("sub-county"), help: "Sub-county name; empty to clear.") var subCounty: String?
    @Option(name: .customLong("dhis2-uid"), help: "DHIS2/KHIS org-unit uid; empty to clear.") var dhis2UID: String?
    @Option(name: .customLong("opened-on"), help: "Opening date, YYYY-MM-DD; empty to clear.") var openedOn: String?
    @Option(name: .customLong("closed-on"), help: "Closing date, YYYY-MM-DD; empty to clear.") var closedOn: String?

    var values: InputValues {
      var values = InputValues()
      values["name"] = name
      values["kind"] = kind
      values["county"] = county
      values["sub_county"] = subCounty
      values["dhis2_uid"] = dhis2UID
      values["opened_on"] = openedOn
      values["closed_on"] = closedOn
      return values
    }
  }

  struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Add a site.",
      discussion:
        "Example: kpstock site add DICE-LIKONI --name 'Likoni DICE' --kind dice --county 001 --sub-county Likoni"
    )

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "New site code: 2-32 letters, digits or dashes.") var code: String
    @OptionGroup var fields: SiteFields

    func run() throws {
      let store = try database.open()
      var values = fields.values
      values["code"] = code
      let site = try SiteCommand.flags.check { try SiteCatalog.add(store, values) }
      Console.output("added site \(site.code)\n")
      Console.output(SiteCatalog.listing([site]).record(at: 0).rendered(as: .table))
    }
  }

  struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Change a site's details; only the options given change.",
      discussion: "Example: kpstock site update SAT-MATUGA --closed-on 2026-12-31")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "Site code.") var code: String
    @OptionGroup var fields: SiteFields

    func run() throws {
      let values = fields.values
      guard !values.values.isEmpty else {
        throw KPStockError.badInput("nothing to change: give at least one of --name, --kind, --county, ...")
      }
      let store = try database.open()
      let (site, outcome) = try SiteCommand.flags.check { try SiteCatalog.update(store, code: code, values) }
      Console.output(
        outcome == .unchanged ? "site \(site.code) already had these values\n" : "updated site \(site.code)\n")
      Console.output(SiteCatalog.listing([site]).record(at: 0).rendered(as: .table))
    }
  }

}
