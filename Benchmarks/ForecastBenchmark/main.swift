// The weekly forecast's and orders' speed on the national profile (1,000 sites), as the issues ask it: a national
// `kpstock forecast run` of the coming week, timed next to a baseline measured in the same run on the same server (a
// plain aggregate over the same 16 weeks of rollups: units dispensed per site, commodity and week), on a history of
// N weeks and on one of 2N weeks, with the peak memory of the kpstock process that runs the forecast.
// Two kinds of run are timed: the first on a history (no week kept yet: every card's 16 weeks computed and kept),
// and the weekly one, as a logistics officer's Monday finds it — last week's run kept every closed week but the one
// that has closed since, which this run computes and keeps. Then the orders of the latest run (`kpstock orders
// generate`) next to a plain join of the run's lines with the balances, and `kpstock weekly` (forecast and orders).
// Run: swift build -c release --product kpstock && swift run -c release ForecastBenchmark [--weeks 52] [--runs 3]
// Results and the command are recorded in docs/benchmarks.md.

import BenchmarkSupport
import EmbeddedCluster
import Foundation
import KPStock
import Postgres

struct Settings {
  var weeks = 52
  var runs = 3

  init(arguments: [String]) throws {
    var rest = arguments[...]
    while let flag = rest.popFirst() {
      guard let value = rest.popFirst(), let number = Int(value), number > 0 else {
        throw BenchmarkError("\(flag) needs a positive number")
      }
      switch flag {
      case "--weeks": weeks = number
      case "--runs": runs = number
      default: throw BenchmarkError("unknown option \(flag) (--weeks, --runs)")
      }
    }
  }
}

/// The largest resident set of any child process that has exited, in MB.
func childrenPeakMegabytes() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_CHILDREN.rawValue, &usage)
  return Double(usage.ru_maxrss) / 1024
}

/// One `kpstock forecast run` as a person runs it: its own process, connecting, forecasting and printing.
func forecastRun(kpstock: String, conninfo: String) throws -> Double {
  try kpstockRun(kpstock: kpstock, ["forecast", "run", "--database-url", conninfo])
}

/// The baseline: units dispensed per site, commodity and ISO week over the 16 weeks a forecast of the coming week
/// reads, summed from the same daily rollup.
func plainAggregate(_ connection: Connection) throws -> Double {
  try seconds {
    _ = try connection.query(
      """
      SELECT count(*), sum(dispensed) FROM (
        SELECT site_code, commodity_code, day - (extract(isodow FROM day)::integer - 1) AS week, sum(dispensed)
          AS dispensed
        FROM stock_lot_daily
        WHERE day BETWEEN iso_week_start(iso_week_label(programme_today() + 7)) - 112
          AND iso_week_start(iso_week_label(programme_today() + 7)) - 1
        GROUP BY 1, 2, 3
      ) weekly
      """)
  }
}

/// Forgets the latest week kept, as if it had closed since the last run.
func forgetLatestKeptWeek(_ connection: Connection) throws {
  try connection.execute("DELETE FROM stock_weeks WHERE week = (SELECT max(week) FROM stock_weeks)")
}

/// The orders' baseline: the run's lines joined with the balances of their sites, summed.
func plainJoin(_ connection: Connection, run: Int64) throws -> Double {
  try seconds {
    _ = try connection.query(
      """
      SELECT count(*), sum(b.on_hand) FROM forecast_lines f
      JOIN stock_balances b ON b.site_code = f.site_code AND b.commodity_code = f.commodity_code
      WHERE f.run_id = \(run)
      """)
  }
}

struct Measured {
  var weeks: Int
  var rollupRows: Int
  var first: Double
  var forecast: Double
  var baseline: Double
  var lines: Int
}

