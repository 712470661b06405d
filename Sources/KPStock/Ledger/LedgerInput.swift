import Foundation
import Postgres

/// Reads ledger requests from typed values (CLI flags, CSV cells), judging each field the same way
/// wherever it comes from. Field names are the flag names without dashes: site, commodity, qty, lot…
public struct LedgerInput: Sendable {
  public var sites: CodeLookup
  public var commodities: CodeLookup
  public var populations: CodeLookup
  /// Reason code → direction (in, out, either).
  public var reasons: [String: String]

  public init(sites: CodeLookup, commodities: CodeLookup, populations: CodeLookup, reasons: [String: String]) {
    self.sites = sites
    self.commodities = commodities
    self.populations = populations
    self.reasons = reasons
  }

  /// The codes an entry is read against, in one round trip: a ledger command's whole budget is three.
  public static func load(_ store: Store) throws -> LedgerInput {
    try store.run { try load($0) }
  }

  static func load(_ connection: Connection) throws -> LedgerInput {
    let row = try connection.query(
      """
      SELECT (SELECT string_agg(code, ' ') FROM sites) AS sites,
        (SELECT string_agg(code, ' ') FROM commodities) AS commodities,
        (SELECT string_agg(code, ' ') FROM populations) AS populations,
        (SELECT string_agg(code || '=' || direction, ' ') FROM stock_reasons) AS reasons
      """)[0]
    func codes(_ column: String) throws -> [String] {
      (try row.decode(column) as String?)?.split(separator: " ").map(String.init) ?? []
    }
    var reasons: [String: String] = [:]
    for pair in try codes("reasons") {
      let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
      reasons[parts[0]] = parts.count > 1 ? parts[1] : ""
    }
    return LedgerInput(
      sites: CodeLookup(noun: "site", codes: try codes("sites")),
      commodities: CodeLookup(noun: "commodity", codes: try codes("commodities")),
      populations: CodeLookup(noun: "population", codes: try codes("populations")), reasons: reasons)
  }

  public static let maximumQuantity: Int64 = 1_000_000_000

  public func receipt(_ input: InputValues) throws(FieldError) -> Receipt {
    Receipt(
      site: try site(input), commodity: try commodity(input), lot: try Self.lot(input),
      expiry: try Self.date(input, "expiry"), quantity: try Self.quantity(input), date: try Self.date(input, "date"),
      note: try Self.note(input))
  }

  public func dispensing(_ input: InputValues) throws(FieldError) -> Dispensing {
    let channel = try input.required("channel", current: nil) { text throws(FieldError) in
      DispensingChannel(
        rawValue: try FieldParsing.choice(
          text, field: "channel", noun: "channel", from: DispensingChannel.allCases.map(\.rawValue)))!
    }
    let worker = try input.optional("worker", current: nil) { text throws(FieldError) in
      try FieldParsing.newCode(text, field: "worker")
    }
    if channel == .outreach && worker == nil {
      throw FieldError(field: "worker", problem: "outreach dispensing needs the peer educator's code")
    }
    if channel == .clinic && worker != nil {
      throw FieldError(
        field: "worker", problem: "only outreach dispensing names a peer educator", hint: .outreachChannel)
    }
    return Dispensing(
      site: try site(input), commodity: try commodity(input), lot: try Self.lot(input),
      quantity: try Self.quantity(input), date: try Self.date(input, "date"),
      population: try input.required("population", current: nil) { text throws(FieldError) in
        try populations.resolve(text, field: "population")
      },
      channel: channel, worker: worker,
      client: try input.optional("client", current: nil) { text throws(FieldError) in try Self.uic(text) },
      note: try Self.note(input))
  }

  /// `qty` is a count; the reason decides whether it adds or removes stock. A reason that can go either way
  /// (correction, unexplained) needs an explicit sign, so nobody adds what they meant to remove.
  public func adjustment(_ input: InputValues) throws(FieldError) -> Adjustment {
    let reason = try reason(input, required: true)!
    let typed = (input["qty"] ?? "").trimmingCharacters(in: .whitespaces)
    let magnitude = try Self.quantity(input, allowingSign: true)
    let quantity: Int64
    switch reasons[reason] {
    case "in":
      guard !typed.hasPrefix("-") else {
        throw FieldError(field: "qty", problem: "reason \(reason) adds stock: give the quantity found, without a sign")
      }
      quantity = magnitude
    case "out":
      guard !typed.hasPrefix("+") else {
        throw FieldError(
          field: "qty", problem: "reason \(reason) removes stock: give the quantity removed, without a sign")
      }
      quantity = -abs(magnitude)
    default:
      guard typed.hasPrefix("+") || typed.hasPrefix("-") else {
        throw FieldError(
          field: "qty", problem: "reason \(reason) can add or remove stock: write +\(magnitude) or -\(magnitude)")
      }
      quantity = magnitude
    }
    return Adjustment(
      site: try site(input), commodity: try commodity(input), lot: try Self.lot(input),
      expiry: try Self.date(input, "expiry"), quantity: quantity, reason: reason, date: try Self.date(input, "date"),
      note: try Self.note(input))
  }

  public func count(_ input: InputValues) throws(FieldError) -> CountEntry {
    CountEntry(
      site: try site(input), commodity: try commodity(input), lot: try Self.lot(input),
      expiry: try Self.date(input, "expiry"), counted: try Self.quantity(input, allowingZero: true),
      reason: try reason(input, required: false), date: try Self.date(input, "date"),
      countID: try Self.identifier(input, "count"), note: try Self.note(input))
  }

  public func dispatch(_ input: InputValues) throws(FieldError) -> Dispatch {
    Dispatch(
      from: try site(input),
      to: try input.required("to", current: nil) { text throws(FieldError) in
        try sites.resolve(text, field: "to")
      },
      commodity: try commodity(input), lot: try Self.lot(input), quantity: try Self.quantity(input),
      date: try Self.date(input, "date"), note: try Self.note(input))
  }

