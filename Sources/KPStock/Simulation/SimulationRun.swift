import Foundation
import Postgres

/// One simulation's state as it walks from day to day, and what each day does. It is a value: a week is
/// simulated on a copy inside the week's transaction, so a transaction that is rolled back and retried starts
/// again from exactly the state it started from.
struct SimulationRun {
  let network: SimulationNetwork
  let activities: [SiteActivity]
  let profile: SimulationProfile
  let seed: UInt64
  let firstDay: CalendarDate
  /// Every idempotency key of this simulation starts with it: `sim/kwale/1/`.
  let keyPrefix: String
  var stock: StockModel
  var written = 0
  var alreadyRecorded = 0
  var requests = 0
  var batches = 0
  /// Posts every request on its own, as the simulator did before it batched: the history a batch must equal.
  var postsOneByOne = false

  private var day: CalendarDate
  /// Postings so far today at each site: the last part of their keys.
  private var sequence: [Int]
  private var rates = DemandRates()
  private var ratesWeek: CalendarDate?
  /// Requests waiting to be posted together, and the changes the simulator already made to `stock` for each.
  private var batch: [Ledger.KeyedRequest] = []
  private var queued: [Queued] = []
  private var lastProvisionalTransfer: Int64 = 0
  /// [site][commodity]: expected weekly use at the site itself, and including every site it supplies.
  private var ownNeed: [[Double]]
  private var chainNeed: [[Double]]
  private let methadone: Int?

  /// A county store orders up to a month of what its chain uses.
  static let storeWeeks = 4.0
  /// Chance that a receipt is a short-dated lot, sent in bulk to be used before it expires.
  static let shortDatedChance = 0.04
  /// Chance that a national pipeline break starts in a week: no deliveries of a commodity for `supplyBreakWeeks`.
  static let supplyBreakChance = 0.025
  static let supplyBreakWeeks = 2...5
  static let lotPeriodDays = 56
  static let rejectionChance = 0.04
  static let lossChance = 0.01
  static let attendanceOfPeerEducators = 0.9
  /// Chance that a site's report of a population's week is never filed (the people were still reached and served).
  static let missingReportChance = 0.04
  /// Chance that a site's peers report their need for a population's week from their calendars.
  static let peerNeedChance = 0.05

  init(
    network: SimulationNetwork, activities: [SiteActivity], profile: SimulationProfile, seed: UInt64,
    firstDay: CalendarDate, stock: StockModel
  ) {
    self.network = network
    self.activities = activities
    self.profile = profile
    self.seed = seed
    self.firstDay = firstDay
    self.keyPrefix = Self.keyPrefix(profile: profile, seed: seed)
    self.stock = stock
    self.day = firstDay
    self.sequence = Array(repeating: 0, count: network.sites.count)
    let zero = [[Double]](
      repeating: [Double](repeating: 0, count: network.commodities.count), count: network.sites.count)
    self.ownNeed = zero
    self.chainNeed = zero
    self.methadone = network.commodityIndex["METHADONE"]
  }

  static func keyPrefix(profile: SimulationProfile, seed: UInt64) -> String { "sim/\(profile.rawValue)/\(seed)/" }

  /// One day of one supply chain (see `SimulationNetwork.chains`), posted in as few batches as receipts allow:
  /// a receipt names its transfer, so a shipment that arrives the day it is sent needs its dispatch posted first.
  /// Everything else a decision reads, the simulator knows before the ledger says so.
  mutating func simulate(_ day: CalendarDate, chain: Int, _ connection: Connection) throws {
    self.day = day
    let sites = network.chains[chain]
    sequence = Array(repeating: 0, count: network.sites.count)
    try refreshNeeds(connection)
    let weekday = day.isoWeekday
    let opening = day == firstDay
    try receiveArrivals(chain: chain, connection)
    if weekday == 1 && !opening { try writeOffExpired(at: sites, connection) }
    if weekday == 1 || opening { try receiveSupply(at: sites, opening: opening, connection) }
    // Stores send on Tuesday, DICEs and the MAT clinic on Friday, so stock moves down the chain within a week.
    // On the first day everything is stocked at once, as if the history began mid-stream.
    for depth in 0..<network.maximumDepth where opening || weekday == [2, 5, 6][min(depth, 2)] {
      try dispatch(from: sites, depth: depth, opening: opening, connection)
      try receiveArrivals(chain: chain, connection)
    }
    for site in sites where network.isOpen(site, on: day) {
      try dispense(at: site, connection)
      try recordLoss(at: site, connection)
    }
    try flush(connection)
    if weekday == 7 { try reportOutreach(at: sites, connection) }
  }

