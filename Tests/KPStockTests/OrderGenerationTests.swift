import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// Orders from a forecast run (Schema/functions/90_orders.sql), against ../shared/domain.md's worked example and by
/// hand. Each test writes the run's needs itself, so that the order rules are tested apart from the forecast.
@Suite("Order generation")
struct OrderGenerationTests {
  private let database: TestDatabaseHandle
  private let store: Store

  /// The Kwale demo's sites and supply lines (DICE-UKUNDA gets condoms from STORE-KWALE: lead 7 days, review 7, 1 week
  /// of safety stock, EOP 1 week, forced; the satellites from their DICE: lead 2 days, review 7, 1 week), on Monday
  /// 2026-11-30.
  init() throws {
    (database, store) = try kwaleOrderDatabase()
  }

  private func receive(
    _ site: String, _ quantity: Int64, lot: String, expiry: String = "2028-06-30", commodity: String = "MALE-CONDOM",
    on day: String = "2026-11-30"
  ) throws {
    try Ledger.post(
      store,
      Receipt(
        site: site, commodity: commodity, lot: lot, expiry: CalendarDate(expiry), quantity: quantity,
        date: CalendarDate(day)))
  }

  private func run(_ needs: [(site: String, commodity: String, need: Int64?, own: Int64?)]) throws -> Int64 {
    try forecastRun(store, needs: needs)
  }

  private func line(_ run: Int64, site: String, commodity: String = "MALE-CONDOM") throws -> OrderLine? {
    try Orders.lines(store, run: run, commodity: commodity).first { $0.siteCode == site && $0.status != "cancelled" }
  }

  @Test func theWorkedExampleOrders3456Condoms() throws {
    try receive("DICE-UKUNDA", 3400, lot: "A")
    try receive("STORE-KWALE", 20000, lot: "S")
    let run = try run([("DICE-UKUNDA", "MALE-CONDOM", 2277, 2277), ("STORE-KWALE", "MALE-CONDOM", 2277, 0)])
    _ = try Orders.generate(store, run: run)
    let ukunda = try #require(try line(run, site: "DICE-UKUNDA"))
    #expect((ukunda.minLevel, ukunda.maxLevel, ukunda.emergencyPoint) == (4554, 6831, 2277))
    #expect((ukunda.position, ukunda.rawUnits) == (3400, 3431))
    #expect((ukunda.packs, ukunda.units, ukunda.shortfallUnits) == (24, 3456, 0))
    #expect(!ukunda.emergency)
    #expect(ukunda.supplier == "STORE-KWALE")
  }

  @Test func packsRoundUpPastTheThresholdAndNeverToZeroUnlessAllowed() throws {
    func packs(_ units: Int64, _ pack: Int, _ threshold: Int, zero: Bool = false) throws -> Int {
      Int(
        try store.query("SELECT order_packs(\(units), \(pack)::integer, \(threshold)::integer, \(zero)) AS p")[0]
          .decode("p") as Int32)
    }
    #expect(try packs(3431, 144, 72) == 24)
    #expect(try packs(3384, 144, 72) == 23)
    #expect(try packs(3385, 144, 0) == 24)
    #expect(try packs(3312, 144, 0) == 23)
    #expect(try packs(10, 144, 72) == 1)
    #expect(try packs(10, 144, 72, zero: true) == 0)
    #expect(try packs(0, 144, 0) == 0)
  }

