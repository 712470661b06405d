import Foundation
import Postgres

/// One client's dose in a prison or hospital delivery, with the batches its mg came from.
public struct MATDeliveryDose: Sendable, Equatable {
  public var deliveryID: Int64
  public var transferID: Int64
  public var uic: String
  public var mg: Int
  public var ml: Decimal
  public var batches: String
  /// to give, given, or "not given: REASON".
  public var outcome: String
}

/// A close of day: the register's balance in ml against the volume measured, and the variance booked.
public struct MATDayClose: Sendable, Equatable {
  public var site: String
  public var day: CalendarDate
  public var expectedML: Decimal
  public var countedML: Decimal
  public var varianceMG: Int
  public var lot: String?
  public var reason: String?
}

/// What the national monthly methadone report asks of a clinic for a month (mat_monthly).
public struct MATMonthly: Sendable, Equatable {
  public var clientsAtStart, newClients, reinducted: Int
  public var exitedCompleted, exitedTransferredOut, exitedDied, exitedOther: Int
  public var clientsAtEnd, onMATSixMonths, missedOverFive: Int
  public var meanDoseMG: Decimal?
  public var shareAtLeast60MG: Decimal?
  public var dispensedMG: Int64
  public var dispensedML: Decimal
  public var openingMG, closingMG, lossesMG: Int64
  public var closingCountML: Decimal?
  /// No close of day in the month: the closing "count" is the register's balance.
  public var closingCountIsBalance: Bool
  public var resupplyML: Decimal?
  public var resupplyBottles: Int?
}

/// Reasons a delivered dose was not given.
public enum MATNotGiven {
  public static let reasons = ["released", "refused", "discharged", "absent", "other"]
}

extension Methadone {
  /// Prepares the day's doses for a prison or hospital: a transfer from the clinic and the list its carrier takes.
  public static func deliver(_ store: Store, from clinic: String, to site: String, date: CalendarDate? = nil) throws
    -> [MATDeliveryDose]
  {
    try store.run { connection in
      try connection.transaction { connection in
        let id: Int64 = try connection.query(
          "SELECT mat_deliver(\(code(clinic)), \(code(site)), \(date)::date) AS id")[0].decode("id")
        return try deliveryList(connection, id)
      }
    }
  }

  /// Records a delivery's doses as given at its destination, except `notGiven` (UIC → reason), which go back.
  public static func confirmDelivery(
    _ store: Store, _ delivery: Int64, witness: String, notGiven: [String: String] = [:], date: CalendarDate? = nil
  ) throws -> [MATDeliveryDose] {
    let pairs = notGiven.sorted { $0.key < $1.key }.map {
      "\(JSONText.quoted(code($0.key))): \(JSONText.quoted($0.value))"
    }
    let json = "{" + pairs.joined(separator: ", ") + "}"
    return try store.run { connection in
      try connection.transaction { connection in
        _ = try connection.query(
          "SELECT mat_confirm_delivery(\(delivery), \(code(witness)), \(json)::jsonb, \(date)::date)")
        return try deliveryList(connection, delivery)
      }
    }
  }

  public static func delivery(_ store: Store, _ id: Int64) throws -> [MATDeliveryDose] {
    let list = try store.run { try deliveryList($0, id) }
    guard !list.isEmpty else { throw FieldError(field: "delivery", problem: "no delivery \(id)") }
    return list
  }

  static func deliveryList(_ connection: Connection, _ id: Int64) throws -> [MATDeliveryDose] {
    try connection.query("SELECT * FROM mat_delivery_list(\(id))").map { row in
      MATDeliveryDose(
        deliveryID: try row.decode("delivery_id"), transferID: try row.decode("transfer_id"),
        uic: try row.decode("uic"),
        mg: Int(try row.decode("mg") as Int32), ml: try row.decode("ml"), batches: try row.decode("batches"),
        outcome: try row.decode("outcome"))
    }
  }

