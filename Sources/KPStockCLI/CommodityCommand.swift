import ArgumentParser
import KPStock

struct CommodityCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "commodity",
    abstract: "List, show, add and update commodities (condoms, lubricant, injecting equipment, methadone, naloxone).",
    subcommands: [List.self, Show.self, Add.self, Update.self])

  static let flags = FlagNames(renamed: ["code": "CODE"])

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List commodities.", discussion: "Example: kpstock commodity list --category condom")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "condom, lubricant, injecting_equipment, opioid_agonist or overdose_reversal.") var category: String?

    func run() throws {
      let store = try database.open()
      let reference = try ReferenceData.load(store)
      let category = try CommodityCommand.flags.check {
        try self.category.map { text throws(FieldError) in try reference.category(text, field: "category") }
      }
      let commodities = try CommodityCatalog.list(store, category: category)
      Console.output(CommodityCatalog.listing(commodities).rendered(as: output.format))
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one commodity.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Argument(help: "Commodity code, e.g. MALE-CONDOM (any case).") var code: String

    func run() throws {
      let store = try database.open()
      let reference = try ReferenceData.load(store)
      let commodity = try CommodityCatalog.find(store, code: try reference.commodities.resolveArgument(code))!
      Console.output(CommodityCatalog.listing([commodity]).record(at: 0).rendered(as: output.format))
    }
  }

  struct CommodityFields: ParsableArguments {
    @Option(help: "Commodity name.") var name: String?
    @Option(help: "condom, lubricant, injecting_equipment, opioid_agonist or overdose_reversal.") var category: String?
    @Option(name: .customLong("base-unit"), help: "piece or mg: the unit every quantity is counted in.")
    var baseUnit: String?
    @Option(name: .customLong("pack-size"), parsing: .unconditional, help: "Base units per pack.") var packSize: String?
    @Option(
      name: .customLong("pack-rounding-threshold"), parsing: .unconditional,
      help: "A remainder above this many base units rounds an order up one pack (default 0).")
    var packRoundingThreshold: String?
    @Option(name: .customLong("lot-tracked"), help: "true or false: receipts need lot and expiry.")
    var lotTracked: String?
    @Option(help: "true or false: a controlled drug (must be lot-tracked).") var controlled: String?

    var values: InputValues {
      var values = InputValues()
      values["name"] = name
      values["category"] = category
      values["base_unit"] = baseUnit
      values["pack_size"] = packSize
      values["pack_rounding_threshold"] = packRoundingThreshold
      values["lot_tracked"] = lotTracked
      values["controlled"] = controlled
      return values
    }
  }

  struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Add a commodity.",
      discussion:
        "Example: kpstock commodity add LUBRICANT-TUBE --name 'Lubricant tube 50 ml' --category lubricant --base-unit piece --pack-size 48 --lot-tracked true"
    )

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "New commodity code: 2-32 letters, digits or dashes.") var code: String
    @OptionGroup var fields: CommodityFields

    func run() throws {
      let store = try database.open()
      var values = fields.values
      values["code"] = code
      let commodity = try CommodityCommand.flags.check { try CommodityCatalog.add(store, values) }
      Console.output("added commodity \(commodity.code)\n")
      Console.output(CommodityCatalog.listing([commodity]).record(at: 0).rendered(as: .table))
    }
  }

  struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Change a commodity's details; only the options given change.",
      discussion: "Example: kpstock commodity update FEMALE-CONDOM --pack-size 25")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "Commodity code.") var code: String
    @OptionGroup var fields: CommodityFields

    func run() throws {
      let values = fields.values
      guard !values.values.isEmpty else {
        throw KPStockError.badInput("nothing to change: give at least one of --name, --category, --pack-size, ...")
      }
      let store = try database.open()
      let (commodity, outcome) = try CommodityCommand.flags.check {
        try CommodityCatalog.update(store, code: code, values)
      }
      Console.output(
        outcome == .unchanged
          ? "commodity \(commodity.code) already had these values\n" : "updated commodity \(commodity.code)\n")
      Console.output(CommodityCatalog.listing([commodity]).record(at: 0).rendered(as: .table))
    }
  }

}
