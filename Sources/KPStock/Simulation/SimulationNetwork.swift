import Foundation
import Postgres

/// The sites, commodities and supply lines a simulation walks, indexed by position so that every loop runs
/// in one fixed order (Swift's dictionaries iterate in a different order in every process, which would make
/// two runs of one seed diverge).
struct SimulationNetwork {
  struct SiteInfo {
    var code: String
    var kind: String
    var countyCode: String
    var countyName: String
    var closedOn: CalendarDate?
    /// 1-based position among the simulated sites of its county, by code: part of its clients' UICs.
    var ordinalInCounty: Int
  }

  struct CommodityInfo {
    var code: String
    var category: String
    var packSize: Int
    var packRoundingThreshold: Int
    var lotTracked: Bool
    /// Starts this commodity's synthetic lot codes: MC for MALE-CONDOM, LU for LUBRICANT.
    var lotPrefix: String
  }

  /// The rules of one supply line, in weeks.
  struct Line {
    var supplier: Int
    var maximumWeeks: Double
    /// Standard max–min orders only at or below this; forced ordering (the default) always tops up.
    var minimumWeeks: Double?
  }

  var sites: [SiteInfo]
  var commodities: [CommodityInfo]
  var siteIndex: [String: Int]
  var commodityIndex: [String: Int]
  /// [site][commodity]: who supplies it, when someone in the network does.
  var lines: [[Line?]]
  /// [site][commodity]: the sites it supplies, in code order.
  var children: [[[Int]]]
  /// [site][commodity]: supply hops between the site and the top of its chain (0 at a county store).
  var depth: [[Int]]
  /// Sites linked by supply lines, each list in code order, the lists in the order of their first site. Stock
  /// never moves between them, so each can be simulated in its own transactions (a national county).
  var chains: [[Int]] = []
  /// [site]: the index of its chain in `chains`.
  var chainOf: [Int] = []

  var maximumDepth: Int { depth.joined().max() ?? 0 }

  func isRoot(_ site: Int, _ commodity: Int) -> Bool {
    lines[site][commodity] == nil && !children[site][commodity].isEmpty
  }

  func isOpen(_ site: Int, on day: CalendarDate) -> Bool {
    sites[site].closedOn.map { day <= $0 } ?? true
  }

  static func load(_ connection: Connection, codes: [String]) throws -> SimulationNetwork {
    let rows = try connection.query(
      """
      SELECT s.code, s.kind, s.county_code, c.name AS county_name, s.closed_on
      FROM sites s JOIN counties c ON c.code = s.county_code
      WHERE s.code = ANY(\(PostgresArray(codes))) ORDER BY s.code
      """)
    var sites: [SiteInfo] = []
    var perCounty: [String: Int] = [:]
    for row in rows {
      let county: String = try row.decode("county_code")
      perCounty[county, default: 0] += 1
      sites.append(
        SiteInfo(
          code: try row.decode("code"), kind: try row.decode("kind"), countyCode: county,
          countyName: try row.decode("county_name"), closedOn: try row.decode("closed_on"),
          ordinalInCounty: perCounty[county]!))
    }
    let commodities = try CommodityCatalog.list(connection).sorted { $0.code < $1.code }.map { commodity in
      CommodityInfo(
        code: commodity.code, category: commodity.category, packSize: commodity.packSize,
        packRoundingThreshold: commodity.packRoundingThreshold, lotTracked: commodity.lotTracked,
        lotPrefix: lotPrefix(commodity.code))
    }
    let siteIndex = Dictionary(uniqueKeysWithValues: sites.enumerated().map { ($1.code, $0) })
    let commodityIndex = Dictionary(uniqueKeysWithValues: commodities.enumerated().map { ($1.code, $0) })
    let empty = [[Line?]](repeating: [Line?](repeating: nil, count: commodities.count), count: sites.count)
    var network = SimulationNetwork(
      sites: sites, commodities: commodities, siteIndex: siteIndex, commodityIndex: commodityIndex, lines: empty,
      children: [[[Int]]](repeating: [[Int]](repeating: [], count: commodities.count), count: sites.count),
      depth: [[Int]](repeating: [Int](repeating: 0, count: commodities.count), count: sites.count))
    for line in try SupplyLineCatalog.list(connection) {
      guard let site = siteIndex[line.siteCode], let supplier = line.supplierCode.flatMap({ siteIndex[$0] }) else {
        continue
      }
      let lead = Double(line.leadTimeDays) / 7
      let review = Double(line.reviewPeriodDays) / 7
      let safety = NSDecimalNumber(decimal: line.safetyStockWeeks).doubleValue
      for (commodity, info) in commodities.enumerated() where info.category == line.category {
        network.lines[site][commodity] = Line(
          supplier: supplier, maximumWeeks: lead + safety + review,
          minimumWeeks: line.variant == "standard" ? lead + safety : nil)
        network.children[supplier][commodity].append(site)
      }
    }
    for site in sites.indices {
      for commodity in commodities.indices {
        network.children[site][commodity].sort()
        var hops = 0
        var current = site
        // Supply lines cannot form loops (a trigger refuses them), so this walk ends.
        while let line = network.lines[current][commodity], hops <= sites.count {
          hops += 1
          current = line.supplier
        }
        network.depth[site][commodity] = hops
      }
    }
    network.findChains()
    return network
  }