  /// Standard orders only at or below min; forced whenever below max; any variant below the EOP is an emergency.
  @Test func eachVariantOrdersWhenItsRuleSays() throws {
    try receive("STORE-KWALE", 50000, lot: "S")
    try receive("DICE-UKUNDA", 5000, lot: "A")
    try receive("DICE-KWALE", 500, lot: "B")
    try store.execute("UPDATE supply_lines SET variant = 'standard' WHERE site_code IN ('DICE-UKUNDA', 'DICE-KWALE')")
    // min 2 weeks = 4,000, max 3 weeks = 6,000, EOP 2,000: 5,000 is above min (no order); 500 is below the EOP.
    let run = try run([
      ("DICE-UKUNDA", "MALE-CONDOM", 2000, 2000), ("DICE-KWALE", "MALE-CONDOM", 2000, 2000),
      ("STORE-KWALE", "MALE-CONDOM", 4000, 0),
    ])
    _ = try Orders.generate(store, run: run)
    #expect(try line(run, site: "DICE-UKUNDA") == nil)
    let kwale = try #require(try line(run, site: "DICE-KWALE"))
    #expect(kwale.emergency)
    #expect((kwale.rawUnits, kwale.units) == (5500, 5472))
    // Continuous review orders as standard does (and `orders check` runs it for one site after any issue).
    try store.execute("UPDATE supply_lines SET variant = 'continuous' WHERE site_code IN ('DICE-UKUNDA', 'DICE-KWALE')")
    _ = try Orders.generate(store, run: run, site: "DICE-UKUNDA")
    #expect(try line(run, site: "DICE-UKUNDA") == nil)
    #expect(try line(run, site: "DICE-KWALE")?.emergency == true)
    try store.execute("UPDATE supply_lines SET variant = 'forced' WHERE site_code = 'DICE-UKUNDA'")
    _ = try Orders.generate(store, run: run)
    #expect(try line(run, site: "DICE-UKUNDA").map(\.rawUnits) == 1000)
  }

  @Test func anUnknownNeedGivesNoLineButAWarning() throws {
    try receive("STORE-KWALE", 50000, lot: "S")
    let run = try run([("DICE-UKUNDA", "MALE-CONDOM", nil, nil), ("STORE-KWALE", "MALE-CONDOM", 0, 0)])
    let (_, warnings) = try Orders.generate(store, run: run)
    #expect(try line(run, site: "DICE-UKUNDA") == nil)
    #expect(warnings.map { "\($0.siteCode) \($0.commodityCode)" } == ["DICE-UKUNDA MALE-CONDOM"])
  }

  /// A lot expiring before the end of the next cover period (today + 7 + 7 days) is not in the position.
  @Test func lotsExpiringBeforeTheNextCoverEndAreNotUsable() throws {
    try receive("STORE-KWALE", 50000, lot: "S")
    try receive("DICE-UKUNDA", 3000, lot: "SOON", expiry: "2026-12-10")
    try receive("DICE-UKUNDA", 400, lot: "LATER", expiry: "2026-12-14")
    let run = try run([("DICE-UKUNDA", "MALE-CONDOM", 2277, 2277), ("STORE-KWALE", "MALE-CONDOM", 2277, 0)])
    _ = try Orders.generate(store, run: run)
    let ukunda = try #require(try line(run, site: "DICE-UKUNDA"))
    #expect((ukunda.usableOnHand, ukunda.unusableOnHand, ukunda.position) == (400, 3000, 400))
  }

