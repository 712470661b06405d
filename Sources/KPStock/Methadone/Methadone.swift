import Foundation
import Postgres

/// A MAT client's standing on a day, derived from their doses (Schema/functions/85_methadone.sql,
/// mat_client_states): never typed in.
public struct MATClient: Sendable, Equatable {
  public var uic: String
  public var population: String
  public var clinic: String
  public var enrolledOn: CalendarDate
  public var exitedOn: CalendarDate?
  public var exitReason: String?
  public var dosingSite: String?
  /// The prescription in force: mg a day, taken in `split` parts.
  public var mg: Int
  public var split: Int
  public var prescribedOn: CalendarDate?
  public var lastTaken: CalendarDate?
  public var daysSince: Int
  public var missedDays: Int
  /// active, defaulting, lost to follow-up or exited.
  public var status: String
  /// "review dose before dosing" or "re-induction needed" after missed days, until a new prescription.
  public var flag: String?
}

/// A dose (or a part of a split dose) as a dose or return command wrote it, or found it under the same key.
public struct MATDose: Sendable, Equatable {
  /// dosed, returned, or repeat (already written under this key; nothing changed).
  public var outcome: String
  public var id: Int64
  public var uic: String
  public var site: String
  public var dispensedOn: CalendarDate
  public var takeOn: CalendarDate
  public var mg: Int
  public var ml: Decimal
  /// The batches the stock came from, with their mg: "MB-2611 60 mg".
  public var batches: String
  public var flag: String?

  public var isTakeHome: Bool { takeOn > dispensedOn }
}

/// What a dose command asks for. nil `mg` means the prescribed dose (its part, when split); nil `date` today.
public struct MATDoseRequest: Sendable {
  public var site: String
  public var client: String
  public var mg: Int?
  public var witness: String
  public var takeHomeDays: Int
  public var date: CalendarDate?
  public var override: String?
  public var note: String?

  public init(
    site: String, client: String, mg: Int? = nil, witness: String, takeHomeDays: Int = 0, date: CalendarDate? = nil,
    override: String? = nil, note: String? = nil
  ) {
    self.site = site
    self.client = client
    self.mg = mg
    self.witness = witness
    self.takeHomeDays = takeHomeDays
    self.date = date
    self.override = override
    self.note = note
  }
}

/// One line of a site's controlled-drug register: a movement of methadone with the running balance after it (the
/// first line is the opening balance).
public struct MATRegisterEntry: Sendable, Equatable {
  public var day: CalendarDate
  public var eventID: Int64?
  /// opening balance, receipt, dose, take-home, take-home returned, transfer out, transfer in, adjustment, count.
  public var entry: String
  public var uic: String?
  public var batch: String?
  public var mgPerML: Decimal?
  public var mg: Int64?
  public var ml: Decimal?
  public var balanceMG: Int64
  public var balanceML: Decimal?
  public var recordedBy: String?
  public var witness: String?
  public var detail: String?
}

/// One thing that happened to a client, for clinic staff: enrolment, a prescription, a move, a dose, a return, an
/// exit.
public struct MATHistoryEntry: Sendable, Equatable {
  public var day: CalendarDate
  public var what: String
  public var site: String?
  public var detail: String
  public var recordedBy: String
}

/// The MAT programme's thresholds and guard rails (table mat_settings).
public struct MATSettings: Sendable, Equatable {
  public var activeDays: Int
  public var lostAfterDays: Int
  public var reviewMissedDays: Int
  public var reinductionMissedDays: Int
  public var maxInductionMG: Int
  public var maxIncreaseMG: Int
  public var minDaysBetweenIncreases: Int
  public var maxDoseMG: Int
  public var takeHomeMaxDays: Int
  public var takeHomeAfterDays: Int

  /// Column names, in the order the settings are listed and set.
  public static let columns = [
    "active_days", "lost_after_days", "review_missed_days", "reinduction_missed_days", "max_induction_mg",
    "max_increase_mg", "min_days_between_increases", "max_dose_mg", "take_home_max_days", "take_home_after_days",
  ]

  public var values: [Int] {
    [
      activeDays, lostAfterDays, reviewMissedDays, reinductionMissedDays, maxInductionMG, maxIncreaseMG,
      minDaysBetweenIncreases, maxDoseMG, takeHomeMaxDays, takeHomeAfterDays,
    ]
  }
}

/// Methadone (MAT): the client register by UIC, prescriptions, dosing sites, observed doses and take-homes, and the
/// controlled-drug register. The rules live in Schema/functions/85_methadone.sql; every dose books its stock through
/// the ledger's one posting path. This type passes typed values and reads rows back.
public enum Methadone {
  public static let exitReasons = ["completed", "transferred-out", "died", "other"]
  public static let statuses = ["active", "defaulting", "lost to follow-up", "exited"]