  /// The day a shipment arrives: the same day on the first day, else up to two days after dispatch. It is drawn
  /// from the shipment's own stream, so a later run can tell when the shipments it inherits will arrive.
  func arrival(from: Int, to: Int, commodity: Int, dispatchedOn: CalendarDate) -> CalendarDate {
    guard dispatchedOn != firstDay else { return dispatchedOn }
    var random = stream("arrival", dispatchedOn, [stableHash(network.sites[from].code), UInt64(to), UInt64(commodity)])
    return dispatchedOn.adding(days: random.int(in: 0...2))
  }

  // MARK: - Need

  /// Reads the norms in force on the week's Monday and works out each site's expected weekly use, and its
  /// chain's (its own plus every site it supplies, directly or not), which sets its max–min levels.
  private mutating func refreshNeeds(_ connection: Connection) throws {
    let monday = day.adding(days: 1 - day.isoWeekday)
    guard ratesWeek != monday else { return }
    rates = try DemandRates.load(connection, network: network, on: monday)
    ratesWeek = monday
    for site in network.sites.indices {
      for commodity in network.commodities.indices { ownNeed[site][commodity] = 0 }
      for group in activities[site].groups {
        for rate in rates(for: group.population, at: site) {
          ownNeed[site][rate.commodity] += Double(group.reachedPerWeek) * rate.perWeek
        }
      }
      if let methadone, network.lines[site][methadone] != nil {
        let daily = activities[site].methadoneClients.reduce(0) { $0 + $1.doseMilligrams }
        ownNeed[site][methadone] = Double(daily) * 7 * activities[site].attendance
      }
    }
    for commodity in network.commodities.indices {
      let deepestFirst = network.sites.indices.sorted { network.depth[$0][commodity] > network.depth[$1][commodity] }
      for site in deepestFirst {
        chainNeed[site][commodity] =
          ownNeed[site][commodity] + network.children[site][commodity].reduce(0) { $0 + chainNeed[$1][commodity] }
      }
    }
  }

  /// What a population uses of the commodities this site is supplied with; methadone goes by dose instead.
  private func rates(for population: String, at site: Int) -> [(commodity: Int, perWeek: Double)] {
    (rates.byPopulation[population] ?? []).filter {
      $0.commodity != methadone && network.lines[site][$0.commodity] != nil
    }
  }

  // MARK: - Moving stock

  private mutating func receiveArrivals(chain: Int, _ connection: Connection) throws {
    func arriving() -> [StockModel.Shipment] {
      stock.arriving(on: day).filter { network.chainOf[$0.to] == chain && network.isOpen($0.to, on: day) }
    }
    if arriving().contains(where: \.isProvisional) { try flush(connection) }
    for shipment in arriving() {
      var random = stream(
        "receive", shipment.dispatchedOn,
        [stableHash(network.sites[shipment.from].code), UInt64(shipment.to), UInt64(shipment.commodity)])
      var receipt = TransferReceipt(transfer: shipment.transfer, date: day)
      if let first = shipment.lots.first, random.chance(Self.rejectionChance) {
        receipt.rejected = min(first.quantity, max(1, Int64(Double(first.quantity) * random.uniform(0.005...0.03))))
        receipt.reason = "damaged"
        receipt.lot = first.code.isEmpty ? nil : first.code
        receipt.note = "damaged in transit"
      }
      var changes = shipment.lots.map { lot in
        StockModel.Change(
          site: shipment.to, commodity: shipment.commodity, lot: lot.code, expiresOn: lot.expiresOn,
          quantity: lot.quantity)
      }
      if receipt.rejected > 0, let first = shipment.lots.first {
        changes.append(
          StockModel.Change(
            site: shipment.to, commodity: shipment.commodity, lot: first.code, expiresOn: first.expiresOn,
            quantity: -receipt.rejected))
      }
      try queue(receipt, at: shipment.to, changes: changes, connection)
      stock.delivered(shipment.transfer)
    }
  }

