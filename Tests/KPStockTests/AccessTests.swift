import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// A Kwale demo database with one login per daily role, each named for this test (logins belong to the whole test
/// server, which many tests share).
private struct AccessWorld {
  let database: TestDatabaseHandle
  let owner: Store
  let pharmacist: String
  let otherPharmacist: String
  let logistics: String
  let viewer: String
  let admin: String

  init() throws {
    database = try TestDatabase.fresh()
    owner = try openAsKPStock(database)
    try Seeds.loadKwaleDemo(owner)
    let suffix = UUID().uuidString.prefix(8).lowercased().replacingOccurrences(of: "-", with: "")
    pharmacist = "pharm_\(suffix)"
    otherPharmacist = "pharm2_\(suffix)"
    logistics = "logi_\(suffix)"
    viewer = "view_\(suffix)"
    admin = "admin_\(suffix)"
    try Users.add(owner, name: pharmacist, role: "pharmacist", sites: ["DICE-UKUNDA"], counties: [])
    try Users.add(owner, name: otherPharmacist, role: "pharmacist", sites: ["MAT-KOMBANI"], counties: [])
    try Users.add(owner, name: logistics, role: "logistics", sites: [], counties: ["Kwale"])
    try Users.add(owner, name: viewer, role: "county-viewer", sites: [], counties: ["Kwale"])
    try Users.add(owner, name: admin, role: "admin", sites: [], counties: [])
    for site in ["DICE-UKUNDA", "STORE-KWALE"] {
      try Ledger.post(
        owner,
        Receipt(
          site: site, commodity: "MALE-CONDOM", lot: "L1", expiry: CalendarDate("2030-06-30"), quantity: 500,
          date: nil))
    }
    try Ledger.post(
      owner,
      Dispensing(
        site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: nil, quantity: 10, date: nil, population: "FSW",
        channel: .clinic, client: "KWL-AB12-3"))
  }

  /// A connection as `user`, the way `psql` with that login connects.
  func connect(as user: String) throws -> Connection {
    try Connection(connectingTo: database.conninfo + " user=\(user)")
  }

  /// A store as `user`, the way kpstock opens one.
  func store(as user: String) throws -> Store {
    try Store.open(conninfo: database.conninfo + " user=\(user)")
  }
}

private func count(_ connection: Connection, _ query: Query) throws -> Int64 {
  try connection.query(query)[0].decode(at: 0)
}

/// The SQLSTATE a statement fails with, or nil when it succeeds.
private func failure(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch let error as PostgresError {
    return error.sqlState?.code ?? "?"
  } catch {
    return "\(error)"
  }
}

