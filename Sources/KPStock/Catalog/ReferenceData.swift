import Postgres

/// The codes and names every reference-data input is checked against, read once per command.
///
/// Checking in Swift before writing lets one run report every bad row of a file, with the nearest
/// real code, instead of stopping at the first foreign-key violation.
public struct ReferenceData: Sendable {
  /// County code → name.
  public var counties: [String: String]
  /// County code → sub-county names.
  public var subCounties: [String: [String]]
  public var sites: CodeLookup
  public var commodities: CodeLookup
  public var populations: CodeLookup
  public var siteKinds: [String]
  public var categories: [String]

  public static func load(_ store: Store) throws -> ReferenceData {
    try store.run { try load($0) }
  }

  static func load(_ connection: Connection) throws -> ReferenceData {
    var counties: [String: String] = [:]
    for row in try connection.query("SELECT code, name FROM counties") {
      counties[try row.decode("code")] = try row.decode("name")
    }
    var subCounties: [String: [String]] = [:]
    for row in try connection.query("SELECT county_code, name FROM sub_counties ORDER BY name") {
      subCounties[try row.decode("county_code"), default: []].append(try row.decode("name"))
    }
    func column(_ query: Query) throws -> [String] {
      try connection.query(query).map { try $0.decode(at: 0) }
    }
    return ReferenceData(
      counties: counties,
      subCounties: subCounties,
      sites: CodeLookup(noun: "site", codes: try column("SELECT code FROM sites")),
      commodities: CodeLookup(noun: "commodity", codes: try column("SELECT code FROM commodities")),
      populations: CodeLookup(noun: "population", codes: try column("SELECT code FROM populations")),
      siteKinds: try column("SELECT kind FROM site_kinds ORDER BY kind"),
      categories: try column("SELECT category FROM commodity_categories ORDER BY category"))
  }

  /// Accepts a county's code (`002`, `2`) or its name (`kwale`), and returns the code.
  public func county(_ input: String, field: String) throws(FieldError) -> String {
    let trimmed = input.trimmingCharacters(in: .whitespaces)
    if let number = Int(trimmed), (1...999).contains(number) {
      let code = String(repeating: "0", count: 3 - String(number).count) + String(number)
      if counties[code] != nil { return code }
    }
    if let match = counties.first(where: { $0.value.lowercased() == trimmed.lowercased() }) {
      return match.key
    }
    let names = CodeLookup(noun: "county", codes: counties.values.map { $0.uppercased() })
    if let guess = names.suggestion(for: trimmed.uppercased()),
      let county = counties.first(where: { $0.value.uppercased() == guess })
    {
      throw FieldError(
        field: field, problem: "unknown county '\(input)' (did you mean \(county.value), \(county.key)?)")
    }
    throw FieldError(field: field, problem: "unknown county '\(input)' (use the code, e.g. 002, or the name)")
  }

  /// The sub-county's name as stored, matched case-insensitively within `county`, or within any county
  /// when none is given (a filter typed without `--county`).
  public func subCounty(_ input: String, county: String?, field: String) throws(FieldError) -> String {
    let known = county.map { subCounties[$0] ?? [] } ?? Array(subCounties.values.joined())
    let wanted = input.trimmingCharacters(in: .whitespaces).lowercased()
    if let match = known.first(where: { $0.lowercased() == wanted }) { return match }
    guard let county else { throw FieldError(field: field, problem: "unknown sub-county '\(input)'") }
    let choices = known.isEmpty ? "none are recorded for it" : known.joined(separator: ", ")
    throw FieldError(
      field: field, problem: "unknown sub-county '\(input)' in \(counties[county] ?? county) (\(choices))")
  }

  public func category(_ input: String, field: String) throws(FieldError) -> String {
    let word = input.replacingOccurrences(of: "-", with: "_")
    return try FieldParsing.choice(word, field: field, noun: "commodity category", from: categories)
  }
}
