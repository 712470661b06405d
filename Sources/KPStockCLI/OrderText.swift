import Foundation
import KPStock

/// How orders, their lines, pick-lists and explanations are printed. Quantities are base units with packs beside.
enum OrderText {
  /// A level (weeks × need) as printed: to two decimals, trailing zeros dropped.
  static func level(_ value: Decimal) -> Cell {
    var value = value
    var rounded = Decimal()
    NSDecimalRound(&rounded, &value, 2, .plain)
    return .decimal(rounded)
  }

  static func orders(_ orders: [Order]) -> Listing {
    Listing(
      columns: ["order", "run", "site", "supplier", "status", "lines", "emergency", "units", "shortfall", "made_on"],
      rows: orders.map { order in
        [
          .integer(Int(order.id)), .integer(Int(order.runID)), .text(order.siteCode), .text(order.supplier),
          .text(order.status), .integer(order.lines), .integer(order.emergencyLines), .integer(Int(order.units)),
          .integer(Int(order.shortfallUnits)), Cell(order.madeOn),
        ]
      })
  }

  static func lines(_ lines: [OrderLine]) -> Listing {
    Listing(
      columns: [
        "order", "site", "supplier", "commodity", "need", "min", "max", "eop", "position", "usable_on_hand",
        "unusable_on_hand", "in_transit", "on_order", "requested_units", "units", "packs", "pack_size", "emergency",
        "shortfall", "status",
      ],
      rows: lines.map { line in
        [
          .integer(Int(line.orderID)), .text(line.siteCode), .text(line.supplier), .text(line.commodityCode),
          .integer(Int(line.need)), level(line.minLevel), level(line.maxLevel), level(line.emergencyPoint),
          .integer(Int(line.position)), .integer(Int(line.usableOnHand)), .integer(Int(line.unusableOnHand)),
          .integer(Int(line.inTransit)), .integer(Int(line.onOrder)), .integer(Int(line.requestedUnits)),
          .integer(Int(line.units)), .integer(line.packs), .integer(line.packSize), .boolean(line.emergency),
          .integer(Int(line.shortfallUnits)), .text(line.status),
        ]
      })
  }

  static func warnings(_ warnings: [OrderWarning]) -> String {
    warnings.map { "warning: \($0.siteCode) \($0.commodityCode): \($0.warning)\n" }.joined()
  }

  /// What `orders generate` and `kpstock weekly` end with: what to send where, and what needs attention.
  static func generated(_ orders: [Order], lines: [OrderLine], warnings: [OrderWarning]) -> String {
    var text = "\(orders.count) draft order\(orders.count == 1 ? "" : "s"):\n"
    text += Listing(
      columns: ["order", "from", "to", "commodity", "units", "packs", "emergency", "shortfall"],
      rows: lines.map { line in
        [
          .integer(Int(line.orderID)), .text(line.supplier), .text(line.siteCode), .text(line.commodityCode),
          .integer(Int(line.units)), .text("\(line.packs) × \(line.packSize)"), .text(line.emergency ? "yes" : ""),
          line.shortfallUnits > 0 ? .integer(Int(line.shortfallUnits)) : .empty,
        ]
      }
    ).table()
    let emergencies = lines.filter(\.emergency)
    let short = lines.filter { $0.shortfallUnits > 0 }
    if !emergencies.isEmpty || !short.isEmpty || !warnings.isEmpty {
      text += "\nNeeds attention:\n"
      for line in emergencies {
        text += "  emergency: \(line.siteCode) \(line.commodityCode) is below its emergency order point "
        text += "(position \(line.position), EOP \(level(line.emergencyPoint).plain))\n"
      }
      for line in short {
        text += "  short: \(line.supplier) cannot give \(line.siteCode) \(line.shortfallUnits) of "
        text += "\(line.commodityCode) asked\n"
      }
      for warning in warnings {
        text += "  \(warning.siteCode) \(warning.commodityCode): \(warning.warning)\n"
      }
    }
    if let first = orders.first {
      text += "\nNext: kpstock orders explain \(first.id) --commodity \(lines.first?.commodityCode ?? "COMMODITY"); "
      text += "kpstock orders approve \(first.id)\n"
    }
    return text
  }

