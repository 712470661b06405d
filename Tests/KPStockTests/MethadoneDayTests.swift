import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// The rest of a MAT clinic's day (Schema/functions/85_methadone.sql): the prison run, close of day, the national
/// monthly report and the weekly need the forecast reads.
@Suite("Methadone: deliveries, close of day, monthly report, need")
struct MethadoneDayTests {
  private let database: TestDatabaseHandle
  private let store: Store

  init() throws {
    (database, store) = try matDatabase()
  }

  private func balance(_ site: String) throws -> (mg: Int64, ml: Decimal?) {
    let last = try #require(
      try Methadone.register(store, site: site, from: CalendarDate("2026-11-01")!, to: CalendarDate("2026-12-31")!)
        .last)
    return (last.balanceMG, last.balanceML)
  }

  @Test func aDeliveryIsConfirmedAtThePrisonAndWhatWasNotGivenComesBackSoBothRegistersBalance() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-20", mg: 60)
    try enrolled(store, "KWL-A-0002", on: "2026-11-20", mg: 80)
    try enrolled(store, "KWL-A-0003", on: "2026-11-20", mg: 100)
    try matDay(store, "2026-11-30")
    try Methadone.move(store, client: "KWL-A-0001", to: "PRISON-KWALE")
    try Methadone.move(store, client: "KWL-A-0002", to: "PRISON-KWALE")
    try matDay(store, "2026-12-01")

    let list = try Methadone.deliver(store, from: "MAT-KOMBANI", to: "PRISON-KWALE")
    #expect(
      list.map { "\($0.uic) \($0.mg) \($0.ml) \($0.batches) \($0.outcome)" } == [
        "KWL-A-0001 60 12 MB5 60 mg to give", "KWL-A-0002 80 16 MB5 80 mg to give",
      ])
    // Made once a day: again, the same delivery.
    #expect(
      try Methadone.deliver(store, from: "MAT-KOMBANI", to: "PRISON-KWALE").map(\.deliveryID) == list.map(\.deliveryID))
    #expect(try balance("MAT-KOMBANI").mg == 51000 - 140)

    let delivery = try #require(list.first?.deliveryID)
    #expect(
      try matRefusal {
        _ = try Methadone.confirmDelivery(store, delivery, witness: "CO-01", notGiven: ["KWL-A-0003": "released"])
      } == "not_given: delivery \(delivery) carries no dose for KWL-A-0003")
    let confirmed = try Methadone.confirmDelivery(
      store, delivery, witness: "CO-01", notGiven: ["KWL-A-0002": "released"])
    #expect(confirmed.map(\.outcome) == ["given", "not given: released"])
    #expect(
      try matRefusal { _ = try Methadone.confirmDelivery(store, delivery, witness: "CO-01") }.hasPrefix(
        "delivery: delivery \(delivery) was confirmed on 2026-12-01 by "))

    // The prison received 140 mg, gave 60 and sent 80 back; the clinic is 60 mg down.
    #expect(try balance("PRISON-KWALE").mg == 0)
    #expect(try balance("PRISON-KWALE").ml == 0)
    #expect(try balance("MAT-KOMBANI").mg == 51000 - 60)
    let prison = try Methadone.register(
      store, site: "PRISON-KWALE", from: CalendarDate("2026-12-01")!, to: CalendarDate("2026-12-01")!)
    #expect(
      prison.dropFirst().map { "\($0.entry) \($0.mg!) \($0.uic ?? "-")" } == [
        "transfer in 140 -", "dose -60 KWL-A-0001", "transfer out -80 -",
      ])
    let dose = try #require(
      try store.query(
        "SELECT witness_code, take_on::text AS day FROM mat_doses WHERE site_code = 'PRISON-KWALE'"
      ).first)
    #expect(try dose.decode("witness_code") as String == "CO-01")
    #expect(try dose.decode("day") as String == "2026-12-01")
    #expect(try Methadone.clients(store).first { $0.uic == "KWL-A-0001" }?.lastTaken == CalendarDate("2026-12-01"))
  }

  @Test func aDayClosesOnceAgainstTheMeasuredVolumeAndAVarianceIsBookedWithItsReason() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-20", mg: 60)
    try dosed(store, "KWL-A-0001")
    // 51,000 mg in the register: 1,000 at 5 mg/ml and 50,000 at 10, less 60 mg (12 ml) of MB5: 5,188 ml.
    #expect(
      try matRefusal {
        _ = try Methadone.closeDay(store, site: "MAT-KOMBANI", countedML: 5187.5, witness: "PHARM-02")
      } == "reason: counted 5187.5 ml against 5188.00 ml in the register: a variance needs a reason")
    #expect(
      try matRefusal {
        _ = try Methadone.closeDay(store, site: "MAT-KOMBANI", countedML: 5187.5, witness: "PHARM-02", reason: "found")
      } == "reason: reason found moves stock the other way")
    let close = try Methadone.closeDay(
      store, site: "MAT-KOMBANI", countedML: 5187.5, witness: "PHARM-02", reason: "spillage")
    // Half a ml of the batch in use (MB5, 5 mg/ml) is 2.5 mg, booked as 3.
    #expect((close.expectedML, close.varianceMG, close.lot, close.reason) == (5188, -3, "MB5", "spillage"))
    #expect(try balance("MAT-KOMBANI").mg == 51000 - 60 - 3)
    #expect(
      try matRefusal {
        _ = try Methadone.closeDay(store, site: "MAT-KOMBANI", countedML: 5187.4, witness: "PHARM-02")
      }.hasPrefix("date: 2026-12-01 was closed at MAT-KOMBANI by "))
    // The next day balances without a variance.
    try matDay(store, "2026-12-02")
    let next = try Methadone.closeDay(store, site: "MAT-KOMBANI", countedML: 5187.4, witness: "PHARM-02")
    #expect((next.expectedML, next.varianceMG, next.lot) == (Decimal(string: "5187.4")!, 0, nil))
    // The spill turns out to have been a misreading: the correction is an adjustment dated when it is found, and the
    // closed days stay as they were closed.
    try Ledger.post(
      store,
      Adjustment(site: "MAT-KOMBANI", commodity: "METHADONE", lot: "MB5", quantity: 3, reason: "correction"))
    #expect(try balance("MAT-KOMBANI").mg == 51000 - 60)
    let closes = try store.query("SELECT string_agg(variance_mg::text, ',' ORDER BY day) AS v FROM mat_day_closes")
    #expect(try closes[0].decode("v") as String == "-3,0")
  }

  @Test func theMonthlyReportAgreesWithTheRegisterCountedIndependently() throws {
    var settings = try Methadone.settings(store)
    settings.takeHomeMaxDays = 2
    try Methadone.setSettings(store, settings)
    try matDay(store, "2026-05-04")
    for uic in ["KWL-B-0001", "KWL-B-0002"] { try enrolled(store, uic, on: "2026-05-04", mg: 70) }
    try matDay(store, "2026-11-02")
    for uic in ["KWL-B-0003", "KWL-B-0004", "KWL-B-0005", "KWL-B-0006"] {
      try enrolled(store, uic, on: "2026-11-02", mg: 40)
    }
    // Dose every day of November except: B-0002 misses 11–20 (re-inducted on the 21st), B-0006 exits on the 15th.
    for day in 2...30 {
      let date = String(format: "2026-11-%02d", day)
      try matDay(store, date)
      for uic in ["KWL-B-0001", "KWL-B-0002", "KWL-B-0003", "KWL-B-0004", "KWL-B-0005"]
      where !(uic == "KWL-B-0002" && (11...20).contains(day)) {
        if uic == "KWL-B-0002" && day == 21 {
          try Methadone.prescribe(store, client: uic, mg: 30, prescriber: "DR-01", reason: "re-induction")
        }
        try dosed(store, uic)
      }
      if day < 15 { try dosed(store, "KWL-B-0006") }
      if day == 15 { try Methadone.exit(store, client: "KWL-B-0006", reason: "transferred-out") }
    }
    try Methadone.closeDay(store, site: "MAT-KOMBANI", countedML: 2000, witness: "PHARM-02", reason: "unexplained")
    try matDay(store, "2026-12-01")

    let month = try Methadone.monthly(
      store, site: "MAT-KOMBANI", first: CalendarDate("2026-11-01")!, last: CalendarDate("2026-11-30")!)
    func count(_ query: Query) throws -> Int { Int(try store.query(query)[0].decode(at: 0) as Int64) }
    #expect(month.clientsAtStart == 2)
    #expect(month.newClients == 4)
    #expect(month.reinducted == 1)
    #expect(month.exitedTransferredOut == 1)
    #expect(month.clientsAtEnd == 5)
    #expect(month.missedOverFive == 1)
    #expect(month.onMATSixMonths == 1)
    let dispensed = try count(
      "SELECT sum(mg)::bigint FROM mat_doses WHERE dispensed_on BETWEEN '2026-11-01' AND '2026-11-30'")
    #expect(month.dispensedMG == Int64(dispensed))
    #expect(
      month.clientsAtEnd
        == (try count(
          """
          SELECT count(*)::bigint FROM mat_episodes e WHERE e.enrolled_on <= '2026-11-30'
            AND NOT EXISTS (SELECT FROM mat_exits x WHERE x.episode_id = e.id AND x.exited_on <= '2026-11-30')
          """)))
    // Resupply: 3 × the month's dispensed ml (all from MB5 at 5 mg/ml, then MB10 at 10) − the count of 2,000 ml.
    let dispensedML =
      try store.query(
        """
        SELECT sum(-e.quantity / l.mg_per_ml) AS ml FROM stock_events e JOIN lots l USING (commodity_code, lot_code)
        WHERE e.kind = 'dispense' AND e.occurred_on BETWEEN '2026-11-01' AND '2026-11-30'
        """)[0].decode("ml") as Decimal
    #expect(month.dispensedML == dispensedML)
    #expect(month.resupplyML == 3 * dispensedML - 2000)
    #expect(month.closingCountML == 2000 && !month.closingCountIsBalance)
    let bottles = NSDecimalNumber(decimal: (3 * dispensedML - 2000) / 1000).doubleValue.rounded(.up)
    #expect(month.resupplyBottles == Int(bottles))

    // As printed: counts of people from 1 to 4 withheld.
    let report = try Methadone.monthlyReport(store, site: "MAT-KOMBANI", month: "2026-11")
    let figures = Dictionary(uniqueKeysWithValues: report.map { ($0.figure, $0.value) })
    #expect(figures["clients at start of month"] == "<5")
    #expect(figures["clients at end of month"] == "5")
    #expect(figures["exited: transferred out"] == "<5")
    #expect(figures["dispensed, mg"] == String(dispensed))
  }

  @Test func theWeeksNeedIsTodaysDosesAndTheInductionsToExpect() throws {
    try enrolled(store, "KWL-A-0001", on: "2026-11-20", mg: 60)
    try enrolled(store, "KWL-A-0002", on: "2026-11-20", mg: 80)
    try enrolled(store, "KWL-A-0003", on: "2026-11-20", mg: 100)
    try matDay(store, "2026-11-29")
    try Methadone.move(store, client: "KWL-A-0003", to: "PRISON-KWALE")
    try Methadone.exit(store, client: "KWL-A-0002", reason: "completed")
    try matDay(store, "2026-11-30")
    try dosed(store, "KWL-A-0001")
    // The clinic: one active client at 60 mg, and three enrolments at 20 mg in the 8 weeks before: ⌈3/8 × 20 × 7⌉.
    #expect(try Methadone.weeklyNeed(store, site: "MAT-KOMBANI", week: CalendarDate("2026-12-07")!) == 60 * 7 + 53)
    // The prison: its one client, who has not dosed since enrolment 17 days before, is not active; no inductions.
    #expect(try Methadone.weeklyNeed(store, site: "PRISON-KWALE", week: CalendarDate("2026-12-07")!) == 0)
  }

  @Test func theCountyCoverageCarriesTheRegistersFiguresWithSmallCountsWithheld() throws {
    for number in 1...6 {
      try enrolled(store, String(format: "KWL-D-%04d", number), on: "2026-11-20", mg: number <= 3 ? 60 : 40)
    }
    for day in 20...30 {
      try matDay(store, "2026-11-\(day)")
      for number in 1...6 where !(number == 6 && day > 23) {
        try dosed(store, String(format: "KWL-D-%04d", number))
      }
    }
    try Methadone.exit(store, client: "KWL-D-0006", reason: "died", date: CalendarDate("2026-11-25"))
    try matDay(store, "2026-12-01")
    let window = try Reports.window(store, scope: .site("MAT-KOMBANI"), period: "2026-11", default: .lastMonth)
    let lines = try Reports.coverage(store, window).filter { $0.measure.hasPrefix("MAT ") }
    #expect(lines.map(\.measure) == CoverageLine.methadoneMeasures.map(\.measure))
    #expect(
      lines.map { "\($0.figure.map(String.init) ?? $0.figureMark ?? "-") \($0.rate.map { "\($0)" } ?? "-")" } == [
        "5 -", "6 -", "<5 -", "0 0", "- 52", "- 60",
      ])
    // The same figures as the monthly report's, which reads the same function.
    let month = try Methadone.monthly(
      store, site: "MAT-KOMBANI", first: CalendarDate("2026-11-01")!, last: CalendarDate("2026-11-30")!)
    #expect((month.newClients, month.exitedDied, month.meanDoseMG) == (6, 1, 52))
  }
}
