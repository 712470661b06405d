import ArgumentParser
import KPStock

struct StockCardCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stock-card",
    abstract: "One commodity's movements at one site, each with the balance after it, like a paper bin card.",
    discussion: """
      Client UICs are never shown: a stock card is read over a counter.
      Example: kpstock stock-card --site DICE-UKUNDA --commodity MALE-CONDOM --from 2026-01-01
      """)

  @OptionGroup var database: DatabaseOptions
  @OptionGroup var output: FormatOption
  @Option(help: "Site code.") var site: String
  @Option(help: "Commodity code.") var commodity: String
  @Option(help: "First day to show, YYYY-MM-DD.") var from: String?
  @Option(help: "Last day to show, YYYY-MM-DD.") var to: String?

  func run() throws {
    let store = try database.open()
    let reference = try ReferenceData.load(store)
    let (site, commodity, from, to) = try FlagNames().check {
      (
        try reference.sites.resolve(self.site, field: "site"),
        try reference.commodities.resolve(self.commodity, field: "commodity"),
        try self.from.map { text throws(FieldError) in try FieldParsing.date(text, field: "from") },
        try self.to.map { text throws(FieldError) in try FieldParsing.date(text, field: "to") }
      )
    }
    // Swapped dates would print an empty card, which reads as "nothing happened".
    if let from, let to, from > to {
      throw KPStockError.badInput("--from: \(from) is after --to \(to)")
    }
    let lines = try StockQueries.stockCard(store, site: site, commodity: commodity, from: from, to: to)
    Console.output(StockQueries.stockCardListing(lines).rendered(as: output.format))
  }
}
