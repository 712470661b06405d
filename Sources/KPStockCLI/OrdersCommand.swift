import ArgumentParser
import Foundation
import KPStock

struct OrdersCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "orders",
    abstract: "Replenishment orders from a forecast run: generate, approve, pick, dispatch, receive.",
    discussion: """
      max–min per supply line in weeks of the site's echelon need: min = lead time + safety stock, max = min + \
      review period; order max − position (usable on hand + in transit + on order), in whole packs. A short supplier \
      shares whole packs towards equal weeks of stock, emergency lines first. draft → approved → dispatched → \
      received, or cancelled. See docs/orders.md.
      """,
    subcommands: [
      Generate.self, Check.self, List.self, Show.self, Explain.self, PickList.self, Approve.self, SetQuantity.self,
      Dispatch.self, Receive.self, Cancel.self,
    ])

  static let flags = FlagNames(renamed: ["order": "ORDER"])

  struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Make the draft orders of a forecast run; again for the same run replaces its drafts.",
      discussion: "Example: kpstock orders generate --run 12")

    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("run"), help: "Forecast run id (kpstock forecast list).") var runID: Int64

    func run() throws {
      let store = try database.open()
      let (orders, warnings) = try OrdersCommand.flags.check { try Orders.generate(store, run: runID) }
      Console.output(
        OrderText.generated(
          orders, lines: try Orders.lines(store, run: runID).filter { $0.status == "draft" }, warnings: warnings))
    }
  }

  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check one site against the week's latest forecast run (continuous review, after any issue).",
      discussion: "Example: kpstock orders check --site DICE-UKUNDA")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Site code.") var site: String

    func run() throws {
      let store = try database.open()
      let site = self.site.trimmingCharacters(in: .whitespaces).uppercased()
      guard let run = try Orders.latestRun(store, site: site) else {
        throw KPStockError(
          .badInput, "--site: no forecast run of the coming week covers \(site): run kpstock weekly (or forecast run)")
      }
      let (orders, warnings) = try OrdersCommand.flags.check { try Orders.generate(store, run: run, site: site) }
      let lines = try Orders.lines(store, run: run).filter { $0.status == "draft" && $0.siteCode == site }
      Console.output(
        orders.isEmpty
          ? "\(site): nothing to order (forecast run \(run))\n" + OrderText.warnings(warnings)
          : OrderText.generated(orders, lines: lines, warnings: warnings))
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List orders.", discussion: "Example: kpstock orders list --status approved --format csv")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(name: .customLong("run"), help: "Only the orders of this forecast run.") var runID: Int64?
    @Option(help: "Only orders to this site.") var site: String?
    @Option(help: "Only orders from this supplier (a site code or an external supplier).") var supplier: String?
    @Option(help: "draft, approved, dispatched, received or cancelled.") var status: String?

    func run() throws {
      let store = try database.open()
      if let status, !Orders.statuses.contains(status) {
        throw KPStockError(.badInput, "--status: '\(status)' is not one of \(Orders.statuses.joined(separator: ", "))")
      }
      let filter = OrderFilter(
        run: runID, site: site?.uppercased(), supplier: supplier.map { $0.trimmingCharacters(in: .whitespaces) },
        status: status)
      Console.output(OrderText.orders(try Orders.list(store, filter)).rendered(as: output.format))
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "An order's lines: need, levels, position, units and packs, shortfall.",
      discussion: "Example: kpstock orders show 7 --format json")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Argument(help: ArgumentHelp("Order id (kpstock orders list).", valueName: "order")) var order: Int64

    func run() throws {
      let store = try database.open()
      let lines = try OrdersCommand.flags.check { try Orders.lines(store, order: order) }
      Console.output(OrderText.lines(lines).rendered(as: output.format))
    }
  }

  struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "How one line's quantity came out: need, levels, stock, raw quantity, packs, rationing, lots.",
      discussion: "Example: kpstock orders explain 7 --commodity MALE-CONDOM")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("Order id.", valueName: "order")) var order: Int64
    @Option(help: "Commodity code.") var commodity: String

    func run() throws {
      let store = try database.open()
      let code = commodity.trimmingCharacters(in: .whitespaces).uppercased()
      let found = try OrdersCommand.flags.check { try Orders.order(store, order) }
      guard let line = try Orders.lines(store, order: order, commodity: code).first else {
        throw KPStockError(.badInput, "--commodity: order \(order) has no line for \(code)")
      }
      Console.output(OrderText.explanation(found, line, picks: try Orders.picks(store, order: order)))
    }
  }

  struct PickList: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "pick-list",
      abstract: "The lots to pick at the supplier, first expiry first out, in units and packs, to print.",
      discussion: "Example: kpstock orders pick-list 7")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("Order id.", valueName: "order")) var order: Int64

    func run() throws {
      let store = try database.open()
      let found = try OrdersCommand.flags.check { try Orders.order(store, order) }
      Console.output(
        OrderText.picks(found, try Orders.picks(store, order: order), lines: try Orders.lines(store, order: order)))
    }
  }

  struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Approve a draft: its lots are picked and it counts as on order.",
      discussion: "Example: kpstock orders approve 7")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("Order id.", valueName: "order")) var order: Int64

    func run() throws {
      let store = try database.open()
      try OrdersCommand.flags.check { try Orders.approve(store, order) }
      let cut = try Orders.lines(store, order: order).filter { $0.shortfallUnits > 0 }
      Console.output("order \(order) approved; pick-list: kpstock orders pick-list \(order)\n")
      for line in cut {
        Console.output(
          "  \(line.commodityCode): \(line.units) of \(line.requestedUnits) asked (shortfall \(line.shortfallUnits))\n")
      }
    }
  }

  struct SetQuantity: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "set",
      abstract: "Change a line's quantity, in whole packs, on a draft or approved order, with the reason.",
      discussion:
        "Example: kpstock orders set 7 --commodity MALE-CONDOM --packs 20 --reason \"little room at the DICE\"")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("Order id.", valueName: "order")) var order: Int64
    @Option(help: "Commodity code.") var commodity: String
    @Option(parsing: .unconditional, help: "Whole packs.") var packs: String
    @Option(help: "Why the quantity changes.") var reason: String

    func run() throws {
      let store = try database.open()
      let code = commodity.trimmingCharacters(in: .whitespaces).uppercased()
      try OrdersCommand.flags.check {
        let count = try FieldParsing.integer(packs, field: "packs", range: 0...1_000_000)
        try Orders.setPacks(store, order, commodity: code, packs: count, reason: reason)
      }
      let line = try Orders.lines(store, order: order, commodity: code).first
      Console.output("order \(order) \(code): \(line?.packs ?? 0) packs = \(line?.units ?? 0) units\n")
    }
  }

  struct Dispatch: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Dispatch an approved order: each picked lot leaves the supplier as a transfer, in transit.",
      discussion: "Example: kpstock orders dispatch 7")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("Order id.", valueName: "order")) var order: Int64
    @Option(help: "Day it left (default today).") var date: String?

    func run() throws {
      let store = try database.open()
      try OrdersCommand.flags.check {
        let day = try date.map { text throws(FieldError) in try FieldParsing.date(text, field: "date") }
        try Orders.dispatch(store, order, date: day)
      }
      let transfers = try Orders.picks(store, order: order).compactMap(\.transferID)
      Console.output(
        "order \(order) dispatched: transfers \(transfers.map(String.init).joined(separator: ", "))\n")
    }
  }

  struct Receive: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Proof of delivery: everything dispatched arrives, less what is rejected per line, with a reason.",
      discussion: """
        --reject COMMODITY=UNITS:REASON, once per line with a rejection; other lines are accepted in full. A \
        requisition to an external supplier is closed here once approved (record its stock with kpstock receive).
        Example: kpstock orders receive 7 --reject MALE-CONDOM=144:damaged
        """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("Order id.", valueName: "order")) var order: Int64
    @Option(help: "A rejection: COMMODITY=UNITS:REASON.") var reject: [String] = []
    @Option(help: "Day it arrived (default today).") var date: String?

    func run() throws {
      let store = try database.open()
      try FlagNames(renamed: ["order": "ORDER", "rejected": "--reject", "reason": "--reject", "commodity": "--reject"])
        .check {
          let rejections = try reject.map { text throws(FieldError) -> OrderRejection in
            let parts = text.split(separator: "=", maxSplits: 1)
            let rest = parts.count == 2 ? parts[1].split(separator: ":", maxSplits: 1) : []
            guard parts.count == 2, let first = rest.first else {
              throw FieldError(field: "reject", problem: "'\(text)' is not COMMODITY=UNITS:REASON")
            }
            let units = try FieldParsing.integer(String(first), field: "reject", range: 0...Int(Int32.max))
            return OrderRejection(
              commodity: parts[0].trimmingCharacters(in: .whitespaces).uppercased(), units: Int64(units),
              reason: rest.count == 2 ? String(rest[1]).trimmingCharacters(in: .whitespaces) : nil)
          }
          let day = try date.map { text throws(FieldError) in try FieldParsing.date(text, field: "date") }
          try Orders.receive(store, order, rejections: rejections, date: day)
        }
      Console.output("order \(order) received\n")
    }
  }

  struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Cancel a draft or approved order; its picked lots are freed.",
      discussion: "Example: kpstock orders cancel 7 --reason \"sent by hand\"")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("Order id.", valueName: "order")) var order: Int64
    @Option(help: "Why.") var reason: String

    func run() throws {
      let store = try database.open()
      try OrdersCommand.flags.check { try Orders.cancel(store, order, reason: reason) }
      Console.output("order \(order) cancelled\n")
    }
  }
}