  /// Closes a site's day against the volume measured (ml), witnessed; a variance needs a reason.
  @discardableResult
  public static func closeDay(
    _ store: Store, site: String, countedML: Decimal, witness: String, reason: String? = nil,
    date: CalendarDate? = nil, key: String? = nil
  ) throws -> MATDayClose {
    try store.run { connection in
      try connection.transaction { connection in
        let row = try connection.query(
          """
          SELECT * FROM mat_close_day(\(code(site)), \(countedML)::numeric, \(code(witness)),
            \(reason.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }), \(date)::date,
            \(key ?? Ledger.freshKey()))
          """)[0]
        return MATDayClose(
          site: try row.decode("site_code"), day: try row.decode("day"), expectedML: try row.decode("expected_ml"),
          countedML: try row.decode("counted_ml"), varianceMG: Int(try row.decode("variance_mg") as Int32),
          lot: try row.decode("lot_code"), reason: try row.decode("reason_code"))
      }
    }
  }

  /// The national monthly methadone report's figures for a clinic and month (first and last day).
  public static func monthly(_ store: Store, site: String, first: CalendarDate, last: CalendarDate) throws -> MATMonthly
  {
    try store.run { connection in
      let row = try connection.query("SELECT * FROM mat_monthly(\(code(site)), \(first)::date, \(last)::date)")[0]
      func count(_ column: String) throws -> Int { Int(try row.decode(column) as Int32) }
      return MATMonthly(
        clientsAtStart: try count("clients_at_start"), newClients: try count("new_clients"),
        reinducted: try count("reinducted"), exitedCompleted: try count("exited_completed"),
        exitedTransferredOut: try count("exited_transferred_out"), exitedDied: try count("exited_died"),
        exitedOther: try count("exited_other"), clientsAtEnd: try count("clients_at_end"),
        onMATSixMonths: try count("on_mat_six_months"), missedOverFive: try count("missed_over_five"),
        meanDoseMG: try row.decode("mean_dose_mg"), shareAtLeast60MG: try row.decode("share_at_least_60_mg"),
        dispensedMG: try row.decode("dispensed_mg"), dispensedML: try row.decode("dispensed_ml"),
        openingMG: try row.decode("opening_mg"), closingMG: try row.decode("closing_mg"),
        lossesMG: try row.decode("losses_mg"), closingCountML: try row.decode("closing_count_ml"),
        closingCountIsBalance: try row.decode("closing_count_is_balance"), resupplyML: try row.decode("resupply_ml"),
        resupplyBottles: (try row.decode("resupply_bottles") as Int32?).map(Int.init))
    }
  }

  /// The monthly report's figures as printed: counts of people from 1 to 4 withheld unless `suppress` is false, which
  /// only those allowed to see small numbers may ask (the SQL refuses anyone else). A count marked `*` is the
  /// register's balance, for a month without a close of day.
  public static func monthlyReport(_ store: Store, site: String, month: String, suppress: Bool = true) throws
    -> [(figure: String, value: String)]
  {
    try store.run { connection in
      let period = try Reports.period(connection, month)
      guard period.kind == "month" else {
        throw FieldError(field: "month", problem: "'\(month)' is not a month (YYYY-MM)")
      }
      return try connection.query(
        """
        SELECT * FROM mat_monthly_report(\(code(site)), \(period.firstDay)::date, \(period.lastDay)::date, \(suppress))
        """
      ).map { row in (try row.decode("figure") as String, try row.decode("value") as String? ?? "") }
    }
  }

  /// A site's methadone need (mg) for the week starting `week` (a Monday).
  public static func weeklyNeed(_ store: Store, site: String, week: CalendarDate) throws -> Int64 {
    try store.run { connection in
      try connection.query("SELECT mat_weekly_need(\(code(site)), \(week)::date) AS need")[0].decode("need")
    }
  }
}
