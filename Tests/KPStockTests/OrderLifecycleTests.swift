import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// An order from draft to proof of delivery (Schema/functions/90_orders.sql): lots picked on approval, quantities
/// changed with a reason, dispatch and receipt through the ledger, and two people acting on one order at once.
@Suite("Order lifecycle")
struct OrderLifecycleTests {
  private let database: TestDatabaseHandle
  private let store: Store
  private let run: Int64

  /// DICE-UKUNDA needs 2,277 condoms a week and holds none; STORE-KWALE holds three lots.
  init() throws {
    (database, store) = try kwaleOrderDatabase()
    for (lot, quantity, expiry) in [
      ("LATE", 5000, "2028-06-30"), ("EARLY", 2000, "2027-09-30"), ("GONE", 3000, "2026-12-05"),
    ] {
      try Ledger.post(
        store,
        Receipt(
          site: "STORE-KWALE", commodity: "MALE-CONDOM", lot: lot, expiry: CalendarDate(expiry),
          quantity: Int64(quantity), date: CalendarDate("2026-11-30")))
    }
    run = try forecastRun(
      store, needs: [("DICE-UKUNDA", "MALE-CONDOM", 2277, 2277), ("STORE-KWALE", "MALE-CONDOM", 2277, 0)])
  }

  private func ukundaOrder() throws -> Order {
    let (orders, _) = try Orders.generate(store, run: run)
    return try #require(orders.first { $0.siteCode == "DICE-UKUNDA" })
  }

  private func onHand(_ site: String) throws -> Int64 {
    try store.query(
      "SELECT coalesce(sum(on_hand), 0)::bigint AS n FROM stock_balances WHERE site_code = \(site) AND commodity_code = 'MALE-CONDOM'"
    )[0].decode("n")
  }

  @Test func anOrderGoesFromDraftToReceivedWithARejection() throws {
    let order = try ukundaOrder()
    #expect(order.units == 6768)
    try Orders.approve(store, order.id)
    // First expiry first out, but never GONE, which expires before DICE-UKUNDA could use the shipment up.
    let picks = try Orders.picks(store, order: order.id)
    #expect(picks.map { "\($0.lotCode) \($0.units)" } == ["EARLY 2000", "LATE 4768"])
    #expect(picks.map(\.shortDated) == [false, false])
    #expect(try Orders.lines(store, order: order.id).map(\.status) == ["approved"])

    #expect(throws: LedgerRefusal.self) {
      try Orders.setPacks(store, order.id, commodity: "MALE-CONDOM", packs: 40, reason: " ")
    }
    try Orders.setPacks(store, order.id, commodity: "MALE-CONDOM", packs: 40, reason: "the DICE has little room")
    #expect(
      try Orders.picks(store, order: order.id).map { "\($0.lotCode) \($0.units)" } == ["EARLY 2000", "LATE 3760"])

    try Orders.dispatch(store, order.id)
    #expect(try onHand("STORE-KWALE") == 10000 - 5760)
    let transfers = try Orders.picks(store, order: order.id).compactMap(\.transferID)
    #expect(transfers.count == 2)
    #expect(throws: LedgerRefusal.self) { try Orders.dispatch(store, order.id) }

    #expect(throws: LedgerRefusal.self) {
      try Orders.receive(
        store, order.id, rejections: [OrderRejection(commodity: "MALE-CONDOM", units: 144, reason: nil)])
    }
    #expect(throws: LedgerRefusal.self) {
      try Orders.receive(
        store, order.id, rejections: [OrderRejection(commodity: "MALE-CONDOM", units: 9999, reason: "damaged")])
    }
    try Orders.receive(
      store, order.id, rejections: [OrderRejection(commodity: "MALE-CONDOM", units: 144, reason: "damaged")])
    let line = try #require(try Orders.lines(store, order: order.id).first)
    #expect((line.acceptedUnits, line.rejectedUnits, line.rejectionReason) == (5616, 144, "damaged"))
    #expect(try onHand("DICE-UKUNDA") == 5616)
    #expect(try Orders.order(store, order.id).status == "received")
    #expect(
      try Orders.changes(store, order: order.id).map(\.change) == [
        "generated", "approved", "quantity", "dispatched", "received",
      ])
    #expect(try StockQueries.verify(store).isEmpty)
  }

  @Test func approvalCutsALineToTheWholePacksThatCanBePicked() throws {
    let order = try ukundaOrder()
    // EARLY goes to clients before the order is approved: only LATE (5,000) can go, 34 packs of 144 = 4,896 of the
    // 6,768 asked.
    try Ledger.post(
      store,
      Dispensing(
        site: "STORE-KWALE", commodity: "MALE-CONDOM", lot: "EARLY", quantity: 2000, population: "FSW",
        channel: .clinic))
    try Orders.approve(store, order.id)
    let line = try #require(try Orders.lines(store, order: order.id).first)
    #expect((line.packs, line.units, line.shortfallUnits) == (34, 4896, 1872))
    #expect(try Orders.changes(store, order: order.id).last?.detail?.contains("cut_to_what_can_be_picked") == true)
  }

  @Test func aCancelledOrderFreesItsLotsAndCannotBeApproved() throws {
    let order = try ukundaOrder()
    try Orders.approve(store, order.id)
    #expect(throws: LedgerRefusal.self) { try Orders.cancel(store, order.id, reason: "") }
    try Orders.cancel(store, order.id, reason: "sent by hand last week")
    #expect(try Orders.picks(store, order: order.id).isEmpty)
    let refusal = try #require(throws: LedgerRefusal.self) { try Orders.approve(store, order.id) }
    #expect(refusal.rule == .wrongState)
    #expect(refusal.problem.hasPrefix("order \(order.id) is cancelled (cancelled by "))
  }

  /// Two people approve the same order at once: the second waits for the first, then is told it is approved.
  @Test func twoPeopleApprovingOneOrderAtOnce() throws {
    let order = try ukundaOrder()
    let outcome = try secondSessionOutcome(database, while: "SELECT order_approve(\(order.id))") { store in
      try Orders.approve(store, order.id)
    }
    #expect(outcome.hasPrefix("wrongState order \(order.id) is approved (approved by "))
    #expect(try Orders.changes(store, order: order.id).filter { $0.change == "approved" }.count == 1)
  }

  /// Two people dispatch the same order at once: the stock leaves once.
  @Test func twoPeopleDispatchingOneOrderAtOnce() throws {
    let order = try ukundaOrder()
    try Orders.approve(store, order.id)
    let outcome = try secondSessionOutcome(database, while: "SELECT order_dispatch(\(order.id))") { store in
      try Orders.dispatch(store, order.id)
    }
    #expect(outcome.hasPrefix("wrongState order \(order.id) is dispatched (dispatched by "))
    #expect(try onHand("STORE-KWALE") == 10000 - 6768)
  }
}