  @discardableResult
  public static func enrol(
    _ store: Store, clinic: String, client: String, population: String = "PWID", mg: Int, prescriber: String,
    date: CalendarDate? = nil, override: String? = nil
  ) throws -> Int64 {
    try change(store) { connection in
      try connection.query(
        """
        SELECT mat_enrol(\(code(clinic)), \(code(client)), \(code(population)), \(mg)::integer, \(code(prescriber)),
          \(date)::date, \(override)) AS episode
        """)[0].decode("episode")
    }
  }

  public static func prescribe(
    _ store: Store, client: String, mg: Int, prescriber: String, reason: String, split: Int = 1,
    override: String? = nil, date: CalendarDate? = nil
  ) throws {
    try change(store) { connection in
      _ = try connection.query(
        """
        SELECT mat_prescribe(\(code(client)), \(mg)::integer, \(code(prescriber)), \(reason), \(split)::integer,
          \(override), \(date)::date)
        """)
    }
  }

  public static func move(_ store: Store, client: String, to site: String, date: CalendarDate? = nil) throws {
    try change(store) { connection in
      _ = try connection.query("SELECT mat_move(\(code(client)), \(code(site)), \(date)::date)")
    }
  }

  public static func exit(
    _ store: Store, client: String, reason: String, note: String? = nil, date: CalendarDate? = nil
  ) throws {
    try change(store) { connection in
      _ = try connection.query("SELECT mat_exit(\(code(client)), \(reason), \(note), \(date)::date)")
    }
  }

  /// Records a batch's concentration (mg/ml), once.
  public static func setConcentration(_ store: Store, lot: String, mgPerML: Decimal) throws {
    try change(store) { connection in
      _ = try connection.query("SELECT mat_batch(\(code(lot)), \(mgPerML)::numeric)")
    }
  }

  /// Records a dose and any take-homes under `key` (a fresh one when none is given, so a second command is a second
  /// dose and is judged as one).
  public static func dose(_ store: Store, _ request: MATDoseRequest, key: String? = nil) throws -> [MATDose] {
    try change(store) { connection in try dose(connection, request, key: key) }
  }

  static func dose(_ connection: Connection, _ request: MATDoseRequest, key: String?) throws -> [MATDose] {
    try connection.query(
      """
      SELECT * FROM mat_dose(\(code(request.site)), \(code(request.client)), \(request.mg)::integer,
        \(code(request.witness)), \(request.takeHomeDays)::integer, \(request.date)::date,
        \(key ?? Ledger.freshKey()), \(request.override), \(request.note))
      """
    ).map(decodeDose)
  }

  /// Returns a take-home dose that came back unused to the batches it left.
  public static func returnTakeHome(
    _ store: Store, site: String, client: String, takeOn: CalendarDate, reason: String, date: CalendarDate? = nil,
    key: String? = nil
  ) throws -> [MATDose] {
    try change(store) { connection in
      try connection.query(
        """
        SELECT * FROM mat_return(\(code(site)), \(code(client)), \(takeOn)::date, \(reason), \(date)::date,
          \(key ?? Ledger.freshKey()))
        """
      ).map(decodeDose)
    }
  }

  /// Clients as they stand on `day` (today by default), optionally of one dosing site or clinic and one status.
  public static func clients(
    _ store: Store, site: String? = nil, status: String? = nil, on day: CalendarDate? = nil
  ) throws -> [MATClient] {
    try store.run { try clients($0, uic: nil, site: site, status: status, on: day) }
  }

  static func clients(
    _ connection: Connection, uic: String?, site: String?, status: String?, on day: CalendarDate?
  ) throws -> [MATClient] {
    try connection.query(
      """
      SELECT s.* FROM mat_client_states(coalesce(\(day)::date, programme_today()), \(uic.map(code))) s
      WHERE (\(site.map(code))::text IS NULL OR s.dosing_site = \(site.map(code)) OR s.clinic_code = \(site.map(code)))
        AND (\(status)::text IS NULL OR s.status = \(status))
      ORDER BY s.uic
      """
    ).map(decodeClient)
  }

  /// One client's standing today, or a refusal naming the UIC.
  public static func client(_ store: Store, _ uic: String) throws -> MATClient {
    guard let client = try store.run({ try clients($0, uic: uic, site: nil, status: nil, on: nil) }).first else {
      throw FieldError(field: "client", problem: "no MAT client \(code(uic))")
    }
    return client
  }

