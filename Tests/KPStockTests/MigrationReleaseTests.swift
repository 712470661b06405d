import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("Released migrations")
struct MigrationReleaseTests {
  /// Every database kpstock has migrated holds these checksums and refuses to run against a file that
  /// no longer matches. When a migration is released, add it here; never change a line of this table.
  /// (0001–0006 as first released were squashed into these two before any database was deployed; a database
  /// made from them is refused with what to do.)
  static let released: [String: String] = [
    "0001_reference": "821f48c54ccb4a11323d3acf606b28493cf0747eaa3c4bada02fedbf5687ae89",
    "0002_ledger": "06ef6f4f6022f4f02c8ff8b336df57dce4250529447c69ccd629994e6d6636b5",
    "0003_lot_daily": "e5f9f092c9c37209ccba132b8208b5fe1aa3ea03a017fdb9f791b01d655f20ae",
    "0004_event_domains": "3cf9e3c58d19d02a8a26c7df4b6d18588aa2f6ca81a4acf10f8b0e5f0d299f5b",
    "0005_event_references": "abb5b700f0ae69423514463e3e6a590684683c25a59bbf0bf4ba332a338dfc83",
    "0006_one_daily_rollup": "f31daebab1bed61c615bf09efbbe4f70c173d88566629c33de71ce390ef2db82",
    "0007_ledger_receipt": "ba1b3447cfa745eb7d826df2fbff119b7aa55581d64dcd6c8447dd38e77ed5fc",
    "0008_stock_cards": "5b777fe83812c6bae33be9ff8d3a94fda794d7a1dfc9e27007bdec0113795836",
    "0009_outreach": "b3992ed51f0496a47307f0e03503cb4319407c2653611553f92655e14e68fa0d",
    "0010_norm_scopes": "691444561f77985fe85ad47785d054686e9c0ce4635a730b797ba7d14c5440ee",
    "0011_forecast": "a33229e023edefb368b9b9e4c3bff76c2dfdfbed6fba262b8ef1e72fdc138920",
    "0012_rollup_by_day": "bfab2f77319d99c0a71619f1d84c6085c8b8d6932da89f9801c59ab2bbb2086c",
    "0013_rollup_day_summaries": "812e2de39b00751b1d3a1bd5920b7b3c7b15a2f859bd49642bf2067639ed72cb",
    "0014_stock_weeks": "ad7b47fd094266ab90fc60c8b0e8928e275a3dfa0763560e1f198a60cf1d7085",
    "0015_orders": "97f7f4c1afc3b78f8dac31f060914d4d7a7f7ed666988c4e72fcb83ad2ffb7f7",
    "0016_coverage_targets": "c119ab348ab23bd56aeceac66c5ce837fef3fee2589ac6c489df15c17f901c00",
    "0017_balance_domain": "3e3e40e898070d0c80d729c7275cee6dda2336949c763780fc99b3477992a1b3",
    "0018_balance_expiry": "1cfcec2afeea7333df3199e9ebb4e13033b29eb58b2c897fcfe18a3ccd85f2b5",
    "0019_methadone": "609f620f1189141c139465ff7cd93c0ce8629f5e3cce9aa7a2c8b33e6ea87ce2",
    "0020_access": "52ad8467e8bdf5b7dacb1f78d3b5d493b38d320c333ad33f0f86c18197439737",
    "0021_audit": "1f303e44a8efe7dfa8c29cec9e46bc380aeaf8bf001d2ca75728b85d6cf5137f",
    "0022_identity_checks": "e716a206119c1fa6d5a71e59fcdfbff4e45707207c03c968955e6cf8a009cf3d",
  ]

