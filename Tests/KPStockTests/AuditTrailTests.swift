import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// The audit trail (migration 0021, Schema/functions/97_audit.sql, Sources/KPStock/Audit): who recorded each stock
/// event, dose and change, and when; audit_log is append-only.
@Suite("Audit trail")
struct AuditTrailTests {
  private let database: TestDatabaseHandle
  private let store: Store
  /// A user of this test's own, so that `who` is seen to be the session's user and not a constant.
  private let user = "audit_\(UUID().uuidString.prefix(8).lowercased())"

  init() throws {
    (database, store) = try matDatabase()
    try Ledger.post(
      store,
      Receipt(
        site: "STORE-KWALE", commodity: "MALE-CONDOM", lot: "LATE", expiry: CalendarDate("2028-06-30"),
        quantity: 5000))
    try store.execute("CREATE ROLE \(identifier: user) SUPERUSER NOLOGIN")
    try store.execute("SET SESSION AUTHORIZATION \(identifier: user)")
  }

  private func trail(
    site: String? = nil, kinds: Set<AuditKind> = Set(AuditKind.allCases), limit: Int = AuditTrail.defaultLimit
  ) throws -> AuditPage {
    try AuditTrail.entries(store, site: site, user: user, kinds: kinds, limit: limit)
  }

  @Test func everyKindOfChangeIsRecordedWithTheSessionUserAndTime() throws {
    let before = Date()
    try store.execute("UPDATE sites SET closed_on = '2027-06-30' WHERE code = 'SAT-MATUGA'")
    try store.execute("UPDATE commodities SET name = 'Male condom, strip of 3' WHERE code = 'MALE-CONDOM'")
    try store.execute(
      """
      INSERT INTO norms (commodity_code, population_code, effective_from, quantity_per_week, source, site_code)
      VALUES ('LUBRICANT', 'MSM', '2026-12-01', 5, 'site survey', 'DICE-UKUNDA')
      """)
    try store.execute("UPDATE programme_settings SET wastage_percent = 12")
    let run = try forecastRun(store, needs: [("DICE-UKUNDA", "MALE-CONDOM", 2277, 2277)])
    let (orders, _) = try Orders.generate(store, run: run)
    let order = try #require(orders.first { $0.siteCode == "DICE-UKUNDA" })
    try Orders.approve(store, order.id)
    try Ledger.post(
      store,
      Dispensing(
        site: "STORE-KWALE", commodity: "MALE-CONDOM", quantity: 40, population: "FSW", channel: .clinic,
        client: "AUDIT-CL2"))
    try enrolled(store, "AUDIT-CL1", on: "2026-12-01")
    try dosed(store, "AUDIT-CL1")

    let page = try trail()
    let what = page.entries.map(\.what)
    for expected in [
      "update sites SAT-MATUGA: closed_on → 2027-06-30",
      "update commodities MALE-CONDOM: name Male condom → Male condom, strip of 3",
      "update programme_settings: wastage_percent 10.00 → 12.00",
      "order \(order.id) approved (STORE-KWALE → DICE-UKUNDA)",
      "dispense 40 MALE-CONDOM at STORE-KWALE, lot LATE (FSW, clinic)",
    ] {
      #expect(what.contains(expected), "\(expected) in \(what)")
    }
    for prefix in [
      "insert norms LUBRICANT 2026-12-01 MSM DICE-UKUNDA: quantity_per_week 5",
      "insert forecast_runs \(run): ", "order \(order.id) generated", "prescribe 20 mg from 2026-12-01",
      // Handed over on the programme's day (2026-12-01 here), recorded today.
      "dose 20 mg (4.00 ml) at MAT-KOMBANI, witness NURSE-07",
    ] {
      #expect(what.contains { $0.hasPrefix(prefix) }, "\(prefix)… in \(what)")
    }
    #expect(Set(page.entries.map(\.kind)) == Set(AuditKind.allCases))
    #expect(page.entries.allSatisfy { $0.who == user })
    #expect(page.entries.allSatisfy { $0.at >= before.addingTimeInterval(-1) && $0.at <= Date() })
    // Newest first.
    #expect(page.entries.map(\.at) == page.entries.map(\.at).sorted(by: >))
    // The dose says where and by whom, never to whom.
    #expect(!what.contains { $0.contains("AUDIT-CL") })
    #expect(
      try store.query("SELECT count(*)::int AS n FROM audit_log WHERE before ? 'uic' OR after ? 'uic'")[0]
        .decode("n") == 0)
  }

  @Test func theTrailIsReadBySiteKindAndLimit() throws {
    try store.execute("UPDATE sites SET closed_on = '2027-06-30' WHERE code = 'SAT-MATUGA'")
    try store.execute("UPDATE sites SET closed_on = '2027-06-30' WHERE code = 'SAT-KINANGO'")
    try Ledger.post(
      store,
      Dispensing(site: "STORE-KWALE", commodity: "MALE-CONDOM", quantity: 40, population: "FSW", channel: .clinic))

    let matuga = try trail(site: "SAT-MATUGA")
    #expect(matuga.entries.map(\.what) == ["update sites SAT-MATUGA: closed_on → 2027-06-30"])
    #expect(try trail(kinds: [.event]).entries.map(\.source) == ["stock_events"])
    let one = try trail(kinds: [.change], limit: 1)
    #expect(one.entries.map(\.what) == ["update sites SAT-KINANGO: closed_on → 2027-06-30"])
    #expect(one.hasMore)
    #expect(!(try trail(kinds: [.change], limit: 2)).hasMore)
    #expect(try AuditTrail.entries(store, user: "nobody-at-all").entries.isEmpty)
    // A range before today holds none of it.
    let past = try AuditTrail.entries(
      store, user: user, from: CalendarDate("2020-01-01"), to: CalendarDate("2020-01-31"))
    #expect(past.entries.isEmpty && past.from == CalendarDate("2020-01-01") && past.to == CalendarDate("2020-01-31"))
  }

  @Test func anUpdateThatChangesNothingLeavesNoAuditRow() throws {
    let rows = try auditRows()
    try store.execute("UPDATE sites SET name = name")
    #expect(try auditRows() == rows)
  }

  @Test func theAuditLogAndTheOrdersLogOfChangesCannotBeChangedOrRemoved() throws {
    try store.execute("UPDATE sites SET closed_on = '2027-06-30' WHERE code = 'SAT-MATUGA'")
    let run = try forecastRun(store, needs: [("DICE-UKUNDA", "MALE-CONDOM", 2277, 2277)])
    _ = try Orders.generate(store, run: run)
    let rows = try auditRows()
    for statement: Query in [
      "UPDATE audit_log SET who = 'someone-else'", "DELETE FROM audit_log", "TRUNCATE audit_log",
      "UPDATE order_changes SET changed_by = 'someone-else'", "DELETE FROM order_changes", "TRUNCATE order_changes",
    ] {
      let error = #expect(throws: PostgresError.self) { try store.execute(statement) }
      #expect(error?.sqlState == SQLState(LedgerRefusal.Rule.forbidden.rawValue), "\(statement)")
    }
    #expect(try auditRows() == rows)
    let orderChanges: Int = try store.query("SELECT count(*)::int AS n FROM order_changes")[0].decode("n")
    #expect(orderChanges > 0)
  }

  private func auditRows() throws -> Int {
    try store.query("SELECT count(*)::int AS n FROM audit_log")[0].decode("n")
  }
}