  /// Everything recorded about a client, oldest first: for clinic staff only (it names the UIC).
  public static func history(_ store: Store, _ uic: String) throws -> [MATHistoryEntry] {
    _ = try client(store, uic)
    return try store.run { connection in
      try connection.query(
        """
        SELECT * FROM mat_client_history(\(code(uic)))
        """
      ).map { row in
        MATHistoryEntry(
          day: try row.decode("day"), what: try row.decode("what"), site: try row.decode("site_code"),
          detail: try row.decode("detail"), recordedBy: try row.decode("recorded_by"))
      }
    }
  }

  /// The controlled-drug register of a site between two days, with its opening balance.
  public static func register(_ store: Store, site: String, from: CalendarDate, to: CalendarDate) throws
    -> [MATRegisterEntry]
  {
    guard from <= to else { throw FieldError(field: "from", problem: "\(from) is after --to \(to)") }
    return try store.run { connection in
      try connection.query("SELECT * FROM mat_register(\(code(site)), \(from)::date, \(to)::date)").map { row in
        MATRegisterEntry(
          day: try row.decode("day"), eventID: try row.decode("event_id"), entry: try row.decode("entry"),
          uic: try row.decode("uic"), batch: try row.decode("batch"), mgPerML: try row.decode("mg_per_ml"),
          mg: try row.decode("mg"), ml: try row.decode("ml"), balanceMG: try row.decode("balance_mg"),
          balanceML: try row.decode("balance_ml"), recordedBy: try row.decode("recorded_by"),
          witness: try row.decode("witness"), detail: try row.decode("detail"))
      }
    }
  }

  public static func settings(_ store: Store) throws -> MATSettings {
    try store.run { connection in
      let row = try connection.query("SELECT * FROM mat_settings")[0]
      func value(_ column: String) throws -> Int { Int(try row.decode(column) as Int32) }
      return MATSettings(
        activeDays: try value("active_days"), lostAfterDays: try value("lost_after_days"),
        reviewMissedDays: try value("review_missed_days"), reinductionMissedDays: try value("reinduction_missed_days"),
        maxInductionMG: try value("max_induction_mg"), maxIncreaseMG: try value("max_increase_mg"),
        minDaysBetweenIncreases: try value("min_days_between_increases"), maxDoseMG: try value("max_dose_mg"),
        takeHomeMaxDays: try value("take_home_max_days"), takeHomeAfterDays: try value("take_home_after_days"))
    }
  }

  public static func setSettings(_ store: Store, _ settings: MATSettings) throws {
    try change(store) { connection in
      _ = try connection.query(
        """
        UPDATE mat_settings SET active_days = \(settings.activeDays)::integer,
          lost_after_days = \(settings.lostAfterDays)::integer,
          review_missed_days = \(settings.reviewMissedDays)::integer,
          reinduction_missed_days = \(settings.reinductionMissedDays)::integer,
          max_induction_mg = \(settings.maxInductionMG)::integer, max_increase_mg = \(settings.maxIncreaseMG)::integer,
          min_days_between_increases = \(settings.minDaysBetweenIncreases)::integer,
          max_dose_mg = \(settings.maxDoseMG)::integer, take_home_max_days = \(settings.takeHomeMaxDays)::integer,
          take_home_after_days = \(settings.takeHomeAfterDays)::integer
        """)
    }
  }

  /// Codes as the register keeps them: trimmed, upper-case.
  static func code(_ text: String) -> String { CodeLookup.normalize(text) }

  private static func change<T>(_ store: Store, _ body: (Connection) throws -> T) throws -> T {
    try store.run { connection in try connection.transaction { try body($0) } }
  }

  static func decodeDose(_ row: Row) throws -> MATDose {
    MATDose(
      outcome: try row.decode("outcome"), id: try row.decode("dose_id"), uic: try row.decode("uic"),
      site: try row.decode("site_code"), dispensedOn: try row.decode("dispensed_on"), takeOn: try row.decode("take_on"),
      mg: Int(try row.decode("mg") as Int32), ml: try row.decode("ml"), batches: try row.decode("batches") ?? "",
      flag: try row.decode("flag"))
  }

  static func decodeClient(_ row: Row) throws -> MATClient {
    MATClient(
      uic: try row.decode("uic"), population: try row.decode("population_code"), clinic: try row.decode("clinic_code"),
      enrolledOn: try row.decode("enrolled_on"), exitedOn: try row.decode("exited_on"),
      exitReason: try row.decode("exit_reason"), dosingSite: try row.decode("dosing_site"),
      mg: Int(try row.decode("mg") as Int32? ?? 0), split: Int(try row.decode("split") as Int32? ?? 1),
      prescribedOn: try row.decode("prescribed_on"), lastTaken: try row.decode("last_taken"),
      daysSince: Int(try row.decode("days_since") as Int32), missedDays: Int(try row.decode("missed_days") as Int32),
      status: try row.decode("status"), flag: try row.decode("flag"))
  }
}
