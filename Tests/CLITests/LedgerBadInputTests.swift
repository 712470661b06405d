import Foundation
import KPStockTestSupport
import Testing

/// Every field of every command that writes to the ledger, given a bad value: each is refused with one line
/// naming the flag, exit status 2, and no event is written.
@Suite("ledger commands refuse bad input")
struct LedgerBadInputTests {
  typealias Case = (changes: [String: String?], message: String)

  /// DICE-UKUNDA holds 120 MALE-CONDOM of lot LC1 (expires 2027-06-30, received 2026-02-20) and 100
  /// ALCOHOL-SWAB, which is not lot-tracked.
  static func stocked() throws -> CLI {
    let cli = try CLI.ledger()
    try cli.record(
      "receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "120", "--lot", "LC1", "--expiry",
      "2027-06-30", "--date", "2026-02-20")
    try cli.record("receive", "--site", "DICE-UKUNDA", "--commodity", "ALCOHOL-SWAB", "--qty", "100")
    return cli
  }

  static let siteAndCommodity: [Case] = [
    (["--site": "DICE-UKUNDAA"], "--site: unknown site 'DICE-UKUNDAA' (did you mean DICE-UKUNDA?)"),
    (["--site": "NAIROBI-CENTRAL"], "--site: unknown site 'NAIROBI-CENTRAL'"),
    (["--commodity": "MALE-CONDOMS"], "--commodity: unknown commodity 'MALE-CONDOMS' (did you mean MALE-CONDOM?)"),
  ]

  static let quantity: [Case] = [
    (["--qty": "0"], "--qty: must not be zero"),
    (["--qty": "-5"], "--qty: '-5' is negative: give a quantity of base units"),
    (["--qty": "1.5"], "--qty: '1.5' is not a whole number of base units"),
    (["--qty": "abc"], "--qty: 'abc' is not a whole number of base units"),
    (["--qty": "2000000000"], "--qty: '2000000000' is more than 1000000000"),
  ]

  static let date: [Case] = [
    (["--date": "2026-02-30"], "--date: '2026-02-30' is not a date (YYYY-MM-DD)"),
    (["--date": "2026-03-03"], "--date: 2026-03-03 is in the future (today is 2026-03-02)"),
    (
      ["--date": "2025-12-31"],
      "--date: 2025-12-31 is more than 60 days ago, outside the back-dating window "
        + "(kpstock settings set --backdating-window-days)"
    ),
  ]

  static let noteAndKey: [Case] = [
    (["--note": overlongNote], "--note: is longer than 500 characters"),
    (["--key": overlongKey], "--key: must be 1–100 characters without control characters"),
  ]

  @Test func receive() throws {
    let cli = try Self.stocked()
    try cli.record("site", "update", "SAT-MATUGA", "--closed-on", "2026-01-31")
    let base = ["receive", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "144", "--lot", "LC1"]
    try cli.expectEveryCaseRefused(
      base,
      Self.siteAndCommodity + Self.quantity + Self.date + Self.noteAndKey + [
        (["--site": "SAT-MATUGA"], "--site: site SAT-MATUGA closed on 2026-01-31"),
        (["--lot": nil], "--lot: MALE-CONDOM is lot-tracked: give its lot"),
        (["--lot": "LC 1"], "--lot: 'LC 1' is not a lot code (1–40 letters, digits, dots, slashes or dashes)"),
        (["--lot": "LC9"], "--expiry: lot LC9 of MALE-CONDOM is new: give its expiry date"),
        (["--lot": "LC9", "--expiry": "30/06/2027"], "--expiry: '30/06/2027' is not a date (YYYY-MM-DD)"),
        (["--expiry": "2027-12-31"], "--expiry: lot LC1 of MALE-CONDOM expires on 2027-06-30, not 2027-12-31"),
        (
          ["--lot": "LC8", "--expiry": "2026-01-31"],
          "--expiry: lot LC8 of MALE-CONDOM expired on 2026-01-31, before 2026-03-02"
        ),
        (["--commodity": "ALCOHOL-SWAB"], "--lot: ALCOHOL-SWAB is not lot-tracked: give no lot or expiry"),
        (
          ["--commodity": "ALCOHOL-SWAB", "--lot": nil, "--expiry": "2027-01-31"],
          "--expiry: ALCOHOL-SWAB is not lot-tracked: give no lot or expiry"
        ),
      ])
  }

