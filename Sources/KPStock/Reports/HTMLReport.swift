import Foundation
import Postgres

/// A report document as one self-contained HTML file: inline CSS and SVG, no script, font or image from anywhere
/// else, laid out to print on A4. What a county team opens, prints and shares without a network.
public enum HTMLReport {
  public static func render(_ document: ReportDocument, generatedOn: CalendarDate) -> String {
    let window = document.window
    let title = document.parts.count > 1 ? "County report" : (titles[document.parts.first ?? .stockStatus] ?? "")
    var body = """
      <header>
      <h1>\(escape(title)): \(escape(window.scopeTitle)), \(escape(window.period.label))</h1>
      <p class="meta">\(window.period.firstDay) to \(window.period.lastDay) · stock figures at the close of \
      \(window.day) · \(window.sites.count) sites · made by kpstock on \(generatedOn). Aggregate figures only; \
      \(document.suppressed ? "counts of people from 1 to 4 are shown as &lt;5." : "small numbers are NOT withheld: do not share.")</p>
      </header>

      """
    for part in document.parts {
      switch part {
      case .stockStatus: body += stockStatusSection(document)
      case .consumption: body += consumptionSection(document)
      case .coverage: body += coverageSection(document)
      case .stockouts: body += stockoutsSection(document)
      case .expiry: body += expirySection(document)
      case .orders: body += ordersSection(document)
      case .fcdrr: body += fcdrrSection(document)
      }
    }
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <title>\(escape(title)): \(escape(window.scopeTitle)), \(escape(window.period.label))</title>
      <style>\(css)</style>
      </head>
      <body>
      \(body)</body>
      </html>

      """
  }

  static let titles: [ReportPart: String] = [
    .stockStatus: "Stock status", .consumption: "Consumption", .coverage: "Coverage", .stockouts: "Stock-outs",
    .expiry: "Expiry", .orders: "Orders", .fcdrr: "F-CDRR (MOH 739C)",
  ]

  static let css = """
    @page { size: A4; margin: 14mm 12mm; }
    body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt; color: #1a1a1a;
      margin: 0 auto; max-width: 186mm; }
    h1 { font-size: 15pt; margin: 0 0 2mm; }
    h2 { font-size: 12pt; margin: 7mm 0 2mm; border-bottom: 1px solid #999; padding-bottom: 1mm; }
    h3 { font-size: 10pt; margin: 4mm 0 1mm; }
    p { margin: 1mm 0; }
    .meta, .note { color: #555; font-size: 8.5pt; }
    section { break-inside: auto; }
    figure { margin: 2mm 0; break-inside: avoid; }
    table { border-collapse: collapse; width: 100%; font-size: 8pt; margin: 1mm 0 2mm; }
    td { white-space: nowrap; }
    td:last-child { white-space: normal; }
    th, td { border-bottom: 1px solid #ddd; padding: 0.6mm 1.2mm; text-align: left; vertical-align: top; }
    th { background: #f0f0f0; font-weight: 600; }
    td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
    tr { break-inside: avoid; }
    .legend span { display: inline-block; margin-right: 3mm; font-size: 8pt; }
    .swatch { display: inline-block; width: 3mm; height: 3mm; margin-right: 1mm; vertical-align: middle; }
    .charts { display: flex; flex-wrap: wrap; gap: 2mm; }
    .charts figure { width: 90mm; }
    figcaption { font-size: 8.5pt; font-weight: 600; }
    svg text { font-family: inherit; }
    """

  // MARK: - Stock status

  /// Colours of the statuses, worst first, as the legend shows them.
  static let statusColours: [(status: String, colour: String)] = [
    ("stocked out", "#c62828"), ("below EOP", "#ef6c00"), ("below min", "#f9a825"), ("OK", "#2e7d32"),
    ("above max", "#1565c0"), ("unknown need", "#9e9e9e"), ("no levels", "#cfcfcf"),
  ]

  static func stockStatusSection(_ document: ReportDocument) -> String {
    let lines = document.stockStatus
    var html = "<section>\n<h2>Stock status at the close of \(document.window.day)</h2>\n"
    guard !lines.isEmpty else { return html + "<p>No stock cards in this scope.</p>\n</section>\n" }
    let sites = Array(Set(lines.map(\.siteCode))).sorted()
    let commodities = Array(Set(lines.map(\.commodityCode))).sorted()
    let cells = Dictionary(lines.map { ("\($0.siteCode)|\($0.commodityCode)", $0) }) { first, _ in first }
    let labelWidth = 130.0
    let cellWidth = min(62.0, (680 - labelWidth) / Double(max(1, commodities.count)))
    let cellHeight = 20.0
    let width = labelWidth + cellWidth * Double(commodities.count)
    let height = 54 + cellHeight * Double(sites.count)
    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 \(format(width)) \(format(height))" \
      width="100%" aria-label="Weeks of stock per site and commodity">

      """
    for (column, commodity) in commodities.enumerated() {
      let x = labelWidth + cellWidth * (Double(column) + 0.5)
      svg += """
        <text x="\(format(x))" y="48" font-size="8" text-anchor="start" \
        transform="rotate(-35 \(format(x)) 48)">\(escape(commodity))</text>

        """
    }
    for (row, site) in sites.enumerated() {
      let y = 54 + cellHeight * Double(row)
      svg += """
        <text x="\(format(labelWidth - 4))" y="\(format(y + 13))" font-size="8" text-anchor="end">\(escape(site))</text>

        """
      for (column, commodity) in commodities.enumerated() {
        let x = labelWidth + cellWidth * Double(column)
        guard let line = cells["\(site)|\(commodity)"] else { continue }
        let colour = statusColours.first { $0.status == line.status }?.colour ?? "#ffffff"
        let text =
          line.weeksOfStock.map { "\($0)" } ?? (line.usableOnHand == 0 ? "0" : line.need == 0 ? "∞" : "?")
        let light = ["below min", "no levels"].contains(line.status)
        svg += """
          <rect x="\(format(x + 1))" y="\(format(y + 1))" width="\(format(cellWidth - 2))" \
          height="\(format(cellHeight - 2))" fill="\(colour)"><title>\(escape(site)) \(escape(commodity)): \
          \(escape(line.status)), \(line.usableOnHand) usable</title></rect>
          <text x="\(format(x + cellWidth / 2))" y="\(format(y + 13))" font-size="8" text-anchor="middle" \
          fill="\(light ? "#1a1a1a" : "#ffffff")">\(escape(text))</text>

          """
      }
    }
    svg += "</svg>\n"
    html += "<figure>\(svg)<p class=\"legend\">"
    html += statusColours.map {
      "<span><i class=\"swatch\" style=\"background:\($0.colour)\"></i>\(escape($0.status))</span>"
    }.joined()
    html += "</p><p class=\"note\">Each cell: weeks of stock (usable on hand ÷ weekly need), coloured by status "
    html += "against the supply line's min, max and emergency order point.</p></figure>\n"
    let attention = lines.filter { ["stocked out", "below EOP", "below min"].contains($0.status) }
    if !attention.isEmpty {
      html += "<h3>Needing attention</h3>\n"
      html += table(
        ["Site", "Commodity", "Status", "Usable", "In transit", "Weekly need", "Weeks"],
        numeric: [false, false, false, true, true, true, true],
        attention.map {
          [
            $0.siteCode, $0.commodityCode, $0.status, number($0.usableOnHand), number($0.inTransit),
            $0.need.map(number) ?? "", $0.weeksOfStock.map { "\($0)" } ?? "",
          ]
        })
    }
    return html + "</section>\n"
  }

  // MARK: - Consumption

  static func consumptionSection(_ document: ReportDocument) -> String {
    var html = "<section>\n<h2>Consumption</h2>\n"
    let series = Dictionary(grouping: document.weeklyConsumption, by: \.commodityCode)
    if series.isEmpty {
      html += "<p>Nothing dispensed in this period.</p>\n"
    } else {
      html += "<p class=\"note\">Units dispensed per ISO week (solid) against the forecast's need for the week "
      html += "(dashed; each site's own need, from the latest run for that week), over the scope's sites.</p>\n"
      html += "<div class=\"charts\">\n"
      for commodity in series.keys.sorted() {
        html += lineChart(commodity, series[commodity] ?? [])
      }
      html += "</div>\n"
    }
    var totals: [String: (dispensed: Int64, adjusted: Int64?, population: [String: Int64])] = [:]
    for (commodity, lines) in Dictionary(grouping: document.consumption, by: \.commodityCode) {
      var population: [String: Int64] = [:]
      for line in lines { population[line.populationCode, default: 0] += line.dispensed }
      // Adjusted per site; a site with no day that closed with stock leaves the total without information.
      let adjusted = lines.reduce(Int64(0) as Int64?) { total, line in
        total.flatMap { total in line.adjusted.map { total + $0 } }
      }
      totals[commodity] = (lines.reduce(0) { $0 + $1.dispensed }, adjusted, population)
    }
    if !totals.isEmpty {
      html += "<h3>Dispensed in the period, by population</h3>\n"
      html += table(
        ["Commodity", "Dispensed", "Adjusted for stock-outs", "By population"],
        numeric: [false, true, true, false],
        totals.keys.sorted().map { commodity in
          let total = totals[commodity]!
          return [
            commodity, number(total.dispensed), total.adjusted.map(number) ?? "no information",
            total.population.sorted { $0.key < $1.key }.map { "\($0.key) \(number($0.value))" }.joined(
              separator: ", "),
          ]
        })
    }
    return html + "</section>\n"
  }

  static func lineChart(_ commodity: String, _ weeks: [WeeklyConsumption]) -> String {
    let width = 330.0
    let height = 150.0
    let left = 46.0
    let bottom = 22.0
    let top = 8.0
    let peak = max(1, weeks.map { max($0.dispensed ?? 0, $0.need ?? 0) }.max() ?? 1)
    let plotWidth = width - left - 8
    let plotHeight = height - bottom - top
    func x(_ index: Int) -> Double {
      weeks.count <= 1 ? left + plotWidth / 2 : left + plotWidth * Double(index) / Double(weeks.count - 1)
    }
    func y(_ value: Int64) -> Double { top + plotHeight * (1 - Double(value) / Double(peak)) }
    func path(_ values: [Int64?]) -> String {
      var parts: [String] = []
      var pen = "M"
      for (index, value) in values.enumerated() {
        guard let value else {
          pen = "M"
          continue
        }
        parts.append("\(pen)\(format(x(index))),\(format(y(value)))")
        pen = "L"
      }
      return parts.joined(separator: " ")
    }
    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 \(format(width)) \(format(height))" \
      width="100%" aria-label="\(escape(commodity)): weekly dispensed against need">
      <line x1="\(format(left))" y1="\(format(top + plotHeight))" x2="\(format(width - 8))" \
      y2="\(format(top + plotHeight))" stroke="#999"/>
      <line x1="\(format(left))" y1="\(format(top))" x2="\(format(left))" y2="\(format(top + plotHeight))" stroke="#999"/>
      <text x="\(format(left - 4))" y="\(format(top + 4))" font-size="8" text-anchor="end">\(number(peak))</text>
      <text x="\(format(left - 4))" y="\(format(top + plotHeight))" font-size="8" text-anchor="end">0</text>

      """
    for (index, week) in weeks.enumerated() where weeks.count <= 8 || index % 2 == 0 {
      svg += """
        <text x="\(format(x(index)))" y="\(format(height - 8))" font-size="7.5" text-anchor="middle">\
        W\(isoWeek(week.week))</text>

        """
    }
    svg += """
      <path d="\(path(weeks.map(\.need)))" fill="none" stroke="#8e24aa" stroke-width="1.5" stroke-dasharray="4 3"/>
      <path d="\(path(weeks.map(\.dispensed)))" fill="none" stroke="#1565c0" stroke-width="2"/>

      """
    for (index, week) in weeks.enumerated() {
      if let need = week.need {
        svg += "<circle cx=\"\(format(x(index)))\" cy=\"\(format(y(need)))\" r=\"2\" fill=\"#8e24aa\"/>\n"
      }
      if let dispensed = week.dispensed {
        svg += "<circle cx=\"\(format(x(index)))\" cy=\"\(format(y(dispensed)))\" r=\"2\" fill=\"#1565c0\"/>\n"
      }
    }
    svg += "</svg>"
    return """
      <figure><figcaption>\(escape(commodity)) <span class="meta">— dispensed (solid) and need (dashed)</span>\
      </figcaption>\(svg)</figure>

      """
  }

  // MARK: - Coverage

  static func coverageSection(_ document: ReportDocument) -> String {
    var html = "<section>\n<h2>Coverage</h2>\n"
    let lines = document.coverage
    if lines.isEmpty { return html + "<p>No coverage figures for this scope.</p>\n</section>\n" }
    for (measure, meaning) in CoverageLine.measures {
      let rows = lines.filter { $0.measure == measure }
      guard !rows.isEmpty else { continue }
      html += "<h3>\(escape(measure.prefix(1).uppercased() + measure.dropFirst()))</h3>\n"
      html += "<p class=\"note\">\(escape(meaning)).</p>\n"
      html += bars(rows, perYear: measure == "per person per year")
    }
    let methadone = CoverageLine.methadoneMeasures.compactMap { entry in
      lines.first { $0.measure == entry.measure }.map { (entry, $0) }
    }
    if !methadone.isEmpty {
      html += "<h3>Methadone (MAT)</h3>\n<table>\n<tr><th>figure</th><th>value</th><th>meaning</th></tr>\n"
      for (entry, line) in methadone {
        let rate = line.rate.map { line.figure == nil ? "\($0)" : " (\($0) %)" } ?? ""
        let value = (line.figureMark ?? line.figure.map(String.init) ?? line.baseMark ?? "") + rate
        html += "<tr><td>\(escape(entry.measure))</td><td class=\"n\">\(escape(value))</td>"
        html += "<td>\(escape(entry.meaning))</td></tr>\n"
      }
      html += "</table>\n"
    }
    return html + "</section>\n"
  }

  /// Horizontal bars of each line's rate, with the minimum and target as vertical lines.
  static func bars(_ rows: [CoverageLine], perYear: Bool) -> String {
    let label = 150.0
    let width = 680.0
    let rowHeight = 18.0
    let scaleTop = max(
      perYear ? 330 : 110,
      rows.compactMap { $0.rate.map { NSDecimalNumber(decimal: $0).doubleValue } }.max() ?? 0)
    let plot = width - label - 120
    func x(_ value: Double) -> Double { label + plot * min(value, scaleTop) / scaleTop }
    let height = 16 + rowHeight * Double(rows.count)
    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 \(format(width)) \(format(height))" \
      width="100%" aria-label="coverage">

      """
    for (index, row) in rows.enumerated() {
      let y = 4 + rowHeight * Double(index)
      let name = [row.populationCode, row.commodityCode].compactMap { $0 }.joined(separator: " · ")
      svg += """
        <text x="\(format(label - 4))" y="\(format(y + 12))" font-size="8" text-anchor="end">\(escape(name))</text>

        """
      let figure = row.figure.map(number) ?? row.figureMark ?? ""
      let base = row.base.map(number) ?? row.baseMark ?? "no estimate"
      if let rate = row.rate {
        let value = NSDecimalNumber(decimal: rate).doubleValue
        let reached = row.target.map { value >= NSDecimalNumber(decimal: $0).doubleValue } ?? true
        let low = row.minimum.map { value < NSDecimalNumber(decimal: $0).doubleValue } ?? false
        let colour = row.target == nil ? "#5c6bc0" : low ? "#c62828" : (reached ? "#2e7d32" : "#f9a825")
        svg += """
          <rect x="\(format(label))" y="\(format(y + 3))" width="\(format(max(1, x(value) - label)))" height="11" \
          fill="\(colour)"/>
          <text x="\(format(x(value) + 3))" y="\(format(y + 12))" font-size="8">\(rate)\(perYear ? "" : " %") \
          (\(escape(figure)) / \(escape(base)))</text>

          """
      } else {
        svg += """
          <text x="\(format(label + 2))" y="\(format(y + 12))" font-size="8" fill="#555">\
          \(escape(figure.isEmpty ? "—" : figure)) / \(escape(base)): no rate</text>

          """
      }
    }
    let marks: [Decimal] = Array(Set(rows.compactMap(\.minimum) + rows.compactMap(\.target)))
    for mark in marks.sorted() {
      let value = NSDecimalNumber(decimal: mark).doubleValue
      svg += """
        <line x1="\(format(x(value)))" y1="2" x2="\(format(x(value)))" y2="\(format(height - 12))" stroke="#1a1a1a" \
        stroke-dasharray="3 2"/>
        <text x="\(format(x(value)))" y="\(format(height - 2))" font-size="7.5" text-anchor="middle">\
        \(mark)\(perYear ? "" : " %")</text>

        """
    }
    return "<figure>" + svg + "</svg></figure>\n"
  }

  // MARK: - Tables

  static func stockoutsSection(_ document: ReportDocument) -> String {
    var html = "<section>\n<h2>Stock-outs</h2>\n"
    html += "<p class=\"note\">Days that closed with no usable stock, over the period's closed days.</p>\n"
    html += table(
      ["Commodity", "Sites", "Sites affected", "Stocked-out site-days", "Longest spell", "Where, from"],
      numeric: [false, true, true, true, true, false],
      document.stockouts.map {
        [
          $0.commodityCode, String($0.sites), String($0.sitesAffected),
          "\($0.stockedOutSiteDays) of \($0.sites * $0.closedDays)", $0.longestSpell == 0 ? "" : "\($0.longestSpell) d",
          ($0.longestSite.map { "\($0), " } ?? "") + ($0.longestFrom.map { "\($0)" } ?? ""),
        ]
      })
    return html + "</section>\n"
  }

  static func expirySection(_ document: ReportDocument) -> String {
    var html = "<section>\n<h2>Expiring within \(document.expiryDays) days of \(document.window.day)</h2>\n"
    html += table(
      ["Site", "Commodity", "Lot", "Expires", "Days left", "Quantity", "Weeks of need"],
      numeric: [false, false, false, false, true, true, true],
      document.expiry.map {
        [
          $0.siteCode, $0.commodityCode, $0.lotCode, "\($0.expiresOn)", String($0.daysLeft), number($0.quantity),
          $0.weeksOfNeed.map { "\($0)" } ?? "",
        ]
      })
    return html + "</section>\n"
  }

  static func ordersSection(_ document: ReportDocument) -> String {
    var html = "<section>\n<h2>Orders made in the period</h2>\n"
    let byStatus = Dictionary(grouping: document.orders, by: \.status)
    if !byStatus.isEmpty {
      html +=
        "<p>"
        + byStatus.keys.sorted().map { "\(escape($0)): \(byStatus[$0]?.count ?? 0)" }.joined(
          separator: " · ") + "</p>\n"
    }
    html += table(
      [
        "Order", "To", "From", "Status", "Made", "Ordered", "Received", "Fill rate", "Lead days (planned)",
        "Shortfall",
      ],
      numeric: [true, false, false, false, false, true, true, true, true, true],
      document.orders.map {
        [
          String($0.orderID), $0.siteCode, $0.supplier, $0.status, "\($0.madeOn)", number($0.ordered),
          $0.received.map(number) ?? "", $0.fillRate.map { "\($0) %" } ?? "",
          ($0.leadDays.map { String($0) } ?? "–") + ($0.plannedLeadDays.map { " (\($0))" } ?? ""),
          number($0.shortfall),
        ]
      })
    return html + "</section>\n"
  }

  static func fcdrrSection(_ document: ReportDocument) -> String {
    var html = "<section>\n<h2>F-CDRR (MOH 739C), \(escape(document.window.period.label))</h2>\n"
    html += "<p class=\"note\">A beginning balance, B received, C issued, D losses and wastage, E positive and F "
    html += "negative adjustments, G physical count (* the closing balance: no count in the month), H expiring "
    html += "within 6 months (earliest expiry), I days out of stock. Base units.</p>\n"
    html += table(
      ["Site", "Commodity", "A", "B", "C", "D", "E", "F", "G", "H", "I", "Requested"],
      numeric: [false, false, true, true, true, true, true, true, true, true, true, true],
      document.fcdrr.map {
        [
          $0.siteCode, $0.commodityCode, number($0.beginningBalance), number($0.received), number($0.issued),
          number($0.losses), number($0.positiveAdjustments), number($0.negativeAdjustments),
          number($0.physicalCount) + ($0.physicalCountSource == "closing balance" ? "*" : ""),
          number($0.expiringWithin6Months) + ($0.earliestExpiry.map { " (\(monthYear($0)))" } ?? ""),
          String($0.daysOutOfStock), $0.requested.map(number) ?? "",
        ]
      })
    if !document.fcdrrExplanations.isEmpty {
      html += "<h3>Losses and adjustments explained</h3>\n"
      html += table(
        ["Site", "Commodity", "Day", "Column", "Quantity", "Reason", "Note"],
        numeric: [false, false, false, false, true, false, false],
        document.fcdrrExplanations.map {
          [
            $0.siteCode, $0.commodityCode, "\($0.occurredOn)", $0.column, number($0.quantity), $0.reason ?? "",
            $0.note ?? "",
          ]
        })
    }
    return html + "</section>\n"
  }

  static func table(_ headers: [String], numeric: [Bool], _ rows: [[String]]) -> String {
    guard !rows.isEmpty else { return "<p>None.</p>\n" }
    var html = "<table>\n<thead><tr>"
    for (index, header) in headers.enumerated() {
      html += "<th\(numeric[index] ? " class=\"n\"" : "")>\(escape(header))</th>"
    }
    html += "</tr></thead>\n<tbody>\n"
    for row in rows {
      html += "<tr>"
      for (index, cell) in row.enumerated() {
        html += "<td\(numeric[index] ? " class=\"n\"" : "")>\(escape(cell))</td>"
      }
      html += "</tr>\n"
    }
    return html + "</tbody>\n</table>\n"
  }

  // MARK: - Text

  static func escape(_ text: some StringProtocol) -> String {
    var result = ""
    for character in text {
      switch character {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&#39;"
      default: result.append(character)
      }
    }
    return result
  }

  /// 12,345: grouped by thousands, as the paper forms write quantities.
  static func number(_ value: Int64) -> String {
    let digits = String(value.magnitude)
    var grouped = ""
    for (index, digit) in digits.enumerated() {
      if index > 0 && (digits.count - index) % 3 == 0 { grouped += "," }
      grouped.append(digit)
    }
    return (value < 0 ? "−" : "") + grouped
  }

  /// The ISO week number of a Monday (weeks start on Monday; week 1 holds the year's first Thursday).
  static func isoWeek(_ monday: CalendarDate) -> Int {
    var calendar = Calendar(identifier: .iso8601)
    calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
    let date = calendar.date(from: DateComponents(year: monday.year, month: monday.month, day: monday.day))
    return date.map { calendar.component(.weekOfYear, from: $0) } ?? 0
  }

  static func monthYear(_ date: CalendarDate) -> String {
    (date.month < 10 ? "0" : "") + "\(date.month)/\(date.year)"
  }

  static func format(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
  }
}
