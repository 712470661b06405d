import Foundation
import Postgres

/// Where a report's figures go in DHIS2: per report field, commodity and population (each "*" for any), the data
/// element and category option combo, in the data set. Read from a CSV file (Seeds/reference/dhis2_mapping.csv by
/// default; a county ships its own with `--mapping`).
public struct DHIS2Mapping: Sendable, Equatable {
  public struct Entry: Sendable, Equatable {
    public var report: String
    public var field: String
    public var commodity: String
    public var population: String
    public var dataSet: String
    public var dataElement: String
    public var categoryOptionCombo: String
  }

  public var entries: [Entry]
  /// Where it was read from, for messages.
  public var source: String

  static let columns = [
    "report", "field", "commodity", "population", "data_set", "data_element", "category_option_combo",
  ]

  /// The mapping shipped with kpstock.
  public static func standard() throws -> DHIS2Mapping {
    try parse(try EmbeddedSchema.seedFile("reference/dhis2_mapping.csv"))
  }

  /// A county's own mapping file; every bad cell is refused naming its line and column.
  public static func read(path: String) throws -> DHIS2Mapping {
    try parse(try CSVReader.read(path: path))
  }

  static func parse(_ table: CSVTable) throws -> DHIS2Mapping {
    try table.requireColumns(required: columns)
    let uid = /^[A-Za-z][A-Za-z0-9]{10}$/
    let entries = try table.parseRecords { row throws(FieldError) -> Entry in
      func cell(_ name: String) -> String { row[name].trimmingCharacters(in: .whitespaces) }
      for name in ["data_set", "data_element", "category_option_combo"]
      where (try? uid.wholeMatch(in: cell(name))) == nil {
        throw FieldError(field: name, problem: "'\(cell(name))' is not a DHIS2 uid (a letter and 10 letters or digits)")
      }
      for name in ["report", "field", "commodity", "population"] where cell(name).isEmpty {
        throw FieldError(field: name, problem: "is empty (use * for any)")
      }
      return Entry(
        report: cell("report"), field: cell("field"), commodity: cell("commodity").uppercased(),
        population: cell("population").uppercased(), dataSet: cell("data_set"), dataElement: cell("data_element"),
        categoryOptionCombo: cell("category_option_combo"))
    }
    return DHIS2Mapping(entries: entries.map(\.value), source: table.fileName)
  }

  /// The entry for a figure: an exact commodity and population before "*".
  func entry(report: String, field: String, commodity: String, population: String) -> Entry? {
    entries.filter {
      $0.report == report && $0.field == field && ($0.commodity == commodity || $0.commodity == "*")
        && ($0.population == population || $0.population == "*")
    }.min { wildcards($0) < wildcards($1) }
  }

  private func wildcards(_ entry: Entry) -> Int {
    (entry.commodity == "*" ? 2 : 0) + (entry.population == "*" ? 1 : 0)
  }

  /// The reports the mapping has fields for.
  public var reports: Set<String> { Set(entries.map(\.report)) }
}

/// A figure a report offers to DHIS2: report field, commodity, population ("*" for none) and value, at a site.
struct DHIS2Figure: Sendable, Equatable {
  var report: String
  var field: String
  var siteCode: String
  var commodity: String
  var population: String
  var value: Int64
}

/// A DHIS2 `dataValueSets` payload, and the figures the mapping had no place for.
public struct DHIS2Payload: Sendable {
  /// The JSON to POST to /api/dataValueSets: one object per data set.
  public var json: String
  /// Each report field with figures the mapping has no place for, and for which commodities (and populations).
  public var unmapped: [String]
}

