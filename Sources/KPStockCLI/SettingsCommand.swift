import ArgumentParser
import KPStock

struct SettingsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "settings",
    abstract: "Programme-wide settings: time zone, wastage, forecast tolerance and smoothing, back-dating window.",
    subcommands: [Show.self, SetCommand.self])

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the programme settings.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      Console.output(try ProgrammeSettings.load(store).record.rendered(as: output.format))
    }
  }

  struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "set",
      abstract: "Change programme settings; options not given keep their value.",
      discussion: "Example: kpstock settings set --wastage-percent 12 --backdating-window-days 90")

    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("time-zone"), help: "IANA time zone where a stock day ends, e.g. Africa/Nairobi.")
    var timeZone: String?
    @Option(name: .customLong("wastage-percent"), parsing: .unconditional, help: "Added to forecast need, 0-100.")
    var wastagePercent: String?
    @Option(
      name: .customLong("forecast-tolerance-percent"), parsing: .unconditional,
      help: "Gap between forecast methods worth reporting, 0-100.")
    var forecastTolerancePercent: String?
    @Option(
      name: .customLong("backdating-window-days"), parsing: .unconditional,
      help: "How many days in the past a paper register entry may be dated.")
    var backdatingWindowDays: String?
    @Option(
      name: .customLong("forecast-alpha"), parsing: .unconditional,
      help: "Holt's smoothing of the level of people reached, above 0 and at most 1 (default 0.5).")
    var forecastAlpha: String?
    @Option(
      name: .customLong("forecast-beta"), parsing: .unconditional,
      help: "Holt's smoothing of the trend of people reached, 0-1 (default 0.2).")
    var forecastBeta: String?

    func run() throws {
      var values = InputValues()
      values["time_zone"] = timeZone
      values["wastage_percent"] = wastagePercent
      values["forecast_tolerance_percent"] = forecastTolerancePercent
      values["backdating_window_days"] = backdatingWindowDays
      values["forecast_alpha"] = forecastAlpha
      values["forecast_beta"] = forecastBeta
      guard !values.values.isEmpty else {
        throw KPStockError.badInput("nothing to change: give at least one of --time-zone, --wastage-percent, ...")
      }
      let store = try database.open()
      let settings = try FlagNames().check { try ProgrammeSettings.update(store, values) }
      Console.output(settings.record.rendered(as: .table))
    }
  }
}
