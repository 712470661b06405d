// The county reports' speed on the national profile, as the reports issue asks it, each next to a baseline measured
// in the same run on the same server:
//   1. the county pack (every report, JSON) of a county of 50 sites over a year, against a plain scan of the year's
//      events of those sites (units per site, commodity and kind); the national profile's counties have about 21
//      sites, so the 50 are the sites of the first counties in code order, reported as one scope;
//   2. `kpstock report stock-status --national` in its own process, against a plain sum of today's balances per site
//      and commodity.
// Run: swift build -c release --product kpstock && swift build -c release --product ReportBenchmark &&
//      .build/release/ReportBenchmark [--database-url URL of a national history | --weeks 52] [--runs 3]
// Results and the command are recorded in docs/benchmarks.md.

import BenchmarkSupport
import EmbeddedCluster
import Foundation
import KPStock
import Postgres

struct Settings {
  var databaseURL: String?
  var weeks = 52
  var runs = 3

  init(arguments: [String]) throws {
    var rest = arguments[...]
    while let flag = rest.popFirst() {
      guard let value = rest.popFirst() else { throw BenchmarkError("\(flag) needs a value") }
      switch flag {
      case "--database-url": databaseURL = value
      case "--weeks", "--runs":
        guard let number = Int(value), number > 0 else { throw BenchmarkError("\(flag) needs a positive number") }
        if flag == "--weeks" { weeks = number } else { runs = number }
      default: throw BenchmarkError("unknown option \(flag) (--database-url, --weeks, --runs)")
      }
    }
  }
}

func list(_ values: [Double]) -> String { values.map { String(format: "%.2f", $0) }.joined(separator: ", ") }

func run() throws {
  let settings = try Settings(arguments: Array(CommandLine.arguments.dropFirst()))
  let kpstock = try kpstockBeside(CommandLine.arguments[0])
  var cluster: EmbeddedCluster?
  let home = "/tmp/kpstock-report-bench-\(getpid())"
  defer {
    try? cluster?.destroy()
    try? FileManager.default.removeItem(atPath: home)
  }
  let conninfo: String
  if let url = settings.databaseURL {
    conninfo = url
  } else {
    try FileManager.default.createDirectory(
      atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    let embedded = EmbeddedCluster(configuration: ClusterConfiguration(home: home))
    cluster = embedded
    _ = try embedded.start()
    try embedded.createDatabaseIfMissing()
    conninfo = embedded.connectionString()
  }
  let store = try Store.open(conninfo: conninfo)
  print("kpstock report benchmark — national profile, \(settings.runs) runs of each, alternating with the baselines")
  if settings.databaseURL == nil {
    let (history, simulated) = try timed { try Simulator.run(store, profile: .national, weeks: settings.weeks) }
    try store.connection.execute("VACUUM (ANALYZE)")
    print(
      String(
        format: "history of %d weeks: %d events (simulated in %.0f s)", settings.weeks, history.eventsWritten, simulated
      ))
  }
  let (events, days): (Int64, Int32) = try {
    let row = try store.connection.query(
      "SELECT count(*)::bigint AS n, (max(occurred_on) - min(occurred_on))::integer AS days FROM stock_events")[0]
    return (try row.decode("n"), try row.decode("days"))
  }()
  if try store.connection.query("SELECT count(*)::bigint AS n FROM forecast_runs")[0].decode("n") as Int64 == 0 {
    _ = try kpstockRun(kpstock: kpstock, ["forecast", "run", "--database-url", conninfo])
  }
  print("history: \(events) events over \(days) days\n")

  // 1. A county of 50 sites over a year: the last 12 months' report, as one scope.
  let today = try ProgrammeCalendar.today(store)
  let year = String(today.year - (today.month == 12 ? 0 : 1))
  var window = try Reports.window(store, scope: .national, period: year, default: .lastMonth)
  let fifty = try store.connection.query(
    "SELECT code FROM sites WHERE code = ANY (\(PostgresArray(window.sites))) ORDER BY county_code, code LIMIT 50"
  ).map { try $0.decode("code") as String }
  window.sites = fifty
  window.scopeTitle = "50 sites"
  func pack() throws -> Double {
    try timed {
      let document = try Reports.document(store, window, parts: ReportPart.allCases)
      _ = HTMLReport.render(document, generatedOn: today)
    }.1
  }
  func scan() throws -> Double {
    try timed {
      _ = try store.connection.query(
        """
        SELECT count(*), sum(n) FROM (
          SELECT site_code, commodity_code, kind, sum(quantity) AS n FROM stock_events
          WHERE site_code = ANY (\(PostgresArray(fifty))) AND occurred_on BETWEEN \(window.period.firstDay)
            AND \(window.period.lastDay)
          GROUP BY 1, 2, 3) t
        """)
    }.1
  }
  var packs: [Double] = []
  var scans: [Double] = []
  for _ in 0..<settings.runs {
    scans.append(try scan())
    packs.append(try pack())
  }
  print("1. county pack (every report, rendered as HTML), \(fifty.count) sites, \(window.period.label)")
  print(String(format: "   report                          %6.2f s  (runs: %@)", median(packs), list(packs)))
  print(String(format: "   plain scan of the year's events  %6.2f s  (runs: %@)", median(scans), list(scans)))
  print(
    String(
      format: "   ratio report / scan             %6.1f×   report ≤ 2 s: %@\n", median(packs) / median(scans),
      median(packs) <= 2 ? "met" : "missed"))

  // 2. National stock status, as a person runs it.
  var statuses: [Double] = []
  var sums: [Double] = []
  for _ in 0..<settings.runs {
    sums.append(
      try timed {
        _ = try store.connection.query(
          "SELECT count(*), sum(n) FROM (SELECT site_code, commodity_code, sum(on_hand) AS n FROM stock_balances GROUP BY 1, 2) t"
        )
      }.1)
    statuses.append(
      try kpstockRun(kpstock: kpstock, ["report", "stock-status", "--national", "--database-url", conninfo]))
  }
  print("2. kpstock report stock-status --national (its own process)")
  print(String(format: "   report                          %6.2f s  (runs: %@)", median(statuses), list(statuses)))
  print(String(format: "   plain sum of balances           %6.2f s  (runs: %@)", median(sums), list(sums)))
  print(
    String(
      format: "   ratio report / sum              %6.1f×   report ≤ 3 s: %@", median(statuses) / median(sums),
      median(statuses) <= 3 ? "met" : "missed"))
}

do {
  try run()
} catch {
  FileHandle.standardError.write(Data("ReportBenchmark: error: \(error)\n".utf8))
  exit(1)
}
