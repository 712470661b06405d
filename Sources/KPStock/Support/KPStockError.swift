/// A failure worded for a person; the CLI chooses the exit status from its kind.
public struct KPStockError: Error, Sendable, CustomStringConvertible {
  public enum Kind: Sendable, Equatable {
    /// Something the user typed or supplied was wrong: fix the input and run again.
    case badInput
    /// The database or cluster could not do what was asked.
    case operational
  }

  public var kind: Kind
  public var message: String
  /// Extra lines (e.g. every bad row of a file) printed before the message.
  public var details: [String]

  public init(_ kind: Kind, _ message: String, details: [String] = []) {
    self.kind = kind
    self.message = message
    self.details = details
  }

  public static func badInput(_ message: String, details: [String] = []) -> KPStockError {
    KPStockError(.badInput, message, details: details)
  }

  public var description: String { message }
}

/// One field of one input was wrong. The caller decides how to name the place: `--kind` on the
/// command line, `sites.csv:4: kind` in a file.
public struct FieldError: Error, Sendable, Equatable, CustomStringConvertible {
  public var field: String
  public var problem: String
  public var hint: RefusalHint?

  public init(field: String, problem: String, hint: RefusalHint? = nil) {
    self.field = field
    self.problem = problem
    self.hint = hint
  }

  public var description: String { "\(field): \(problem)" }
}

/// Sentences for the constraints in Schema/, keyed by constraint name.
enum ConstraintMessages {
  static func fieldError(for constraint: String) -> FieldError? {
    table[constraint].map { FieldError(field: $0.field, problem: $0.problem) }
  }

  private static let table: [String: (field: String, problem: String)] = [
    "sites_closed_after_opened": ("closed_on", "must not be before the opening date"),
    "sites_dhis2_uid_key": ("dhis2_uid", "already used by another site"),
    "sites_county_code_sub_county_fkey": ("sub_county", "not a sub-county of that county"),
    "commodities_threshold_below_pack": ("pack_rounding_threshold", "must be smaller than the pack size"),
    "commodities_controlled_are_lot_tracked": ("controlled", "a controlled commodity must also be lot-tracked"),
    "supply_lines_not_self": ("supplier", "a site cannot supply itself"),
    "supply_lines_no_loop": ("supplier", "this supply line would make a loop (a site would end up supplying itself)"),
    "programme_settings_time_zone": ("time_zone", "not a time zone PostgreSQL knows (e.g. Africa/Nairobi)"),
    "programme_settings_time_zone_frozen": (
      "time_zone", "cannot change once stock is recorded: every event's day was decided in the current time zone"
    ),
    "commodities_frozen_by_ledger": (
      "code", "has stock recorded, so its base unit, lot tracking and controlled status can no longer change"
    ),
    "stock_events_client_uic": (
      "client", "not a UIC (6–32 letters, digits or dashes, with a letter); never a name or phone number"
    ),
    "stock_events_client_uic_digits": (
      "client", "holds a run of 7 or more digits, as a phone or ID number does; a UIC never carries one"
    ),
    "stock_events_note_identifier": (
      "note", "looks like it holds a phone or ID number; kpstock never stores one — leave it out"
    ),
    "stock_events_worker_code": ("worker", "not a peer educator code (2–32 letters, digits or dashes)"),
    "idempotency_key_length": (LedgerInput.keyRefused.field, LedgerInput.keyRefused.problem),
    "stock_events_note": ("note", "is longer than 500 characters"),
    "mat_clients_uic": (
      "client",
      "not a UIC (6–32 letters, digits or dashes, with a letter and no run of 7 digits); never a name, phone or ID number"
    ),
    "mat_prescriptions_mg": ("mg", "must be from 1 to 1000 mg a day"),
    "mat_prescriptions_split": ("split", "a day's dose is taken in 1 to 4 parts"),
    "mat_prescriptions_whole_parts": ("split", "the dose does not split into parts of whole mg"),
    "mat_prescriptions_prescriber": ("prescriber", "not a prescriber code (2–32 letters, digits or dashes)"),
    "mat_prescriptions_reason_check": ("reason", "must be 1 to 200 characters"),
    "mat_prescriptions_override_reason_check": ("override", "must be 1 to 200 characters"),
    "mat_doses_witness": ("witness", "not a witness code (2–32 letters, digits or dashes)"),
    "mat_doses_override_reason_check": ("override", "must be 1 to 200 characters"),
    "mat_dose_returns_reason_check": ("reason", "must be 1 to 200 characters"),
    "mat_exits_note_check": ("note", "must be 1 to 500 characters"),
    "lots_mg_per_ml": ("mg_per_ml", "must be above 0 and at most 100"),
    "mat_settings_active_days_check": ("active_days", "must be at least 1"),
    "mat_settings_status_order": ("lost_after_days", "must be more than the active days"),
    "mat_settings_review_missed_days_check": ("review_missed_days", "must be at least 1"),
    "mat_settings_missed_order": ("reinduction_missed_days", "must be more than the review's missed days"),
    "mat_settings_max_induction_mg_check": ("max_induction_mg", "must be above 0"),
    "mat_settings_max_increase_mg_check": ("max_increase_mg", "must be above 0"),
    "mat_settings_min_days_between_increases_check": ("min_days_between_increases", "must be 0 or more"),
    "mat_settings_max_dose_mg_check": ("max_dose_mg", "must be above 0"),
    "mat_settings_take_home_max_days_check": ("take_home_max_days", "must be from 0 to 31"),
    "mat_settings_take_home_after_days_check": ("take_home_after_days", "must be 0 or more"),
  ]
}

/// Where a refused entry tells the person to look, as a topic (the HINT of a ledger refusal) rather than words, since
/// only the front end knows whether that is a command to run or a column to fill in.
public enum RefusalHint: String, Sendable, Equatable {
  /// The setting that says how far back an entry may be dated.
  case backdatingWindow = "backdating_window"
  /// The adjustment reasons there are, and their directions.
  case reasons
  /// Naming a peer educator belongs to outreach dispensing.
  case outreachChannel = "outreach_channel"
  /// A MAT guard rail that a reason given by the person may pass.
  case matOverride = "mat_override"
  /// A MAT dose that a new prescription should decide (after missed days).
  case matPrescribe = "mat_prescribe"
  /// The MAT programme's settings (take-home limits).
  case matSettings = "mat_settings"
  /// A methadone batch's concentration.
  case matBatch = "mat_batch"
}
