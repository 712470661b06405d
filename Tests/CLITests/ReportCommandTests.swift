import Foundation
import KPStockTestSupport
import Testing

/// `kpstock report`: every report in every format on three simulated weeks of the Kwale demo, and bad arguments.
@Suite("kpstock report")
struct ReportCommandTests {
  static let reports = ["stock-status", "consumption", "coverage", "stockouts", "expiry", "orders", "fcdrr", "county"]

  /// The demo network with three weeks of history up to today; the last month that ended is the default period.
  private func demo() throws -> CLI {
    let cli = try CLI(demo: true)
    let simulated = try cli.run("simulate", "--profile", "kwale", "--weeks", "3")
    try #require(simulated.status == 0, "simulate failed: \(simulated.stderr)")
    return cli
  }

  @Test func everyReportPrintsInEveryFormat() throws {
    let cli = try demo()
    for report in Self.reports {
      let table = try cli.run("report", report, "--county", "Kwale")
      #expect(table.status == 0, "\(report) table: \(table.stderr)")
      #expect(table.outputLines.first?.hasPrefix("Kwale county (002), ") == true, "\(report)")
      #expect(table.outputLines.allSatisfy { $0.count <= 100 }, "\(report) table is wider than 100 columns")

      let json = try cli.run("report", report, "--county", "002", "--format", "json")
      #expect(json.status == 0, "\(report) json: \(json.stderr)")
      let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8))
      if report == "county" {
        let pack = try #require(parsed as? [String: Any])
        for key in ["stock_status", "consumption", "coverage", "stockouts", "expiry", "orders", "fcdrr"] {
          #expect(pack[key] is [Any], "county json has no \(key)")
        }
      } else {
        #expect(parsed is [Any], "\(report) json is not an array")
      }

      let html = try cli.run("report", report, "--county", "002", "--format", "html")
      #expect(html.status == 0, "\(report) html: \(html.stderr)")
      #expect(html.stdout.hasPrefix("<!DOCTYPE html>"))

