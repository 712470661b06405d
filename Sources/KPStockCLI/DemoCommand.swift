import ArgumentParser
import EmbeddedCluster
import Foundation
import KPStock

struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Set up the Kwale demo from nothing and show what exists.",
    discussion: """
      Starts the embedded database (unless --database-url or DATABASE_URL names one), migrates it, loads
      reference data and the Kwale network, simulates 20 weeks of stock history and outreach reports up to today
      (kpstock simulate --profile kwale --weeks 20), prints a tour, forecasts the coming week for Kwale \
      (kpstock forecast run --county 002, after the eight weeks before it as they would have been made) and makes \
      its draft orders (kpstock orders generate), prints the county report of the last month that ended and writes \
      it as HTML (kpstock report county --format html). Running it again the \
      same day adds nothing.
      """)

  @OptionGroup var database: DatabaseOptions

  func run() throws {
    let store = try database.open(asOwner: true)
    let loaded = try Demo.load(store)
    Console.output(
      loaded.total == 0
        ? "kpstock demo: the Kwale demo was already loaded (\(database.target))\n"
        : "kpstock demo: added \(loaded.summary) (\(database.target))\n")
    let report = try Demo.simulate(store, progress: SimulateCommand.progressPrinter())
    Console.output(
      report.eventsWritten == 0
        ? "kpstock demo: the \(Demo.simulatedWeeks)-week Kwale stock history was already recorded "
          + "(\(report.eventsAlreadyRecorded) events)\n\n"
        : "kpstock demo: simulated \(report.daysSimulated) days of Kwale stock, \(report.firstDay) to "
          + "\(report.lastDay): \(report.eventsWritten) events, \(report.stockOutSiteDays) stock-out site-days\n\n")
    for section in Self.sections(try Demo.tour(store)) {
      Console.output("== \(section.title)\n\(section.text)\n")
    }
    try Demo.pastForecasts(store)
    let forecast = try Demo.forecast(store)
    Console.output("== Forecast of the coming week, \(forecast.week), Kwale\n")
    Console.output(ForecastText.summary(forecast, commodities: try Forecast.summary(store, run: forecast.id)) + "\n")
    Console.output(ForecastText.lines(try Forecast.lines(store, run: forecast.id), as: .table) + "\n")
    let (orders, lines, warnings) = try Demo.orders(store, run: forecast.id)
    Console.output("== Orders for the coming week, from forecast run \(forecast.id)\n")
    Console.output(OrderText.generated(orders, lines: lines, warnings: warnings) + "\n")
    let county = try Demo.countyReport(store)
    let window = county.window
    Console.output("== County report: \(window.scopeTitle), \(window.period.label) (kpstock report county)\n")
    let shown = ReportText.sections(county).filter { ["stock_status", "coverage", "stockouts"].contains($0.key) }
    Console.output(try ReportText.render(shown, document: county, format: .table) + "\n")
    let folder = try Self.reportFolder(database.target)
    let path = folder + "/kwale-county-\(window.period.label).html"
    try ReportFile.write(HTMLReport.render(county, generatedOn: window.today), to: path)
    Console.output("The whole county report (every part, with charts): \(path)\n\n")
    let methadone = try Demo.methadone(store)
    Console.output(
      "== Methadone at \(Demo.matClinic): clients today, and \(methadone.month) (kpstock report mat-monthly)\n")
    Console.output(
      methadone.statuses.map { "\($0.status): \($0.clients)" }.joined(separator: ", ") + "\n"
        + Listing(columns: ["figure", "value"], rows: methadone.figures.map { [.text($0.figure), .text($0.value)] })
        .table() + "\n")
    let explained = orders.first { $0.siteCode == "DICE-UKUNDA" }.map { "\($0.id)" } ?? "ORDER"
    Console.output(
      """
      Next: kpstock orders explain \(explained) --commodity MALE-CONDOM
            kpstock forecast explain \(forecast.id) --site DICE-UKUNDA --commodity MALE-CONDOM
            kpstock site list --county 002 --format csv
            kpstock supply-line list --supplier STORE-KWALE
            kpstock norm list --commodity MALE-CONDOM
            kpstock outreach list --site DICE-UKUNDA --format csv
            kpstock report fcdrr --site DICE-UKUNDA --period \(window.period.label)
            kpstock report consumption --county Kwale --period \(window.period.label) --format dhis2
            kpstock mat clients --site \(Demo.matClinic) --status defaulting
            kpstock report mat-register --site \(Demo.matClinic) --from \(window.period.firstDay) --to \(window.period.lastDay)
            KPSTOCK_USER=kwale_viewer kpstock report coverage --county Kwale   # as a user of the demo (docs/security.md)

      """)
  }
}

extension DemoCommand {
  /// Where the demo writes its HTML report: reports/ in kpstock's own folder (the embedded cluster's home, which
  /// $KPSTOCK_HOME sets), also when the database is a server's.
  static func reportFolder(_ target: DatabaseTarget) throws -> String {
    let home: String
    if case .embedded(let cluster) = target {
      home = cluster.configuration.home
    } else {
      home = ClusterConfiguration.defaultHome()
    }
    let folder = home + "/reports"
    do {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    } catch {
      throw KPStockError(.operational, "cannot make \(folder): \(error.localizedDescription)")
    }
    return folder
  }

  /// The tour as titled sections of text, in the order a newcomer reads them.
  static func sections(_ tour: Demo.Tour) -> [(title: String, text: String)] {
    let siteListing = Listing(
      columns: ["code", "name", "kind", "sub_county"],
      rows: tour.sites.map { [.text($0.code), .text($0.name), .text($0.kind), Cell($0.subCounty)] })
    let commodityListing = Listing(
      columns: ["code", "name", "base_unit", "pack_size", "lot_tracked"],
      rows: tour.commodities.map {
        [.text($0.code), .text($0.name), .text($0.baseUnit), .integer($0.packSize), .boolean($0.lotTracked)]
      })
    var sections: [(title: String, text: String)] = [
      (
        "Reference data",
        "\(tour.counties) counties, \(tour.populations) key populations, "
          + "\(tour.commodities.count) commodities, \(tour.normsInForce) norms in force\n"
      ),
      ("Kwale county (002): \(tour.sites.count) sites", siteListing.rendered(as: .table)),
      ("Supply network", supplyTree(sites: tour.sites, lines: tour.supplyLines)),
      ("Commodities", commodityListing.rendered(as: .table)),
    ]
    if !tour.stock.isEmpty {
      sections.append(
        ("Stock on hand at \(tour.site), by lot", StockQueries.stockListing(tour.stock).rendered(as: .table)))
      sections.append(
        (
          "Stock card: \(tour.commodity) at \(tour.site), \(tour.cardFrom) to \(tour.cardTo)",
          StockQueries.stockCardListing(tour.stockCard).rendered(as: .table)
        ))
    }
    return sections
  }

  /// Draws who supplies whom, from the sites nobody supplies downwards, with each link's categories.
  static func supplyTree(sites: [Site], lines: [SupplyLine]) -> String {
    let names = Dictionary(sites.map { ($0.code, $0.name) }) { first, _ in first }
    var children: [String: [String: [String]]] = [:]
    for line in lines {
      guard let supplier = line.supplierCode else { continue }
      children[supplier, default: [:]][line.siteCode, default: []].append(line.category)
    }
    let supplied = Set(lines.filter { $0.supplierCode != nil }.map(\.siteCode))
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

extension DemoCommand: CommitsAsItGoes {
  static var keptWhenInterrupted: String {
    "the weeks recorded before the one in progress are kept; run it again to carry on"
  }
}