  @Test func dispense() throws {
    let cli = try Self.stocked()
    let base = [
      "dispense", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "12", "--population", "FSW",
      "--channel", "clinic",
    ]
    // The value is never repeated: it may be a name or a phone number.
    let uic = "is not a UIC (6–32 letters, digits or dashes, with a letter); never a name or phone number"
    try cli.expectEveryCaseRefused(
      base,
      Self.siteAndCommodity + Self.quantity + Self.date + Self.noteAndKey + [
        (["--population": "FSWS"], "--population: unknown population 'FSWS' (did you mean FSW?)"),
        (["--population": "SEXWORKERS"], "--population: unknown population 'SEXWORKERS'"),
        (["--channel": "street"], "--channel: 'street' is not a channel (clinic, outreach)"),
        (["--channel": "outreach"], "--worker: outreach dispensing needs the peer educator's code"),
        (
          ["--worker": "PE-017"],
          "--worker: only outreach dispensing names a peer educator (use --channel outreach)"
        ),
        (
          ["--channel": "outreach", "--worker": "P E"],
          "--worker: 'P E' is not a valid code (2–32 letters, digits or dashes, starting with a letter or digit)"
        ),
        (["--client": "john"], "--client: " + uic),
        (["--client": "0712345678"], "--client: " + uic),
        (["--lot": "LC9"], "--lot: unknown lot LC9 of MALE-CONDOM"),
        (["--lot": "LC 1"], "--lot: 'LC 1' is not a lot code (1–40 letters, digits, dots, slashes or dashes)"),
        (["--commodity": "ALCOHOL-SWAB", "--lot": "LC1"], "--lot: ALCOHOL-SWAB is not lot-tracked: give no lot"),
      ])
  }