func run() throws {
  let settings = try Settings(arguments: Array(CommandLine.arguments.dropFirst()))
  let kpstock = try kpstockBeside(CommandLine.arguments[0])
  let home = "/tmp/kpstock-forecast-bench-\(getpid())"
  try FileManager.default.createDirectory(
    atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
  let cluster = EmbeddedCluster(configuration: ClusterConfiguration(home: home))
  defer {
    try? cluster.destroy()
    try? FileManager.default.removeItem(atPath: home)
  }
  _ = try cluster.start()
  try cluster.createDatabaseIfMissing()
  let admin = try Store.open(conninfo: cluster.connectionString())

  print("kpstock forecast benchmark — national profile (1,000 sites), \(settings.runs) runs of each")
  print("server: embedded PostgreSQL; forecast: `kpstock forecast run` (release build) in its own process\n")
  var measured: [Measured] = []
  for weeks in [settings.weeks, 2 * settings.weeks] {
    let database = "kpstock_national_\(weeks)"
    try admin.connection.execute(Query(unsafeSQL: "CREATE DATABASE \(database)"))
    let conninfo = cluster.connectionString(database: database)
    let store = try Store.open(conninfo: conninfo)
    fflush(nil)
    let (history, simulated) = try timed { try Simulator.run(store, profile: .national, weeks: weeks) }
    // What autovacuum does to a table that has grown, before anyone forecasts from it: statistics, and the block
    // ranges of the rollup's day index summarised.
    try store.connection.execute("VACUUM (ANALYZE)")
    let rollupRows = Int(
      try store.connection.query("SELECT count(*)::bigint AS n FROM stock_lot_daily")[0].decode("n") as Int64)
    print(
      String(
        format: "history of %d weeks: %d events, %d rollup rows (simulated in %.0f s)", weeks, history.eventsWritten,
        rollupRows, simulated))
    let first = try forecastRun(kpstock: kpstock, conninfo: conninfo)
    var forecasts: [Double] = []
    var baselines: [Double] = []
    // Alternating, so that the machine's drift falls on both alike.
    for _ in 0..<settings.runs {
      baselines.append(try plainAggregate(store.connection))
      try forgetLatestKeptWeek(store.connection)
      forecasts.append(try forecastRun(kpstock: kpstock, conninfo: conninfo))
    }
    // Orders from the latest run, alternating with their baseline; then Monday's one command, twice.
    let run: Int64 = try store.connection.query("SELECT max(id) AS id FROM forecast_runs")[0].decode("id")
    var generations: [Double] = []
    var joins: [Double] = []
    for _ in 0..<settings.runs {
      joins.append(try plainJoin(store.connection, run: run))
      generations.append(
        try kpstockRun(kpstock: kpstock, ["orders", "generate", "--run", "\(run)", "--database-url", conninfo]))
    }
    let orders: Int = Int(
      try store.connection.query(
        "SELECT count(*)::bigint AS n FROM orders WHERE run_id = \(run) AND status = 'draft'")[0].decode("n") as Int64)
    var weeklies: [Double] = []
    for _ in 0..<2 {
      try forgetLatestKeptWeek(store.connection)
      weeklies.append(try kpstockRun(kpstock: kpstock, ["weekly", "--database-url", conninfo]))
    }
    let lines: Int = Int(
      try store.connection.query(
        "SELECT count(*)::bigint AS n FROM forecast_lines WHERE run_id = (SELECT max(id) FROM forecast_runs)")[0]
        .decode("n") as Int64)
    let result = Measured(
      weeks: weeks, rollupRows: rollupRows, first: first, forecast: median(forecasts), baseline: median(baselines),
      lines: lines)
    measured.append(result)
    print(String(format: "   first forecast run, no week kept  %6.2f s", first))
    print(
      String(
        format: "   weekly forecast run (%d lines)  %6.2f s  (runs: %@)", lines, result.forecast,
        forecasts.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
    print(
      String(
        format: "   plain aggregate, 16 weeks       %6.2f s  (runs: %@)", result.baseline,
        baselines.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
    print(
      String(
        format: "   ratio weekly run / aggregate    %6.1f×   weekly run ≤ 5 s: %@; first run ≤ 5 s: %@",
        result.forecast / result.baseline, result.forecast <= 5 ? "met" : "missed", first <= 5 ? "met" : "missed"))
    print(
      String(
        format: "   orders generate (%d orders)        %6.2f s  (runs: %@)", orders, median(generations),
        generations.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
    print(
      String(
        format: "   plain join of lines and balances  %6.2f s  (runs: %@)", median(joins),
        joins.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
    print(
      String(
        format: "   ratio orders / join              %6.1f×   orders ≤ 3 s: %@", median(generations) / median(joins),
        median(generations) <= 3 ? "met" : "missed"))
    print(
      String(
        format: "   kpstock weekly (forecast + orders) %6.2f s  (runs: %@)   weekly ≤ 10 s: %@\n", median(weeklies),
        weeklies.map { String(format: "%.2f", $0) }.joined(separator: ", "), median(weeklies) <= 10 ? "met" : "missed"))
  }
  let change = (measured[1].forecast - measured[0].forecast) / measured[0].forecast
  let baselineChange = (measured[1].baseline - measured[0].baseline) / measured[0].baseline
  print(
    String(
      format: "doubling the history (%d → %d weeks): weekly run %+.0f %%, aggregate %+.0f %%   (target ≤ 20 %%)",
      measured[0].weeks, measured[1].weeks, change * 100, baselineChange * 100))
  print(String(format: "peak memory of the kpstock process: %.0f MB   (target ≤ 200 MB)", childrenPeakMegabytes()))
}

do {
  try run()
} catch {
  FileHandle.standardError.write(Data("ForecastBenchmark: error: \(error)\n".utf8))
  exit(1)
}
