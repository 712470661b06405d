import Foundation
import KPStock

/// How forecast runs, lines and explanations are printed.
enum ForecastText {
  static func summary(_ run: ForecastRun, commodities: [ForecastCommoditySummary]) -> String {
    var text =
      "Forecast run \(run.id) for \(run.week), \(run.scope): \(run.lines) lines, \(run.unknownLines) with an unknown "
      + "need, \(run.flaggedLines) flagged.\n"
    text += Listing(
      columns: ["commodity", "sites", "own_need_total", "unknown", "flagged"],
      rows: commodities.map { commodity in
        [
          .text(commodity.commodityCode), .integer(commodity.sites), .integer(Int(commodity.ownNeedTotal)),
          .integer(commodity.unknown), .integer(commodity.flagged),
        ]
      }
    ).table()
    text += "Lines: kpstock forecast show \(run.id); one line step by step: kpstock forecast explain \(run.id) "
    text += "--site SITE --commodity COMMODITY\n"
    return text
  }

  static func runs(_ runs: [ForecastRun]) -> Listing {
    Listing(
      columns: ["run", "week", "scope", "lines", "unknown", "flagged", "made_on", "made_at", "made_by"],
      rows: runs.map { run in
        [
          .integer(Int(run.id)), .text(run.week), .text(run.scope), .integer(run.lines), .integer(run.unknownLines),
          .integer(run.flaggedLines), Cell(run.madeOn), .text(Listing.timestamp(run.madeAt)), .text(run.madeBy),
        ]
      })
  }

  static func methods(_ settings: [ForecastMethodSetting]) -> Listing {
    Listing(
      columns: ["commodity", "category", "method", "default"],
      rows: settings.map { [.text($0.commodityCode), .text($0.category), .text($0.method), .boolean($0.isDefault)] })
  }

  /// A WAPE as printed: four decimal places.
  static func wape(_ value: Decimal?) -> Cell {
    guard var value else { return .empty }
    var rounded = Decimal()
    NSDecimalRound(&rounded, &value, 4, .plain)
    return .decimal(rounded)
  }

  static func quantity(_ value: Int64?) -> Cell { value.map { .integer(Int($0)) } ?? .empty }

  static func lines(_ lines: [ForecastLine], as format: OutputFormat) -> String {
    switch format {
    case .json:
      guard !lines.isEmpty else { return "[]\n" }
      return "[\n" + lines.map { "  " + json($0) }.joined(separator: ",\n") + "\n]\n"
    case .csv:
      return Listing(
        columns: [
          "site", "commodity", "week", "method", "chosen_method", "need", "own_need", "supplied_need", "outreach_need",
          "consumption_need", "client_need", "naive_need", "wape_outreach", "wape_consumption", "wape_naive", "flags",
          "supplier",
        ],
        rows: lines.map { line in
          [
            .text(line.siteCode), .text(line.commodityCode), .text(line.week), .text(line.method),
            Cell(line.chosenMethod), quantity(line.need), quantity(line.ownNeed), quantity(line.suppliedNeed),
            quantity(line.outreachNeed), quantity(line.consumptionNeed), quantity(line.clientNeed),
            quantity(line.naiveNeed), wape(line.wape.outreach), wape(line.wape.consumption), wape(line.wape.naive),
            .text(line.flags.joined(separator: ";")), Cell(line.supplierCode),
          ]
        }
      ).csv()
    case .table:
      return Listing(
        columns: [
          "site", "commodity", "method", "need", "own", "supplied", "outreach", "consumption", "naive", "flags",
        ],
        rows: lines.map { line in
          [
            .text(line.siteCode), .text(line.commodityCode),
            .text(line.method + (line.chosenMethod.map { $0 == line.method ? "" : " → \($0)" } ?? "")),
            quantity(line.need), quantity(line.ownNeed), quantity(line.suppliedNeed), quantity(line.outreachNeed),
            quantity(line.consumptionNeed), quantity(line.naiveNeed), .text(line.flags.joined(separator: " ")),
          ]
        }
      ).table()
    }
  }

  /// One line as a JSON object: quantities and WAPEs are numbers or null (unknown), flags an array.
  static func json(_ line: ForecastLine) -> String {
    func number(_ value: Int64?) -> String { value.map(String.init) ?? "null" }
    let fields: [(String, String)] = [
      ("site", Listing.jsonString(line.siteCode)), ("commodity", Listing.jsonString(line.commodityCode)),
      ("week", Listing.jsonString(line.week)), ("method", Listing.jsonString(line.method)),
      ("chosen_method", line.chosenMethod.map(Listing.jsonString) ?? "null"), ("need", number(line.need)),
      ("own_need", number(line.ownNeed)), ("supplied_need", number(line.suppliedNeed)),
      ("outreach_need", number(line.outreachNeed)), ("consumption_need", number(line.consumptionNeed)),
      ("client_need", number(line.clientNeed)), ("naive_need", number(line.naiveNeed)),
      (
        "wape",
        "{\"outreach\": \(Listing.jsonValue(wape(line.wape.outreach))), "
          + "\"consumption\": \(Listing.jsonValue(wape(line.wape.consumption))), "
          + "\"naive\": \(Listing.jsonValue(wape(line.wape.naive)))}"
      ),
      ("flags", "[" + line.flags.map(Listing.jsonString).joined(separator: ", ") + "]"),
      ("supplier", line.supplierCode.map(Listing.jsonString) ?? "null"),
    ]
    return "{" + fields.map { "\(Listing.jsonString($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
  }
}
