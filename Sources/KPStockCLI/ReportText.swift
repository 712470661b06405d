import Foundation
import KPStock

/// One table of a report: its rows for CSV and JSON (stable snake_case columns, documented in docs/reports.md), and
/// for a terminal a narrower listing where the full one would not fit in 100 columns.
struct ReportSection {
  var key: String
  var title: String
  var data: Listing
  var table: Listing?
  var legend: String?
  /// Printed in the table format only (its rows are folded into another section's column for CSV and JSON).
  var tableOnly = false
}

/// How report documents are printed as listings.
enum ReportText {
  static func render(_ sections: [ReportSection], document: ReportDocument, format: ReportFormat) throws -> String {
    let window = document.window
    switch format {
    case .table:
      var text = "\(window.scopeTitle), \(window.period.label) (\(window.period.firstDay) to \(window.period.lastDay))"
      text += "; stock at the close of \(window.day)\n"
      for section in sections {
        text += "\n\(section.title)\n"
        text += (section.table ?? section.data).table()
        if let legend = section.legend { text += wrapped(legend) }
      }
      if !document.suppressed { text += "\nSmall numbers are NOT withheld in this report: do not share it.\n" }
      return text
    case .csv:
      let shown = sections.filter { !$0.tableOnly }
      guard shown.count == 1 else {
        throw KPStockError(
          .badInput,
          "--format: csv holds one table and this report has \(shown.count): use json, html or table, "
            + "or run each report with --format csv")
      }
      return shown[0].data.csv()
    case .json:
      let shown = sections.filter { !$0.tableOnly }
      if shown.count == 1 { return shown[0].data.json() }
      var fields = [
        ("scope", JSONText.quoted(window.scopeTitle)), ("period", JSONText.quoted(window.period.label)),
        ("first_day", JSONText.quoted(window.period.firstDay.description)),
        ("last_day", JSONText.quoted(window.period.lastDay.description)),
        ("stock_day", JSONText.quoted(window.day.description)),
      ]
      fields += shown.map { ($0.key, $0.data.json().trimmingCharacters(in: .newlines)) }
      return "{\n" + fields.map { "\(JSONText.quoted($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    case .dhis2, .html:
      preconditionFailure("rendered by the domain")
    }
  }

  /// A legend folded at word boundaries to fit a 100-column terminal.
  static func wrapped(_ text: String, width: Int = 100) -> String {
    var lines: [String] = []
    var line = ""
    for word in text.split(separator: " ") {
      if !line.isEmpty && line.count + 1 + word.count > width {
        lines.append(line)
        line = ""
      }
      line += (line.isEmpty ? "" : " ") + word
    }
    if !line.isEmpty { lines.append(line) }
    return lines.map { $0 + "\n" }.joined()
  }

  static func sections(_ document: ReportDocument) -> [ReportSection] {
    document.parts.flatMap { part -> [ReportSection] in
      switch part {
      case .stockStatus: [stockStatus(document)]
      case .consumption: [consumption(document)]
      case .coverage: [coverage(document)]
      case .stockouts: [stockouts(document)]
      case .expiry: [expiry(document)]
      case .orders: [orders(document)]
      case .fcdrr: fcdrr(document)
      }
    }
  }

  static func integer(_ value: Int64?) -> Cell { value.map { .integer(Int($0)) } ?? .empty }
  static func decimal(_ value: Decimal?) -> Cell { value.map { .decimal($0) } ?? .empty }

  static func stockStatus(_ document: ReportDocument) -> ReportSection {
    let rows: [[Cell]] = document.stockStatus.map { line in
      [
        .text(line.siteCode), .text(line.commodityCode), integer(line.usableOnHand), integer(line.inTransit),
        integer(line.need), decimal(line.weeksOfStock), .text(line.status), integer(line.expiringWithin90Days),
      ]
    }
    return ReportSection(
      key: "stock_status", title: "Stock status at the close of \(document.window.day)",
      data: Listing(
        columns: [
          "site", "commodity", "usable_on_hand", "in_transit", "weekly_need", "weeks_of_stock", "status",
          "expiring_90_days",
        ], rows: rows),
      table: Listing(
        columns: ["site", "commodity", "usable", "in_transit", "need_week", "weeks", "status", "exp_90d"], rows: rows),
      legend: "Usable: on hand in lots not expired; need week: the latest forecast's echelon weekly need; exp 90d: "
        + "usable units expiring within 90 days. Status: "
        + Reports.stockStatuses.map { "\($0.status) = \($0.meaning)" }.joined(separator: "; ")
        + ". Quantities are base units.")
  }

  static func consumption(_ document: ReportDocument) -> ReportSection {
    let rows: [[Cell]] = document.consumption.map { line in
      [
        .text(line.siteCode), .text(line.commodityCode), .text(line.populationCode), .text(line.channel),
        integer(line.dispensed), .integer(line.closedDays), .integer(line.stockedOutDays), integer(line.adjusted),
      ]
    }
    return ReportSection(
      key: "consumption", title: "Consumption over the period's closed days",
      data: Listing(
        columns: [
          "site", "commodity", "population", "channel", "dispensed", "closed_days", "stocked_out_days", "adjusted",
        ], rows: rows),
      table: Listing(
        columns: ["site", "commodity", "population", "channel", "dispensed", "days", "out", "adjusted"], rows: rows),
      legend: "Days: the period's closed days; out: those with no usable stock. Adjusted = ⌈dispensed × days ÷ "
        + "(days − stocked-out days − days not closed)⌉, as the forecast adjusts a week; empty when no day closed "
        + "with stock. Base units.")
  }

  static func coverage(_ document: ReportDocument) -> ReportSection {
    func shown(_ value: Int64?, _ mark: String?) -> Cell { mark.map { .text($0) } ?? integer(value) }
    return ReportSection(
      key: "coverage", title: "Coverage over the period's closed days",
      data: Listing(
        columns: ["measure", "population", "commodity", "figure", "base", "rate", "minimum", "target"],
        rows: document.coverage.map { line in
          [
            .text(line.measure), .text(line.populationCode), Cell(line.commodityCode),
            shown(line.figure, line.figureMark), shown(line.base, line.baseMark), decimal(line.rate),
            decimal(line.minimum), decimal(line.target),
          ]
        }),
      legend: (CoverageLine.measures + CoverageLine.methadoneMeasures).map { "\($0.measure): \($0.meaning)" }
        .joined(separator: "; ")
        + ". <5: a count of people from 1 to 4; suppressed: withheld so that one cannot be worked out.")
  }

  static func stockouts(_ document: ReportDocument) -> ReportSection {
    ReportSection(
      key: "stockouts", title: "Stock-outs over the period's closed days",
      data: Listing(
        columns: [
          "commodity", "sites", "sites_affected", "closed_days", "stocked_out_site_days", "longest_spell_days",
          "longest_site", "longest_from",
        ],
        rows: document.stockouts.map { line in
          [
            .text(line.commodityCode), .integer(line.sites), .integer(line.sitesAffected), .integer(line.closedDays),
            .integer(line.stockedOutSiteDays), .integer(line.longestSpell), Cell(line.longestSite),
            Cell(line.longestFrom),
          ]
        }),
      table: Listing(
        columns: ["commodity", "sites", "affected", "site_days", "out", "longest", "where", "from"],
        rows: document.stockouts.map { line in
          [
            .text(line.commodityCode), .integer(line.sites), .integer(line.sitesAffected),
            .integer(line.sites * line.closedDays), .integer(line.stockedOutSiteDays), .integer(line.longestSpell),
            Cell(line.longestSite), Cell(line.longestFrom),
          ]
        }),
      legend: "Site days: sites × the period's closed days; out: the site-days that closed with no usable stock "
        + "(expired lots do not count); longest: the longest run of them at one site.")
  }

  static func expiry(_ document: ReportDocument) -> ReportSection {
    let rows: [[Cell]] = document.expiry.map { line in
      [
        .text(line.siteCode), .text(line.commodityCode), .text(line.lotCode), Cell(line.expiresOn),
        .integer(line.daysLeft), integer(line.quantity), integer(line.need), decimal(line.weeksOfNeed),
      ]
    }
    return ReportSection(
      key: "expiry",
      title: "Lots expiring within \(document.expiryDays) days of the close of \(document.window.day) "
        + "(negative days: expired, on the shelf)",
      data: Listing(
        columns: [
          "site", "commodity", "lot", "expires_on", "days_left", "quantity", "weekly_need", "weeks_of_need",
        ], rows: rows),
      table: Listing(
        columns: ["site", "commodity", "lot", "expires_on", "days_left", "quantity", "need_week", "weeks"],
        rows: rows),
      legend: "Need week: the site's echelon weekly need (as in stock-status); weeks: the weeks of it the lot covers.")
  }

  static func orders(_ document: ReportDocument) -> ReportSection {
    let lines = document.orders
    let byStatus = Dictionary(grouping: lines, by: \.status).map { "\($0.key) \($0.value.count)" }.sorted()
    return ReportSection(
      key: "orders",
      title: "Orders made in the period" + (byStatus.isEmpty ? "" : ": " + byStatus.joined(separator: ", ")),
      data: Listing(
        columns: [
          "order", "site", "supplier", "status", "made_on", "lines", "ordered", "approved", "received",
          "fill_rate_percent", "received_on", "lead_days", "planned_lead_days", "shortfall",
        ],
        rows: lines.map { line in
          [
            integer(line.orderID), .text(line.siteCode), .text(line.supplier), .text(line.status), Cell(line.madeOn),
            .integer(line.lines), integer(line.ordered), integer(line.approved), integer(line.received),
            decimal(line.fillRate), Cell(line.receivedOn), line.leadDays.map { .integer($0) } ?? .empty,
            line.plannedLeadDays.map { .integer($0) } ?? .empty, integer(line.shortfall),
          ]
        }),
      table: Listing(
        columns: [
          "order", "site", "supplier", "status", "made_on", "ordered", "received", "fill_%", "lead", "shortfall",
        ],
        rows: lines.map { line in
          [
            integer(line.orderID), .text(line.siteCode), .text(line.supplier), .text(line.status), Cell(line.madeOn),
            integer(line.ordered), integer(line.received), decimal(line.fillRate),
            .text((line.leadDays.map(String.init) ?? "-") + "/" + (line.plannedLeadDays.map(String.init) ?? "-")),
            integer(line.shortfall),
          ]
        }),
      legend: "Units are base units. Fill rate = received ÷ ordered. Lead: days from the order to its arrival / the "
        + "supply line's lead time.")
  }

  static func fcdrr(_ document: ReportDocument) -> [ReportSection] {
    let explained = Dictionary(grouping: document.fcdrrExplanations) { "\($0.siteCode)|\($0.commodityCode)" }
    func explanation(_ line: FCDRRLine) -> String {
      (explained["\(line.siteCode)|\(line.commodityCode)"] ?? []).map { item in
        "\(item.occurredOn) \(item.column) \(item.quantity) \(item.reason ?? "")"
          + (item.note.map { ": \($0)" } ?? "")
      }.joined(separator: "; ")
    }
    let lines = document.fcdrr
    let main = ReportSection(
      key: "fcdrr", title: "F-CDRR (MOH 739C), \(document.window.period.label)",
      data: Listing(
        columns: [
          "site", "commodity", "beginning_balance", "received", "issued", "losses", "positive_adjustments",
          "negative_adjustments", "closing_balance", "physical_count", "physical_count_source", "expiring_6_months",
          "earliest_expiry", "days_out_of_stock", "requested", "explanations",
        ],
        rows: lines.map { line in
          [
            .text(line.siteCode), .text(line.commodityCode), integer(line.beginningBalance), integer(line.received),
            integer(line.issued), integer(line.losses), integer(line.positiveAdjustments),
            integer(line.negativeAdjustments), integer(line.closingBalance), integer(line.physicalCount),
            .text(line.physicalCountSource), integer(line.expiringWithin6Months),
            Cell(line.earliestExpiry.map { String($0.description.prefix(7)) }), .integer(line.daysOutOfStock),
            integer(line.requested), .text(explanation(line)),
          ]
        }),
      table: Listing(
        columns: ["site", "commodity", "A", "B", "C", "D", "E", "F", "G", "H", "I", "requested"],
        rows: lines.map { line in
          [
            .text(line.siteCode), .text(line.commodityCode), integer(line.beginningBalance), integer(line.received),
            integer(line.issued), integer(line.losses), integer(line.positiveAdjustments),
            integer(line.negativeAdjustments),
            line.physicalCountSource == "closing balance"
              ? .text("\(line.physicalCount)*") : integer(line.physicalCount),
            integer(line.expiringWithin6Months), .integer(line.daysOutOfStock), integer(line.requested),
          ]
        }),
      legend: "A beginning balance, B received, C issued (dispensed and sent), D losses and wastage, E positive and "
        + "F negative adjustments (count variances included), G physical count (* none in the month: the closing "
        + "balance), H expiring within 6 months, I days out of stock. A + B − C − D + E − F = closing balance. "
        + "Base units.")
    let explanations = ReportSection(
      key: "fcdrr_explanations", title: "Losses and adjustments explained",
      data: Listing(
        columns: ["site", "commodity", "day", "column", "quantity", "reason", "note"],
        rows: document.fcdrrExplanations.map { item in
          [
            .text(item.siteCode), .text(item.commodityCode), Cell(item.occurredOn), .text(item.column),
            integer(item.quantity), Cell(item.reason), Cell(item.note),
          ]
        }),
      tableOnly: true)
    return [main, explanations]
  }
}
