import Foundation
import Postgres

/// A place that holds, dispenses or supplies stock.
public struct Site: Sendable, Equatable {
  public var code: String
  public var name: String
  public var kind: String
  public var countyCode: String
  /// Read with the site (from `counties`), so a listing needs no second lookup; never written.
  public var countyName: String
  public var subCounty: String?
  /// The org unit this site reports as in DHIS2/KHIS.
  public var dhis2UID: String?
  public var openedOn: CalendarDate?
  public var closedOn: CalendarDate?

  public init(
    code: String, name: String, kind: String, countyCode: String, countyName: String, subCounty: String? = nil,
    dhis2UID: String? = nil, openedOn: CalendarDate? = nil, closedOn: CalendarDate? = nil
  ) {
    self.code = code
    self.name = name
    self.kind = kind
    self.countyCode = countyCode
    self.countyName = countyName
    self.subCounty = subCounty
    self.dhis2UID = dhis2UID
    self.openedOn = openedOn
    self.closedOn = closedOn
  }
}

/// Turns typed values (keyed by the column names of `sites.csv`) into a valid site.
public enum SiteInput {
  public static let requiredColumns = ["code", "name", "kind", "county"]
  public static let optionalColumns = ["sub_county", "dhis2_uid", "opened_on", "closed_on"]

  /// Validates against reference data, starting from `existing` when updating.
  public static func site(_ input: InputValues, reference: ReferenceData, existing: Site? = nil) throws(FieldError)
    -> Site
  {
    let code = try input.required("code", current: existing?.code) { text throws(FieldError) in
      try FieldParsing.newCode(text, field: "code")
    }
    let name = try input.required("name", current: existing?.name) { text throws(FieldError) in
      try FieldParsing.requiredText(text, field: "name")
    }
    let kind = try input.required("kind", current: existing?.kind) { text throws(FieldError) in
      try FieldParsing.choice(text, field: "kind", noun: "site kind", from: reference.siteKinds)
    }
    let county = try input.required("county", current: existing?.countyCode) { text throws(FieldError) in
      try reference.county(text, field: "county")
    }
    let keptSubCounty = existing?.countyCode == county ? existing?.subCounty : nil
    var site = Site(
      code: code, name: name, kind: kind, countyCode: county, countyName: reference.counties[county] ?? county)
    site.subCounty = try input.optional("sub_county", current: keptSubCounty) { text throws(FieldError) in
      try reference.subCounty(text, county: county, field: "sub_county")
    }
    site.dhis2UID = try input.optional("dhis2_uid", current: existing?.dhis2UID, dhis2UID)
    site.openedOn = try input.optional("opened_on", current: existing?.openedOn) { text throws(FieldError) in
      try FieldParsing.date(text, field: "opened_on")
    }
    site.closedOn = try input.optional("closed_on", current: existing?.closedOn) { text throws(FieldError) in
      try FieldParsing.date(text, field: "closed_on")
    }
    if let opened = site.openedOn, let closed = site.closedOn, closed < opened {
      throw FieldError(field: "closed_on", problem: "\(closed) is before the opening date \(opened)")
    }
    return site
  }

  /// DHIS2 uids are 11 characters, a letter then letters or digits.
  static func dhis2UID(_ text: String) throws(FieldError) -> String {
    let uid = text.trimmingCharacters(in: .whitespaces)
    guard uid.wholeMatch(of: /[A-Za-z][A-Za-z0-9]{10}/) != nil else {
      throw FieldError(
        field: "dhis2_uid", problem: "'\(text)' is not a DHIS2 uid (11 letters or digits, first a letter)")
    }
    return uid
  }
}

public struct SiteFilter: Sendable {
  public var countyCode: String?
  public var kind: String?
  public var subCounty: String?
  public var includeClosed: Bool

  public init(countyCode: String? = nil, kind: String? = nil, subCounty: String? = nil, includeClosed: Bool = true) {
    self.countyCode = countyCode
    self.kind = kind
    self.subCounty = subCounty
    self.includeClosed = includeClosed
  }
}

