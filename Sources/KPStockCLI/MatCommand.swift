import ArgumentParser
import Foundation
import KPStock

struct MatCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mat",
    abstract: "Methadone (MAT): clients by UIC, prescriptions, dosing sites, observed doses and take-homes.",
    discussion: """
      Clients are named by their UIC only, never by name, phone or ID number. A client's status is derived from the \
      doses they took: active (last dose ≤ 5 days ago), defaulting (6–30), lost to follow-up (> 30), or exited. Every \
      dose is dispensed through the stock ledger, first expiry first out, and measured in ml from its batch's \
      concentration (kpstock mat batch). The register: kpstock report mat-register. See docs/methadone.md.
      """,
    subcommands: [
      Enrol.self, Prescribe.self, Dose.self, Return.self, Move.self, Exit.self, Deliver.self, ConfirmDelivery.self,
      CloseDay.self, Clients.self, Client.self, Batch.self, Settings.self,
    ])

  static let flags = FlagNames(renamed: ["qty": "--mg", "client": "--client", "take_home": "--take-home"])

  struct Enrol: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Enrol a client at a MAT clinic with an induction dose (mg a day).",
      discussion: """
        An induction above 30 mg (the setting max_induction_mg) is refused unless --override gives a reason, which \
        is kept. A client who exited may be enrolled again: a new episode, the old one kept.
        Example: kpstock mat enrol --site MAT-KOMBANI --client KWL-MAT-0042 --mg 20 --prescriber DR-OKELLO
        """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "MAT clinic code.") var site: String
    @Option(help: "The client's UIC.") var client: String
    @Option(help: "Induction dose, mg a day.") var mg: Int
    @Option(help: "The prescriber's code.") var prescriber: String
    @Option(help: "Key population the client is counted under (default PWID).") var population = "PWID"
    @Option(help: "Day of enrolment, YYYY-MM-DD (default today).") var date: String?
    @Option(help: "Why a dose outside the guard rails is right for this client (kept with it).") var override: String?

    func run() throws {
      let store = try database.open()
      try MatCommand.flags.check {
        try Methadone.enrol(
          store, clinic: site, client: client, population: population, mg: mg, prescriber: prescriber,
          date: try FieldParsing.date(date, field: "date"), override: override)
      }
      let enrolled = try Methadone.client(store, client)
      Console.output(
        "enrolled \(enrolled.uic) at \(enrolled.clinic) on \(enrolled.enrolledOn): induction \(enrolled.mg) mg a day\n")
    }
  }

  struct Prescribe: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Change a client's dose from a day on (the history is kept).",
      discussion: """
        Guard rails (kpstock mat settings): a dose above 300 mg, an increase of more than 10 mg in one change, or an \
        increase less than 3 days after the last is refused unless --override gives a reason.
        Example: kpstock mat prescribe --client KWL-MAT-0042 --mg 30 --prescriber DR-OKELLO --reason "titration"
        """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The client's UIC.") var client: String
    @Option(help: "Dose, mg a day.") var mg: Int
    @Option(help: "The prescriber's code.") var prescriber: String
    @Option(help: "Why the dose changes.") var reason: String
    @Option(help: "Parts the day's dose is taken in, each observed (1–4, default 1).") var split = 1
    @Option(help: "Why a dose outside the guard rails is right for this client (kept with it).") var override: String?
    @Option(help: "First day of the new dose, YYYY-MM-DD (default today).") var date: String?

    func run() throws {
      let store = try database.open()
      try MatCommand.flags.check {
        try Methadone.prescribe(
          store, client: client, mg: mg, prescriber: prescriber, reason: reason, split: split, override: override,
          date: try FieldParsing.date(date, field: "date"))
      }
      let prescribed = try Methadone.client(store, client)
      Console.output(
        "\(prescribed.uic): \(prescribed.mg) mg a day" + (prescribed.split > 1 ? " in \(prescribed.split) parts" : "")
          + " from \(prescribed.prescribedOn.map(\.description) ?? "today")\n")
    }
  }

  struct Dose: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Record an observed dose (default: the prescribed dose), and any take-home doses.",
      discussion: """
        One dose a day, or one part at a time of a split dose. Refused with a sentence saying why: a client who is \
        not enrolled or has exited, a site that is not the client's dosing site, no witness, a dose above the \
        prescription, a day already dosed, a batch without a concentration, or — after 3 or more days missed — a \
        dose at the old level without a new prescription or --override. --take-home N dispenses N further days, \
        each for its own day, within the programme's limit (none in the first 90 days on treatment).
        Example: kpstock mat dose --site MAT-KOMBANI --client KWL-MAT-0042 --witness NURSE-07
        """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The site dosing the client: their clinic, prison or hospital.") var site: String
    @Option(help: "The client's UIC.") var client: String
    @Option(help: "mg to give (default: the prescribed dose, or its part when split).") var mg: Int?
    @Option(help: "Code of the person who saw the dose taken.") var witness: String
    @Option(help: "Further days' doses to take home now (default 0).") var takeHome = 0
    @Option(help: "Day of the dose, YYYY-MM-DD (default today; back-dating has a window).") var date: String?
    @Option(help: "Why dosing at this level after missed days is right (kept with the dose).") var override: String?
    @OptionGroup var entry: EntryOptions

    func run() throws {
      let store = try database.open()
      let doses = try MatCommand.flags.check {
        try Methadone.dose(
          store,
          MATDoseRequest(
            site: site, client: client, mg: mg, witness: witness, takeHomeDays: takeHome,
            date: try FieldParsing.date(date, field: "date"), override: override, note: entry.note),
          key: try LedgerInput.key(entry.key))
      }
      Console.output(MatText.doses(doses))
    }
  }

  struct Return: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "return",
      abstract: "Return a take-home dose that came back unused to stock.",
      discussion:
        "Example: kpstock mat return --site MAT-KOMBANI --client KWL-MAT-0042 --take-on 2026-12-05 --reason \"admitted to hospital\""
    )

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The site that dispensed the take-home.") var site: String
    @Option(help: "The client's UIC.") var client: String
    @Option(help: "The day the dose was meant for, YYYY-MM-DD.") var takeOn: String
    @Option(help: "Why it came back.") var reason: String
    @Option(help: "Day of the return, YYYY-MM-DD (default today).") var date: String?
    @Option(help: "Idempotency key: the same return again with the same key records nothing new.") var key: String?

    func run() throws {
      let store = try database.open()
      let doses = try MatCommand.flags.check {
        try Methadone.returnTakeHome(
          store, site: site, client: client, takeOn: try FieldParsing.date(takeOn, field: "take_on"), reason: reason,
          date: try FieldParsing.date(date, field: "date"), key: try LedgerInput.key(key))
      }
      Console.output(MatText.doses(doses))
    }
  }

  struct Move: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Move a client's dosing to a prison or hospital, or back to their clinic (not an exit).",
      discussion: "Example: kpstock mat move --client KWL-MAT-0042 --to PRISON-KWALE")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The client's UIC.") var client: String
    @Option(help: "Prison, hospital, or the client's own MAT clinic.") var to: String
    @Option(help: "First day of dosing there, YYYY-MM-DD (default today).") var date: String?

    func run() throws {
      let store = try database.open()
      try MatCommand.flags.check {
        try Methadone.move(store, client: client, to: to, date: try FieldParsing.date(date, field: "date"))
      }
      Console.output("\(client.uppercased()) doses at \(to.uppercased()) from \(date ?? "today")\n")
    }
  }

  struct Exit: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "End a client's treatment: completed, transferred-out, died or other (with --note).",
      discussion: "Example: kpstock mat exit --client KWL-MAT-0042 --reason transferred-out --note \"to Mombasa\"")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The client's UIC.") var client: String
    @Option(help: "completed, transferred-out, died or other.") var reason: String
    @Option(help: "More about the exit; required for other. Never a name.") var note: String?
    @Option(help: "Day of the exit, YYYY-MM-DD (default today).") var date: String?

    func run() throws {
      let store = try database.open()
      try MatCommand.flags.check {
        let reason = try FieldParsing.choice(reason, field: "reason", noun: "reason", from: Methadone.exitReasons)
        try Methadone.exit(
          store, client: client, reason: reason, note: note, date: try FieldParsing.date(date, field: "date"))
      }
      Console.output("\(client.uppercased()) exited (\(reason.lowercased())) on \(date ?? "today")\n")
    }
  }

  struct Clients: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List clients and their derived status (for clinic staff: it names UICs).",
      discussion: "Example: kpstock mat clients --site MAT-KOMBANI --status defaulting")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Clinic or dosing site code.") var site: String?
    @Option(help: "active, defaulting, \"lost to follow-up\" or exited.") var status: String?
    @Option(help: "As on this day, YYYY-MM-DD (default today).") var date: String?

    func run() throws {
      let store = try database.open()
      let clients = try MatCommand.flags.check {
        let status = try status.map { status throws(FieldError) in
          try FieldParsing.choice(status, field: "status", noun: "status", from: Methadone.statuses)
        }
        return try Methadone.clients(store, site: site, status: status, on: try FieldParsing.date(date, field: "date"))
      }
      Console.output(MatText.clients(clients).rendered(as: output.format))
    }
  }

  struct Client: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "One client's standing and history (for clinic staff only).",
      discussion: "Example: kpstock mat client KWL-MAT-0042")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Argument(help: "The client's UIC.") var uic: String

    func run() throws {
      let store = try database.open()
      let flags = FlagNames(renamed: ["client": "UIC"])
      let client = try flags.check { try Methadone.client(store, uic) }
      let history = try flags.check { try Methadone.history(store, uic) }
      if output.format == .table { Console.output(MatText.standing(client)) }
      Console.output(MatText.history(history).rendered(as: output.format))
    }
  }

  struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Record a methadone batch's concentration (mg/ml) once it is received.",
      discussion: "Example: kpstock mat batch --lot MB-2611 --mg-per-ml 10")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Batch (lot) code, as received.") var lot: String
    @Option(name: .customLong("mg-per-ml"), help: "Concentration, mg per ml (5 and 10 are usual).") var mgPerML: String

    func run() throws {
      let store = try database.open()
      let flags = FlagNames(renamed: ["mg_per_ml": "--mg-per-ml"])
      try flags.check {
        let concentration = try FieldParsing.decimal(
          mgPerML, field: "mg_per_ml", range: 0.01...100, maxFractionDigits: 2)
        try Methadone.setConcentration(store, lot: lot, mgPerML: concentration)
      }
      Console.output("batch \(lot.uppercased()): \(mgPerML) mg/ml\n")
    }
  }

  struct Settings: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show or change the MAT thresholds and guard rails.",
      discussion: """
        Example: kpstock mat settings --take-home-max-days 6
        Status: active up to --active-days since the last dose, then defaulting, lost to follow-up after \
        --lost-after-days. Missed days before a dose needs a review or re-induction: --review-missed-days, \
        --reinduction-missed-days. Take-homes: at most --take-home-max-days at a time (0: none), none in the first \
        --take-home-after-days on treatment.
        """)

    @OptionGroup var database: DatabaseOptions
    @Option var activeDays: Int?
    @Option var lostAfterDays: Int?
    @Option var reviewMissedDays: Int?
    @Option var reinductionMissedDays: Int?
    @Option var maxInductionMg: Int?
    @Option var maxIncreaseMg: Int?
    @Option var minDaysBetweenIncreases: Int?
    @Option var maxDoseMg: Int?
    @Option var takeHomeMaxDays: Int?
    @Option var takeHomeAfterDays: Int?

    func run() throws {
      let store = try database.open()
      var settings = try Methadone.settings(store)
      let changes: [(WritableKeyPath<MATSettings, Int>, Int?)] = [
        (\.activeDays, activeDays), (\.lostAfterDays, lostAfterDays), (\.reviewMissedDays, reviewMissedDays),
        (\.reinductionMissedDays, reinductionMissedDays), (\.maxInductionMG, maxInductionMg),
        (\.maxIncreaseMG, maxIncreaseMg), (\.minDaysBetweenIncreases, minDaysBetweenIncreases),
        (\.maxDoseMG, maxDoseMg), (\.takeHomeMaxDays, takeHomeMaxDays), (\.takeHomeAfterDays, takeHomeAfterDays),
      ]
      if changes.contains(where: { $0.1 != nil }) {
        for (path, value) in changes { if let value { settings[keyPath: path] = value } }
        try FlagNames().check { try Methadone.setSettings(store, settings) }
        settings = try Methadone.settings(store)
      }
      Console.output(
        zip(MATSettings.columns, settings.values).map { "\($0.replacingOccurrences(of: "_", with: "-")): \($1)" }
          .joined(separator: "\n") + "\n")
    }
  }
}