  /// Every Monday, lots that expired are taken off the shelf.
  private mutating func writeOffExpired(at sites: [Int], _ connection: Connection) throws {
    for site in sites where network.isOpen(site, on: day) {
      for commodity in network.commodities.indices {
        for lot in stock.expired(site, commodity, on: day) {
          try queue(
            Adjustment(
              site: network.sites[site].code, commodity: network.commodities[commodity].code,
              lot: lot.code.isEmpty ? nil : lot.code, quantity: -lot.quantity, reason: "expired", date: day),
            at: site, changes: stock.taking(lot.quantity, site, commodity, lot: lot.code, on: day), connection)
        }
      }
    }
  }

  /// County stores receive on Mondays what they ordered up to `storeWeeks` of their chain's use, less what
  /// the national pipeline fails to deliver. Now and then a lot is short-dated, and it comes in bulk.
  private mutating func receiveSupply(at sites: [Int], opening: Bool, _ connection: Connection) throws {
    let monday = day.adding(days: 1 - day.isoWeekday)
    let guaranteedShortDated = opening ? openingShortDatedCommodity() : nil
    for commodity in network.commodities.indices {
      let broken = !opening && supplyBreak(commodity, week: monday)
      for site in sites where network.isRoot(site, commodity) && network.isOpen(site, on: day) {
        let need = chainNeed[site][commodity]
        guard need > 0 else { continue }
        var random = stream("supply", day, [stableHash(network.sites[site].code), UInt64(commodity)])
        let target = Self.storeWeeks * need
        let ordered =
          opening ? target * random.uniform(0.5...1.0) : target - Double(stock.usable(site, commodity, on: day))
        let delivered =
          broken || ordered <= 0 ? 0 : packs(ordered * (opening ? 1 : random.uniform(0.7...1.1)), commodity)
        if delivered > 0 {
          try receive(
            delivered, of: commodity, at: site, lot: lot(commodity, receivedOn: day, shortDated: false),
            note: opening ? "opening stock" : nil, connection)
        }
        let shortDated = network.commodities[commodity].lotTracked && random.chance(Self.shortDatedChance)
        if shortDated || guaranteedShortDated == commodity, let lot = lot(commodity, receivedOn: day, shortDated: true)
        {
          // Enough that some of it outlives its expiry: its weeks of shelf life plus one or two more weeks of use.
          let shelfWeeks = Double(lot.expiresOn.daysSinceEpoch - day.daysSinceEpoch) / 7
          try receive(
            packs((shelfWeeks + random.uniform(1...2.5)) * need, commodity), of: commodity, at: site, lot: lot,
            note: "short-dated lot, to be used first", connection)
        }
      }
    }
  }

  private mutating func receive(
    _ quantity: Int64, of commodity: Int, at site: Int, lot: (code: String, expiresOn: CalendarDate)?, note: String?,
    _ connection: Connection
  ) throws {
    try queue(
      Receipt(
        site: network.sites[site].code, commodity: network.commodities[commodity].code, lot: lot?.code,
        expiry: lot?.expiresOn, quantity: quantity, date: day, note: note),
      at: site,
      changes: [
        StockModel.Change(
          site: site, commodity: commodity, lot: lot?.code ?? "", expiresOn: lot?.expiresOn, quantity: quantity)
      ], connection)
  }

  /// Each supplier at `depth` tops its sites up to their maximum stock (forced max–min), sharing out what it has
  /// beyond a week of its own use when it cannot fill every order.
  private mutating func dispatch(from sites: [Int], depth: Int, opening: Bool, _ connection: Connection) throws {
    for commodity in network.commodities.indices {
      for supplier in sites
      where network.depth[supplier][commodity] == depth && !network.children[supplier][commodity].isEmpty
        && network.isOpen(supplier, on: day)
      {
        var random = stream("dispatch", day, [stableHash(network.sites[supplier].code), UInt64(commodity)])
        var orders: [(site: Int, quantity: Int64)] = []
        for site in network.children[supplier][commodity] where network.isOpen(site, on: day) {
          guard let line = network.lines[site][commodity], chainNeed[site][commodity] > 0 else { continue }
          let need = chainNeed[site][commodity]
          let position = Double(stock.usable(site, commodity, on: day) + stock.inTransit(to: site, commodity))
          let ordered: Double
          if opening {
            ordered = line.maximumWeeks * need * random.uniform(0.5...1.0)
          } else if let minimum = line.minimumWeeks, position > minimum * need {
            continue
          } else {
            ordered = line.maximumWeeks * need - position
          }
          let quantity = network.isRoot(supplier, commodity) ? packs(ordered, commodity) : Int64(ordered.rounded(.up))
          if quantity > 0 { orders.append((site, quantity)) }
        }
        let reserve = Int64(ownNeed[supplier][commodity].rounded(.up))
        let available = max(0, stock.usable(supplier, commodity, on: day) - reserve)
        let total = orders.reduce(0) { $0 + $1.quantity }
        for order in orders {
          let quantity = total <= available ? order.quantity : order.quantity * available / total
          guard quantity > 0 else { continue }
          let taken = stock.taking(quantity, supplier, commodity, on: day)
          lastProvisionalTransfer -= 1
          stock.ship(
            StockModel.Shipment(
              transfer: lastProvisionalTransfer, from: supplier, to: order.site, commodity: commodity,
              dispatchedOn: day,
              arrivesOn: arrival(from: supplier, to: order.site, commodity: commodity, dispatchedOn: day),
              lots: taken.map { (code: $0.lot, expiresOn: $0.expiresOn, quantity: -$0.quantity) }))
          try queue(
            Dispatch(
              from: network.sites[supplier].code, to: network.sites[order.site].code,
              commodity: network.commodities[commodity].code, quantity: quantity, date: day),
            at: supplier, changes: taken, provisionalTransfer: lastProvisionalTransfer, connection)
        }
      }
    }
  }

