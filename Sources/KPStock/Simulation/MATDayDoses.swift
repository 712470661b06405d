import Foundation
import Postgres

/// A MAT site's doses of one day, posted as one batch of mat_doses_post (Schema/functions/85_methadone.sql): the
/// simulator's clinic staff dosing their clients through the register's rules. The pharmacist measures each batch
/// received there first (its concentration, 5 or 10 mg/ml, drawn from its code). The events come back as
/// `ledger_booked` rows, so the simulator's copy of the stock is checked against them like any other posting.
struct MATDayDoses: LedgerRequest, PostsItself {
  struct Dose: Sendable {
    var client: String
    var mg: Int
    var takeHomeDays: Int
    var override: String?
  }

  var site: String
  var date: CalendarDate
  var doses: [Dose]

  /// Who witnesses the simulated doses.
  static let witness = "SIM-NURSE"

  func batchElement(req: Int, key: String) -> String? { nil }

  func postItself(_ connection: Connection, key: String) throws -> QueryResult {
    _ = try connection.query(
      """
      SELECT mat_batch(l.lot_code, CASE WHEN hashtext(l.lot_code) % 2 = 0 THEN 10 ELSE 5 END)
      FROM lots l WHERE l.commodity_code = mat_commodity() AND l.mg_per_ml IS NULL
        AND EXISTS (SELECT FROM stock_balances b WHERE b.site_code = \(site) AND b.commodity_code = l.commodity_code
          AND b.lot_code = l.lot_code)
      """)
    let elements = doses.enumerated().map { index, dose in
      "{\"req\": \(index + 1), \"site\": \(JSONText.quoted(site)), \"client\": \(JSONText.quoted(dose.client)), "
        + "\"mg\": \(dose.mg), \"witness\": \(JSONText.quoted(Self.witness)), \"take_home\": \(dose.takeHomeDays), "
        + "\"date\": \"\(date)\", \"key\": \(JSONText.quoted("\(key)/\(index + 1)")), "
        + "\"override\": \(dose.override.map(JSONText.quoted) ?? "null")}"
    }
    let outcomes = try connection.query(
      "SELECT outcome FROM mat_doses_post(\("[" + elements.joined(separator: ",") + "]")::jsonb)")
    let repeated = try outcomes.first.map { try $0.decode("outcome") as String == "repeat" } ?? false
    // Every ledger key the doses were booked under, named in full so the ledger's key index finds them.
    let keys = doses.enumerated().flatMap { index, dose in
      ["\(key)/\(index + 1)"] + (0..<dose.takeHomeDays).map { "\(key)/\(index + 1)/\($0 + 1)" }
    }
    return try connection.query(
      """
      SELECT 1 AS req, \(repeated ? "repeat" : "posted")::text AS outcome, e.id, e.key_part, e.site_code,
        e.commodity_code, e.lot_code, l.expires_on, e.kind, e.quantity, e.reason_code, e.occurred_on, e.transfer_id,
        e.count_id, e.reverses_event_id
      FROM stock_events e LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
      WHERE e.site_code = \(site) AND e.idempotency_key = ANY (\(PostgresArray(keys)))
      ORDER BY e.id
      """)
  }
}
