import Postgres

/// `kpstock demo`: the Kwale network loaded from nothing, and a short tour of what exists.
public enum Demo {
  public struct Tour: Sendable {
    public var sections: [(title: String, text: String)]
  }

  /// Weeks of synthetic stock history the demo writes: enough for receipts, transfers, dispensing, expiry and
  /// a stock-out or two, while the demo stays quick (the simulate command defaults to 26).
  public static let simulatedWeeks = 12
  /// The site the tour shows stock for, and the commodity of its stock card: needle-syringe sets move in every
  /// way (in from the store, out to two satellites, to PWID by outreach and at the clinic) yet few enough times
  /// that two weeks fit on a screen or two, where male condoms would take some 200 lines.
  static let tourSite = "DICE-UKUNDA"
  static let tourCommodity = "NS-SET"
  static let stockCardDays = 14

  /// Loads reference data and the Kwale network in one transaction (idempotent: a second run adds nothing).
  public static func load(_ store: Store) throws -> Seeds.Result {
    try store.run { try load($0) }
  }

  static func load(_ connection: Connection) throws -> Seeds.Result {
    try connection.transaction { connection in
      var result = try Seeds.loadReference(connection)
      result.added.merge(try Seeds.loadKwaleDemo(connection).added) { $0 + $1 }
      return result
    }
  }

  /// Writes the Kwale stock history up to today (seed 1). A second run the same day adds nothing; a later run
  /// adds the days since.
  public static func simulate(_ store: Store, progress: ((SimulationProgress) -> Void)? = nil) throws
    -> SimulationReport
  {
    try store.run { try simulate($0, progress: progress) }
  }

  static func simulate(
    _ connection: Connection, progress: ((SimulationProgress) -> Void)? = nil
  ) throws -> SimulationReport {
    try Simulator.run(connection, profile: .kwale, weeks: simulatedWeeks, seed: 1, progress: progress)
  }

  public static func tour(_ store: Store) throws -> Tour {
    try store.run { try tour($0) }
  }

  static func tour(_ connection: Connection) throws -> Tour {
    let reference = try ReferenceData.load(connection)
    let sites = try SiteCatalog.list(connection, filter: SiteFilter(countyCode: "002"))
    let lines = try SupplyLineCatalog.list(connection, filter: SupplyLineFilter(countyCode: "002"))
    let commodities = try CommodityCatalog.list(connection)
    let norms = try NormCatalog.list(connection, on: try ProgrammeCalendar.today(connection))
    let siteListing = Listing(
      columns: ["code", "name", "kind", "sub_county"],
      rows: sites.map { [.text($0.code), .text($0.name), .text($0.kind), Cell($0.subCounty)] })
    let commodityListing = Listing(
      columns: ["code", "name", "base_unit", "pack_size", "lot_tracked"],
      rows: commodities.map {
        [.text($0.code), .text($0.name), .text($0.baseUnit), .integer($0.packSize), .boolean($0.lotTracked)]
      })
    var sections: [(title: String, text: String)] = [
      (
        "Reference data",
        "\(reference.counties.count) counties, \(reference.populations.codes.count) key populations, "
          + "\(commodities.count) commodities, \(norms.count) norms in force\n"
      ),
      ("Kwale county (002): \(sites.count) sites", siteListing.rendered(as: .table)),
      ("Supply network", supplyTree(sites: sites, lines: lines)),
      ("Commodities", commodityListing.rendered(as: .table)),
    ]
    let stock = try StockQueries.stock(connection, site: tourSite)
    if !stock.isEmpty {
      sections.append(
        (
          "Stock on hand at \(tourSite), by lot",
          StockQueries.stockListing(stock).rendered(as: .table)
        ))
      let today = try ProgrammeCalendar.today(connection)
      let from = today.adding(days: 1 - stockCardDays)
      let card = try StockQueries.stockCard(connection, site: tourSite, commodity: tourCommodity, from: from, to: today)
      sections.append(
        (
          "Stock card: \(tourCommodity) at \(tourSite), \(from) to \(today)",
          StockQueries.stockCardListing(card).rendered(as: .table)
        ))
    }
    return Tour(sections: sections)
  }

  /// Draws who supplies whom, from the sites nobody supplies downwards, with each link's categories.
  static func supplyTree(sites: [Site], lines: [SupplyLine]) -> String {
    let names = Dictionary(sites.map { ($0.code, $0.name) }) { first, _ in first }
    var children: [String: [String: [String]]] = [:]
    for line in lines {
      children[line.supplierCode, default: [:]][line.siteCode, default: []].append(line.category)
    }
    let supplied = Set(lines.map(\.siteCode))
    let roots = sites.map(\.code).filter { !supplied.contains($0) && children[$0] != nil }
    var output = ""
    func draw(_ code: String, prefix: String, categories: [String]?, isLast: Bool, depth: Int) {
      let branch = depth == 0 ? "" : (isLast ? "└─ " : "├─ ")
      let label = categories.map { "  [\($0.joined(separator: ", "))]" } ?? ""
      output += prefix + branch + code + "  " + (names[code] ?? "") + label + "\n"
      let next = depth == 0 ? "" : prefix + (isLast ? "   " : "│  ")
      let kids = (children[code] ?? [:]).sorted { $0.key < $1.key }
      for (index, kid) in kids.enumerated() {
        draw(kid.key, prefix: next, categories: kid.value.sorted(), isLast: index == kids.count - 1, depth: depth + 1)
      }
    }
    for root in roots.sorted() { draw(root, prefix: "", categories: nil, isLast: true, depth: 0) }
    return output.isEmpty ? "(no supply lines)\n" : output
  }
}
