import ArgumentParser
import Foundation
import KPStock

struct ForecastCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "forecast",
    abstract: "The weekly forecast of need per site and commodity: run, list, show and explain.",
    discussion: """
      Each line gives the need of the target week by outreach (people reached × norm, by Holt's smoothing), by \
      consumption (adjusted for stocked-out days), by clients (methadone) and the naive method, a back-test of each \
      over the 8 weeks before, the method used, the echelon need over the supply lines, and flags. See docs/forecast.md.
      """,
    subcommands: [Run.self, List.self, Show.self, Explain.self, Methods.self, Method.self])

  static let flags = FlagNames(renamed: ["RUN": "RUN", "COMMODITY": "COMMODITY", "METHOD": "METHOD"])

  struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Forecast a week and store the run; a second run of a week is a new run, and the latest is used.",
      discussion: "Example: kpstock forecast run --week 2026-W49 --county 002")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "ISO week to forecast, 2026-W49 (default: the week after today).") var week: String?
    @Option(help: "County code: forecast its sites only.") var county: String?
    @Option(help: "Site code: forecast it and the sites it supplies only.") var site: String?

    func run() throws {
      let store = try database.open()
      let run = try ForecastCommand.flags.check {
        try Forecast.run(store, week: week, county: county, site: site)
      }
      Console.output(ForecastText.summary(run, commodities: try Forecast.summary(store, run: run.id)))
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the stored runs, newest first.", discussion: "Example: kpstock forecast list --week 2026-W49")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Option(help: "Only the runs of this ISO week.") var week: String?

    func run() throws {
      let store = try database.open()
      let runs = try ForecastCommand.flags.check { try Forecast.runs(store, week: week) }
      Console.output(ForecastText.runs(runs).rendered(as: output.format))
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show a run's lines: the need by each method, the one used, back-test errors and flags.",
      discussion: """
        Example: kpstock forecast show 12 --site DICE-UKUNDA --format json
        Flags: methods_disagree, missing_outreach, recent_stockout, capped, unknown, unknown_supplied, flat.
        """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption
    @Argument(help: ArgumentHelp("Run id (kpstock forecast list).", valueName: "run")) var runID: Int64
    @Option(help: "Only this site.") var site: String?
    @Option(help: "Only this commodity.") var commodity: String?
    @Option(help: "Only lines with this flag.") var flag: String?

    func run() throws {
      let store = try database.open()
      let lines = try ForecastCommand.flags.check {
        try Forecast.lines(store, run: runID, site: site, commodity: commodity, flag: flag)
      }
      Console.output(ForecastText.lines(lines, as: output.format))
    }
  }

  struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Every input and step behind one line, in order, to check by hand.",
      discussion: "Example: kpstock forecast explain 12 --site DICE-UKUNDA --commodity MALE-CONDOM")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("Run id (kpstock forecast list).", valueName: "run")) var runID: Int64
    @Option(help: "Site code.") var site: String
    @Option(help: "Commodity code.") var commodity: String

    func run() throws {
      let store = try database.open()
      let explanation = try ForecastCommand.flags.check {
        try Forecast.explain(store, run: runID, site: site, commodity: commodity)
      }
      Console.output(ForecastText.explanation(explanation))
    }
  }

  struct Methods: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "The forecast method of each commodity, and whether it is its category's default.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      Console.output(ForecastText.methods(try Forecast.methodSettings(store)).rendered(as: output.format))
    }
  }

  struct Method: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Set the method a commodity's need is taken from.",
      discussion: """
        outreach, consumption, max (the larger known), clients (methadone register), auto (the method with the lowest \
        back-test error at each site), or default (its category's: max for condoms, lubricant and injecting \
        equipment; clients for methadone; consumption for the rest).
        Example: kpstock forecast method NALOXONE auto
        """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "Commodity code.") var commodity: String
    @Argument(help: "outreach, consumption, max, clients, auto or default.") var method: String

    func run() throws {
      let store = try database.open()
      let setting = try ForecastCommand.flags.check {
        try Forecast.setMethod(store, commodity: commodity, method: method)
      }
      Console.output(
        "\(setting.commodityCode): forecast method \(setting.method)\(setting.isDefault ? " (its category's default)" : "")\n"
      )
    }
  }
}
