import Foundation
import KPStock

/// How MAT clients, doses and the register print.
enum MatText {
  static func doses(_ doses: [MATDose]) -> String {
    let lead = doses.first?.outcome == "repeat" ? "already recorded with this key; nothing changed:\n" : ""
    return lead
      + doses.map { dose in
        var text = dose.outcome == "returned" ? "returned " : dose.isTakeHome ? "take-home " : "dosed "
        text += "\(dose.uic) \(dose.mg) mg (\(dose.ml) ml) at \(dose.site)"
        text += dose.isTakeHome ? " for \(dose.takeOn)" : " on \(dose.takeOn)"
        text += dose.batches.isEmpty ? "" : ", batch \(dose.batches)"
        return text + (dose.flag.map { " — \($0), dosed with an override" } ?? "")
      }.joined(separator: "\n") + "\n"
  }

  static func clients(_ clients: [MATClient]) -> Listing {
    Listing(
      columns: [
        "uic", "population", "clinic", "dosing_site", "enrolled_on", "mg", "split", "last_dose", "days_since",
        "status", "flag",
      ],
      rows: clients.map { client in
        [
          .text(client.uic), .text(client.population), .text(client.clinic), Cell(client.dosingSite),
          Cell(client.enrolledOn), .integer(client.mg), .integer(client.split), Cell(client.lastTaken),
          .integer(client.daysSince),
          .text(client.exitReason.map { "exited (\($0))" } ?? client.status), Cell(client.flag),
        ]
      })
  }

  static func standing(_ client: MATClient) -> String {
    var text = "\(client.uic) (\(client.population)), enrolled at \(client.clinic) on \(client.enrolledOn): "
    text += client.exitReason.map { "exited (\($0)) on \(client.exitedOn.map(\.description) ?? "")" } ?? client.status
    if client.exitReason == nil {
      text += ", \(client.mg) mg a day" + (client.split > 1 ? " in \(client.split) parts" : "")
      text += ", doses at \(client.dosingSite ?? "?")"
      text += client.lastTaken.map { ", last dose \($0)" } ?? ", no dose yet"
    }
    return text + (client.flag.map { " — \($0)" } ?? "") + "\n\n"
  }

  static func history(_ history: [MATHistoryEntry]) -> Listing {
    Listing(
      columns: ["day", "what", "site", "detail", "recorded_by"],
      rows: history.map { [Cell($0.day), .text($0.what), Cell($0.site), .text($0.detail), .text($0.recordedBy)] })
  }

  static func delivery(_ list: [MATDeliveryDose]) -> Listing {
    Listing(
      columns: ["client", "mg", "ml", "batches", "outcome"],
      rows: list.map { [.text($0.uic), .integer($0.mg), .decimal($0.ml), .text($0.batches), .text($0.outcome)] })
  }

  static func register(_ entries: [MATRegisterEntry]) -> Listing {
    Listing(
      columns: [
        "day", "event", "entry", "client", "batch", "mg_per_ml", "mg", "ml", "balance_mg", "balance_ml",
        "recorded_by", "witness", "detail",
      ],
      rows: entries.map { entry in
        [
          Cell(entry.day), entry.eventID.map { .integer(Int($0)) } ?? .empty, .text(entry.entry), Cell(entry.uic),
          Cell(entry.batch), entry.mgPerML.map(Cell.decimal) ?? .empty, entry.mg.map { .integer(Int($0)) } ?? .empty,
          entry.ml.map(Cell.decimal) ?? .empty, .integer(Int(entry.balanceMG)),
          entry.balanceML.map(Cell.decimal) ?? .empty, Cell(entry.recordedBy), Cell(entry.witness), Cell(entry.detail),
        ]
      })
  }
}