extension Reports {
  /// The figures of the F-CDRR (stock per commodity and transaction) and of consumption (units distributed per
  /// commodity and population) mapped to DHIS2 data values, one data set at a time, for the window's period (a week
  /// or a month: DHIS2's weekly and monthly periods). A site without a DHIS2 uid is refused, naming it.
  public static func dhis2(
    _ store: Store, _ window: ReportWindow, reports: [String], mapping: DHIS2Mapping, completeDate: CalendarDate
  ) throws -> DHIS2Payload {
    guard ["week", "month"].contains(window.period.kind) else {
      throw FieldError(
        field: "period", problem: "DHIS2 takes a week (2026-W47) or a month (2026-11), not \(window.period.label)")
    }
    let parts = ReportPart.parts(reports.compactMap(ReportPart.init(rawValue:)), for: window.period)
    let mappable = parts.map(\.rawValue).filter { mapping.reports.contains($0) }
    if mappable.isEmpty {
      throw FieldError(
        field: "format",
        problem: "\(mapping.source) has no DHIS2 mapping for \(reports.joined(separator: ", ")): dhis2 is for "
          + mapping.reports.sorted().joined(separator: ", "))
    }
    return try store.run { connection in
      try connection.transaction(isolation: .repeatableRead) { connection in
        var figures: [DHIS2Figure] = []
        if mappable.contains("fcdrr") {
          for line in try fcdrr(connection, window).lines {
            let values: [(String, Int64)] = [
              ("beginning_balance", line.beginningBalance), ("received", line.received), ("issued", line.issued),
              ("losses", line.losses), ("positive_adjustments", line.positiveAdjustments),
              ("negative_adjustments", line.negativeAdjustments), ("closing_balance", line.closingBalance),
              ("physical_count", line.physicalCount), ("expiring_6_months", line.expiringWithin6Months),
              ("days_out_of_stock", Int64(line.daysOutOfStock)),
            ]
            figures += values.map {
              DHIS2Figure(
                report: "fcdrr", field: $0.0, siteCode: line.siteCode, commodity: line.commodityCode, population: "*",
                value: $0.1)
            }
          }
        }
        if mappable.contains("consumption") {
          var distributed: [String: DHIS2Figure] = [:]
          for line in try consumption(connection, window) {
            let key = "\(line.siteCode)|\(line.commodityCode)|\(line.populationCode)"
            distributed[
              key,
              default: DHIS2Figure(
                report: "consumption", field: "dispensed", siteCode: line.siteCode, commodity: line.commodityCode,
                population: line.populationCode, value: 0)
            ].value += line.dispensed
          }
          figures += distributed.keys.sorted().compactMap { distributed[$0] }
        }
        let units = try connection.query(
          "SELECT code, dhis2_uid FROM sites WHERE code = ANY (\(PostgresArray(Array(Set(figures.map(\.siteCode))))))"
        ).reduce(into: [String: String?]()) { $0[try $1.decode("code")] = try $1.decode("dhis2_uid") as String? }
        return try payload(figures, mapping: mapping, orgUnits: units, window: window, completeDate: completeDate)
      }
    }
  }

  static func payload(
    _ figures: [DHIS2Figure], mapping: DHIS2Mapping, orgUnits: [String: String?], window: ReportWindow,
    completeDate: CalendarDate
  ) throws -> DHIS2Payload {
    if let missing = orgUnits.filter({ $0.value == nil }).keys.min() {
      throw FieldError(
        field: "site",
        problem: "\(missing) has no DHIS2 uid: set it with kpstock site update \(missing) --dhis2-uid UID")
    }
    var unmapped: [(field: String, items: [String])] = []
    var byDataSet: [String: [(orgUnit: String, element: String, combo: String, value: Int64)]] = [:]
    for figure in figures {
      guard
        let entry = mapping.entry(
          report: figure.report, field: figure.field, commodity: figure.commodity, population: figure.population)
      else {
        let name = "\(figure.report) \(figure.field)"
        let what = figure.population == "*" ? figure.commodity : "\(figure.commodity) \(figure.population)"
        if let index = unmapped.firstIndex(where: { $0.field == name }) {
          if !unmapped[index].items.contains(what) { unmapped[index].items.append(what) }
        } else {
          unmapped.append((name, [what]))
        }
        continue
      }
      byDataSet[entry.dataSet, default: []].append(
        ((orgUnits[figure.siteCode] ?? nil) ?? "", entry.dataElement, entry.categoryOptionCombo, figure.value))
    }
    guard byDataSet.count <= 1 else {
      throw FieldError(
        field: "mapping",
        problem: "\(mapping.source) sends these figures to \(byDataSet.count) data sets ("
          + byDataSet.keys.sorted().joined(separator: ", ") + "): a payload holds one; split the mapping")
    }
    // Two figures landing on one data value (a mapping that sends two commodities to one element) are added up.
    var totals: [String: Int64] = [:]
    var order: [String] = []
    for value in byDataSet.values.first ?? [] {
      let key = "\(value.orgUnit)\u{1}\(value.element)\u{1}\(value.combo)"
      if totals[key] == nil { order.append(key) }
      totals[key, default: 0] += value.value
    }
    let values = order.map { key -> String in
      let parts = key.split(separator: "\u{1}", omittingEmptySubsequences: false).map(String.init)
      return object([
        ("orgUnit", JSONText.quoted(parts[0])), ("dataElement", JSONText.quoted(parts[1])),
        ("categoryOptionCombo", JSONText.quoted(parts[2])), ("value", JSONText.quoted(String(totals[key] ?? 0))),
      ])
    }
    let orgUnits = Set(order.map { $0.split(separator: "\u{1}", omittingEmptySubsequences: false)[0] })
    var fields: [(String, String)] = [("dataSet", JSONText.quoted(byDataSet.keys.first ?? ""))]
    fields.append(("period", JSONText.quoted(window.period.dhis2)))
    if orgUnits.count == 1, let only = orgUnits.first { fields.append(("orgUnit", JSONText.quoted(String(only)))) }
    fields.append(("completeDate", JSONText.quoted(completeDate.description)))
    fields.append(("dataValues", "[\n    " + values.joined(separator: ",\n    ") + "\n  ]"))
    let json = "{\n  " + fields.map { "\(JSONText.quoted($0.0)): \($0.1)" }.joined(separator: ",\n  ") + "\n}"
    return DHIS2Payload(
      json: json + "\n", unmapped: unmapped.map { "\($0.field) (\($0.items.joined(separator: ", ")))" })
  }

  private static func object(_ pairs: [(String, String)]) -> String {
    "{" + pairs.map { "\(JSONText.quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
  }
}