  /// DICE-UKUNDA holds 1,000 for three sites asking 2,000 between them (after its own reserve, 0 here): whole packs go
  /// one at a time to the site with the fewest weeks of stock, never beyond a request, and the shortfall is added to
  /// DICE-UKUNDA's own order from the store.
  @Test func aShortSupplierSharesWholePacksTowardsEqualWeeksAndRollsTheShortfallUp() throws {
    try store.execute(
      """
      INSERT INTO supply_lines (site_code, category, supplier_code, lead_time_days, review_period_days,
        safety_stock_weeks, variant, emergency_order_point_weeks)
      VALUES ('SAT-KINANGO', 'lubricant', 'DICE-UKUNDA', 2, 7, 1, 'forced', 0)
      ON CONFLICT (site_code, category) DO UPDATE SET supplier_code = 'DICE-UKUNDA', emergency_order_point_weeks = 0
      """)
    try store.execute(
      "UPDATE supply_lines SET emergency_order_point_weeks = 0 WHERE site_code IN ('SAT-MSAMBWENI', 'SAT-LUNGALUNGA')")
    try receive("DICE-UKUNDA", 1000, lot: "L", commodity: "LUBRICANT")
    try receive("SAT-MSAMBWENI", 100, lot: "L", commodity: "LUBRICANT")
    let run = try run([
      ("SAT-MSAMBWENI", "LUBRICANT", 700, 700), ("SAT-LUNGALUNGA", "LUBRICANT", 350, 350),
      ("SAT-KINANGO", "LUBRICANT", 350, 350), ("DICE-UKUNDA", "LUBRICANT", 1400, 0),
      ("STORE-KWALE", "LUBRICANT", 1400, 0),
    ])
    _ = try Orders.generate(store, run: run)
    let sites = ["SAT-KINANGO", "SAT-LUNGALUNGA", "SAT-MSAMBWENI"]
    let lines = try sites.map { try #require(try line(run, site: $0, commodity: "LUBRICANT")) }
    // Asked: max − position (max = 16/7 weeks of need), in packs of 100: Kinango 800 → 8, Lunga Lunga 8, Msambweni
    // 1,600 − 100 → 15.
    #expect(lines.map(\.requestedPacks) == [8, 8, 15])
    #expect(lines.map(\.packs).reduce(0, +) == 10)
    #expect(zip(lines.map(\.packs), lines.map(\.requestedPacks)).allSatisfy { $0 <= $1 })
    // Pack by pack to the fewest weeks of stock, ties by code: K, L, M (at 0, 0, 0.14 weeks), then K, L, M, M
    // (Msambweni's 300 is 0.43 weeks), then K, L at 0.57 each, and the tenth to Msambweni (0.57, last by code).
    #expect(lines.map(\.packs) == [3, 3, 4])
    #expect(lines.map(\.shortfallUnits) == [500, 500, 1100])
    let ukunda = try #require(try line(run, site: "DICE-UKUNDA", commodity: "LUBRICANT"))
    #expect(ukunda.rolledUpUnits == 2100)
    #expect((ukunda.rawUnits, ukunda.requestedUnits) == (3200, 5300))
  }

  @Test func regeneratingReplacesDraftsAndLeavesApprovedOrdersAlone() throws {
    try receive("STORE-KWALE", 50000, lot: "S")
    let run = try run([
      ("DICE-UKUNDA", "MALE-CONDOM", 2000, 2000), ("DICE-KWALE", "MALE-CONDOM", 2000, 2000),
      ("STORE-KWALE", "MALE-CONDOM", 4000, 0),
    ])
    let (first, _) = try Orders.generate(store, run: run)
    let ukunda = try #require(first.first { $0.siteCode == "DICE-UKUNDA" })
    try Orders.approve(store, ukunda.id)
    let (second, _) = try Orders.generate(store, run: run)
    #expect(!second.contains { $0.siteCode == "DICE-UKUNDA" })
    let live = try Orders.list(store, OrderFilter(run: run)).filter { $0.status != "cancelled" }
    #expect(live.map(\.siteCode).sorted() == ["DICE-KWALE", "DICE-UKUNDA"])
    #expect(try Orders.order(store, ukunda.id).status == "approved")
    // A second open order for one destination and supplier is refused by the database itself.
    #expect(throws: (any Error).self) {
      try store.execute(
        """
        INSERT INTO orders (run_id, site_code, supplier_code, made_on)
        VALUES (\(run), 'DICE-KWALE', 'STORE-KWALE', '2026-11-30')
        """)
    }
    // Next week's run replaces this run's remaining draft for DICE-KWALE: approving both would order twice.
    let next = try self.run([("DICE-KWALE", "MALE-CONDOM", 2000, 2000), ("STORE-KWALE", "MALE-CONDOM", 2000, 0)])
    _ = try Orders.generate(store, run: next)
    let open = try Orders.list(store, OrderFilter(site: "DICE-KWALE")).filter { $0.status == "draft" }
    #expect(open.map(\.runID) == [next])
  }
}