  // MARK: - Dispensing

  /// A day's dispensing at one site: methadone doses client by client, then each population's share through
  /// peer educators (weekdays) and at the clinic (its opening days): a few registered clients by UIC, and a
  /// tally for the rest. Each is cut to the stock there is; what cannot be given is a stock-out.
  private mutating func dispense(at site: Int, _ connection: Connection) throws {
    let activity = activities[site]
    let weekday = day.isoWeekday
    var random = stream("dispense", day, [stableHash(network.sites[site].code)])
    if let methadone, network.lines[site][methadone] != nil, profile.registersMethadone {
      try doseRegisteredClients(at: site, methadone, random: &random, connection)
    } else if let methadone, network.lines[site][methadone] != nil {
      for client in activity.methadoneClients where random.chance(activity.attendance) {
        let dose = Int64(client.doseMilligrams)
        // A client is given the whole dose or none: the register records observed doses, not fractions.
        guard stock.usable(site, methadone, on: day) >= dose else { continue }
        try give(dose, methadone, at: site, population: "PWID", channel: .clinic, client: client.uic, connection)
      }
    }
    let monday = day.adding(days: 1 - weekday)
    for group in activity.groups {
      let rates = rates(for: group.population, at: site)
      guard !rates.isEmpty else { continue }
      let reached = Double(weeklyReach(group, at: site, week: monday))
      if (1...5).contains(weekday) && !group.peerEducators.isEmpty {
        let perEducator =
          reached * group.outreachShare / Double(group.peerEducators.count) / 5
          / Self.attendanceOfPeerEducators
        for educator in group.peerEducators where random.chance(Self.attendanceOfPeerEducators) {
          let contacts = random.around(perEducator, spread: 0.5)
          for rate in rates {
            try give(
              Int64(random.count(contacts * rate.perWeek)), rate.commodity, at: site, population: group.population,
              channel: .outreach, worker: educator, connection)
          }
        }
      }
      if activity.clinicOpen[weekday] && group.outreachShare < 1 {
        let expected = reached * (1 - group.outreachShare) / Double(max(1, activity.clinicDaysPerWeek))
        let visits = random.count(random.around(expected, spread: 0.4))
        let registered = min(visits, 2, random.count(Double(visits) * 0.15))
        for _ in 0..<registered {
          let client = activity.uic(
            client: group.firstClientNumber + random.int(in: 1...max(1, min(999, group.reachedPerWeek))))
          for rate in rates {
            // A registered client takes one to two weeks' supply.
            try give(
              Int64(random.count(rate.perWeek * random.uniform(1...2))), rate.commodity, at: site,
              population: group.population, channel: .clinic, client: client, connection)
          }
        }
        for rate in rates {
          try give(
            Int64(random.count(Double(visits - registered) * rate.perWeek * random.around(1, spread: 0.3))),
            rate.commodity, at: site, population: group.population, channel: .clinic, connection)
        }
      }
    }
  }

