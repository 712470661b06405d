import ArgumentParser
import Foundation
import KPStock

extension MatCommand {
  struct Deliver: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Prepare the day's doses for a prison or hospital: the carrier's list and a transfer from the clinic.",
      discussion: """
        Every client of the clinic dosing there that day and not dosed yet, at their prescribed dose. A client whose \
        missed days call for a review is held back for the clinician. Confirm at the destination with \
        kpstock mat confirm-delivery.
        Example: kpstock mat deliver --from MAT-KOMBANI --to PRISON-KWALE
        """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "The MAT clinic the doses come from.") var from: String
    @Option(help: "The prison or hospital.") var to: String
    @Option(help: "Day of the doses, YYYY-MM-DD (default today).") var date: String?

    func run() throws {
      let store = try database.open()
      let list = try FlagNames().check {
        try Methadone.deliver(store, from: from, to: to, date: try FieldParsing.date(date, field: "date"))
      }
      if output.format == .table, let first = list.first {
        Console.output("delivery \(first.deliveryID) (transfer \(first.transferID)) to \(to.uppercased()):\n")
      }
      Console.output(MatText.delivery(list).rendered(as: output.format))
    }
  }

  struct ConfirmDelivery: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "confirm-delivery",
      abstract: "Record a delivery's doses as given at the destination; doses not given go back to the clinic.",
      discussion: """
        --not-given UIC=REASON (released, refused, discharged, absent or other), once per dose not given.
        Example: kpstock mat confirm-delivery --delivery 3 --witness CO-PRISON-2 --not-given KWL-MAT-0042=released
        """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Delivery number (kpstock mat deliver).") var delivery: Int64
    @Option(help: "Code of the person at the destination who saw the doses taken.") var witness: String
    @Option(help: "UIC=REASON for a dose not given; repeat for each.") var notGiven: [String] = []
    @Option(help: "Day the doses were confirmed, YYYY-MM-DD (default today).") var date: String?

    func run() throws {
      let store = try database.open()
      let flags = FlagNames(renamed: ["not_given": "--not-given"])
      let list = try flags.check {
        var reasons: [String: String] = [:]
        for pair in notGiven {
          let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
          guard parts.count == 2 else {
            throw FieldError(field: "not_given", problem: "'\(pair)' is not UIC=REASON")
          }
          reasons[parts[0]] = try FieldParsing.choice(
            parts[1], field: "not_given", noun: "reason", from: MATNotGiven.reasons)
        }
        return try Methadone.confirmDelivery(
          store, delivery, witness: witness, notGiven: reasons, date: try FieldParsing.date(date, field: "date"))
      }
      Console.output(MatText.delivery(list).table())
    }
  }

  struct CloseDay: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "close-day",
      abstract: "Close a site's day: the volume measured against the register, the variance booked with a reason.",
      discussion: """
        A day closes once; a correction found later is an adjustment dated when it is found. Reasons: spillage, \
        measurement, or any out or either reason (kpstock reason list).
        Example: kpstock mat close-day --site MAT-KOMBANI --counted-ml 4812.5 --witness PHARM-02 --reason spillage
        """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Site code.") var site: String
    @Option(name: .customLong("counted-ml"), help: "Volume measured, ml.") var countedML: String
    @Option(help: "Code of the person who saw the volume measured.") var witness: String
    @Option(help: "Why the count differs from the register (needed when it does).") var reason: String?
    @Option(help: "The day closed, YYYY-MM-DD (default today).") var date: String?
    @Option(help: "Idempotency key of the variance's adjustment.") var key: String?

    func run() throws {
      let store = try database.open()
      let flags = FlagNames(renamed: ["counted_ml": "--counted-ml"])
      let close = try flags.check {
        try Methadone.closeDay(
          store, site: site,
          countedML: try FieldParsing.decimal(
            countedML, field: "counted_ml", range: 0...10_000_000, maxFractionDigits: 2),
          witness: witness, reason: reason, date: try FieldParsing.date(date, field: "date"),
          key: try LedgerInput.key(key))
      }
      var text = "closed \(close.site) on \(close.day): counted \(close.countedML) ml, register \(close.expectedML) ml"
      if close.varianceMG != 0 {
        text += "; variance \(close.varianceMG > 0 ? "+" : "")\(close.varianceMG) mg booked to batch "
        text += "\(close.lot ?? "?"), reason \(close.reason ?? "?")"
      }
      Console.output(text + "\n")
    }
  }
}

extension ReportCommand {
  /// What the national monthly methadone report asks of a clinic.
  struct MatMonthly: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "mat-monthly",
      abstract: "A MAT clinic's month for the national methadone report: clients, doses, stock and the resupply.",
      discussion: """
        Counts of clients from 1 to 4 print as <5 (as in every report). Resupply: 3 × the month's dispensed ml − the \
        closing physical count, in 1,000 ml bottles.
        Example: kpstock report mat-monthly --site MAT-KOMBANI --month 2026-11
        """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "MAT clinic code.") var site: String
    @Option(help: "Month, YYYY-MM.") var month: String
    @OptionGroup var privacy: ReportCommand.PrivacyOptions

    func run() throws {
      let store = try database.open()
      let figures = try FlagNames().check {
        try Methadone.monthlyReport(store, site: site, month: month, suppress: !privacy.noSuppress)
      }
      Console.output(
        Listing(columns: ["figure", "value"], rows: figures.map { [.text($0.figure), .text($0.value)] })
          .rendered(as: output.format))
    }
  }
}