@Suite("Access by role and place")
struct AccessTests {
  @Test func aPharmacistSeesOnlyTheirSitesStockThroughRawSQL() throws {
    let world = try AccessWorld()
    let connection = try world.connect(as: world.pharmacist)
    let sites: [String] = try connection.query("SELECT DISTINCT site_code FROM stock_events ORDER BY 1").map {
      try $0.decode("site_code")
    }
    #expect(sites == ["DICE-UKUNDA"])
    let elsewhere = "SELECT count(*) FROM supply_lines WHERE 'DICE-UKUNDA' NOT IN (site_code, supplier_code)"
    #expect(try count(connection, Query(unsafeSQL: elsewhere)) == 0)
    #expect(try count(world.database.connect(), Query(unsafeSQL: elsewhere)) > 0)
    #expect(
      try count(connection, "SELECT count(*) FROM norms WHERE site_code IS NOT NULL AND site_code <> 'DICE-UKUNDA'")
        == 0)
    #expect(try count(connection, "SELECT count(*) FROM stock_balances WHERE site_code = 'STORE-KWALE'") == 0)
    let logistics = try world.connect(as: world.logistics)
    #expect(try count(logistics, "SELECT count(DISTINCT site_code) FROM stock_balances") == 2)
  }

  @Test func aPharmacistMayRecordStockOnlyAtTheirSites() throws {
    let world = try AccessWorld()
    let store = try world.store(as: world.pharmacist)
    let own = try Ledger.post(
      store,
      Dispensing(
        site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: nil, quantity: 5, date: nil, population: "FSW",
        channel: .clinic))
    #expect(own.events.count == 1)
    let recordedBy = try count(
      world.database.connect(),
      "SELECT count(*) FROM stock_events WHERE id = \(own.events[0].id) AND recorded_by = \(world.pharmacist)")
    #expect(recordedBy == 1)
    #expect(throws: LedgerRefusal.self) {
      try Ledger.post(
        store,
        Dispensing(
          site: "STORE-KWALE", commodity: "MALE-CONDOM", lot: nil, quantity: 5, date: nil, population: "FSW",
          channel: .clinic))
    }
    do {
      try Ledger.post(
        store,
        Dispensing(
          site: "STORE-KWALE", commodity: "MALE-CONDOM", lot: nil, quantity: 5, date: nil, population: "FSW",
          channel: .clinic))
    } catch let refusal as LedgerRefusal {
      #expect(refusal.rule == .notPermitted)
      #expect(refusal.field == "site")
      #expect(refusal.problem == "\(world.pharmacist) may not record stock at STORE-KWALE (only at DICE-UKUNDA)")
    }
    // A batch is judged by all its sites: one that is not theirs refuses the whole batch, and nothing is written.
    let eventsBefore = try count(world.database.connect(), "SELECT count(*) FROM stock_events")
    let batch = ["DICE-UKUNDA", "STORE-KWALE"].enumerated().map { index, site in
      Ledger.KeyedRequest(
        Dispensing(
          site: site, commodity: "MALE-CONDOM", lot: nil, quantity: 1, date: nil, population: "FSW", channel: .clinic),
        key: "batch-\(index)")
    }
    do {
      _ = try Ledger.post(store, batch: batch)
      Issue.record("a batch naming a site that is not the pharmacist's was booked")
    } catch let refusal as LedgerRefusal {
      #expect(refusal.rule == .notPermitted)
      #expect(refusal.problem == "\(world.pharmacist) may not record stock at STORE-KWALE (only at DICE-UKUNDA)")
    }
    #expect(try count(world.database.connect(), "SELECT count(*) FROM stock_events") == eventsBefore)
    let viewer = try world.store(as: world.viewer)
    #expect(throws: LedgerRefusal.self) {
      try Ledger.post(
        viewer,
        Dispensing(
          site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: nil, quantity: 1, date: nil, population: "FSW",
          channel: .clinic))
    }
  }

  @Test func dailyRolesCannotWriteTheLedgerTablesOrSwitchAGuardOff() throws {
    let world = try AccessWorld()
    for user in [world.pharmacist, world.logistics, world.admin] {
      let connection = try world.connect(as: user)
      #expect(
        failure {
          try connection.execute(
            """
            INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on,
              idempotency_key, key_part)
            VALUES ('DICE-UKUNDA', 'MALE-CONDOM', 'L1', 'dispense', -1, '2099-01-01', 'raw', 1)
            """)
        } == "42501")
      #expect(
        failure {
          try connection.execute("SET kpstock.booked = 'on'")
          try connection.execute("UPDATE stock_balances SET on_hand = on_hand + 1000")
        } == "42501")
      #expect(failure { try connection.execute("ALTER TABLE stock_events DISABLE TRIGGER ALL") } == "42501")
      #expect(failure { try connection.execute("DELETE FROM stock_events") } == "42501")
    }
  }

  @Test func onlyTheOwnerMaySetTheSimulatedClock() throws {
    let world = try AccessWorld()
    let store = try world.store(as: world.admin)
    try store.execute("SET kpstock.today = '2020-01-01'")
    do {
      try Ledger.post(
        store,
        Dispensing(
          site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: nil, quantity: 1, date: nil, population: "FSW",
          channel: .clinic))
      Issue.record("a dispense on a clock the admin set was accepted")
    } catch let error as KPStockError {
      #expect(error.message.contains("may not set kpstock.today"))
    } catch let refusal as LedgerRefusal {
      #expect(refusal.rule == .notPermitted)
      #expect(refusal.problem.contains("may not set kpstock.today"))
    }
  }

  @Test func logisticsAndViewersReadNoClientCodes() throws {
    let world = try AccessWorld()
    for user in [world.logistics, world.viewer] {
      let connection = try world.connect(as: user)
      #expect(failure { _ = try connection.query("SELECT client_uic FROM stock_events") } == "42501")
      #expect(failure { _ = try connection.query("SELECT count(*) FROM mat_clients") } == "42501")
      #expect(try count(connection, "SELECT count(*) FROM stock_events WHERE kind = 'dispense'") == 1)
    }
    let pharmacist = try world.connect(as: world.pharmacist)
    #expect(try count(pharmacist, "SELECT count(*) FROM stock_events WHERE client_uic = 'KWL-AB12-3'") == 1)
  }

  @Test func aPharmacistCannotReadAnotherClinicsMethadoneClients() throws {
    let world = try AccessWorld()
    try Methadone.enrol(world.owner, clinic: "MAT-KOMBANI", client: "KWL-CD34-5", mg: 20, prescriber: "DR-01")
    let outsider = try world.connect(as: world.pharmacist)
    #expect(try count(outsider, "SELECT count(*) FROM mat_clients") == 0)
    #expect(try count(outsider, "SELECT count(*) FROM mat_episodes") == 0)
    #expect(try count(outsider, "SELECT count(*) FROM mat_prescriptions") == 0)
    let clinic = try world.connect(as: world.otherPharmacist)
    #expect(try count(clinic, "SELECT count(*) FROM mat_clients") == 1)
    let outsiderStore = try world.store(as: world.pharmacist)
    #expect(throws: LedgerRefusal.self) {
      try Methadone.prescribe(
        outsiderStore, client: "KWL-CD34-5", mg: 25, prescriber: "DR-01", reason: "titration")
    }
  }

  @Test func aCountyViewerCannotTurnSuppressionOffOrReadCountsOfPeople() throws {
    let world = try AccessWorld()
    let viewer = try world.connect(as: world.viewer)
    #expect(failure { _ = try viewer.query("SELECT count(*) FROM outreach_reach") } == "42501")
    #expect(
      failure {
        _ = try viewer.query(
          "SELECT * FROM report_coverage(ARRAY['DICE-UKUNDA'], '2026-01-01', '2026-01-31', true, false)")
      } == "KP002")
    _ = try viewer.query("SELECT * FROM report_coverage(ARRAY['DICE-UKUNDA'], '2026-01-01', '2026-01-31', true, true)")
    #expect(
      failure {
        _ = try viewer.query(
          "SELECT * FROM report_coverage(ARRAY['DICE-MSAMBWENI-X'], '2026-01-01', '2026-01-31', true, true)")
      } != nil)
    let logistics = try world.connect(as: world.logistics)
    _ = try logistics.query(
      "SELECT * FROM report_coverage(ARRAY['DICE-UKUNDA'], '2026-01-01', '2026-01-31', true, false)")
  }

  @Test func onlyAdminsManageUsersAndNamesAreChecked() throws {
    let world = try AccessWorld()
    let pharmacist = try world.store(as: world.pharmacist)
    #expect(throws: LedgerRefusal.self) {
      try Users.add(pharmacist, name: "mallory_x", role: "admin", sites: [], counties: [])
    }
    let admin = try world.store(as: world.admin)
    for (name, role, sites, field) in [
      ("Robert'); DROP TABLE sites; --", "pharmacist", ["DICE-UKUNDA"], "name"),
      ("kp_owner", "admin", [], "name"),
      ("fine_name_\(world.admin)", "cashier", ["DICE-UKUNDA"], "role"),
      ("fine_name_\(world.admin)", "pharmacist", [], "site"),
      ("fine_name_\(world.admin)", "pharmacist", ["NOWHERE"], "site"),
    ] {
      do {
        try Users.add(admin, name: name, role: role, sites: sites, counties: [])
        Issue.record("\(name) as \(role) was accepted")
      } catch let refusal as LedgerRefusal {
        #expect(refusal.field == field, "\(name): \(refusal)")
      }
    }
    let listed = try Users.list(admin).first { $0.name == world.pharmacist }
    #expect(
      listed == KPUser(name: world.pharmacist, role: "pharmacist", canLogin: true, sites: ["DICE-UKUNDA"], counties: [])
    )
    try Users.revoke(admin, name: world.pharmacist, sites: [], counties: [])
    #expect(try Users.list(admin).contains { $0.name == world.pharmacist } == false)
  }

  @Test func usersChangesAreAuditedAndTheTrailIsKeptToTheReadersPlaces() throws {
    let world = try AccessWorld()
    let owner = try world.database.connect()
    #expect(
      try count(
        owner,
        """
        SELECT count(*) FROM audit_log
        WHERE table_name = 'access_grants' AND action = 'insert' AND row_key ->> 'user_name' = \(world.pharmacist)
        """) == 1)
    #expect(
      try count(
        owner,
        """
        SELECT count(*) FROM audit_log
        WHERE table_name = 'users' AND action = 'insert' AND row_key ->> 'user_name' = \(world.admin)
          AND after ->> 'role' = 'admin' AND who = session_user
        """) == 1)
    let pharmacist = try world.store(as: world.pharmacist)
    let seen = try AuditTrail.entries(pharmacist).entries
    #expect(!seen.isEmpty)
    #expect(seen.allSatisfy { $0.siteCode == nil || $0.siteCode == "DICE-UKUNDA" })
    for user in [world.logistics, world.viewer] {
      do {
        _ = try AuditTrail.entries(try world.store(as: user))
        Issue.record("\(user) read the audit trail")
      } catch let error as KPStockError {
        #expect(
          error.message == "\(user) may not read the audit trail: it shows who dosed methadone clients, "
            + "which only pharmacists and admins see")
      }
    }
    #expect(throws: LedgerRefusal.self) { try PrivacyCheck.findings(pharmacist) }
    _ = try PrivacyCheck.findings(try world.store(as: world.admin))
  }

  @Test func theSchemaBelongsToTheOwnerAndEveryTableIsCoveredByTheAccessFile() throws {
    let world = try AccessWorld()
    let connection = try world.database.connect()
    let notOwned: [String] = try connection.query(
      """
      SELECT c.relname::text AS name FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v') AND pg_get_userbyid(c.relowner) <> 'kp_owner'
      UNION ALL
      SELECT p.proname::text FROM pg_proc p
      WHERE p.pronamespace = 'public'::regnamespace AND pg_get_userbyid(p.proowner) <> 'kp_owner'
      """
    ).map { try $0.decode("name") }
    #expect(notOwned == [])
    // Every table is either readable by the daily roles as reference data or kept to its sites by a policy.
    let uncovered: [String] = try connection.query(
      """
      SELECT c.relname::text AS name FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND NOT c.relrowsecurity
        AND NOT has_table_privilege('kp_county_viewer', c.oid, 'SELECT')
        AND c.relname NOT IN ('access_grants')
      """
    ).map { try $0.decode("name") }
    #expect(uncovered == [])
    // Every view reads with its reader's rights (else it would read as its owner, past every policy), and every
    // daily role may read it or is meant not to (the outreach view, as the outreach tables).
    let views: [String] = try connection.query(
      """
      SELECT c.relname::text AS name FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
        AND (NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)
          OR NOT has_table_privilege('kp_pharmacist', c.oid, 'SELECT'))
      """
    ).map { try $0.decode("name") }
    #expect(views == [])
  }
}