      let csv = try cli.run("report", report, "--county", "002", "--format", "csv")
      if report == "county" {
        expectRefused(
          csv,
          "--format: csv holds one table and this report has 7: use json, html or table, or run each report with "
            + "--format csv")
      } else {
        #expect(csv.status == 0, "\(report) csv: \(csv.stderr)")
      }
    }
    let header = try cli.run("report", "fcdrr", "--county", "002", "--format", "csv").outputLines.first
    #expect(
      header
        == "site,commodity,beginning_balance,received,issued,losses,positive_adjustments,negative_adjustments,"
        + "closing_balance,physical_count,physical_count_source,expiring_6_months,earliest_expiry,days_out_of_stock,"
        + "requested,explanations")
    for report in ["consumption", "fcdrr", "county"] {
      let dhis2 = try cli.run("report", report, "--county", "002", "--format", "dhis2")
      #expect(dhis2.status == 0, "\(report) dhis2: \(dhis2.stderr)")
      let object = try #require(try JSONSerialization.jsonObject(with: Data(dhis2.stdout.utf8)) as? [String: Any])
      #expect(object["dataSet"] as? String == "kpStockMon1")
      #expect((object["dataValues"] as? [Any])?.isEmpty == false)
    }
  }

  @Test func theCountyPackOfAWeekGoesToDHIS2WithoutTheMonthlyForm() throws {
    let cli = try demo()
    var calendar = Calendar(identifier: .iso8601)
    calendar.timeZone = TimeZone(identifier: "Africa/Nairobi") ?? calendar.timeZone
    let now = Date()
    let week = calendar.component(.weekOfYear, from: now)
    let year = calendar.component(.yearForWeekOfYear, from: now)
    let label = "\(year)-W\(week < 10 ? "0" : "")\(week)"
    let outcome = try cli.run("report", "county", "--county", "002", "--period", label, "--format", "dhis2")
    #expect(outcome.status == 0, "\(outcome.stderr)")
    #expect(outcome.stdout.contains("\"period\": \"\(year)W\(week)\""))
    #expect(outcome.stdout.contains("kpDEConDis1"))
    #expect(!outcome.stdout.contains("kpDEMCRc001"), "the F-CDRR's figures are monthly")
    expectRefused(
      try cli.run("report", "fcdrr", "--county", "002", "--period", label, "--format", "dhis2"),
      "--period: the F-CDRR is monthly: give a month (2026-11), not \(label)")
  }

  @Test func badArgumentsAreRefusedNamingTheOption() throws {
    let cli = try CLI(demo: true)
    expectRefused(
      try cli.run("report", "stockouts", "--county", "999"),
      "--county: unknown county '999' (use the code, e.g. 002, or the name)")
    expectRefused(
      try cli.run("report", "stockouts", "--county", "002", "--period", "2026-13"),
      "--period: '2026-13' is not a period: a week (2026-W47), a month (2026-11), a quarter (2026-Q4) or a year (2026)")
    expectRefused(
      try cli.run("report", "stockouts", "--county", "002", "--format", "dhis2"),
      "--format: Seeds/reference/dhis2_mapping.csv has no DHIS2 mapping for stockouts: dhis2 is for consumption, fcdrr")
    expectRefused(
      try cli.run("report", "stockouts", "--county", "002", "--site", "DICE-UKUNDA"),
      "give one of --county, --sub-county, --site or --national")
    expectRefused(try cli.run("report", "coverage"), "give one of --county, --sub-county, --site or --national")
    expectRefused(
      try cli.run("report", "fcdrr", "--county", "002", "--period", "2026-W47"),
      "--period: the F-CDRR is monthly: give a month (2026-11), not 2026-W47")
    expectRefused(
      try cli.run("report", "consumption", "--county", "002", "--period", "2026-Q4", "--format", "dhis2"),
      "--period: DHIS2 takes a week (2026-W47) or a month (2026-11), not 2026-Q4")
    expectRefused(
      try cli.run("report", "stockouts", "--county", "002", "--output", "/nonexistent/report.html"),
      "--output: no folder /nonexistent")
    expectRefused(try cli.run("report", "coverage", "--sub-county", "Nowhere"), "--sub-county: no sub-county Nowhere")
    expectRefused(
      try cli.run("report", "expiry", "--county", "002", "--days", "-3"), "--days: -3 is out of range (0–3660)")
  }

  @Test func outputIsWrittenWholeAndARefusedRunLeavesTheFileAlone() throws {
    let cli = try demo()
    let folder = (try temporaryFile(named: "placeholder", contents: "") as NSString).deletingLastPathComponent
    let path = folder + "/kwale.html"
    let written = try cli.run("report", "county", "--county", "002", "--format", "html", "--output", path)
    #expect(written.status == 0, "\(written.stderr)")
    #expect(written.stdout == "")
    #expect(written.stderr.contains("kpstock: wrote \(path)"))
    let first = try String(contentsOfFile: path, encoding: .utf8)
    #expect(first.hasSuffix("</html>\n"))
    let refused = try cli.run(
      "report", "county", "--county", "002", "--period", "2026-99", "--format", "html", "--output", path)
    #expect(refused.status == 2)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == first)
  }

  @Test func theHTMLReportRendersInAHeadlessBrowserWithoutConsoleErrors() throws {
    let browser = try #require(
      ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
      "headless chromium is needed to render the HTML report: apt-get install chromium (.ci/run does)")
    let cli = try demo()
    let folder = (try temporaryFile(named: "placeholder", contents: "") as NSString).deletingLastPathComponent
    let page = folder + "/county.html"
    let written = try cli.run("report", "county", "--county", "002", "--format", "html", "--output", page)
    try #require(written.status == 0, "\(written.stderr)")
    let picture = folder + "/county.png"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: browser)
    process.arguments = [
      "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
      "--user-data-dir=\(folder)/chromium", "--window-size=900,3000", "--screenshot=\(picture)", "file://\(page)",
    ]
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let logged = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "chromium: \(logged)")
    let size = (try? FileManager.default.attributesOfItem(atPath: picture)[.size] as? Int) ?? 0
    #expect(size > 20_000, "no screenshot (\(size) bytes): \(logged)")
    let console = logged.split(separator: "\n").filter { $0.contains("CONSOLE") || $0.contains("Uncaught") }
    #expect(console.isEmpty, "console: \(console)")
  }
}