  @Test func adjust() throws {
    let cli = try Self.stocked()
    let base = ["adjust", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--qty", "5", "--reason", "damaged"]
    try cli.expectEveryCaseRefused(
      base,
      Self.siteAndCommodity + Self.date + Self.noteAndKey + [
        (["--qty": "0"], "--qty: must not be zero"),
        (["--qty": "1.5"], "--qty: '1.5' is not a whole number of base units"),
        (["--qty": "abc"], "--qty: 'abc' is not a whole number of base units"),
        (["--qty": "+5"], "--qty: reason damaged removes stock: give the quantity removed, without a sign"),
        (
          ["--qty": "-5", "--reason": "found"],
          "--qty: reason found adds stock: give the quantity found, without a sign"
        ),
        (["--reason": "correction"], "--qty: reason correction can add or remove stock: write +5 or -5"),
        (["--reason": "unexplained"], "--qty: reason unexplained can add or remove stock: write +5 or -5"),
        (["--reason": "stolen"], "--reason: unknown reason 'stolen' (\(Self.reasonCodes))"),
        (["--expiry": "2027-06-30"], "--expiry: give an expiry only when adding stock of a new lot"),
        (["--reason": "found", "--expiry": "June 2027"], "--expiry: 'June 2027' is not a date (YYYY-MM-DD)"),
        (["--reason": "found"], "--lot: MALE-CONDOM is lot-tracked: give its lot"),
        (
          ["--reason": "expired", "--lot": "LC1"],
          "--lot: lot LC1 of MALE-CONDOM expires on 2027-06-30: it has not expired"
        ),
        (["--lot": "LC 1"], "--lot: 'LC 1' is not a lot code (1–40 letters, digits, dots, slashes or dashes)"),
        (["--commodity": "ALCOHOL-SWAB", "--lot": "LC1"], "--lot: ALCOHOL-SWAB is not lot-tracked: give no lot"),
      ])
  }

  @Test func count() throws {
    let cli = try Self.stocked()
    let base = ["count", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--lot", "LC1", "--qty", "100"]
    try cli.expectEveryCaseRefused(
      base,
      Self.siteAndCommodity + Self.date + Self.noteAndKey + [
        (["--qty": "-5"], "--qty: '-5' is negative: give a quantity of base units"),
        (["--qty": "1.5"], "--qty: '1.5' is not a whole number of base units"),
        (["--qty": "abc"], "--qty: 'abc' is not a whole number of base units"),
        (["--reason": "nope"], "--reason: unknown reason 'nope' (\(Self.reasonCodes))"),
        (["--reason": "found"], "--reason: reason found adds stock, but the count is short by 20"),
        (["--count": "99"], "--count: no count 99 at DICE-UKUNDA"),
        (["--count": "abc"], "--count: 'abc' is not a whole number"),
        (["--count": "0"], "--count: 0 is out of range (at least 1)"),
        (["--lot": nil], "--lot: MALE-CONDOM is lot-tracked: give its lot"),
        (["--lot": "LC9"], "--expiry: lot LC9 of MALE-CONDOM is new: give its expiry date"),
        (["--lot": "LC9", "--expiry": "2027-13-01"], "--expiry: '2027-13-01' is not a date (YYYY-MM-DD)"),
        (["--commodity": "ALCOHOL-SWAB"], "--lot: ALCOHOL-SWAB is not lot-tracked: give no lot or expiry"),
      ])

    let counts = try cli.integer("SELECT count(*)::int FROM stock_counts")
    expectRefused(try cli.run("count", "start", "--site", "DICE-UKUNDAA"), Self.siteAndCommodity[0].message)
    expectRefused(
      try cli.run("count", "start", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOMS"),
      Self.siteAndCommodity[2].message)
    expectRefused(
      try cli.run("count", "start", "--site", "DICE-UKUNDA", "--date", "2026-03-03"), Self.date[1].message)
    #expect(try cli.integer("SELECT count(*)::int FROM stock_counts") == counts)
    expectRefused(try cli.run("count", "show", "99"), "ID: no count 99")
  }

  static let reasonCodes =
    "correction, damaged, expired, found, lost, measurement, returned, spillage, theft, unexplained"

  @Test func transferDispatch() throws {
    let cli = try Self.stocked()
    let base = [
      "transfer", "dispatch", "--site", "DICE-UKUNDA", "--to", "SAT-MSAMBWENI", "--commodity", "MALE-CONDOM", "--qty",
      "10",
    ]
    try cli.expectEveryCaseRefused(
      base,
      Self.siteAndCommodity + Self.quantity + Self.date + Self.noteAndKey + [
        (["--to": "SAT-MSAMBWENII"], "--to: unknown site 'SAT-MSAMBWENII' (did you mean SAT-MSAMBWENI?)"),
        (["--to": "dice-ukunda"], "--to: a site cannot send stock to itself"),
        (["--qty": "144"], "insufficient stock of MALE-CONDOM at DICE-UKUNDA: on hand 120, asked 144"),
        (["--lot": "LC9"], "--lot: unknown lot LC9 of MALE-CONDOM"),
        (["--commodity": "ALCOHOL-SWAB", "--lot": "LC1"], "--lot: ALCOHOL-SWAB is not lot-tracked: give no lot"),
      ])
    #expect(try cli.integer("SELECT count(*)::int FROM transfers") == 0)
  }

  @Test func transferReceive() throws {
    let cli = try Self.stocked()
    try cli.record(
      "transfer", "dispatch", "--site", "DICE-UKUNDA", "--to", "SAT-MSAMBWENI", "--commodity", "MALE-CONDOM", "--qty",
      "50", "--date", "2026-02-25")
    try cli.expectEveryCaseRefused(
      ["transfer", "receive", "1"],
      Self.date + Self.noteAndKey + [
        (["2": "99"], "TRANSFER: no transfer 99"),
        (["2": "abc"], "TRANSFER: 'abc' is not a whole number"),
        (["--date": "2026-02-24"], "--date: transfer 1 was dispatched on 2026-02-25"),
        (["--rejected": "-1"], "--rejected: -1 is out of range (0–1000000000)"),
        (["--rejected": "ten"], "--rejected: 'ten' is not a whole number"),
        (["--rejected": "60", "--reason": "damaged"], "--rejected: must be between 0 and the 50 dispatched"),
        (["--rejected": "10"], "--reason: a rejection needs a reason (see kpstock reason list)"),
        (["--rejected": "10", "--reason": "nope"], "--reason: unknown reason 'nope' (\(Self.reasonCodes))"),
        (
          ["--rejected": "10", "--reason": "found"],
          "--reason: reason found adds stock; a rejection writes stock off"
        ),
        (["--rejected": "10", "--reason": "damaged", "--lot": "LC9"], "--lot: transfer 1 carries no lot LC9"),
        (["--reason": "damaged"], "--reason: give a reason and lot only with a rejected quantity"),
      ])
    #expect(try cli.text("SELECT status FROM transfers WHERE id = 1") == "in_transit")
  }

  @Test func undo() throws {
    let cli = try Self.stocked()
    let dispense = [
      "dispense", "--site", "DICE-UKUNDA", "--commodity", "MALE-CONDOM", "--population", "FSW", "--channel", "clinic",
    ]
    try cli.record(dispense + ["--qty", "20", "--date", "2026-02-21"])  // event 3
    try cli.record("undo", "3", "--reason", "correction")  // event 4
    try cli.record(dispense + ["--qty", "120"])  // event 5: LC1 is now empty
    try cli.record(
      "transfer", "dispatch", "--site", "DICE-UKUNDA", "--to", "SAT-MSAMBWENI", "--commodity", "ALCOHOL-SWAB", "--qty",
      "10")  // event 6
    try cli.expectEveryCaseRefused(
      ["undo", "5", "--reason", "correction"],
      Self.noteAndKey + [
        (["1": "99"], "EVENT: no event 99"),
        (["1": "abc"], "EVENT: 'abc' is not a whole number"),
        (["1": "3"], "EVENT: event 3 was already undone by event 4"),
        (["1": "4"], "EVENT: event 4 already reverses event 3"),
        (
          ["1": "6"],
          "EVENT: event 6 belongs to transfer 1: correct it when receiving (with a rejected quantity) or with an adjustment"
        ),
        (["1": "1"], "insufficient stock of MALE-CONDOM lot LC1 at DICE-UKUNDA: on hand 0, asked 120"),
        (["--reason": "oops"], "--reason: unknown reason 'oops' (\(Self.reasonCodes))"),
      ])
    // An entry older than the back-dating window is history: it can no longer be undone.
    try cli.record("settings", "set", "--backdating-window-days", "7")
    expectRefused(
      try cli.run("undo", "1", "--reason", "correction"),
      "EVENT: 2026-02-20 is more than 7 days ago, outside the back-dating window "
        + "(kpstock settings set --backdating-window-days)")
  }
}