  private mutating func give(
    _ wanted: Int64, _ commodity: Int, at site: Int, population: String, channel: DispensingChannel,
    worker: String? = nil, client: String? = nil, _ connection: Connection
  ) throws {
    let quantity = min(wanted, stock.usable(site, commodity, on: day))
    guard quantity > 0 else { return }
    try queue(
      Dispensing(
        site: network.sites[site].code, commodity: network.commodities[commodity].code, quantity: quantity,
        date: day, population: population, channel: channel, worker: worker, client: client),
      at: site, changes: stock.taking(quantity, site, commodity, on: day), connection)
  }

  // MARK: - MAT register

  /// The register's clinician: who enrols clients and changes their doses in the simulation.
  static let prescriber = "SIM-DR"
  /// Each week a clinic enrols a new client with this chance, inducted at 20 mg and titrated up 10 mg every third
  /// day (the guard rails' pace) to a maintenance dose.
  static let weeklyEnrolmentChance = 0.6
  /// The maintenance dose a client enrolled during the simulation is titrated up to, mg a day.
  static let newClientTarget = 80
  /// Chance that a client on treatment for the settings' days takes a Sunday dose home on Saturday, when the
  /// programme allows take-homes.
  static let takeHomeChance = 0.3

  /// A MAT site's day through the register: clients enrolled on the first day it is simulated (in the two months
  /// before, at the clinic, and moved to the prison or hospital where they dose), new clients now and then, and
  /// each client who comes dosed at their prescribed dose, a day's doses in one posting. A client back after 3–4
  /// missed days is dosed after a review (an override saying so); after 5 or more, re-inducted at 30 mg and titrated
  /// back up. Three of the clinic's clients stay away: for 8 days from the 30th day, for 25 days from the 60th, and for
  /// good from the 90th (defaulting, then lost to follow-up).
  private mutating func doseRegisteredClients(
    at site: Int, _ methadone: Int, random: inout SplitMix64, _ connection: Connection
  ) throws {
    let activity = activities[site]
    let code = network.sites[site].code
    let kind = network.sites[site].kind
    let clinic = kind == "mat_clinic" ? site : network.lines[site][methadone]?.supplier
    guard let clinic, network.sites[clinic].kind == "mat_clinic" else { return }
    let clinicCode = network.sites[clinic].code
    try enrolOnFirstDay(at: site, clinic: clinicCode, connection)
    if kind == "mat_clinic" && day.isoWeekday == 1 && random.chance(Self.weeklyEnrolmentChance) {
      let number = 5_000 + (day.daysSinceEpoch - firstDay.daysSinceEpoch) / 7
      _ = try connection.query(
        """
        SELECT mat_enrol(\(code), \(activity.uic(client: number)), 'PWID', 20, \(Self.prescriber), \(day)::date, NULL)
        WHERE NOT EXISTS (SELECT FROM mat_clients WHERE uic = \(activity.uic(client: number)))
        """)
    }
    let states = try connection.query(
      """
      SELECT s.uic, s.mg, s.flag, s.last_taken, s.prescribed_on, s.enrolled_on, st.take_home_max_days,
        st.take_home_after_days
      FROM mat_client_states(\(day)::date) s, mat_settings st
      WHERE s.dosing_site = \(code) AND s.exited_on IS NULL
      ORDER BY s.uic
      """)
    let targets = Dictionary(activity.methadoneClients.map { ($0.uic, $0.doseMilligrams) }) { first, _ in first }
    let elapsed = day.daysSinceEpoch - firstDay.daysSinceEpoch
    let away: [(client: Int, from: Int, days: Int)] = [(0, 30, 8), (1, 60, 25), (2, 90, 100_000)]
    var doses: [MATDayDoses.Dose] = []
    // The stock as each dose leaves it: the ledger books every dose (and take-home) as an event of its own, first
    // expiry first, in this order.
    var after = stock
    var changes: [StockModel.Change] = []
    for row in states {
      let uic: String = try row.decode("uic")
      var mg = Int(try row.decode("mg") as Int32)
      let flag: String? = try row.decode("flag")
      let lastTaken: CalendarDate? = try row.decode("last_taken")
      let prescribedOn: CalendarDate = try row.decode("prescribed_on")
      let enrolledOn: CalendarDate = try row.decode("enrolled_on")
      let takeHomeMax = Int(try row.decode("take_home_max_days") as Int32)
      let takeHomeAfter = Int(try row.decode("take_home_after_days") as Int32)
      if lastTaken == day { continue }
      if kind == "mat_clinic", let index = activity.methadoneClients.firstIndex(where: { $0.uic == uic }),
        away.contains(where: { $0.client == index && (($0.from)..<($0.from + $0.days)).contains(elapsed) })
      {
        continue
      }
      guard random.chance(activity.attendance) else { continue }
      var override: String?
      if flag == "re-induction needed" {
        mg = 30
        try prescribe(uic, mg: mg, reason: "re-induction after missed doses", connection)
      } else if flag != nil {
        override = "reviewed by the clinician: dose kept"
      } else if mg < targets[uic] ?? Self.newClientTarget, day.daysSinceEpoch - prescribedOn.daysSinceEpoch >= 3 {
        mg = min(mg + 10, targets[uic] ?? Self.newClientTarget)
        try prescribe(uic, mg: mg, reason: "titration", connection)
      }
      let takeHome =
        takeHomeMax > 0 && day.isoWeekday == 6 && day.daysSinceEpoch - enrolledOn.daysSinceEpoch >= takeHomeAfter
          && override == nil && random.chance(Self.takeHomeChance) ? 1 : 0
      // A client is given the whole dose or none: the register records observed doses, not fractions.
      guard after.usable(site, methadone, on: day) >= Int64(mg * (1 + takeHome)) else { continue }
      for _ in 0...takeHome {
        let taken = after.taking(Int64(mg), site, methadone, on: day)
        after.apply(taken)
        changes += taken
      }
      doses.append(MATDayDoses.Dose(client: uic, mg: mg, takeHomeDays: takeHome, override: override))
    }
    guard !doses.isEmpty else { return }
    try queue(MATDayDoses(site: code, date: day, doses: doses), at: site, changes: changes, connection)
  }

