import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// A database with the Kwale demo's sites on 2026-12-01 and two methadone batches at MAT-KOMBANI: MB5 (5 mg/ml,
/// expires first) with 1,000 mg and MB10 (10 mg/ml) with 50,000 mg, both received on 2026-11-02.
func matDatabase() throws -> (TestDatabaseHandle, Store) {
  let database = try TestDatabase.fresh()
  let store = try openAsKPStock(database)
  try Seeds.loadKwaleDemo(store)
  try matDay(store, "2026-11-02")
  try receiveMethadone(store, site: "MAT-KOMBANI", lot: "MB5", mgPerML: 5, expiry: "2027-03-31", mg: 1000)
  try receiveMethadone(store, site: "MAT-KOMBANI", lot: "MB10", mgPerML: 10, expiry: "2027-09-30", mg: 50000)
  try matDay(store, "2026-12-01")
  return (database, store)
}

func matDay(_ store: Store, _ day: String) throws {
  try store.execute("SELECT set_config('kpstock.today', \(day), false)")
}

func receiveMethadone(
  _ store: Store, site: String, lot: String, mgPerML: Decimal?, expiry: String, mg: Int64, date: String? = nil
) throws {
  try Ledger.post(
    store,
    Receipt(
      site: site, commodity: "METHADONE", lot: lot, expiry: CalendarDate(expiry), quantity: mg,
      date: date.flatMap { CalendarDate($0) }))
  if let mgPerML { try Methadone.setConcentration(store, lot: lot, mgPerML: mgPerML) }
}

/// Enrols a client at MAT-KOMBANI on `day` (induction 20 mg) and, when `mg` is given, prescribes it on the same day
/// with an override (the tests of guard rails start from 20 mg).
func enrolled(_ store: Store, _ uic: String, on day: String, mg: Int? = nil) throws {
  try Methadone.enrol(
    store, clinic: "MAT-KOMBANI", client: uic, mg: 20, prescriber: "DR-01", date: CalendarDate(day))
  if let mg {
    try Methadone.prescribe(
      store, client: uic, mg: mg, prescriber: "DR-01", reason: "maintenance", override: "stable on it before",
      date: CalendarDate(day))
  }
}

@discardableResult
func dosed(
  _ store: Store, _ uic: String, site: String = "MAT-KOMBANI", mg: Int? = nil, takeHome: Int = 0,
  date: String? = nil, override: String? = nil, key: String? = nil
) throws -> [MATDose] {
  try Methadone.dose(
    store,
    MATDoseRequest(
      site: site, client: uic, mg: mg, witness: "NURSE-07", takeHomeDays: takeHome,
      date: date.flatMap { CalendarDate($0) }, override: override),
    key: key)
}

/// The problem a MAT change was refused with (its field first, when it names one).
func matRefusal(_ body: () throws -> Void) throws -> String {
  do {
    try body()
  } catch let refusal as LedgerRefusal {
    return refusal.description
  } catch let error as FieldError {
    return error.description
  }
  Issue.record("the change was not refused")
  return ""
}
