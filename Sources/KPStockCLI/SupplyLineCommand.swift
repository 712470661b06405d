import ArgumentParser
import KPStock

struct SupplyLineCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "supply-line",
    abstract: "Who supplies each site, per commodity category, and the max-min parameters for its orders.",
    subcommands: [List.self, SetCommand.self])

  static let flags = FlagNames(renamed: ["emergency_order_point_weeks": "--eop-weeks"])

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List supply lines.", discussion: "Example: kpstock supply-line list --supplier STORE-KWALE")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Supplied site code.") var site: String?
    @Option(help: "Supplying site code.") var supplier: String?
    @Option(
      name: .customLong("external-supplier"),
      help: "A supplier outside the programme instead (a county store's national medical store, e.g. KEMSA).")
    var externalSupplier: String?
    @Option(help: "County code or name of the supplied sites.") var county: String?
    @Option(help: "Commodity category.") var category: String?

    func run() throws {
      let store = try database.open()
      let reference = try ReferenceData.load(store)
      let filter = try SupplyLineCommand.flags.check {
        SupplyLineFilter(
          siteCode: try site.map { text throws(FieldError) in try reference.sites.resolve(text, field: "site") },
          supplierCode: try supplier.map { text throws(FieldError) in
            try reference.sites.resolve(text, field: "supplier")
          },
          countyCode: try county.map { text throws(FieldError) in try reference.county(text, field: "county") },
          category: try category.map { text throws(FieldError) in try reference.category(text, field: "category") })
      }
      let lines = try SupplyLineCatalog.list(store, filter: filter)
      Console.output(SupplyLineCatalog.listing(lines).rendered(as: output.format))
    }
  }

  struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "set",
      abstract: "Add or change the supply line for a site and category; options not given keep their value.",
      discussion: """
        A new line defaults to weekly forced ordering: lead time 7 days, review 7 days, 1 week safety stock, EOP 1 week.
        Example: kpstock supply-line set --site SAT-KINANGO --category condom --supplier DICE-KWALE --lead-time-days 2
        Example: kpstock supply-line set --site STORE-KWALE --category condom --external-supplier KEMSA --lead-time-days 28
        """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Supplied site code.") var site: String
    @Option(help: "condom, lubricant, injecting_equipment, opioid_agonist or overdose_reversal.") var category: String
    @Option(help: "Supplying site code.") var supplier: String?
    @Option(
      name: .customLong("external-supplier"),
      help: "A supplier outside the programme instead (a county store's national medical store, e.g. KEMSA).")
    var externalSupplier: String?
    @Option(name: .customLong("lead-time-days"), parsing: .unconditional, help: "Days from order to receipt.")
    var leadTimeDays: String?
    @Option(name: .customLong("review-period-days"), parsing: .unconditional, help: "Days between reviews.")
    var reviewPeriodDays: String?
    @Option(name: .customLong("safety-stock-weeks"), parsing: .unconditional, help: "Weeks of safety stock.")
    var safetyStockWeeks: String?
    @Option(help: "Max-min variant: forced, standard or continuous.") var variant: String?
    @Option(name: .customLong("eop-weeks"), parsing: .unconditional, help: "Emergency order point in weeks of stock.")
    var eopWeeks: String?

    func run() throws {
      let store = try database.open()
      var values = InputValues()
      values["site"] = site
      values["category"] = category
      values["supplier"] = supplier
      values["external_supplier"] = externalSupplier
      values["lead_time_days"] = leadTimeDays
      values["review_period_days"] = reviewPeriodDays
      values["safety_stock_weeks"] = safetyStockWeeks
      values["variant"] = variant
      values["emergency_order_point_weeks"] = eopWeeks
      let (line, outcome) = try SupplyLineCommand.flags.check { try SupplyLineCatalog.set(store, values) }
      let verb =
        switch outcome {
        case .inserted: "added"
        case .updated: "updated"
        case .unchanged: "unchanged:"
        }
      Console.output("\(verb) supply line\n")
      Console.output(SupplyLineCatalog.listing([line]).rendered(as: .table))
    }
  }
}
