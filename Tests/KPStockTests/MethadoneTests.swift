import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// The MAT register (Schema/functions/85_methadone.sql): doses booked through the ledger and measured in ml, the
/// refusals a pharmacist meets, status derived from doses, guard rails, take-homes and their return.
@Suite("Methadone")
struct MethadoneTests {
  private let database: TestDatabaseHandle
  private let store: Store

  init() throws {
    (database, store) = try matDatabase()
  }

  @Test func theRegisterRunsItsBalanceInMgAndInMlAcrossTwoConcentrations() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-20", mg: 60)
    try enrolled(store, "KWL-A-0002", on: "2026-11-20", mg: 80)
    try matDay(store, "2026-11-30")
    // MB5 expires first: 60 mg of it is 12 ml.
    let first = try dosed(store, "KWL-A-0001")
    #expect(first.map { "\($0.batches) \($0.ml)" } == ["MB5 60 mg 12"])
    // Leave 40 mg of MB5: the next 80 mg dose takes 40 mg of MB5 (8 ml) and 40 mg of MB10 (4 ml).
    try Ledger.post(
      store,
      Adjustment(site: "MAT-KOMBANI", commodity: "METHADONE", lot: "MB5", quantity: -900, reason: "damaged"))
    let second = try dosed(store, "KWL-A-0002")
    #expect(second.map { "\($0.batches) \($0.ml)" } == ["MB5 40 mg, MB10 40 mg 12"])

