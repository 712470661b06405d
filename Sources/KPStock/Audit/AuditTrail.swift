import Foundation
import Postgres

/// What an audit entry records: a stock event, a methadone dose (or its return, or a change of dose), or a change
/// to reference data, settings, norms, forecasts or orders.
public enum AuditKind: String, CaseIterable, Sendable {
  case event, dose, change
}

/// One thing that happened, who did it (the session user) and when it was recorded. Never whose dose it was: a
/// client's UIC is not part of the audit trail.
public struct AuditEntry: Sendable, Equatable {
  public var at: Date
  public var who: String
  public var kind: AuditKind
  public var siteCode: String?
  public var what: String
  /// Where the entry is kept (stock_events, mat_doses, mat_dose_returns, mat_prescriptions, audit_log,
  /// order_changes) and its id there.
  public var source: String
  public var sourceID: Int64
}

/// The entries of a range of days, newest first, and whether the range holds more than were read.
public struct AuditPage: Sendable, Equatable {
  public var entries: [AuditEntry]
  /// The range read, in the programme's time zone, inclusive: the days asked for, or the defaults.
  public var from: CalendarDate
  public var to: CalendarDate
  public var hasMore: Bool
}

public enum AuditTrail {
  /// Days read when no first day is given: the last day and the six before it.
  public static let defaultDays = 7
  public static let defaultLimit = 200

  /// The audit trail from `from` to `to` (days in the programme's time zone, inclusive; by default the last
  /// `defaultDays` days up to today), at one site and by one user if given, of the kinds asked for, newest first, at
  /// most `limit` entries. Events and doses are read from their own rows (recorded_by, dispensed_by); changes from
  /// audit_log and order_changes.
  public static func entries(
    _ store: Store, site: String? = nil, user: String? = nil, from: CalendarDate? = nil, to: CalendarDate? = nil,
    kinds: Set<AuditKind> = Set(AuditKind.allCases), limit: Int = defaultLimit
  ) throws -> AuditPage {
    // Without JIT: the scans of a long ledger cost enough that PostgreSQL would compile the query's expressions first,
    // which took a second of the 1.3 s the Kwale demo's week took (0.16 s without), to return 200 rows.
    try store.run { connection in
      try connection.transaction { connection in
        try connection.execute("SET LOCAL jit = off")
        return try entries(connection, site: site, user: user, from: from, to: to, kinds: kinds, limit: limit)
      }
    }
  }