  private mutating func findChains() {
    var root = Array(sites.indices)
    func find(_ site: Int) -> Int {
      var site = site
      while root[site] != site {
        root[site] = root[root[site]]
        site = root[site]
      }
      return site
    }
    for site in sites.indices {
      for line in lines[site] {
        guard let line else { continue }
        let (a, b) = (find(site), find(line.supplier))
        if a != b { root[max(a, b)] = min(a, b) }
      }
    }
    var chainOfRoot: [Int: Int] = [:]
    chainOf = Array(repeating: 0, count: sites.count)
    chains = []
    for site in sites.indices {
      let top = find(site)
      if let chain = chainOfRoot[top] {
        chains[chain].append(site)
        chainOf[site] = chain
      } else {
        chainOfRoot[top] = chains.count
        chainOf[site] = chains.count
        chains.append([site])
      }
    }
  }

  /// MALE-CONDOM → MC, LUBRICANT → LU: the first letter of each word, or the first two of a single word.
  static func lotPrefix(_ code: String) -> String {
    let words = code.split(separator: "-").filter { !$0.isEmpty }
    let letters = words.count > 1 ? String(words.compactMap(\.first)) : String(code.prefix(2))
    let cleaned = String(letters.uppercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) }.prefix(4))
    return cleaned.isEmpty ? "LOT" : cleaned
  }
}

/// Who a site serves and how: people reached per week by population, the peer educators who reach them,
/// which days its clinic opens, and, at methadone sites, the clients on daily observed dosing.
struct SiteActivity {
  struct Group {
    var population: String
    var reachedPerWeek: Int
    /// Share of the people reached through peer educators rather than at the clinic.
    var outreachShare: Double
    var peerEducators: [String]
    /// Client numbers of this group's registered clients start here (see `uic`).
    var firstClientNumber: Int
  }

  struct MethadoneClient {
    var uic: String
    var doseMilligrams: Int
  }

  var groups: [Group] = []
  /// Indexed by ISO weekday, 1 = Monday.
  var clinicOpen: [Bool] = Array(repeating: false, count: 8)
  var methadoneClients: [MethadoneClient] = []
  /// Share of methadone clients who come for their dose on a given day.
  var attendance: Double = 1
  var uicPrefix: String = ""
  var uicSiteNumber: Int = 0

  var clinicDaysPerWeek: Int { clinicOpen.filter { $0 }.count }

  /// Weekly people reached: a DICE's range; a satellite reaches about a third as many.
  static let diceReach: [(population: String, range: ClosedRange<Int>)] = [
    ("FSW", 150...350), ("MSM", 40...120), ("MSW", 10...30), ("PWID", 20...100), ("PWUD", 10...40), ("TG", 5...20),
  ]
  /// A peer educator keeps in touch with about this many peers (the programme's "defined group of peers").
  static let peersPerEducator = 40.0

