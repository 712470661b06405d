import Foundation
import KPStockTestSupport
import Postgres
import Testing

@testable import KPStock

/// A Wednesday: every simulation here ends on it, so histories never depend on the day the tests run.
private let lastDay = CalendarDate("2026-03-11")!

private func simulate(
  _ store: Store, weeks: Int, seed: UInt64 = 1, through: CalendarDate = lastDay
) throws -> SimulationReport {
  try Simulator.run(store, profile: .kwale, weeks: weeks, seed: seed, through: through)
}

private func freshStore() throws -> Store {
  try openAsKPStock(try TestDatabase.fresh())
}

/// Everything a history consists of, but not what each database assigns itself (ids, timestamps): the ledger and
/// the outreach reports and peer-reported need.
private func ledgerDigest(_ store: Store) throws -> String {
  try store.query(
    """
    SELECT md5(string_agg(concat_ws('|', e.site_code, e.commodity_code, e.lot_code, l.expires_on, e.kind, e.quantity,
        e.reason_code, e.occurred_on, e.population_code, e.channel, e.worker_code, e.client_uic, e.note,
        t.from_site_code, t.to_site_code, e.idempotency_key, e.key_part), E'\\n'
      ORDER BY e.site_code, e.idempotency_key, e.key_part))
      || (SELECT coalesce(md5(string_agg(concat_ws('|', r.site_code, r.week, r.population_code, r.worker_code,
          r.hotspot, r.reached, r.new_enrolments), E'\\n' ORDER BY r.site_code, r.week, r.population_code)), '')
        FROM outreach_reach r)
      || (SELECT coalesce(md5(string_agg(concat_ws('|', n.site_code, n.week, n.population_code, n.commodity_code,
          n.quantity), E'\\n' ORDER BY n.site_code, n.week, n.population_code, n.commodity_code)), '')
        FROM peer_need n) AS digest
    FROM stock_events e
    LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
    LEFT JOIN transfers t ON t.id = e.transfer_id
    """)[0].decode("digest")
}

private func count(_ store: Store, _ query: Query) throws -> Int {
  Int(try store.query(query)[0].decode(at: 0, as: Int64.self))
}

/// Eight weeks of Kwale, written once and only read by the tests below.
private let eightWeeks: Result<(TestDatabaseHandle, SimulationReport), any Error> = Result {
  let database = try TestDatabase.fresh()
  return (database, try simulate(try openAsKPStock(database), weeks: 8))
}

private func eightWeekHistory() throws -> (Store, SimulationReport) {
  let (database, report) = try eightWeeks.get()
  return (try openAsKPStock(database), report)
}

@Suite("Simulated history")
struct SimulationTests {
  @Test func theSameSeedWritesTheSameLedgerAndAnotherSeedADifferentOne() throws {
    let first = try freshStore()
    let second = try freshStore()
    let other = try freshStore()
    let reports = try [simulate(first, weeks: 2, seed: 7), simulate(second, weeks: 2, seed: 7)]
    _ = try simulate(other, weeks: 2, seed: 8)
    #expect(reports[0] == reports[1])
    #expect(reports[0].eventsWritten > 1_000)
    #expect(try ledgerDigest(first) == ledgerDigest(second))
    #expect(try ledgerDigest(first) != ledgerDigest(other))
  }

  @Test func runningTheSameSimulationAgainPostsNothingAndLeavesTheCallersClockAlone() throws {
    let store = try freshStore()
    try store.execute("SET kpstock.today = '2026-04-01'")
    let first = try simulate(store, weeks: 2)
    let events = try count(store, "SELECT count(*) FROM stock_events")
    let again = try simulate(store, weeks: 2)
    #expect(again.eventsWritten == 0 && again.daysSimulated == 0)
    #expect(again.eventsAlreadyRecorded == first.eventsWritten && first.eventsAlreadyRecorded == 0)
    #expect(again.stockOutSiteDays == first.stockOutSiteDays)
    #expect(try count(store, "SELECT count(*) FROM stock_events") == events)
    let clock: String = try store.query("SELECT current_setting('kpstock.today') AS day")[0].decode("day")
    #expect(clock == "2026-04-01")
  }