/// Reads and writes `sites`.
public enum SiteCatalog {
  public static func list(_ store: Store, filter: SiteFilter = SiteFilter()) throws -> [Site] {
    try store.run { try list($0, filter: filter) }
  }

  static func list(_ connection: Connection, filter: SiteFilter = SiteFilter()) throws -> [Site] {
    var conditions: [Query] = ["true"]
    if let county = filter.countyCode { conditions.append("county_code = \(county)") }
    if let kind = filter.kind { conditions.append("kind = \(kind)") }
    if let subCounty = filter.subCounty { conditions.append("sub_county = \(subCounty)") }
    if !filter.includeClosed { conditions.append("(closed_on IS NULL OR closed_on > programme_today())") }
    let rows = try connection.query(
      """
      \(selectSites) WHERE \(Query.joined(conditions, separator: " AND "))
      ORDER BY s.county_code, \(kindOrder), s.code
      """)
    return try rows.map(decode)
  }

  public static func find(_ store: Store, code: String) throws -> Site? {
    try store.run { try find($0, code: code) }
  }

  static func find(_ connection: Connection, code: String) throws -> Site? {
    try connection.query("\(selectSites) WHERE s.code = \(code)").first.map(decode)
  }

  private static let selectSites: Query = """
    SELECT s.code, s.name, s.kind, s.county_code, c.name AS county_name, s.sub_county, s.dhis2_uid, s.opened_on,
      s.closed_on
    FROM sites s JOIN counties c ON c.code = s.county_code
    """

  /// Supply chain order: stores first, then the sites they feed.
  private static let kindOrder: Query =
    "array_position(ARRAY['store','mat_clinic','dice','satellite','prison','hospital'], kind)"

  static func decode(_ row: Row) throws -> Site {
    Site(
      code: try row.decode("code"), name: try row.decode("name"), kind: try row.decode("kind"),
      countyCode: try row.decode("county_code"), countyName: try row.decode("county_name"),
      subCounty: try row.decode("sub_county"),
      dhis2UID: try row.decode("dhis2_uid"), openedOn: try row.decode("opened_on"),
      closedOn: try row.decode("closed_on"))
  }

  static let table = CatalogTable(
    name: "sites", key: ["code"],
    columns: ["code", "name", "kind", "county_code", "sub_county", "dhis2_uid", "opened_on", "closed_on"])

  /// Saves by code.
  @discardableResult
  static func save(_ connection: Connection, _ site: Site, existing: ExistingRow) throws -> SaveOutcome {
    try table.save(
      connection,
      values: """
        \(site.code), \(site.name), \(site.kind), \(site.countyCode), \(site.subCounty), \(site.dhis2UID),
        \(site.openedOn), \(site.closedOn)
        """,
      existing: existing)
  }
}

extension SiteCatalog {
  /// Adds a site from typed values; a bad value throws the `FieldError` naming it.
  public static func add(_ store: Store, _ values: InputValues) throws -> Site {
    try store.run { connection in
      let site = try SiteInput.site(values, reference: try ReferenceData.load(connection))
      guard try save(connection, site, existing: .keep) == .inserted else {
        throw AlreadyExists(noun: "site", code: site.code)
      }
      return site
    }
  }

  /// Changes only the given values of the site `code` (any case).
  ///
  /// Read, merge and write share one repeatable-read transaction, so two people changing different
  /// fields of one site at once cannot lose either change: the later one is retried on the new row.
  public static func update(_ store: Store, code: String, _ values: InputValues) throws -> (
    site: Site, outcome: SaveOutcome
  ) {
    try store.run { connection in
      try connection.transaction(isolation: .repeatableRead) { connection in
        try updateInTransaction(connection, code: code, values)
      }
    }
  }

  private static func updateInTransaction(_ connection: Connection, code: String, _ values: InputValues) throws -> (
    site: Site, outcome: SaveOutcome
  ) {
    let reference = try ReferenceData.load(connection)
    let code = try reference.sites.resolveArgument(code)
    guard let existing = try find(connection, code: code) else { throw KPStockError.badInput("unknown site '\(code)'") }
    let site = try SiteInput.site(values, reference: reference, existing: existing)
    return (site, try save(connection, site, existing: .replace))
  }
}