  static func picks(_ order: Order, _ picks: [OrderPick], lines: [OrderLine]) -> String {
    var text = "Pick-list for order \(order.id): \(order.supplier) → \(order.siteCode) (\(order.status))\n"
    let packSizes = Dictionary(lines.map { ($0.commodityCode, $0.packSize) }) { first, _ in first }
    text += Listing(
      columns: ["commodity", "lot", "expires", "units", "packs", "short_dated", "picked"],
      rows: picks.map { pick in
        let size = packSizes[pick.commodityCode] ?? 1
        let whole = pick.units / Int64(size)
        let rest = pick.units % Int64(size)
        return [
          .text(pick.commodityCode), .text(pick.lotCode.isEmpty ? "-" : pick.lotCode), Cell(pick.expiresOn),
          .integer(Int(pick.units)), .text(rest == 0 ? "\(whole) × \(size)" : "\(whole) × \(size) + \(rest)"),
          .text(pick.shortDated ? "yes" : ""), .text("[ ]"),
        ]
      }
    ).table()
    if picks.isEmpty {
      text += order.status == "draft" ? "Lots are picked when the order is approved.\n" : ""
    }
    text += "\nPicked by: ____________   Checked by: ____________   Date: ____________\n"
    return text
  }

  static func explanation(_ order: Order, _ line: OrderLine, picks: [OrderPick]) -> String {
    var rows: [(String, String)] = [
      ("weekly need (echelon, forecast run \(order.runID))", "\(line.need)"),
      ("variant", line.variant),
      ("min = (lead time + safety stock) × need", level(line.minLevel).plain),
      ("max = min + review period × need", level(line.maxLevel).plain),
      ("emergency order point", level(line.emergencyPoint).plain),
      ("usable on hand", "\(line.usableOnHand)"),
      ("unusable: expires before the next cover ends", "\(line.unusableOnHand) (not counted)"),
      ("in transit", "\(line.inTransit)"),
      ("on order (approved, not dispatched)", "\(line.onOrder)"),
      ("position", "\(line.position)"),
      ("max − position", "\(line.rawUnits)"),
    ]
    if line.rolledUpUnits > 0 {
      rows.append(("+ what its own supplies fell short by", "\(line.rolledUpUnits)"))
    }
    let asked = line.rawUnits + line.rolledUpUnits
    let remainder = asked % Int64(line.packSize)
    rows.append(
      (
        "in packs of \(line.packSize) (round up above \(line.packRoundingThreshold))",
        "\(asked) = \(asked / Int64(line.packSize)) packs + \(remainder) → \(line.requestedPacks) packs = "
          + "\(line.requestedUnits)\(line.emergency ? " (emergency)" : "")"
      ))
    rows.append(
      (
        "granted",
        "\(line.units) = \(line.packs) packs"
          + (line.shortfallUnits > 0 ? " (shortfall \(line.shortfallUnits): too little at the supplier)" : "")
      ))
    let width = rows.map(\.0.count).max() ?? 0
    var text = "Order \(order.id), \(line.commodityCode): \(order.supplier) → \(order.siteCode) (\(order.status))\n"
    for (name, value) in rows {
      text += "  " + name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + value + "\n"
    }
    if let reason = line.changedReason {
      text += "  changed by hand                            \(reason)\n"
    }
    for pick in picks where pick.commodityCode == line.commodityCode {
      text += "  lot \(pick.lotCode.isEmpty ? "-" : pick.lotCode) expires \(pick.expiresOn.map { "\($0)" } ?? "never")"
      text += ": \(pick.units)\(pick.shortDated ? " (short-dated)" : "")\n"
    }
    if let accepted = line.acceptedUnits {
      text += "  received: accepted \(accepted), rejected \(line.rejectedUnits ?? 0)"
      text += line.rejectionReason.map { " (\($0))" } ?? ""
      text += "\n"
    }
    return text
  }
}