  private func prescribe(_ uic: String, mg: Int, reason: String, _ connection: Connection) throws {
    _ = try connection.query(
      """
      SELECT mat_prescribe(\(uic), \(mg)::integer, \(Self.prescriber), \(reason), 1, NULL, \(day)::date)
      """)
  }

  /// The register as the simulation finds it at its first day: every client of the site enrolled at their clinic in
  /// the two months before (inducted at 30 mg and prescribed their maintenance dose the same day, with the reason
  /// kept), and those of a prison or hospital moved there. A later run finds them enrolled and adds nothing.
  private func enrolOnFirstDay(at site: Int, clinic: String, _ connection: Connection) throws {
    guard day == firstDay else { return }
    let activity = activities[site]
    for (index, client) in activity.methadoneClients.enumerated() {
      let enrolled = day.adding(days: -(index * 7 % 57))
      let rows = try connection.query(
        """
        SELECT mat_enrol(\(clinic), \(client.uic), 'PWID', 30, \(Self.prescriber), \(enrolled)::date, NULL) AS episode
        WHERE NOT EXISTS (SELECT FROM mat_clients WHERE uic = \(client.uic))
        """)
      guard !rows.isEmpty else { continue }
      _ = try connection.query(
        """
        SELECT mat_prescribe(\(client.uic), \(client.doseMilligrams)::integer, \(Self.prescriber),
          'maintenance dose from the paper register', 1, 'stable on this dose before the register', \(enrolled)::date)
        """)
      if network.sites[site].code != clinic {
        _ = try connection.query("SELECT mat_move(\(client.uic), \(network.sites[site].code), \(day)::date)")
      }
    }
  }

  // MARK: - Outreach

  /// People a group reaches in the week that starts on `monday`: its usual reach, drifting over the history (a
  /// trend of its own of up to ±0.4 % a week), with a yearly season and week-to-week noise. Drawn from the group's
  /// and the week's own streams, so any week can be told without walking the weeks before it.
  func weeklyReach(_ group: SiteActivity.Group, at site: Int, week monday: CalendarDate) -> Int {
    let code = stableHash(network.sites[site].code)
    var shape = SplitMix64(
      stream: [stableHash(profile.rawValue), seed, stableHash("reach shape"), code, stableHash(group.population)])
    let slope = shape.uniform(-0.004...0.004)
    let season = shape.uniform(0...0.15)
    let phase = shape.uniform(0...(2 * Double.pi))
    let weeks = Double((monday.daysSinceEpoch - firstDay.daysSinceEpoch).quotientAndRemainder(dividingBy: 7).quotient)
    var noise = stream("reach", monday, [code, stableHash(group.population)])
    let factor =
      max(0.2, 1 + slope * weeks) * (1 + season * sin(2 * Double.pi * weeks / 52 + phase)) * noise.uniform(0.75...1.25)
    return max(0, Int((Double(group.reachedPerWeek) * factor).rounded()))
  }

