import ArgumentParser
import Foundation
import KPStock

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "County reports: aggregate figures per site and commodity, as table, CSV or JSON.",
    discussion: """
      Scope: --county C, --site S or --national. Periods: an ISO week (2026-W47), a month (2026-11), a quarter \
      (2026-Q4) or a year (2026). Reports never name a client. See docs/reports.md.
      """,
    subcommands: [StockStatus.self, Expiry.self])

  /// Which sites a report covers: exactly one of --county, --site and --national.
  struct ScopeOptions: ParsableArguments {
    @Option(help: "County code or name.") var county: String?
    @Option(help: "Site code.") var site: String?
    @Flag(help: "Every site of the programme.") var national = false

    func scope(_ reference: ReferenceData) throws -> ReportScope {
      let given = [county != nil, site != nil, national].filter { $0 }.count
      guard given == 1 else {
        throw KPStockError(.badInput, "give one of --county, --site or --national")
      }
      return try FlagNames().check { () throws(FieldError) -> ReportScope in
        if let county { return .county(try reference.county(county, field: "county")) }
        if let site { return .site(try reference.sites.resolve(site, field: "site")) }
        return .national
      }
    }
  }

  struct StockStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "stock-status",
      abstract:
        "Per site and commodity at the close of the period: usable on hand, in transit, need, weeks of stock, status.",
      discussion: """
        The period's last day, or today while it runs (default: today). Need is the latest forecast run's echelon \
        need; status compares weeks of stock with the supply line's levels.
        Example: kpstock report stock-status --county Kwale --period 2026-W48 --format csv
        """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var scopeOptions: ScopeOptions
    @Option(help: "2026-W47, 2026-11, 2026-Q4 or 2026 (default: today).") var period: String?
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      let scope = try scopeOptions.scope(try ReferenceData.load(store))
      let (day, lines) = try FlagNames().check { try Reports.stockStatus(store, scope: scope, period: period) }
      let listing = ReportText.stockStatus(lines)
      if output.format == .table {
        Console.output("Stock status at the close of \(day)\n")
        Console.output(listing.table())
        Console.output(
          "\nStatus: " + Reports.stockStatuses.map { "\($0.status) = \($0.meaning)" }.joined(separator: "; ")
            + ". Quantities are base units.\n")
      } else {
        Console.output(listing.rendered(as: output.format))
      }
    }
  }
}

extension ReportCommand {
  struct Expiry: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Lots expiring within N days (default 90), or expired and still on the shelf, soonest first.",
      discussion: "Example: kpstock report expiry --county 002 --days 180 --format csv")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var scopeOptions: ScopeOptions
    @Option(help: "2026-W47, 2026-11, 2026-Q4 or 2026: taken at its close (default: today).") var period: String?
    @Option(parsing: .unconditional, help: "Days ahead (default 90).") var days: String = "90"
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      let scope = try scopeOptions.scope(try ReferenceData.load(store))
      let (day, lines) = try FlagNames().check {
        let ahead = try FieldParsing.integer(days, field: "days", range: 0...3660)
        return try Reports.expiry(store, scope: scope, period: period, days: ahead)
      }
      let listing = Listing(
        columns: [
          "site", "commodity", "lot", "expires_on", "days_left", "quantity", "weekly_need", "weeks_of_need",
        ],
        rows: lines.map { line in
          [
            .text(line.siteCode), .text(line.commodityCode), .text(line.lotCode), Cell(line.expiresOn),
            .integer(line.daysLeft), .integer(Int(line.quantity)), line.need.map { .integer(Int($0)) } ?? .empty,
            line.weeksOfNeed.map { .decimal($0) } ?? .empty,
          ]
        })
      if output.format == .table {
        Console.output(
          "Lots expiring within \(days) days of the close of \(day) (negative days: expired, on the shelf)\n")
      }
      Console.output(output.format == .table ? listing.table() : listing.rendered(as: output.format))
    }
  }
}

/// How reports are printed.
enum ReportText {
  static func stockStatus(_ lines: [StockStatusLine]) -> Listing {
    Listing(
      columns: [
        "site", "commodity", "usable_on_hand", "in_transit", "weekly_need", "weeks_of_stock", "status",
        "expiring_90_days",
      ],
      rows: lines.map { line in
        [
          .text(line.siteCode), .text(line.commodityCode), .integer(Int(line.usableOnHand)),
          .integer(Int(line.inTransit)), line.need.map { .integer(Int($0)) } ?? .empty,
          line.weeksOfStock.map { .decimal($0) } ?? .empty, .text(line.status),
          .integer(Int(line.expiringWithin90Days)),
        ]
      })
  }
}