  static func make(
    site: SimulationNetwork.SiteInfo, populations: Set<String>, profile: SimulationProfile, seed: UInt64
  ) -> SiteActivity {
    var random = SplitMix64(stream: [stableHash(profile.rawValue), seed, stableHash("activity"), stableHash(site.code)])
    var activity = SiteActivity()
    activity.uicPrefix = uicPrefix(county: site.countyName)
    activity.uicSiteNumber = site.ordinalInCounty
    let town = String(site.code.split(separator: "-", maxSplits: 1).last ?? "").prefix(25)
    var educators = 0
    func groups(scale: Double, outreach: Double) -> [Group] {
      diceReach.filter { populations.contains($0.population) }.sorted { $0.population < $1.population }
        .enumerated().map { index, entry in
          let reached = max(1, Int((Double(random.int(in: entry.range)) * scale).rounded()))
          let viaPeers = Double(reached) * outreach
          let count = viaPeers < 10 ? 0 : max(1, Int((viaPeers / peersPerEducator).rounded()))
          let codes = (0..<count).map { _ in
            educators += 1
            return "PE-\(town)-\(NationalNetwork.twoDigits(educators))"
          }
          return Group(
            population: entry.population, reachedPerWeek: reached, outreachShare: count == 0 ? 0 : outreach,
            peerEducators: codes, firstClientNumber: (index + 1) * 1_000)
        }
    }
    switch site.kind {
    case "dice":
      activity.groups = groups(scale: 1, outreach: 0.7)
      for weekday in 1...6 { activity.clinicOpen[weekday] = true }
    case "satellite":
      activity.groups = groups(scale: random.uniform(0.25...0.45), outreach: 0.9)
      activity.clinicOpen[2] = true
      activity.clinicOpen[4] = true
    case "mat_clinic", "prison", "hospital":
      let clients =
        switch site.kind {
        case "mat_clinic": profile == .kwale ? random.int(in: 220...260) : random.int(in: 40...120)
        case "prison": random.int(in: 6...12)
        default: random.int(in: 2...5)
        }
      activity.attendance = site.kind == "mat_clinic" ? 0.93 : 1
      activity.methadoneClients = (1...clients).map { number in
        MethadoneClient(
          uic: activity.uic(client: number), doseMilligrams: 60 + 5 * random.int(in: 0...12))
      }
      if populations.contains("PWID") {
        activity.groups = [
          Group(
            population: "PWID", reachedPerWeek: clients, outreachShare: 0, peerEducators: [],
            firstClientNumber: 0)
        ]
      }
      for weekday in 1...6 { activity.clinicOpen[weekday] = true }
    default:
      break
    }
    return activity
  }

  /// A synthetic UIC such as KWL-010234-R: a county prefix, six digits (site, then client), a check letter.
  /// It always holds letters, as the ledger requires of a UIC, and it identifies no one.
  func uic(client: Int) -> String {
    let number = uicSiteNumber * 10_000 + client % 10_000
    var digits = String(number)
    digits = String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    let checkLetters = Array("ABCDEFGHJKLMNPRSTUVWXY")
    let weighted = digits.utf8.enumerated().reduce(0) { $0 + ($1.offset + 1) * Int($1.element - 48) }
    return "\(uicPrefix)-\(digits)-\(checkLetters[weighted % checkLetters.count])"
  }

  /// Kwale → KWL, Nairobi → NRB: the first letter, then the next consonants, padded with vowels.
  static func uicPrefix(county name: String) -> String {
    let letters = Array(name.uppercased().filter { $0.isASCII && $0.isLetter })
    guard let first = letters.first else { return "KP" }
    let rest = letters.dropFirst()
    var prefix = [first] + rest.filter { !"AEIOU".contains($0) }.prefix(2)
    if prefix.count < 3 { prefix += rest.filter { "AEIOU".contains($0) }.prefix(3 - prefix.count) }
    return String(prefix)
  }
}

/// Base units per person per week, by population and commodity: the norms in force (domain.md, as stored in
/// `norms`), plus two rates the norms do not set yet.
struct DemandRates {
  /// Population → (commodity index, units per person per week), in commodity order.
  var byPopulation: [String: [(commodity: Int, perWeek: Double)]] = [:]

  /// Rates for pairs no norm covers, so that female condoms and naloxone move too. Simulator assumptions,
  /// not programme figures: half a female condom per FSW a week, and a naloxone ampoule per PWID every
  /// twenty weeks.
  static let assumed: [(commodity: String, population: String, perWeek: Double)] = [
    ("FEMALE-CONDOM", "FSW", 0.5), ("NALOXONE", "PWID", 0.05),
  ]

  static func load(_ connection: Connection, network: SimulationNetwork, on day: CalendarDate) throws -> DemandRates {
    var rates: [String: [Int: Double]] = [:]
    // National norms: the simulator draws every site's demand from them; counties' and sites' own norms are for the
    // forecast.
    for norm in try NormCatalog.list(connection, on: day, nationalOnly: true) {
      guard let commodity = network.commodityIndex[norm.commodityCode] else { continue }
      rates[norm.populationCode, default: [:]][commodity] = NSDecimalNumber(decimal: norm.quantityPerWeek).doubleValue
    }
    for assumption in assumed {
      guard let commodity = network.commodityIndex[assumption.commodity],
        rates[assumption.population]?[commodity] == nil
      else { continue }
      rates[assumption.population, default: [:]][commodity] = assumption.perWeek
    }
    var result = DemandRates()
    for (population, perCommodity) in rates {
      result.byPopulation[population] = perCommodity.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        .map { (commodity: $0.key, perWeek: $0.value) }
    }
    return result
  }
}
