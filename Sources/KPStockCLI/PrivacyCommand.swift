import ArgumentParser
import KPStock

struct PrivacyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "privacy",
    abstract: "Find personal identifiers that reached the database in spite of the rules.",
    subcommands: [Check.self])

  /// Set apart from 1 (the database failed) and 2 (bad input), so a cron job or CI step can tell "found some" from
  /// "could not look".
  static let foundStatus: Int32 = 3

  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List rows whose notes, reasons, sources or client UICs hold a phone or ID number.",
      discussion: """
        Looks for Kenyan mobile numbers (07…, 01…, +254…, with or without spaces or dashes) and runs of 7 or more \
        digits (national ID, passport, NHIF numbers) and lists each row to fix, with the number masked. Exits 0 \
        when nothing is found and 3 when something is, so it can run from cron or CI.
        Example: kpstock privacy check
        """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      let findings = try PrivacyCheck.findings(store)
      let found = PrivacyCommand.listing(findings).printedAsFindings(
        output.format, noneFound: "no phone or ID numbers found in notes, reasons, sources or client UICs")
      if found {
        let rows = Set(findings.map { [$0.table, $0.row] }).count
        Console.error(
          "kpstock: error: \(rows) row\(rows == 1 ? "" : "s") hold\(rows == 1 ? "s" : "") what looks like a phone or "
            + "ID number; remove it from each (see docs/security.md, No personal identifiers)")
        throw ExitCode(PrivacyCommand.foundStatus)
      }
    }
  }

  static func listing(_ findings: [PrivacyFinding]) -> Listing {
    Listing(
      columns: ["table", "row", "site", "column", "found", "masked"],
      rows: findings.map { finding in
        [
          .text(finding.table), .text(finding.row), Cell(finding.siteCode), .text(finding.column),
          .text(finding.kind), .text(finding.masked),
        ]
      })
  }
}