  /// On Sunday each DICE and satellite reports its week: people reached and newly enrolled per population (now and
  /// then a report is never filed), and now and then what its peers say they need. Saved through the outreach
  /// imports' checks, as a file of the same rows would be.
  private func reportOutreach(at sites: [Int], _ connection: Connection) throws {
    let monday = day.adding(days: -6)
    // Written as kpstock writes weeks everywhere (iso_week_label).
    let week: String = try connection.query("SELECT iso_week_label(\(monday)) AS week")[0].decode("week")
    var reach: [[String: String]] = []
    var need: [[String: String]] = []
    for site in sites
    where ["dice", "satellite"].contains(network.sites[site].kind) && network.isOpen(site, on: day) {
      let code = network.sites[site].code
      for group in activities[site].groups {
        var random = stream("outreach report", monday, [stableHash(code), stableHash(group.population)])
        let reached = weeklyReach(group, at: site, week: monday)
        if !random.chance(Self.missingReportChance) {
          let enrolled = Int((Double(reached) * random.uniform(0.02...0.08)).rounded())
          reach.append(
            ["site": code, "week": week, "population": group.population, "reached": "\(reached)", "new": "\(enrolled)"])
        }
        guard random.chance(Self.peerNeedChance) else { continue }
        for rate in rates(for: group.population, at: site) {
          let quantity = Int((Double(reached) * rate.perWeek * random.uniform(0.8...1.25)).rounded())
          need.append(
            [
              "site": code, "week": week, "population": group.population,
              "commodity": network.commodities[rate.commodity].code, "qty": "\(quantity)",
            ])
        }
      }
    }
    if !reach.isEmpty { try OutreachImport.save(connection, kind: .reach, rows: reach) }
    if !need.isEmpty { try OutreachImport.save(connection, kind: .peerNeed, rows: need) }
  }

  /// Now and then a little stock is lost or found damaged.
  private mutating func recordLoss(at site: Int, _ connection: Connection) throws {
    var random = stream("loss", day, [stableHash(network.sites[site].code)])
    guard random.chance(Self.lossChance) else { return }
    let stocked = network.commodities.indices.filter { stock.usable(site, $0, on: day) >= 20 }
    guard !stocked.isEmpty else { return }
    let commodity = stocked[random.int(in: 0...(stocked.count - 1))]
    let usable = stock.usable(site, commodity, on: day)
    let quantity = max(1, Int64(Double(usable) * random.uniform(0.005...0.03)))
    try queue(
      Adjustment(
        site: network.sites[site].code, commodity: network.commodities[commodity].code, quantity: -quantity,
        reason: random.chance(0.5) ? "lost" : "damaged", date: day),
      at: site, changes: stock.taking(quantity, site, commodity, on: day), connection)
  }

  // MARK: - Supply shocks and lots

  /// A national pipeline break: in some weeks no deliveries of a commodity reach any county store.
  private func supplyBreak(_ commodity: Int, week monday: CalendarDate) -> Bool {
    (0..<Self.supplyBreakWeeks.upperBound).contains { weeksAgo in
      var random = stream("break", monday.adding(days: -7 * weeksAgo), [UInt64(commodity)])
      return random.chance(Self.supplyBreakChance) && random.int(in: Self.supplyBreakWeeks) > weeksAgo
    }
  }

  /// Every history starts with one short-dated lot, so that expiry and write-offs always appear in it.
  private func openingShortDatedCommodity() -> Int? {
    let candidates = network.commodities.indices.filter { commodity in
      network.commodities[commodity].lotTracked
        && network.sites.indices.contains { network.isRoot($0, commodity) && chainNeed[$0][commodity] > 0 }
    }
    guard !candidates.isEmpty else { return nil }
    var random = SplitMix64(stream: [stableHash(profile.rawValue), seed, stableHash("opening short-dated")])
    return candidates[random.int(in: 0...(candidates.count - 1))]
  }

