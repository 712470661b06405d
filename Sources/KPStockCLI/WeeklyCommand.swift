import ArgumentParser
import KPStock

/// The one command a logistics officer runs on Monday: the week's forecast, then its orders.
struct WeeklyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "weekly",
    abstract: "Forecast the coming week and generate its orders: what to send where, and what needs attention.",
    discussion: "Example: kpstock weekly --county 002")

  @OptionGroup var database: DatabaseOptions
  @Option(help: "ISO week, 2026-W49 (default: the week after today).") var week: String?
  @Option(help: "County code: its sites only.") var county: String?

  func run() throws {
    let store = try database.open()
    let run = try ForecastCommand.flags.check { try Forecast.run(store, week: week, county: county) }
    Console.output(
      "Forecast run \(run.id) for \(run.week), \(run.scope): \(run.lines) lines, \(run.unknownLines) unknown, "
        + "\(run.flaggedLines) flagged (kpstock forecast show \(run.id)).\n\n")
    let (orders, warnings) = try Orders.generate(store, run: run.id)
    let lines = try Orders.lines(store, run: run.id).filter { $0.status == "draft" }
    Console.output(OrderText.generated(orders, lines: lines, warnings: warnings))
  }
}
