import ArgumentParser
import Foundation
import KPStock

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "County reports: aggregate figures as table, CSV, JSON, a DHIS2 payload or an HTML report.",
    discussion: """
      Scope: --county C, --sub-county S, --site S or --national. Periods: an ISO week (2026-W47), a month \
      (2026-11), a quarter (2026-Q4) or a year (2026). Reports never name a client; counts of people from 1 to 4 \
      print as <5. See docs/reports.md.
      """,
    subcommands: [
      StockStatus.self, Consumption.self, Coverage.self, Stockouts.self, Expiry.self, Orders.self, FCDRR.self,
      County.self, MatRegister.self, MatMonthly.self,
    ])

  /// Which sites a report covers: exactly one of --county, --sub-county, --site and --national.
  struct ScopeOptions: ParsableArguments {
    @Option(help: "County code or name.") var county: String?
    @Option(help: "Sub-county name, or COUNTY/NAME when the name is not unique.") var subCounty: String?
    @Option(help: "Site code.") var site: String?
    @Flag(help: "Every site of the programme.") var national = false

    func scope(_ reference: ReferenceData) throws -> ReportScope {
      let given = [county != nil, subCounty != nil, site != nil, national].filter { $0 }.count
      guard given == 1 else {
        throw KPStockError(.badInput, "give one of --county, --sub-county, --site or --national")
      }
      return try FlagNames().check { () throws(FieldError) -> ReportScope in
        if let county { return .county(try reference.county(county, field: "county")) }
        if let subCounty { return .subCounty(subCounty) }
        if let site { return .site(try reference.sites.resolve(site, field: "site")) }
        return .national
      }
    }
  }

  /// What every report takes: where, when, how and into which file.
  struct ReportOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var scopeOptions: ScopeOptions
    @Option(help: "2026-W47, 2026-11, 2026-Q4 or 2026.") var period: String?
    @Option(help: "table, csv, json, dhis2 or html.") var format: ReportFormat = .table
    @Option(help: "Write to this file instead of standard output (replaced whole, or not at all).") var output: String?
  }

  /// The options a report with counts of people adds.
  struct PrivacyOptions: ParsableArguments {
    @Flag(help: "Show counts of people from 1 to 4 (only the database owner may).") var noSuppress = false
  }

  /// The option of the reports that have a DHIS2 mapping.
  struct MappingOption: ParsableArguments {
    @Option(help: "DHIS2 mapping CSV for --format dhis2 (default: the one shipped, Seeds/reference/dhis2_mapping.csv).")
    var mapping: String?
  }

  /// Loads the parts and prints them in the chosen format.
  static func run(
    _ options: ReportOptions, parts: [ReportPart], default defaultPeriod: Reports.DefaultPeriod,
    expiryDays: Int = 90, suppress: Bool = true, mapping: String? = nil
  ) throws {
    let store = try options.database.open()
    let scope = try options.scopeOptions.scope(try ReferenceData.load(store))
    let flags = FlagNames(renamed: ["no-suppress": "--no-suppress"])
    let window = try flags.check {
      try Reports.window(store, scope: scope, period: options.period, default: defaultPeriod)
    }
    if let output = options.output { try ReportFile.check(output) }
    let text: String
    switch options.format {
    case .dhis2:
      let payload = try flags.check {
        let map = try mapping.map { try DHIS2Mapping.read(path: $0) } ?? DHIS2Mapping.standard()
        return try Reports.dhis2(
          store, window, reports: parts.map(\.rawValue), mapping: map, completeDate: window.today)
      }
      for name in payload.unmapped { Console.notice("not in the DHIS2 mapping, left out: \(name)") }
      text = payload.json
    case .html:
      let document = try flags.check {
        try Reports.document(store, window, parts: parts, expiryDays: expiryDays, suppress: suppress)
      }
      text = HTMLReport.render(document, generatedOn: window.today)
    case .table, .csv, .json:
      let document = try flags.check {
        try Reports.document(store, window, parts: parts, expiryDays: expiryDays, suppress: suppress)
      }
      let sections = ReportText.sections(document)
      text = try ReportText.render(sections, document: document, format: options.format)
    }
    if let output = options.output {
      try ReportFile.write(text, to: output)
      Console.notice("wrote \(output)")
    } else {
      Console.output(text)
    }
  }
}

/// How a report is printed: the listings' three formats, a DHIS2 payload, or an HTML document.
enum ReportFormat: String, CaseIterable, ExpressibleByArgument {
  case table, csv, json, dhis2, html
}

