import ArgumentParser
import Foundation
import KPStock

struct AuditCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audit",
    abstract: "Who recorded what, and when: stock events, methadone doses and changes to reference data, "
      + "settings, norms, forecasts and orders, newest first.",
    discussion: """
      'who' is the PostgreSQL user of the session that recorded it. A dose shows where it was given and by whom, \
      never to whom: no client's UIC is shown. Days are in the programme's time zone; by default the last \
      \(AuditTrail.defaultDays) days up to today, at most \(AuditTrail.defaultLimit) entries.
      Example: kpstock audit --site DICE-UKUNDA --from 2026-11-01 --to 2026-11-30 --kind changes
      """)

  @OptionGroup var database: DatabaseOptions
  @OptionGroup var output: FormatOption
  @Option(help: "Only entries at this site (code).") var site: String?
  @Option(help: "Only entries recorded by this PostgreSQL user.") var user: String?
  @Option(help: "First day, YYYY-MM-DD (default: \(AuditTrail.defaultDays - 1) days before --to).") var from: String?
  @Option(help: "Last day, YYYY-MM-DD (default: today).") var to: String?
  @Option(help: "Only events, doses or changes.") var kind: String?
  @Option(help: "At most this many entries, the newest (default \(AuditTrail.defaultLimit)).") var limit: String?

  /// `--kind` words and the kind each keeps.
  static let kindWords: [(word: String, kind: AuditKind)] = [
    ("events", .event), ("doses", .dose), ("changes", .change),
  ]

  func run() throws {
    let (from, to, kinds, limit, user) = try FlagNames().check {
      (
        try FieldParsing.date(self.from, field: "from"),
        try FieldParsing.date(self.to, field: "to"),
        try self.kind.map { text throws(FieldError) in
          let word = try FieldParsing.choice(text, field: "kind", noun: "kind", from: Self.kindWords.map(\.word))
          return Set(Self.kindWords.filter { $0.word == word }.map(\.kind))
        } ?? Set(AuditKind.allCases),
        try self.limit.map { text throws(FieldError) in
          try FieldParsing.integer(text, field: "limit", range: 1...100_000)
        } ?? AuditTrail.defaultLimit,
        try self.user.map { text throws(FieldError) in
          try FieldParsing.requiredText(text, field: "user", maxLength: 63)
        }
      )
    }
    // Swapped dates would print an empty trail, which reads as "nobody did anything".
    if let from, let to, from > to {
      throw KPStockError.badInput("--from: \(from) is after --to \(to)")
    }
    let store = try database.open()
    let site = try self.site.map { text in
      let sites = try ReferenceData.load(store).sites
      return try FlagNames().check { try sites.resolve(text, field: "site") }
    }
    let page = try FlagNames().check {
      try AuditTrail.entries(store, site: site, user: user, from: from, to: to, kinds: kinds, limit: limit)
    }
    Console.output(Self.listing(page.entries).rendered(as: output.format))
    if page.hasMore {
      Console.notice(
        "showing the newest \(limit) entries from \(page.from) to \(page.to); there are more: narrow the days "
          + "with --from and --to, or raise --limit")
    }
  }

  static func listing(_ entries: [AuditEntry]) -> Listing {
    Listing(
      columns: ["at", "who", "kind", "site", "source", "source_id", "what"],
      rows: entries.map { entry in
        [
          .text(Listing.timestamp(entry.at)), .text(entry.who), .text(entry.kind.rawValue), Cell(entry.siteCode),
          .text(entry.source), .integer(Int(entry.sourceID)), .text(entry.what),
        ]
      })
  }
}