  static func entries(
    _ connection: Connection, site: String?, user: String?, from: CalendarDate?, to: CalendarDate?,
    kinds: Set<AuditKind>, limit: Int
  ) throws -> AuditPage {
    let range = try connection.query(
      """
      SELECT from_day, to_day, (from_day::timestamp AT TIME ZONE time_zone) AS since,
        ((to_day + 1)::timestamp AT TIME ZONE time_zone) AS until, session_user::text AS reader,
        has_table_privilege('audit_log', 'SELECT') AND has_table_privilege('mat_doses', 'SELECT') AS may_read
      FROM (
        SELECT coalesce(\(from)::date, last_day - \(defaultDays - 1)::integer) AS from_day, last_day AS to_day, time_zone
        FROM (SELECT coalesce(\(to)::date, (now() AT TIME ZONE time_zone)::date) AS last_day, time_zone
          FROM programme_settings) d
      ) r
      """
    ).first!
    // The trail names who dosed methadone clients: only those who may read the register may read it (pharmacists,
    // for their sites, and admins; docs/security.md).
    guard try range.decode("may_read") as Bool else {
      throw KPStockError.badInput(
        "\(try range.decode("reader") as String) may not read the audit trail: it shows who dosed methadone clients, "
          + "which only pharmacists and admins see")
    }
    let firstDay: CalendarDate = try range.decode("from_day")
    let lastDay: CalendarDate = try range.decode("to_day")
    let since: Date = try range.decode("since")
    let until: Date = try range.decode("until")
    // Only a first day given after today gets here; swapped days given both are the caller's to word.
    if firstDay > lastDay {
      throw FieldError(field: "from", problem: "\(firstDay) is after today, \(lastDay)")
    }
    // Every source's who, when and site, filtered once: PostgreSQL pushes the conditions into each branch (a kind not
    // asked for is not read at all, audit_log is read through its index on the time). Only the entries kept, newest
    // first, are put into words. The client a dose was for is never selected. An order is at its destination and at
    // its supplier.
    let rows = try connection.query(
      """
      WITH trail AS (
        SELECT * FROM (
          SELECT recorded_at AS at, recorded_by AS who, 'event' AS kind, site_code, NULL AS supplier_code,
            'stock_events' AS source, id AS source_id
          FROM stock_events
          UNION ALL
          SELECT recorded_at, dispensed_by, 'dose', site_code, NULL, 'mat_doses', id FROM mat_doses
          UNION ALL
          SELECT recorded_at, recorded_by, 'dose', site_code, NULL, 'mat_dose_returns', dose_id FROM mat_dose_returns
          UNION ALL
          SELECT p.recorded_at, p.recorded_by, 'dose', ep.clinic_code, NULL, 'mat_prescriptions', p.id
          FROM mat_prescriptions p JOIN mat_episodes ep ON ep.id = p.episode_id
          UNION ALL
          SELECT at, who, 'change', site_code, NULL, 'audit_log', id FROM audit_log
          UNION ALL
          SELECT c.changed_at, c.changed_by, 'change', o.site_code, o.supplier_code, 'order_changes', c.id
          FROM order_changes c JOIN orders o ON o.id = c.order_id
        ) every
        WHERE kind = ANY(\(PostgresArray(kinds.map(\.rawValue)))::text[]) AND at >= \(since) AND at < \(until)
          AND (\(site)::text IS NULL OR site_code = \(site) OR supplier_code = \(site))
          AND (\(user)::text IS NULL OR who = \(user))
        ORDER BY at DESC, source, source_id DESC
        LIMIT \(limit + 1)
      )
      SELECT t.*, CASE t.source
        WHEN 'stock_events' THEN (
          SELECT concat(e.kind, ' ',
            CASE WHEN e.reverses_event_id IS NOT NULL OR e.kind IN ('adjustment', 'count')
              THEN CASE WHEN e.quantity > 0 THEN '+' ELSE '' END || e.quantity ELSE abs(e.quantity)::text END,
            ' ', e.commodity_code, ' at ', e.site_code,
            CASE WHEN e.lot_code <> '' THEN ', lot ' || e.lot_code END,
            CASE WHEN e.kind = 'dispense' THEN ' (' || e.population_code || ', ' || e.channel
              || coalesce(' via ' || e.worker_code, '') || ')' END,
            CASE WHEN e.kind = 'transfer_out' THEN ' to ' || x.to_site_code
              WHEN e.kind = 'transfer_in' THEN ' from ' || x.from_site_code END,
            CASE WHEN e.transfer_id IS NOT NULL THEN ' (transfer ' || e.transfer_id || ')' END,
            CASE WHEN e.reason_code IS NOT NULL THEN ', reason ' || e.reason_code END,
            CASE WHEN e.reverses_event_id IS NOT NULL THEN ', undoes event ' || e.reverses_event_id END,
            CASE WHEN e.occurred_on <> e.recorded_on THEN ', for ' || e.occurred_on END)
          FROM stock_events e LEFT JOIN transfers x ON x.id = e.transfer_id WHERE e.id = t.source_id)
        WHEN 'mat_doses' THEN (
          SELECT concat('dose ', d.mg, ' mg (', d.ml, ' ml) at ', d.site_code, ', witness ', d.witness_code,
            CASE WHEN d.take_on > d.dispensed_on THEN ', take-home for ' || d.take_on END,
            CASE WHEN d.dispensed_on <> (d.recorded_at AT TIME ZONE s.time_zone)::date
              THEN ', handed over ' || d.dispensed_on END,
            CASE WHEN d.override_reason IS NOT NULL THEN ', override: ' || d.override_reason END)
          FROM mat_doses d, programme_settings s WHERE d.id = t.source_id)
        WHEN 'mat_dose_returns' THEN (
          SELECT concat('return of dose ', r.dose_id, ' (', d.mg, ' mg) at ', r.site_code, ' on ', r.returned_on, ': ',
            r.reason)
          FROM mat_dose_returns r JOIN mat_doses d ON d.id = r.dose_id WHERE r.dose_id = t.source_id)
        WHEN 'mat_prescriptions' THEN (
          SELECT concat('prescribe ', p.mg, ' mg', CASE WHEN p.split > 1 THEN ' in ' || p.split || ' parts' END,
            ' from ', p.starts_on, ' (episode ', p.episode_id, ' at ', t.site_code, '), by ', p.prescriber_code, ': ',
            p.reason, CASE WHEN p.override_reason IS NOT NULL THEN ', override: ' || p.override_reason END)
          FROM mat_prescriptions p WHERE p.id = t.source_id)
        WHEN 'audit_log' THEN (
          SELECT audit_what(a.table_name, a.action, a.row_key, a.before, a.after) FROM audit_log a
          WHERE a.id = t.source_id)
        WHEN 'order_changes' THEN (
          SELECT concat('order ', o.id, ' ', c.change, ' (', coalesce(o.supplier_code, o.external_supplier), ' → ',
            o.site_code, ')', CASE WHEN c.detail IS NOT NULL THEN ': ' || c.detail::text END)
          FROM order_changes c JOIN orders o ON o.id = c.order_id WHERE c.id = t.source_id)
        END AS what
      FROM trail t
      ORDER BY t.at DESC, t.source, t.source_id DESC
      """)
    let entries = try rows.prefix(limit).map { row in
      let kind: String = try row.decode("kind")
      return AuditEntry(
        at: try row.decode("at"), who: try row.decode("who"), kind: AuditKind(rawValue: kind)!,
        siteCode: try row.decode("site_code"), what: try row.decode("what"), source: try row.decode("source"),
        sourceID: try row.decode("source_id"))
    }
    return AuditPage(entries: entries, from: firstDay, to: lastDay, hasMore: rows.count > limit)
  }
}