  /// Regular supply comes from national consignments: every store receiving in the same eight weeks gets the
  /// same lot, named by commodity and the period's first day, with an expiry drawn from the same stream (so it
  /// always agrees) six months to two years ahead: MC260305-7F3A. A short-dated lot is its own consignment, named
  /// by its day: MC260311S-1B0C. Few lots per site also keep the ledger's per-lot work small.
  private func lot(_ commodity: Int, receivedOn day: CalendarDate, shortDated: Bool) -> (
    code: String, expiresOn: CalendarDate
  )? {
    let info = network.commodities[commodity]
    guard info.lotTracked else { return nil }
    let period = Self.lotPeriodDays
    let named = shortDated ? day : CalendarDate(daysSinceEpoch: day.daysSinceEpoch / period * period)
    var random = stream("lot", named, [UInt64(commodity), shortDated ? 1 : 0])
    let weeks = shortDated ? random.int(in: 3...6) : random.int(in: (26 + period / 7)...104)
    let expiry = named.adding(days: weeks * 7 + random.int(in: 0...6))
    let date = named.description.replacingOccurrences(of: "-", with: "").dropFirst(2)
    let suffix = String(random.next() >> 48, radix: 16, uppercase: true)
    let code =
      "\(info.lotPrefix)\(date)\(shortDated ? "S" : "")-\(String(repeating: "0", count: 4 - suffix.count))\(suffix)"
    return (code, expiry)
  }

  /// Whole packs, as stores receive and send them: a remainder above the pack's rounding threshold adds a pack.
  private func packs(_ units: Double, _ commodity: Int) -> Int64 {
    guard units > 0 else { return 0 }
    let pack = Int64(max(1, network.commodities[commodity].packSize))
    let whole = Int64(units.rounded(.up))
    let remainder = whole % pack
    let count = whole / pack + (remainder > Int64(network.commodities[commodity].packRoundingThreshold) ? 1 : 0)
    return max(1, count) * pack
  }

  // MARK: - Posting

  /// A queued request's effect on `stock`, made when it was queued.
  private struct Queued {
    var changes: [StockModel.Change]
    /// For a dispatch, its shipment's stand-in transfer number.
    var provisionalTransfer: Int64?
  }

  /// Adds a request to the batch under this simulation's key for the site, day and sequence, and applies the
  /// changes it will make, so later decisions see it.
  private mutating func queue(
    _ request: some LedgerRequest, at site: Int, changes: [StockModel.Change], provisionalTransfer: Int64? = nil,
    _ connection: Connection
  ) throws {
    sequence[site] += 1
    batch.append(Ledger.KeyedRequest(request, key: "\(keyPrefix)\(day)/\(network.sites[site].code)/\(sequence[site])"))
    queued.append(Queued(changes: changes, provisionalTransfer: provisionalTransfer))
    stock.apply(changes)
    if postsOneByOne { try flush(connection) }
  }

  /// Posts the batch and puts what the ledger recorded in place of what was expected: the same changes unless
  /// the ledger and the simulator disagree (a bug, or a writer the simulator does not know about), and for a
  /// dispatch the transfer's number. A key that was already used (an earlier or concurrent run of the same
  /// simulation) posts nothing and returns what it recorded.
  private mutating func flush(_ connection: Connection) throws {
    guard !batch.isEmpty else { return }
    let postings =
      postsOneByOne
      ? [try Ledger.post(connection, batch[0].request, key: batch[0].key)]
      : try Ledger.post(connection, batch: batch)
    requests += batch.count
    batches += 1
    for (posting, queued) in zip(postings, queued) {
      if posting.replayed {
        alreadyRecorded += posting.events.count
      } else {
        written += posting.events.count
      }
      let recorded = StockModel.changes(posting.events, network: network)
      if recorded != queued.changes {
        assertionFailure("expected \(queued.changes), the ledger recorded \(recorded)")
        stock.apply(queued.changes.map(\.undone))
        stock.apply(recorded)
      }
      if let provisional = queued.provisionalTransfer {
        stock.confirm(
          provisional, transfer: posting.events.first?.transferID,
          lots: posting.events.map { (code: $0.lotCode ?? "", expiresOn: $0.expiresOn, quantity: -$0.quantity) })
      }
    }
    batch = []
    queued = []
  }

  /// The random stream for one purpose on one day, named further by `parts`.
  private func stream(_ purpose: String, _ day: CalendarDate, _ parts: [UInt64]) -> SplitMix64 {
    SplitMix64(
      stream: [stableHash(profile.rawValue), seed, stableHash(purpose), UInt64(bitPattern: Int64(day.daysSinceEpoch))]
        + parts)
  }
}

extension CalendarDate {
  /// 1 for Monday … 7 for Sunday (1970-01-01 was a Thursday).
  var isoWeekday: Int { ((daysSinceEpoch + 3) % 7 + 7) % 7 + 1 }
}
