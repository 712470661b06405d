import Foundation
import Postgres

/// The network a simulation runs over.
public enum SimulationProfile: String, CaseIterable, Sendable {
  /// The ten sites of the Kwale demo.
  case kwale
  /// 1,000 sites across Kenya's 47 counties (the Kwale demo and 990 generated sites), for benchmarks.
  case national

  /// Half a year shows the Kwale demo's seasons of supply; two years gives a benchmark its ten million events.
  public var defaultWeeks: Int {
    switch self {
    case .kwale: 26
    case .national: 104
    }
  }

  /// Whether its methadone sites dose through the MAT register (enrolment, prescriptions, doses judged client by
  /// client): the Kwale demo's few hundred clients do. The national profile's thousands of clients dose as plain
  /// dispensing, which keeps its two-year history within the time its benchmark allows.
  var registersMethadone: Bool { self == .kwale }

  /// Adds the sites and supply lines the profile needs, keeping any that exist (and any local edits to them),
  /// and returns the codes of the sites it simulates.
  func prepareNetwork(_ connection: Connection) throws -> [String] {
    try Seeds.loadKwaleDemo(connection)
    let kwale = try EmbeddedSchema.seedFile("demo/kwale/sites.csv")
    guard let column = kwale.column("code") else {
      throw KPStockError(.operational, "Seeds/demo/kwale/sites.csv has no code column")
    }
    let kwaleCodes = kwale.records.map { $0.fields[column] }
    switch self {
    case .kwale:
      return kwaleCodes
    case .national:
      let reference = try ReferenceData.load(connection)
      let plan = NationalNetwork.plan(
        counties: reference.counties, subCounties: reference.subCounties, kwaleSites: kwaleCodes.count)
      for site in plan.sites { try SiteCatalog.save(connection, site, existing: .keep) }
      for line in plan.lines { try SupplyLineCatalog.save(connection, line, existing: .keep) }
      return kwaleCodes + plan.sites.map(\.code)
    }
  }
}

/// The generated part of the national profile: in every county but Kwale (which keeps its demo network) a
/// county store, DICEs with satellites spread over them, and in the counties that run methadone programmes a
/// MAT clinic that doses a prison and a hospital. The layout depends on nothing but the county list, so every
/// database and every seed gets the same 1,000 sites.
enum NationalNetwork {
  static let siteCount = 1_000
  static let kwaleCounty = "002"
  /// Counties besides Kwale with MAT programmes in this synthetic network: the coast, Nairobi, and the
  /// lake and rift-valley cities.
  static let methadoneCounties: Set<String> = ["001", "003", "005", "022", "032", "042", "047"]
  static let openedOn = CalendarDate("2020-01-06")!

  static func plan(counties: [String: String], subCounties: [String: [String]], kwaleSites: Int) -> (
    sites: [Site], lines: [SupplyLine]
  ) {
    let others = counties.keys.filter { $0 != kwaleCounty }.sorted()
    guard !others.isEmpty else { return ([], []) }
    let generated = max(0, siteCount - kwaleSites)
    var sites: [Site] = []
    var lines: [SupplyLine] = []
    for (index, county) in others.enumerated() {
      let size = generated / others.count + (index < generated % others.count ? 1 : 0)
      let planned = plan(
        county: county, name: counties[county] ?? county, subCounties: subCounties[county] ?? [], size: size)
      sites += planned.sites
      lines += planned.lines
    }
    return (sites, lines)
  }

  /// One county: `size` sites, codes such as STORE-047, DICE-047-03 and SAT-047-11.
  static func plan(county: String, name: String, subCounties: [String], size: Int) -> (
    sites: [Site], lines: [SupplyLine]
  ) {
    var sites: [Site] = []
    var lines: [SupplyLine] = []
    func add(_ code: String, _ siteName: String, _ kind: String) {
      let subCounty = subCounties.isEmpty ? nil : subCounties[sites.count % subCounties.count]
      sites.append(
        Site(
          code: code, name: siteName, kind: kind, countyCode: county, countyName: name, subCounty: subCounty,
          openedOn: openedOn))
    }
    func supply(
      _ site: String, from supplier: String, _ categories: [String], leadDays: Int, reviewDays: Int = 7,
      safetyWeeks: Decimal = 1, variant: String = "forced", emergencyWeeks: Decimal = 1
    ) {
      for category in categories {
        lines.append(
          SupplyLine(
            siteCode: site, category: category, supplierCode: supplier, leadTimeDays: leadDays,
            reviewPeriodDays: reviewDays, safetyStockWeeks: safetyWeeks, variant: variant,
            emergencyOrderPointWeeks: emergencyWeeks))
      }
    }
    let store = "STORE-\(county)"
    add(store, "\(name) County Store", "store")
    var remaining = size - 1
    if methadoneCounties.contains(county) && remaining >= 5 {
      let clinic = "MAT-\(county)"
      add(clinic, "\(name) MAT clinic", "mat_clinic")
      supply(clinic, from: store, ["opioid_agonist"], leadDays: 14, reviewDays: 14, safetyWeeks: 2, variant: "standard")
      supply(clinic, from: store, ["overdose_reversal"], leadDays: 7)
      for (kind, code, siteName) in [
        ("prison", "PRISON-\(county)", "\(name) GK Prison"),
        ("hospital", "HOSP-\(county)", "\(name) County Referral Hospital"),
      ] {
        add(code, siteName, kind)
        supply(code, from: clinic, ["opioid_agonist"], leadDays: 1, safetyWeeks: 0.5, emergencyWeeks: 0.5)
      }
      remaining -= 3
    }
    guard remaining > 0 else { return (sites, lines) }
    let diceCount = max(1, remaining / 4)
    let dices = (1...diceCount).map { "DICE-\(county)-\(twoDigits($0))" }
    for (index, dice) in dices.enumerated() {
      add(dice, "\(name) DICE \(index + 1)", "dice")
      supply(dice, from: store, ["condom", "lubricant", "injecting_equipment", "overdose_reversal"], leadDays: 7)
    }
    for number in (diceCount + 1)..<(remaining + 1) {
      let satellite = "SAT-\(county)-\(twoDigits(number))"
      add(satellite, "\(name) satellite \(number)", "satellite")
      supply(
        satellite, from: dices[(number - diceCount - 1) % diceCount], ["condom", "lubricant", "injecting_equipment"],
        leadDays: 2)
    }
    return (sites, lines)
  }

  static func twoDigits(_ number: Int) -> String { number < 10 ? "0\(number)" : "\(number)" }
}
