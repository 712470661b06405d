import Foundation
import KPStock

extension ForecastText {
  /// `forecast explain`: every input and step of one line, numbered as in docs/forecast.md.
  static func explanation(_ explanation: ForecastExplanation) -> String {
    let run = explanation.run
    let line = explanation.line
    let settings = explanation.settings
    var text = "Forecast run \(run.id): \(line.siteCode), \(line.commodityCode), week \(line.week)\n"
    text += "Made \(run.madeOn) by \(run.madeBy) (\(run.scope)). Settings: α \(settings.alpha), β \(settings.beta), "
    text += "wastage \(settings.wastagePercent) %, tolerance \(settings.tolerancePercent) %.\n\n"

    if let weeks = explanation.populations.first?.weeks, let first = weeks.first, let last = weeks.last {
      text += "1. Outreach-based need: each population's weeks \(first.week) … \(last.week), projected by Holt's "
      text += "smoothing\n"
    } else {
      text += "1. Outreach-based need: unknown. No population had a report and a norm (or a peer-reported need) for "
      text += "\(line.commodityCode) in the \(settings.outreachWeeks) weeks before.\n"
    }
    for part in explanation.populations {
      let what = part.basis == "peer_need" ? "need reported by peers (replaces reach × norm)" : "people reached"
      text += "   \(part.populationCode): \(what)\n"
      let reported = Dictionary(uniqueKeysWithValues: part.steps.map { ($0.week, $0) })
      text += indented(
        Listing(
          columns: ["week", "reported", "level", "trend"],
          rows: part.weeks.map { week in
            let step = reported[week.week]
            return [
              .text(week.week), week.value.map { .decimal($0) } ?? .text("—"),
              step.map { .decimal($0.level) } ?? .empty,
              step.map { .decimal($0.trend) } ?? .empty,
            ]
          }
        ).table(), by: 6)
      text += "      projection = max(0, level + trend) = \(part.projection)\n"
      if let cap = part.sizeCap {
        let whose =
          part.capSource == "county" ? "the county's estimate, spread over its sites by reach" : "the site's estimate"
        text += "      size cap \(cap) (\(whose))"
        text += part.projection > cap ? ": capped\n" : ": not reached\n"
      }
      if let norm = part.norm {
        let used = part.sizeCap.map { min($0, part.projection) } ?? part.projection
        text += "      norm \(norm) per person per week (\(part.normScope ?? "") norm from "
        text += "\(part.normEffectiveFrom.map { "\($0)" } ?? ""); \(part.normSource ?? ""))\n"
        text += "      need = \(used) × \(norm) = \(part.need)\n"
      } else {
        text += "      need = projected peer need = \(part.need)\n"
      }
    }
    if !explanation.populations.isEmpty {
      let total = explanation.populations.map(\.need).reduce(0, +)
      text += "   Σ = \(total); × (1 + \(settings.wastagePercent) %) = \(total * (1 + settings.wastagePercent / 100)); "
      text += "rounded up: \(describe(line.outreachNeed))\n"
    }

    text += "\n2. Consumption-based need: C dispensed, X days closed without usable stock, U days not closed yet, "
    text += "N = ⌈C × 7 / (7 − X − U)⌉ (X + U = 7: no information)\n"
    let recent = explanation.consumptionWeeks.suffix(settings.consumptionWeeks)
    let recentWeeks = Set(recent.map(\.week))
    text += indented(
      Listing(
        columns: ["week", "dispensed_c", "stocked_out_x", "unclosed_u", "n", "used_for_\(line.week)"],
        rows: explanation.consumptionWeeks.map { week in
          [
            .text(week.week), .integer(Int(week.dispensed)), .integer(week.stockedOutDays), .integer(week.unclosedDays),
            week.adjusted.map { .integer(Int($0)) } ?? .text("—"), .text(recentWeeks.contains(week.week) ? "yes" : ""),
          ]
        }
      ).table(), by: 3)
    let informative = recent.compactMap(\.adjusted)
    if informative.isEmpty {
      text += "   No informative week: unknown (not zero).\n"
    } else {
      text += "   ⌈\(informative.reduce(0, +)) / \(informative.count)⌉ = \(describe(line.consumptionNeed)); "
      text += "naive (the latest informative N) = \(describe(line.naiveNeed))\n"
    }

    text += "\n3. Client-based need: \(describe(line.clientNeed))"
    text += line.clientNeed == nil ? " (the methadone register is not in kpstock yet)\n" : "\n"

    text += "\n4. Back-test: at each origin, each method from the data before it only, against that week's N\n"
    text += indented(
      Listing(
        columns: ["origin", "actual_n", "outreach", "consumption", "naive"],
        rows: explanation.backtest.map { origin in
          [
            .text(origin.week), quantity(origin.actual), quantity(origin.outreach), quantity(origin.consumption),
            quantity(origin.naive),
          ]
        }
      ).table(), by: 3)
    for (method, forecasts, value) in [
      ("outreach", explanation.backtest.map(\.outreach), line.wape.outreach),
      ("consumption", explanation.backtest.map(\.consumption), line.wape.consumption),
      ("naive", explanation.backtest.map(\.naive), line.wape.naive),
    ] {
      let pairs = zip(forecasts, explanation.backtest.map(\.actual)).compactMap { forecast, actual in
        forecast.flatMap { forecast in actual.map { (forecast, $0) } }
      }
      let error = pairs.map { abs($0.0 - $0.1) }.reduce(0, +)
      let actual = pairs.map(\.1).reduce(0, +)
      text +=
        "   WAPE \(method): Σ|forecast − N| / ΣN = \(error) / \(actual) = \(wape(value).plain.isEmpty ? "unknown" : wape(value).plain)\n"
    }

    text += "\n5. Method \(line.method): "
    switch line.chosenMethod {
    case "none"?: text += "a store that gave none out: own need 0\n"
    case let chosen?: text += "\(chosen), own need \(describe(line.ownNeed))\n"
    case nil: text += "no method could give a need: unknown\n"
    }

    text += "\n6. Echelon need: own \(describe(line.ownNeed))"
    for site in explanation.supplied {
      text += " + \(site.siteCode) \(describe(site.need))"
    }
    text += " = \(describe(line.need))\n"
    if explanation.supplied.contains(where: { $0.ownNeed == nil }) {
      text += "   (a site below with an unknown need counts nothing)\n"
    }

    text += "\nFlags: \(line.flags.isEmpty ? "none" : line.flags.joined(separator: ", "))\n"
    return text
  }

  private static func describe(_ value: Int64?) -> String { value.map(String.init) ?? "unknown" }

  private static func indented(_ text: String, by spaces: Int) -> String {
    let padding = String(repeating: " ", count: spaces)
    return text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : padding + $0 }
      .joined(separator: "\n")
  }
}