  @Test func releasedMigrationsAreNeverEdited() throws {
    let store = try TestDatabase.fresh().store()
    var recorded: [String: String] = [:]
    for row in try store.query("SELECT name, checksum FROM schema_migrations") {
      recorded[try row.decode("name")] = try row.decode("checksum")
    }
    for (name, checksum) in Self.released {
      #expect(
        recorded[name] == checksum,
        "Schema/\(name).sql was edited after release; put the change in a new migration instead")
    }
    for name in recorded.keys where Self.released[name] == nil {
      Issue.record("add \(name) and its checksum \(recorded[name] ?? "") to MigrationReleaseTests.released")
    }
  }

  /// 0006 folds the per-commodity rollup into the per-lot one. A ledger written before it (events, balances and both
  /// rollups, as ledger_book then booked them) is upgraded in place: the per-lot rows gain what moved by kind, and the
  /// per-commodity figures read through the view are the ones the table held.
  @Test func aLedgerFromBeforeTheSingleRollupIsUpgradedInPlace() throws {
    let schema = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appending(path: "Schema")
    let before = try ["0001_reference", "0002_ledger", "0003_lot_daily", "0004_event_domains", "0005_event_references"]
      .map { Migration(name: $0, sql: try String(contentsOf: schema.appending(path: "\($0).sql"), encoding: .utf8)) }
    let database = try TestDatabase.empty()
    let raw = try database.connect()
    try Migrator(migrations: before, lockKey: 1).migrate(raw)
    let ledgerAsBookedBefore = """
      INSERT INTO counties VALUES ('002', 'Kwale');
      INSERT INTO populations VALUES ('FSW', 'Female sex workers'), ('PWID', 'People who inject drugs');
      INSERT INTO sites (code, name, kind, county_code) VALUES ('DICE-A', 'A', 'dice', '002');
      INSERT INTO commodities (code, name, category, base_unit, pack_size, pack_rounding_threshold, lot_tracked)
      VALUES ('MALE-CONDOM', 'Male condom', 'condom', 'piece', 144, 0, false),
        ('NALOXONE', 'Naloxone', 'overdose_reversal', 'piece', 10, 0, true);
      INSERT INTO lots VALUES ('NALOXONE', 'N1', '2027-01-31'), ('NALOXONE', 'N2', '2027-06-30');
      INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, reason_code, occurred_on,
        recorded_on, population_code, channel, idempotency_key, fingerprint)
      VALUES ('DICE-A', 'MALE-CONDOM', '', 'receipt', 500, NULL, '2026-03-01', '2026-03-01', NULL, NULL, 'k1', '\\x00'),
        ('DICE-A', 'MALE-CONDOM', '', 'dispense', -40, NULL, '2026-03-01', '2026-03-01', 'FSW', 'clinic', 'k2', '\\x00'),
        ('DICE-A', 'MALE-CONDOM', '', 'adjustment', -5, 'damaged', '2026-03-02', '2026-03-02', NULL, NULL, 'k3', '\\x00'),
        ('DICE-A', 'NALOXONE', 'N1', 'receipt', 20, NULL, '2026-03-01', '2026-03-01', NULL, NULL, 'k4', '\\x00'),
        ('DICE-A', 'NALOXONE', 'N2', 'receipt', 30, NULL, '2026-03-01', '2026-03-01', NULL, NULL, 'k5', '\\x00'),
        ('DICE-A', 'NALOXONE', 'N1', 'dispense', -20, NULL, '2026-03-02', '2026-03-02', 'PWID', 'clinic', 'k6', '\\x00'),
        ('DICE-A', 'NALOXONE', 'N2', 'dispense', -3, NULL, '2026-03-02', '2026-03-02', 'PWID', 'clinic', 'k7', '\\x00');
      INSERT INTO stock_balances SELECT site_code, commodity_code, lot_code, sum(quantity) FROM stock_events
      GROUP BY 1, 2, 3;
      INSERT INTO stock_daily SELECT site_code, commodity_code, occurred_on, sum(quantity),
        coalesce(sum(quantity) FILTER (WHERE kind = 'receipt'), 0),
        coalesce(-sum(quantity) FILTER (WHERE kind = 'dispense'), 0), 0,
        coalesce(sum(quantity) FILTER (WHERE kind = 'adjustment'), 0)
      FROM stock_events GROUP BY 1, 2, 3;
      INSERT INTO stock_lot_daily SELECT site_code, commodity_code, lot_code, occurred_on, sum(quantity)
      FROM stock_events GROUP BY 1, 2, 3, 4
      """
    for statement in ledgerAsBookedBefore.split(separator: ";\n") {
      try raw.execute(Query(unsafeSQL: String(statement)))
    }
    // A database of that time also had the guards on balances and rollups (Schema/functions/60_ledger_guards.sql),
    // which refuse any write outside ledger_book: the upgrade's own backfill among them, unless it says it books.
    // (Not yet those of the stock cards, which came with 0008.)
    let guards = try String(contentsOf: schema.appending(path: "functions/60_ledger_guards.sql"), encoding: .utf8)
    try raw.executeScript(
      unsafeSQL: guards.split(separator: ";\n").filter { !$0.contains("stock_cards") }.joined(separator: ";\n"))
    let daily =
      "SELECT concat_ws('|', commodity_code, day, net_change, received, dispensed, sent, adjusted) AS line"
      + " FROM stock_daily ORDER BY 1"
    let held = try raw.query(Query(unsafeSQL: daily)).map { try $0.decode("line") as String }

    let store = try Store.open(conninfo: database.conninfo)
    #expect(try store.query(Query(unsafeSQL: daily)).map { try $0.decode("line") as String } == held)
    #expect(held.count == 4)
    let lots = try store.query(
      """
      SELECT concat_ws('|', lot_code, day, net_change, received, dispensed, sent, adjusted) AS line
      FROM stock_lot_daily WHERE commodity_code = 'NALOXONE' ORDER BY 1
      """
    ).map { try $0.decode("line") as String }
    #expect(
      lots == [
        "N1|2026-03-01|20|20|0|0|0", "N1|2026-03-02|-20|0|20|0|0", "N2|2026-03-01|30|30|0|0|0",
        "N2|2026-03-02|-3|0|3|0|0",
      ])
    let differences = try store.query("SELECT check_name FROM ledger_verify()").map {
      try $0.decode("check_name") as String
    }
    #expect(differences.isEmpty)
    // 0008 gives every site-commodity with a balance its stock card.
    let cards = try store.query("SELECT commodity_code FROM stock_cards ORDER BY 1").map {
      try $0.decode("commodity_code") as String
    }
    #expect(cards == ["MALE-CONDOM", "NALOXONE"])
  }
}