  public func transferReceipt(_ input: InputValues) throws(FieldError) -> TransferReceipt {
    let rejected =
      try input.optional("rejected", current: nil) { text throws(FieldError) in
        Int64(try FieldParsing.integer(text, field: "rejected", range: 0...Int(Self.maximumQuantity)))
      } ?? 0
    return TransferReceipt(
      transfer: try Self.requiredIdentifier(input, "transfer"),
      rejected: rejected, reason: try reason(input, required: false), lot: try Self.lot(input),
      date: try Self.date(input, "date"), note: try Self.note(input))
  }

  public func undo(_ input: InputValues) throws(FieldError) -> Undo {
    Undo(
      event: try Self.requiredIdentifier(input, "event"),
      reason: try reason(input, required: true)!, note: try Self.note(input))
  }

  func site(_ input: InputValues) throws(FieldError) -> String {
    try input.required("site", current: nil) { text throws(FieldError) in
      try sites.resolve(text, field: "site")
    }
  }

  func commodity(_ input: InputValues) throws(FieldError) -> String {
    try input.required("commodity", current: nil) { text throws(FieldError) in
      try commodities.resolve(text, field: "commodity")
    }
  }

  func reason(_ input: InputValues, required: Bool) throws(FieldError) -> String? {
    let parse = { (text: String) throws(FieldError) -> String in
      let code = text.trimmingCharacters(in: .whitespaces).lowercased()
      guard reasons[code] != nil else {
        throw FieldError(
          field: "reason", problem: "unknown reason '\(text)' (\(reasons.keys.sorted().joined(separator: ", ")))")
      }
      return code
    }
    return required
      ? try input.required("reason", current: nil, parse) : try input.optional("reason", current: nil, parse)
  }

  static func quantity(_ input: InputValues, allowingZero: Bool = false, allowingSign: Bool = false) throws(FieldError)
    -> Int64
  {
    try input.required("qty", current: nil) { text throws(FieldError) in
      var digits = text.trimmingCharacters(in: .whitespaces)
      if allowingSign && digits.hasPrefix("+") { digits.removeFirst() }
      if !allowingSign && digits.hasPrefix("-") {
        throw FieldError(field: "qty", problem: "'\(text)' is negative: give a quantity of base units")
      }
      guard digits.wholeMatch(of: /-?[0-9]+/) != nil else {
        throw FieldError(field: "qty", problem: "'\(text)' is not a whole number of base units")
      }
      guard let value = Int64(digits), abs(value) <= maximumQuantity else {
        throw FieldError(field: "qty", problem: "'\(text)' is more than \(maximumQuantity)")
      }
      if value == 0 && !allowingZero { throw FieldError(field: "qty", problem: "must not be zero") }
      return value
    }
  }

  static func lot(_ input: InputValues) throws(FieldError) -> String? {
    try input.optional("lot", current: nil) { text throws(FieldError) in
      let lot = text.trimmingCharacters(in: .whitespaces).uppercased()
      guard lot.wholeMatch(of: /[A-Z0-9][A-Z0-9.\/-]{0,39}/) != nil else {
        throw FieldError(
          field: "lot", problem: "'\(text)' is not a lot code (1–40 letters, digits, dots, slashes or dashes)")
      }
      return lot
    }
  }

  static func date(_ input: InputValues, _ field: String) throws(FieldError) -> CalendarDate? {
    try input.optional(field, current: nil) { text throws(FieldError) in try FieldParsing.date(text, field: field) }
  }

  static func note(_ input: InputValues) throws(FieldError) -> String? {
    try input.optional("note", current: nil) { text throws(FieldError) in
      try FieldParsing.requiredText(text, field: "note", maxLength: 500)
    }
  }

  static func identifier(_ input: InputValues, _ field: String) throws(FieldError) -> Int64? {
    try input.optional(field, current: nil) { text throws(FieldError) in
      Int64(try FieldParsing.integer(text, field: field, range: 1...Int.max))
    }
  }

  static func requiredIdentifier(_ input: InputValues, _ field: String) throws(FieldError) -> Int64 {
    guard let value = try identifier(input, field) else { throw FieldError(field: field, problem: "is required") }
    return value
  }

  /// A client's UIC: letters, digits and dashes, with at least one letter and no run of seven digits, so a phone or ID
  /// number is refused, alone or inside a code. No refusal repeats the value: what was typed where a UIC belongs may be
  /// a name or a phone number, and a refusal is printed, logged and written into rejected-rows reports.
  public static func uic(_ text: String) throws(FieldError) -> String {
    let code = text.trimmingCharacters(in: .whitespaces).uppercased()
    guard code.wholeMatch(of: /[A-Z0-9-]{6,32}/) != nil, code.contains(where: \.isLetter) else {
      throw FieldError(
        field: "client",
        problem: "is not a UIC (6–32 letters, digits or dashes, with a letter); never a name or phone number")
    }
    if code.contains(/[0-9]{7}/), let refusal = ConstraintMessages.fieldError(for: "stock_events_client_uic_digits") {
      throw refusal
    }
    return code
  }

  /// An idempotency key as given with `--key` or a `key` column.
  public static func key(_ text: String?) throws(FieldError) -> String? {
    guard let text else { return nil }
    let key = text.trimmingCharacters(in: .whitespaces)
    guard (1...100).contains(key.count),
      !key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
    else { throw keyRefused }
    return key
  }

  /// What a key must be: the same words whether the command line, a register or the ledger refuses it.
  static let keyRefused = FieldError(field: "key", problem: "must be 1–100 characters without control characters")
}