  /// A run a week later carries on from where the first stopped, keeping its first day, and the history is
  /// the one a single run over the whole span writes.
  @Test func aLaterRunCarriesOnTheHistoryAsOneLongRunWouldHaveWrittenIt() throws {
    let stepwise = try freshStore()
    let begun = try simulate(stepwise, weeks: 3, through: lastDay.adding(days: -7))
    let carried = try simulate(stepwise, weeks: 3)
    #expect(carried.continuedFrom == begun.firstDay && carried.firstDay == begun.firstDay)
    #expect(carried.daysSimulated == 7 && carried.weeks == 4)
    #expect(carried.eventsAlreadyRecorded == begun.eventsWritten && carried.eventsWritten > 0)
    let clock: String? = try stepwise.query("SELECT current_setting('kpstock.today', true) AS day")[0].decode("day")
    #expect(clock ?? "" == "")

    let straight = try freshStore()
    let whole = try simulate(straight, weeks: 4)
    #expect(whole.firstDay == begun.firstDay)
    #expect(whole.eventsWritten == begun.eventsWritten + carried.eventsWritten)
    #expect(try ledgerDigest(stepwise) == ledgerDigest(straight))
  }

  /// Batching must not change the history: decisions made while requests wait in a batch read the stock the
  /// simulator expects, and that has to be exactly what posting each request on its own would have left. (Only the
  /// event numbers may run in another order: within a day, ledger_book numbers a batch's additions first.)
  @Test func postingInBatchesWritesTheHistoryThatPostingOneByOneWrites() throws {
    let batched = try freshStore()
    let oneByOne = try freshStore()
    let reports = try [batched, oneByOne].map { (store: Store) in
      try Simulator.run(
        store.connection, profile: .kwale, days: 28, seed: 1, through: lastDay, oneByOne: store === oneByOne,
        progress: nil)
    }
    #expect(reports[0].eventsWritten == reports[1].eventsWritten && reports[0].eventsWritten > 1_000)
    #expect(reports[0].requestsPosted == reports[1].requestsPosted)
    #expect(reports[1].batchesPosted == reports[1].requestsPosted)
    #expect(
      reports[0].batchesPosted < 28 * 2, "a day takes a batch, and one more when a shipment arrives the day it left")
    let inOrder: Query = """
      SELECT md5(string_agg(concat_ws('|', e.site_code, e.commodity_code, e.lot_code, e.kind, e.quantity,
          e.reason_code, e.occurred_on, e.population_code, e.channel, e.worker_code, e.client_uic, e.note,
          e.transfer_id, e.idempotency_key, e.key_part), E'\\n'
        ORDER BY e.occurred_on, e.site_code, e.idempotency_key, e.key_part)) AS digest
      FROM stock_events e
      """
    let digests = try [batched, oneByOne].map { try $0.query(inOrder)[0].decode("digest") as String }
    #expect(digests[0] == digests[1])
    #expect(try ledgerDigest(batched) == ledgerDigest(oneByOne))
  }

  @Test func aKwaleHistoryPassesLedgerVerificationAndNoDayClosesBelowZero() throws {
    let (store, report) = try eightWeekHistory()
    #expect(report.weeks == 8 && report.sites == 10 && report.firstDay == lastDay.adding(days: -55))
    #expect(try StockQueries.verify(store).isEmpty)
    let lowest: Int64? = try store.query(
      "SELECT min(closing_on_hand) AS n FROM stock_daily_history(\(report.firstDay), \(lastDay))")[0].decode("n")
    #expect(lowest == 0)
    #expect(try count(store, "SELECT count(*) FROM stock_events WHERE occurred_on > \(lastDay)") == 0)
  }

  @Test func someSitesRunOutOfStockOnSomeDays() throws {
    let (store, report) = try eightWeekHistory()
    #expect(report.stockOutSiteDays > 0)
    let fromLedger = try count(
      store,
      """
      SELECT count(DISTINCT (site_code, day)) FROM stock_daily_history(\(report.firstDay), \(lastDay))
      WHERE closing_on_hand = 0 AND site_code <> 'STORE-KWALE'
      """)
    #expect(fromLedger == report.stockOutSiteDays)
    #expect(report.stockOutSiteDays < report.sites * 56 / 4, "stock-outs are occasional, not the rule")
  }

  @Test func dispensingCoversSeveralPopulationsAndBothChannels() throws {
    let (store, _) = try eightWeekHistory()
    let populations = try store.query(
      "SELECT DISTINCT population_code FROM stock_events WHERE kind = 'dispense' ORDER BY 1"
    ).map { try $0.decode(at: 0) as String }
    #expect(Set(populations).isSuperset(of: ["FSW", "MSM", "PWID"]) && populations.count >= 5)
    let outreach = try store.query(
      "SELECT DISTINCT worker_code FROM stock_events WHERE channel = 'outreach' ORDER BY 1"
    ).map { try $0.decode(at: 0) as String }
    #expect(outreach.contains("PE-UKUNDA-01") && outreach.allSatisfy { $0.hasPrefix("PE-") })
    let clinicClients = try store.query(
      "SELECT DISTINCT client_uic FROM stock_events WHERE channel = 'clinic' AND client_uic IS NOT NULL"
    ).map { try $0.decode(at: 0) as String }
    #expect(clinicClients.count > 20)
    #expect(clinicClients.allSatisfy { $0.wholeMatch(of: /KWL-[0-9]{6}-[A-Z]/) != nil })
    #expect(
      try count(store, "SELECT count(*) FROM stock_events WHERE channel = 'clinic' AND client_uic IS NULL") > 0)
  }

  /// Each DICE and satellite reports people reached per population every week (a few reports are never filed), and
  /// what it dispenses follows what it reports: condoms given in a week against the week's reach × norm.
  @Test func outreachReportsDriveDispensingAndAFewWeeksGoUnreported() throws {
    let (store, _) = try eightWeekHistory()
    let filed: Double = try store.query(
      """
      SELECT count(*)::float8 / (SELECT count(*) FROM (SELECT DISTINCT site_code, population_code FROM outreach_reach) p)
        / (SELECT count(DISTINCT week) FROM outreach_reach) AS share
      FROM outreach_reach
      """)[0].decode("share")
    #expect(filed > 0.85 && filed < 0.995, "share of site-population-weeks reported: \(filed)")
    #expect(try count(store, "SELECT count(*) FROM peer_need") > 0)
    let row = try store.query(
      """
      WITH norm AS (
        SELECT DISTINCT ON (population_code) population_code, quantity_per_week FROM norms
        WHERE commodity_code = 'MALE-CONDOM' ORDER BY population_code, effective_from DESC
      ), expected AS (
        SELECT r.site_code, r.week, sum(r.reached * n.quantity_per_week) AS units
        FROM outreach_reach r JOIN norm n USING (population_code) GROUP BY 1, 2
      ), given AS (
        SELECT site_code, date_trunc('week', occurred_on)::date AS week, -sum(quantity) AS units FROM stock_events
        WHERE kind = 'dispense' AND commodity_code = 'MALE-CONDOM' GROUP BY 1, 2
      ), weekly AS (
        SELECT e.site_code, e.units::float8 AS expected, g.units::float8 AS given,
          avg(e.units::float8) OVER (PARTITION BY e.site_code) AS site_expected,
          avg(g.units::float8) OVER (PARTITION BY e.site_code) AS site_given
        FROM expected e JOIN given g USING (site_code, week)
        WHERE (SELECT count(*) FROM outreach_reach r WHERE r.site_code = e.site_code AND r.week = e.week)
          = (SELECT count(DISTINCT r.population_code) FROM outreach_reach r WHERE r.site_code = e.site_code)
      )
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY given / expected) AS ratio,
        corr(given / site_given, expected / site_expected) AS correlation
      FROM weekly
      """)[0]
    let ratio: Double = try row.decode("ratio")
    let correlation: Double = try row.decode("correlation")
    #expect(ratio > 0.8 && ratio < 1.25, "median of condoms given ÷ reach × norm: \(ratio)")
    // Week against week within each site (the sites' sizes would make any two of their figures agree): a week a site
    // reaches more people, it gives out more.
    #expect(correlation > 0.25, "correlation, within sites, of condoms given with reach × norm: \(correlation)")
  }

  @Test func methadoneIsDosedClientByClientAtTheClinicThePrisonAndTheHospital() throws {
    let (store, _) = try eightWeekHistory()
    // A dose spanning two lots is one request with two events: add them up per key.
    let rows = try store.query(
      """
      SELECT site_code, min(dose) AS smallest, max(dose) AS largest, count(DISTINCT client_uic) AS clients,
        bool_and(by_register) AS by_register
      FROM (
        SELECT site_code, idempotency_key, -sum(quantity) AS dose, min(client_uic) AS client_uic,
          bool_and(population_code = 'PWID' AND channel = 'clinic' AND client_uic IS NOT NULL) AS by_register
        FROM stock_events WHERE kind = 'dispense' AND commodity_code = 'METHADONE'
        GROUP BY site_code, idempotency_key
      ) doses
      GROUP BY site_code ORDER BY site_code
      """)
    #expect(try rows.map { try $0.decode("site_code") as String } == ["HOSP-MSAMBWENI", "MAT-KOMBANI", "PRISON-KWALE"])
    for row in rows {
      // Maintenance doses of 60–120 mg; new clients inducted at 20 mg and re-inducted ones at 30 titrate up.
      #expect(try row.decode("smallest", as: Int64.self) >= 20 && row.decode("largest", as: Int64.self) <= 120)
      #expect(try row.decode("by_register", as: Bool.self))
      #expect(try row.decode("clients", as: Int64.self) >= 2)
    }
    // Every methadone dispense is a dose in the MAT register, witnessed, its ml from its batch's concentration.
    let unregistered = try store.query(
      """
      SELECT count(*) AS n FROM stock_events e
      WHERE e.kind = 'dispense' AND e.commodity_code = 'METHADONE' AND NOT EXISTS (SELECT FROM mat_doses o
        WHERE o.site_code = e.site_code AND o.idempotency_key = e.idempotency_key AND o.witness_code = 'SIM-NURSE')
      """)[0]
    #expect(try unregistered.decode("n") as Int64 == 0)
    let clinic = try store.query(
      """
      SELECT count(*) FILTER (WHERE status = 'active') AS active, count(*) AS clients
      FROM mat_client_states((SELECT max(take_on) FROM mat_doses)) WHERE clinic_code = 'MAT-KOMBANI'
      """)[0]
    #expect(try clinic.decode("clients") as Int64 >= 220)
    #expect(try clinic.decode("active") as Int64 >= 200)
  }

  @Test func expiredLotsAreWrittenOffAfterTheyExpire() throws {
    let (store, _) = try eightWeekHistory()
    let writeOffs = try store.query(
      """
      SELECT e.occurred_on, l.expires_on FROM stock_events e
      JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
      WHERE e.kind = 'adjustment' AND e.reason_code = 'expired'
      """)
    #expect(!writeOffs.isEmpty)
    for row in writeOffs {
      #expect(try row.decode("expires_on", as: CalendarDate.self) < row.decode("occurred_on", as: CalendarDate.self))
    }
    let stillOnShelf = try count(
      store,
      """
      SELECT count(*) FROM stock_balances b JOIN lots l USING (commodity_code, lot_code)
      WHERE b.on_hand > 0 AND l.expires_on < \(lastDay.adding(days: -6))
      """)
    #expect(stillOnShelf == 0, "a lot expired more than a week ago has been written off")
  }

  @Test func deliveriesGoDownTheSupplyLinesAndArriveWithinTwoDays() throws {
    let (store, _) = try eightWeekHistory()
    let links = try store.query(
      """
      SELECT DISTINCT t.from_site_code || '>' || t.to_site_code FROM transfers t
      LEFT JOIN supply_lines s ON s.site_code = t.to_site_code AND s.supplier_code = t.from_site_code
      WHERE s.site_code IS NULL
      """)
    #expect(links.isEmpty, "every transfer follows a supply line")
    #expect(
      try count(store, "SELECT count(*) FROM transfers WHERE received_on > dispatched_on + 2") == 0)
    #expect(
      try count(store, "SELECT count(*) FROM transfers WHERE received_on > dispatched_on") > 0)
    #expect(try count(store, "SELECT count(*) FROM transfers WHERE rejection_reason = 'damaged'") > 0)
    #expect(
      try count(
        store, "SELECT count(*) FROM transfers WHERE status = 'in_transit' AND dispatched_on < \(lastDay) - 2")
        == 0)
    let receipts = try count(store, "SELECT count(DISTINCT site_code) FROM stock_events WHERE kind = 'receipt'")
    #expect(receipts == 1, "only the county store receives from outside the network")
  }

  /// One simulated day (a Sunday, when only methadone is dosed besides the opening deliveries) is enough to
  /// build the national network.
  @Test func theNationalProfileHasAThousandSitesInTheFortySevenCounties() throws {
    let store = try freshStore()
    let sunday = CalendarDate("2026-03-08")!
    #expect(sunday.isoWeekday == 7)
    let report = try Simulator.run(
      store.connection, profile: .national, days: 1, seed: 1, through: sunday, progress: nil)
    #expect(report.sites == 1_000 && report.eventsWritten > 1_000)
    #expect(try count(store, "SELECT count(*) FROM sites") == 1_000)
    #expect(try count(store, "SELECT count(DISTINCT county_code) FROM sites") == 47)
    #expect(try count(store, "SELECT count(*) FROM sites WHERE kind = 'store'") == 47)
    let perCounty = try store.query(
      "SELECT min(n) AS fewest, max(n) AS most FROM (SELECT count(*) AS n FROM sites GROUP BY county_code) c")[0]
    #expect(try perCounty.decode("fewest", as: Int64.self) >= 10 && perCounty.decode("most", as: Int64.self) <= 22)
    let unsupplied = try count(
      store,
      """
      SELECT count(*) FROM sites s WHERE s.kind <> 'store'
        AND NOT EXISTS (SELECT 1 FROM supply_lines l WHERE l.site_code = s.code)
      """)
    #expect(unsupplied == 0)
    #expect(try count(store, "SELECT count(*) FROM sites WHERE code = 'DICE-047-03'") == 1)
    #expect(try StockQueries.verify(store).isEmpty)
  }

  /// Chains are simulated side by side on several connections; how many must not change what is written.
  @Test func theNumberOfWorkersDoesNotChangeTheHistory() throws {
    let sunday = CalendarDate("2026-03-08")!
    var digests: [String] = []
    for workers in [1, 4] {
      let store = try freshStore()
      let report = try Simulator.run(
        store.connection, profile: .national, days: 1, seed: 1, through: sunday, workers: workers, progress: nil)
      #expect(report.eventsWritten > 1_000)
      digests.append(try ledgerDigest(store))
    }
    #expect(digests[0] == digests[1])
    let shares = Simulator.share([[0, 1, 2], [3], [4, 5], [6, 7, 8, 9]], among: 2)
    #expect(shares == [[3, 1], [0, 2]])
  }

  /// Workers do not wait for each other at the end of a week; a week is reported once all of them have finished it.
  @Test func eachWeekIsReportedOnceInOrderWhenEveryWorkerHasFinishedIt() throws {
    let store = try freshStore()
    let sunday = CalendarDate("2026-03-15")!
    var reports: [SimulationProgress] = []
    let report = try Simulator.run(
      store.connection, profile: .national, days: 8, seed: 1, through: sunday, workers: 3,
      progress: { reports.append($0) })
    #expect(reports.map(\.week) == [1, 2])
    #expect(reports.map(\.lastDay) == [CalendarDate("2026-03-14")!, sunday])
    #expect(reports.last?.eventsWritten == report.eventsWritten)
    #expect(reports.first.map { $0.eventsWritten > 0 && $0.eventsWritten <= report.eventsWritten } == true)
  }
}

@Suite("Interrupting work split over connections")
struct SiblingCancelTests {
  /// The simulator's workers write on connections of their own; Ctrl-C must stop them all, including one that
  /// connects just after the signal.
  @Test func aStoresCancellerReachesEveryConnectionItOpenedForWorkers() throws {
    let store = try openAsKPStock(try TestDatabase.fresh())
    let before = try store.sibling()
    try #require(store.canceller()).cancel()
    let after = try store.sibling()
    for connection in [store.connection, before, after] {
      let error = #expect(throws: PostgresError.self) { try connection.execute("SELECT 1") }
      #expect(error?.sqlState == .queryCanceled)
      #expect(try connection.query("SELECT 1 AS one")[0].decode("one") == Int32(1))
    }
  }
}
