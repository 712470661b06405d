import Postgres

/// A stored row whose free text or UIC holds what looks like a phone or ID number.
public struct PrivacyFinding: Sendable, Equatable {
  public var table: String
  /// The row's key as its table keys it: an event's or dose's id, an order and commodity, a norm's scope and date.
  public var row: String
  public var siteCode: String?
  public var column: String
  /// `phone number` or `ID number`.
  public var kind: String
  /// What was found with most of its digits hidden (`07•••••678`): the list is shown and kept, so it must not be the
  /// leak it reports.
  public var masked: String
}

public enum PrivacyCheck {
  /// Every finding, one per number found, from one query over the free-text columns (privacy_findings).
  public static func findings(_ store: Store) throws -> [PrivacyFinding] {
    try store.run { try findings($0) }
  }

  static func findings(_ connection: Connection) throws -> [PrivacyFinding] {
    try connection.query("SELECT * FROM privacy_findings()").map { row in
      PrivacyFinding(
        table: try row.decode("table_name"), row: try row.decode("row_key"), siteCode: try row.decode("site_code"),
        column: try row.decode("column_name"), kind: try row.decode("kind"), masked: try row.decode("masked"))
    }
  }
}
