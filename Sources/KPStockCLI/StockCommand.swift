import ArgumentParser
import KPStock

struct StockCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stock",
    abstract: "Stock on hand per site, commodity and lot, and what is in transit to each site.",
    discussion: """
      Lots past their expiry show as expired: they are still on hand until adjusted out with --reason expired.
      Example: kpstock stock --county 002 --commodity MALE-CONDOM
      """)

  @OptionGroup var database: DatabaseOptions
  @OptionGroup var output: FormatOption
  @Option(help: "County code or name, e.g. 002 or Kwale.") var county: String?
  @Option(help: "Site code.") var site: String?
  @Option(help: "Commodity code.") var commodity: String?

  func run() throws {
    let store = try database.open()
    let reference = try ReferenceData.load(store)
    let (county, site, commodity) = try FlagNames().check {
      (
        try self.county.map { text throws(FieldError) in try reference.county(text, field: "county") },
        try self.site.map { text throws(FieldError) in try reference.sites.resolve(text, field: "site") },
        try self.commodity.map { text throws(FieldError) in
          try reference.commodities.resolve(text, field: "commodity")
        }
      )
    }
    let lines = try StockQueries.stock(store, county: county, site: site, commodity: commodity)
    Console.output(StockQueries.stockListing(lines).rendered(as: output.format))
  }
}