extension ReportCommand {
  struct StockStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "stock-status",
      abstract:
        "Per site and commodity at the close of the period: usable on hand, in transit, need, weeks of stock, status.",
      discussion: """
        The period's last day, or today while it runs (default: today). Need is the latest forecast run's echelon \
        need; status compares weeks of stock with the supply line's levels.
        Example: kpstock report stock-status --county Kwale --period 2026-W48 --format csv
        """)

    @OptionGroup var options: ReportOptions

    func run() throws { try ReportCommand.run(options, parts: [.stockStatus], default: .runningMonth) }
  }

  struct Consumption: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Units dispensed per site, commodity, population and channel, and adjusted for stock-out days.",
      discussion: """
        Counts the period's days that have closed (default period: the last month that ended).
        Example: kpstock report consumption --county 002 --period 2026-11 --format dhis2
        """)

    @OptionGroup var options: ReportOptions
    @OptionGroup var mapping: MappingOption

    func run() throws {
      try ReportCommand.run(options, parts: [.consumption], default: .lastMonth, mapping: mapping.mapping)
    }
  }

  struct Coverage: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Needle-syringe sets per PWID per year, distribution against need, people reached against size.",
      discussion: """
        Default period: the last month that ended. Counts of people from 1 to 4 print as <5, with any cell that \
        would give them away.
        Example: kpstock report coverage --county Kwale --period 2026-Q4
        """)

    @OptionGroup var options: ReportOptions
    @OptionGroup var privacy: PrivacyOptions

    func run() throws {
      try ReportCommand.run(options, parts: [.coverage], default: .lastMonth, suppress: !privacy.noSuppress)
    }
  }

  struct Stockouts: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Stocked-out site-days per commodity, sites affected and the longest spell.",
      discussion:
        "Default period: the last month that ended. Example: kpstock report stockouts --national --period 2026")

    @OptionGroup var options: ReportOptions

    func run() throws { try ReportCommand.run(options, parts: [.stockouts], default: .lastMonth) }
  }

  struct Expiry: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Lots expiring within N days (default 90), or expired and still on the shelf, soonest first.",
      discussion: "Example: kpstock report expiry --county 002 --days 180 --format csv")

    @OptionGroup var options: ReportOptions
    @Option(parsing: .unconditional, help: "Days ahead (default 90).") var days: String = "90"

    func run() throws {
      let ahead = try FlagNames().check { try FieldParsing.integer(days, field: "days", range: 0...3660) }
      try ReportCommand.run(options, parts: [.expiry], default: .runningMonth, expiryDays: ahead)
    }
  }

  struct Orders: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Orders made in the period: status, fill rate, lead time achieved against planned, shortfalls.",
      discussion:
        "Default period: the last month that ended. Example: kpstock report orders --county 002 --period 2026-Q4")

    @OptionGroup var options: ReportOptions

    func run() throws { try ReportCommand.run(options, parts: [.orders], default: .lastMonth) }
  }

  struct FCDRR: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "fcdrr",
      abstract: "The facility consumption data report and request (MOH 739C) of a month, per site and commodity.",
      discussion: """
        Default: the last month that ended. A beginning balance, B received, C issued, D losses, E/F adjustments, \
        G physical count, H expiring within 6 months, I days out of stock, quantity requested.
        Example: kpstock report fcdrr --site DICE-UKUNDA --period 2026-11 --format html --output ukunda-2026-11.html
        """)

    @OptionGroup var options: ReportOptions
    @OptionGroup var mapping: MappingOption

    func run() throws {
      try ReportCommand.run(options, parts: [.fcdrr], default: .lastMonth, mapping: mapping.mapping)
    }
  }

  struct County: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "The monthly pack: every report for one scope and period in one document.",
      discussion: """
        Default period: the last month that ended (the F-CDRR is in the pack for a month only). Formats: table, \
        json, html, dhis2.
        Example: kpstock report county --county Kwale --period 2026-11 --format html --output kwale-2026-11.html
        """)

    @OptionGroup var options: ReportOptions
    @OptionGroup var privacy: PrivacyOptions
    @OptionGroup var mapping: MappingOption

    func run() throws {
      try ReportCommand.run(
        options, parts: [.stockStatus, .consumption, .coverage, .stockouts, .expiry, .orders, .fcdrr],
        default: .lastMonth, suppress: !privacy.noSuppress, mapping: mapping.mapping)
    }
  }
}

/// A report's file: checked before any work, written whole or not at all.
enum ReportFile {
  static func check(_ path: String) throws {
    let directory = (path as NSString).deletingLastPathComponent
    var isDirectory: ObjCBool = false
    if !directory.isEmpty,
      !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue
    {
      throw KPStockError(.badInput, "--output: no folder \(directory)")
    }
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
      throw KPStockError(.badInput, "--output: \(path) is a folder")
    }
  }

  static func write(_ text: String, to path: String) throws {
    do {
      try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw KPStockError(.badInput, "--output: cannot write \(path): \(error.localizedDescription)")
    }
  }
}
