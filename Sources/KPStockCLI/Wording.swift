import KPStock

/// Where a refusal sends the person, worded as the command to run; the domain names only a topic.
enum Pointer {
  static func text(_ hint: RefusalHint?) -> String {
    switch hint {
    case .backdatingWindow: " (kpstock settings set --backdating-window-days)"
    case .reasons: " (see kpstock reason list)"
    case .outreachChannel: " (use --channel outreach)"
    case .matOverride: " (give --override REASON if it is right for this client)"
    case .matPrescribe: " (kpstock mat prescribe a re-induction dose, or --override REASON)"
    case .matSettings: " (see kpstock mat settings)"
    case .matBatch: " (kpstock mat batch --lot LOT --mg-per-ml N)"
    case nil: ""
    }
  }
}

/// A register's refused rows, each named `FILE:LINE: column: problem` as an editor jumps to it.
enum RegisterWording {
  static func row(_ row: RejectedRow) -> String {
    "\(row.fileName):\(row.line): " + (row.field.map { "\($0): " } ?? "") + row.problem + Pointer.text(row.hint)
  }

  static func refusal(_ refused: ImportRefused) -> KPStockError {
    .badInput(
      "\(refused) (fix them and import again, or use --skip-invalid)", details: refused.report.rejected.map(row))
  }
}

extension StoreUnavailable {
  /// Says why the database cannot be used, naming where kpstock looked when that is known and, for a database it
  /// cannot upgrade, what to do instead.
  /// On the embedded cluster, a login refused by name is the one KPSTOCK_USER named: say what it must name.
  static func loginHint(_ message: String, _ target: DatabaseTarget?) -> String {
    guard case .embedded = target, message.contains("role \""),
      message.contains("does not exist") || message.contains("is not permitted to log in")
    else { return "" }
    return "; KPSTOCK_USER must name a kpstock user who may log in (kpstock user list)"
  }

  func worded(at target: DatabaseTarget?) -> KPStockError {
    switch self {
    case .unreachable(let message):
      KPStockError(
        .operational,
        "cannot use the database" + (target.map { " (\($0))" } ?? "") + ": \(message)" + Self.loginHint(message, target)
      )
    case .madeBeforeSquash(let migration):
      KPStockError(
        .operational,
        "this database was made by an earlier kpstock (it has migration \(migration)) whose ledger schema cannot be "
          + "upgraded in place; start a new database: kpstock db destroy --yes for the embedded cluster, or drop and "
          + "re-create the server's database")
    }
  }
}

extension Posting {
  /// What the request recorded, a line per event, worded for the person who typed it.
  var summary: String {
    let lead = replayed ? "already recorded with this key; nothing changed:\n" : ""
    return lead
      + events.map { event in
        let verb: String
        switch event.kind {
        case .receipt: verb = "received"
        case .dispense: verb = "dispensed"
        case .transferOut: verb = "dispatched"
        case .transferIn: verb = "received"
        case .adjustment: verb = "adjusted"
        case .count: verb = "counted, variance"
        }
        // A reversal moves stock the other way from its kind, so it says so and shows the sign:
        // "dispensed 1000" would read as a second dispensing.
        let reversal = event.reversesEventID != nil
        let signed = reversal || event.kind == .count || event.kind == .adjustment
        var text = "event \(event.id): "
        text += reversal ? "reversed \(event.kind.rawValue.replacingOccurrences(of: "_", with: " ")) " : "\(verb) "
        text += event.quantity > 0 && (reversal || event.kind == .count) ? "+" : ""
        text += "\(signed ? event.quantity : abs(event.quantity))"
        text += " \(event.commodityCode)"
        if let lot = event.lotCode {
          text += " lot \(lot)" + (event.expiresOn.map { " (expires \($0))" } ?? "")
        }
        text += " at \(event.siteCode) on \(event.occurredOn)"
        if let transfer = event.transferID { text += ", transfer \(transfer)" }
        if let reason = event.reasonCode { text += ", reason \(reason)" }
        if let reversed = event.reversesEventID { text += ", undoing event \(reversed)" }
        return text
      }.joined(separator: "\n") + "\n"
  }
}

extension LedgerImportReport {
  var summary: String {
    var text = dryRun ? "dry run, nothing written: \(fileName) would post " : "\(fileName): posted "
    text += "\(posted) of \(rows) rows"
    if repeats > 0 { text += "; \(repeats) were already recorded (same key and content) and were skipped" }
    if !rejected.isEmpty {
      text += "; \(Set(rejected.map(\.line)).count) rejected" + (rejectedFile.map { ", written to \($0)" } ?? "")
    }
    return text + "\n"
  }
}

extension OutreachImportReport {
  var summary: String {
    var text = dryRun ? "dry run, nothing written: \(fileName) would save " : "\(fileName): saved "
    text += "\(added + replaced) of \(rows) rows (\(added) new, \(replaced) corrected"
    text += replaced > 0 ? ", the old figures kept" : ""
    text += "); \(unchanged) unchanged"
    if !rejected.isEmpty {
      text += "; \(Set(rejected.map(\.line)).count) rejected" + (rejectedFile.map { ", written to \($0)" } ?? "")
    }
    return text + "\n"
  }
}

extension Seeds.Result {
  /// "10 sites, 24 supply lines", naming only what was added.
  var summary: String {
    added.filter { $0.value > 0 }.sorted { $0.key < $1.key }
      .map { "\($0.value) \($0.key.replacingOccurrences(of: "_", with: " "))" }.joined(separator: ", ")
  }
}