    let register = try Methadone.register(
      store, site: "MAT-KOMBANI", from: CalendarDate("2026-11-30")!, to: CalendarDate("2026-11-30")!)
    #expect(
      register.map { "\($0.entry) \($0.uic ?? "-") \($0.mg.map(String.init) ?? "-") \($0.balanceMG) \($0.balanceML!)" }
        == [
          "opening balance - - 51000 5200", "dose KWL-A-0001 -60 50940 5188", "adjustment - -900 50040 5008",
          "dose KWL-A-0002 -40 50000 5000", "dose KWL-A-0002 -40 49960 4996",
        ])
    // The register agrees with the ledger's balance, in mg and in ml.
    let ledger = try store.query(
      """
      SELECT sum(b.on_hand)::bigint AS mg, sum(b.on_hand / l.mg_per_ml) AS ml FROM stock_balances b
      JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
      WHERE b.site_code = 'MAT-KOMBANI' AND b.commodity_code = 'METHADONE'
      """)[0]
    #expect(try ledger.decode("mg") as Int64 == register.last?.balanceMG)
    #expect(try ledger.decode("ml") as Decimal == register.last?.balanceML)
    // Every dose is a clinic dispense to a PWID client, named by UIC, witnessed and signed by the database user.
    let events = try store.query(
      """
      SELECT e.kind, e.channel, e.population_code, e.client_uic, o.witness_code, o.dispensed_by = current_user AS mine
      FROM mat_doses o JOIN stock_events e ON e.site_code = o.site_code AND e.idempotency_key = o.idempotency_key
      ORDER BY e.id
      """)
    #expect(events.count == 3)
    for event in events {
      #expect(try event.decode("kind") as String == "dispense")
      #expect(try event.decode("channel") as String == "clinic")
      #expect(try event.decode("population_code") as String == "PWID")
      #expect(try event.decode("witness_code") as String == "NURSE-07")
      #expect(try event.decode("mine") as Bool)
    }
  }

  @Test func eachDoseThatMustNotBeGivenIsRefusedWithASentenceSayingWhy() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-28", mg: 60)
    try enrolled(store, "KWL-A-0002", on: "2026-11-28")
    try Methadone.exit(store, client: "KWL-A-0002", reason: "died", date: CalendarDate("2026-11-30"))
    try Methadone.prescribe(
      store, client: "KWL-A-0001", mg: 60, prescriber: "DR-01", reason: "taken in two parts", split: 2)

    #expect(
      try matRefusal { try dosed(store, "KWL-A-0002") } == "client: client KWL-A-0002 exited on 2026-11-30 (died)")
    #expect(try matRefusal { try dosed(store, "NOBODY-01") } == "client: no MAT client NOBODY-01")
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0001", site: "PRISON-KWALE") }
        == "site: client KWL-A-0001 doses at MAT-KOMBANI, not at PRISON-KWALE")
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0001", mg: 40) }
        == "mg: 40 mg is above the prescription (30 mg a part, 2 parts a day)")
    #expect(
      try matRefusal {
        _ = try Methadone.dose(
          store, MATDoseRequest(site: "MAT-KOMBANI", client: "KWL-A-0001", witness: "x"))
      } == "witness: not a witness code (2–32 letters, digits or dashes)")
    try dosed(store, "KWL-A-0001")
    try dosed(store, "KWL-A-0001")
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0001") }
        == "client: client KWL-A-0001 has had 60 mg of the day's 60 mg on 2026-12-01")

    // A batch nobody measured cannot be given in ml; only expired stock left is not enough stock.
    try enrolled(store, "KWL-A-0003", on: "2026-11-28")
    try matDay(store, "2026-11-29")
    try receiveMethadone(store, site: "PRISON-KWALE", lot: "MBX", mgPerML: nil, expiry: "2027-01-31", mg: 500)
    try receiveMethadone(store, site: "PRISON-KWALE", lot: "MBOLD", mgPerML: 10, expiry: "2026-11-30", mg: 500)
    try matDay(store, "2026-12-01")
    try Methadone.move(store, client: "KWL-A-0003", to: "PRISON-KWALE")
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0003", site: "PRISON-KWALE") }
        == "site: batch MBX has no concentration recorded (mg/ml)")
    try Ledger.post(
      store, Adjustment(site: "PRISON-KWALE", commodity: "METHADONE", lot: "MBX", quantity: -500, reason: "damaged"))
    let expiredOnly = try matRefusal { try dosed(store, "KWL-A-0003", site: "PRISON-KWALE") }
    #expect(
      expiredOnly
        == "insufficient stock of METHADONE at PRISON-KWALE: on hand 0, asked 20 (another 500 are in expired lots)")
    // Nothing of the refused doses was written: one client's two parts, no more.
    #expect(try store.query("SELECT count(*)::bigint AS n FROM mat_doses")[0].decode("n") as Int64 == 2)
  }

  @Test func statusFollowsDaysSinceTheLastDoseAtItsEdges() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-01")
    try matDay(store, "2026-11-02")
    try dosed(store, "KWL-A-0001")
    func status(_ day: String) throws -> String {
      let client = try #require(try Methadone.clients(store, on: CalendarDate(day)).first)
      return "\(client.daysSince) \(client.status)"
    }
    #expect(try status("2026-11-07") == "5 active")
    #expect(try status("2026-11-08") == "6 defaulting")
    #expect(try status("2026-12-02") == "30 defaulting")
    #expect(try status("2026-12-03") == "31 lost to follow-up")
    try matDay(store, "2026-11-05")
    try Methadone.exit(store, client: "KWL-A-0001", reason: "completed", date: CalendarDate("2026-11-03"))
    #expect(try status("2026-11-03") == "1 exited")
    #expect(try status("2026-11-02") == "0 active")
  }

  @Test func missedDaysAskForAReviewOrAReinductionAndNeverChangeTheDoseByThemselves() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-10", mg: 60)
    try matDay(store, "2026-11-20")
    try dosed(store, "KWL-A-0001")
    // Three days missed (21–23): review.
    try matDay(store, "2026-11-24")
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0001") }
        == "client: client KWL-A-0001 has missed 3 days in a row (last dose 2026-11-20): review dose before dosing")
    let withOverride = try dosed(store, "KWL-A-0001", override: "seen by the clinician, dose kept")
    #expect(withOverride.map(\.mg) == [60])
    #expect(withOverride.first?.flag == "review dose before dosing")
    // Five or more: re-induction; a new prescription made since the last dose is the review.
    try matDay(store, "2026-11-30")
    #expect(try Methadone.clients(store).first?.flag == "re-induction needed")
    #expect(try matRefusal { try dosed(store, "KWL-A-0001") }.hasSuffix("re-induction needed"))
    try Methadone.prescribe(store, client: "KWL-A-0001", mg: 30, prescriber: "DR-01", reason: "re-induction")
    #expect(try dosed(store, "KWL-A-0001").map(\.mg) == [30])
    #expect(try Methadone.clients(store).first?.flag == nil)
  }

  @Test func guardRailsOnPrescriptionsNeedAnOverrideWhichIsKept() throws {
    #expect(
      try matRefusal {
        try Methadone.enrol(store, clinic: "MAT-KOMBANI", client: "KWL-A-0001", mg: 40, prescriber: "DR-01")
      } == "mg: an induction dose above 30 mg needs an override reason")
    try enrolled(store, "KWL-A-0001", on: "2026-11-20")
    #expect(
      try matRefusal {
        try Methadone.prescribe(store, client: "KWL-A-0001", mg: 35, prescriber: "DR-01", reason: "titration")
      } == "mg: an increase of 15 mg (from 20) is more than 10 mg in one change")
    try Methadone.prescribe(
      store, client: "KWL-A-0001", mg: 30, prescriber: "DR-01", reason: "titration",
      date: CalendarDate("2026-11-29"))
    #expect(
      try matRefusal {
        try Methadone.prescribe(store, client: "KWL-A-0001", mg: 40, prescriber: "DR-01", reason: "titration")
      } == "mg: the last increase was on 2026-11-29: increases are at least 3 days apart")
    #expect(
      try matRefusal {
        try Methadone.prescribe(store, client: "KWL-A-0001", mg: 301, prescriber: "DR-01", reason: "x")
      } == "mg: 301 mg is above the 300 mg ceiling")
    #expect(
      try matRefusal {
        try Methadone.prescribe(store, client: "KWL-A-0001", mg: 25, prescriber: "DR-01", reason: "x", split: 2)
      } == "split: the dose does not split into parts of whole mg")
    // A decrease is never held back; an override is written down with the prescription.
    try Methadone.prescribe(store, client: "KWL-A-0001", mg: 24, prescriber: "DR-01", reason: "drowsy", split: 2)
    try Methadone.prescribe(
      store, client: "KWL-A-0001", mg: 40, prescriber: "DR-02", reason: "withdrawal", override: "severe withdrawal")
    let history = try Methadone.history(store, "KWL-A-0001")
    #expect(history.map(\.what) == ["enrolled", "prescribed", "prescribed", "prescribed"])
    #expect(history.last?.detail == "40 mg a day by DR-02: withdrawal; override: severe withdrawal")
  }

  @Test func aTakeHomeIsDispensedForItsOwnDayWithinTheLimitAndComesBackToItsBatch() throws {
    try matDay(store, "2026-08-01")
    try enrolled(store, "KWL-A-0001", on: "2026-08-01", mg: 60)
    try matDay(store, "2026-11-25")
    try enrolled(store, "KWL-A-0002", on: "2026-11-25", mg: 60)
    try matDay(store, "2026-12-01")
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0001", takeHome: 2) }
        == "take_home: take-home doses are not allowed: the programme's limit is 0 days")
    var settings = try Methadone.settings(store)
    settings.takeHomeMaxDays = 2
    try Methadone.setSettings(store, settings)
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0001", takeHome: 3) } == "take_home: at most 2 take-home days at a time")
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0002", takeHome: 1) }
        == "take_home: no take-home doses in the first 90 days on treatment (enrolled 2026-11-25)")

    let doses = try dosed(store, "KWL-A-0001", takeHome: 2)
    #expect(
      doses.map { "\($0.takeOn) \($0.isTakeHome) \($0.mg)" } == [
        "2026-12-01 false 60", "2026-12-02 true 60", "2026-12-03 true 60",
      ])
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0001", date: nil, key: nil) }.hasPrefix(
        "client: client KWL-A-0001 has had"))

    // The dose for the 3rd comes back; the day is then not dosed, and a dose at the clinic is possible.
    let returned = try Methadone.returnTakeHome(
      store, site: "MAT-KOMBANI", client: "KWL-A-0001", takeOn: CalendarDate("2026-12-03")!,
      reason: "admitted to hospital")
    #expect(returned.map(\.outcome) == ["returned"])
    #expect(
      try matRefusal {
        _ = try Methadone.returnTakeHome(
          store, site: "MAT-KOMBANI", client: "KWL-A-0001", takeOn: CalendarDate("2026-12-03")!, reason: "again")
      } == "take_on: client KWL-A-0001 holds no take-home dose from MAT-KOMBANI for 2026-12-03")
    try matDay(store, "2026-12-03")
    #expect(try dosed(store, "KWL-A-0001").map(\.mg) == [60])

    let register = try Methadone.register(
      store, site: "MAT-KOMBANI", from: CalendarDate("2026-12-01")!, to: CalendarDate("2026-12-03")!)
    #expect(
      register.dropFirst().map { "\($0.day) \($0.entry) \($0.mg!) \($0.detail ?? "")" } == [
        "2026-12-01 dose -60 ", "2026-12-01 take-home -60 to take on 2026-12-02",
        "2026-12-01 take-home -60 to take on 2026-12-03", "2026-12-01 take-home returned 60 for 2026-12-03",
        "2026-12-03 dose -60 ",
      ])
    #expect(register.last?.balanceMG == register.first!.balanceMG - 180)
  }

  @Test func twoDispensersDosingOneClientAtOnceWriteExactlyOneDose() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-28", mg: 60)
    let outcome = try secondSessionOutcome(
      database,
      while:
        "SELECT * FROM mat_dose('MAT-KOMBANI', 'KWL-A-0001', NULL, 'NURSE-01', 0, '2026-11-30', 'first', NULL, NULL)"
    ) { store in
      _ = try dosed(store, "KWL-A-0001", date: "2026-11-30")
    }
    #expect(outcome == "wrongState client KWL-A-0001 has had 60 mg of the day's 60 mg on 2026-11-30")
    #expect(try store.query("SELECT count(*)::bigint AS n FROM mat_doses")[0].decode("n") as Int64 == 1)
  }

  @Test func aRepeatedDoseUnderItsKeyChangesNothingAndABackDatedDoseUsesThatDaysPrescription() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-20", mg: 60)
    try Methadone.prescribe(store, client: "KWL-A-0001", mg: 70, prescriber: "DR-01", reason: "titration")
    let first = try dosed(store, "KWL-A-0001", key: "page-12-line-3")
    let again = try dosed(store, "KWL-A-0001", key: "page-12-line-3")
    #expect(again.map(\.outcome) == ["repeat"])
    #expect(again.map(\.id) == first.map(\.id))
    #expect(
      try matRefusal { try dosed(store, "KWL-A-0001", mg: 50, key: "page-12-line-3") }
        == "key: key page-12-line-3 was already used for another dose at MAT-KOMBANI")
    // Back-filled from the paper register: the 60 mg in force on the 28th.
    let backDated = try dosed(store, "KWL-A-0001", date: "2026-11-28")
    #expect(backDated.map { "\($0.takeOn) \($0.mg)" } == ["2026-11-28 60"])
  }

  @Test func aMoveToPrisonChangesWhereTheClientDosesAndAMoveBackRestoresTheClinic() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-20", mg: 60)
    try matDay(store, "2026-11-28")
    try receiveMethadone(store, site: "PRISON-KWALE", lot: "MB10", mgPerML: nil, expiry: "2027-09-30", mg: 600)
    try Methadone.move(store, client: "KWL-A-0001", to: "PRISON-KWALE")
    #expect(try dosed(store, "KWL-A-0001", site: "PRISON-KWALE").map(\.site) == ["PRISON-KWALE"])
    #expect(
      try matRefusal { try Methadone.move(store, client: "KWL-A-0001", to: "DICE-UKUNDA") }
        == "to: DICE-UKUNDA is a dice: clients dose at their MAT clinic, a prison or a hospital")
    try matDay(store, "2026-11-29")
    try Methadone.move(store, client: "KWL-A-0001", to: "MAT-KOMBANI")
    #expect(try dosed(store, "KWL-A-0001").map(\.site) == ["MAT-KOMBANI"])
    let client = try Methadone.client(store, "KWL-A-0001")
    #expect(
      (client.dosingSite, client.enrolledOn, client.status) == ("MAT-KOMBANI", CalendarDate("2026-11-20"), "active"))
    #expect(
      try Methadone.history(store, "KWL-A-0001").map(\.what) == [
        "enrolled", "prescribed", "moved", "dose", "moved", "dose",
      ])
  }

  @Test func aUICThatCarriesAPhoneNumberIsRefused() throws {
    #expect(
      try matRefusal {
        try Methadone.enrol(store, clinic: "MAT-KOMBANI", client: "JANE-0712345678", mg: 20, prescriber: "DR-01")
      }.hasPrefix("client: not a UIC"))
    #expect(try store.query("SELECT count(*)::bigint AS n FROM mat_clients")[0].decode("n") as Int64 == 0)
  }
}
