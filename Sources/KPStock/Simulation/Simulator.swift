import Postgres

/// What a simulation left in the ledger.
public struct SimulationReport: Sendable, Equatable {
  public var profile: SimulationProfile
  public var seed: UInt64
  public var firstDay: CalendarDate
  public var lastDay: CalendarDate
  public var weeks: Int
  public var sites: Int
  /// Days this run simulated; the others were recorded by an earlier run of the same profile and seed.
  public var daysSimulated: Int
  public var eventsWritten: Int
  public var eventsAlreadyRecorded: Int
  /// Requests posted, and the batches they went in: a batch is one call to the ledger.
  public var requestsPosted: Int
  public var batchesPosted: Int
  /// Site-days at dispensing sites that closed with some commodity out of stock: the days the forecast
  /// counts as stocked out.
  public var stockOutSiteDays: Int
  /// The first day of the earlier run this one carried on, when it kept that run's start rather than the
  /// one `weeks` asked for.
  public var continuedFrom: CalendarDate?
}

/// Where a running simulation has got to, reported after each week is committed.
public struct SimulationProgress: Sendable {
  public var week: Int
  public var weeks: Int
  public var lastDay: CalendarDate
  public var eventsWritten: Int
}

/// Writes a plausible synthetic stock history through `Ledger.post`, the path real entries take, so every
/// ledger rule holds in it (stock never negative, first-expiry-first-out, expiry, history).
///
/// Each day is posted "on its day": the session's `kpstock.today` is set to it, so the back-dating window
/// never applies. Keys are `sim/<profile>/<seed>/<day>/<site>/<n>`. A day of one supply chain (the whole
/// Kwale network; one county of the national one) is posted in a few batches (`Ledger.post(_:batch:)`), and a
/// week of it is one transaction: every posting holds a transaction-level advisory lock until commit, and a
/// national week's hundred thousand of them would overflow PostgreSQL's lock table. A simulation is anchored at
/// its first day: a second run of the same profile and seed reads the first run's stock back from the ledger
/// and carries on from the day after its last, so running it again the same day adds nothing and a week later
/// adds that week, and the history stays what one long run would have written.
public enum Simulator {
  public static func run(
    _ store: Store, profile: SimulationProfile, weeks: Int? = nil, seed: UInt64 = 1, through: CalendarDate? = nil,
    progress: ((SimulationProgress) -> Void)? = nil
  ) throws -> SimulationReport {
    try store.run { try run($0, profile: profile, weeks: weeks, seed: seed, through: through, progress: progress) }
  }

  static func run(
    _ connection: Connection, profile: SimulationProfile, weeks: Int? = nil, seed: UInt64 = 1,
    through: CalendarDate? = nil, progress: ((SimulationProgress) -> Void)? = nil
  ) throws -> SimulationReport {
    let weeks = weeks ?? profile.defaultWeeks
    guard (1...520).contains(weeks) else {
      throw FieldError(field: "weeks", problem: "must be between 1 and 520, not \(weeks)")
    }
    return try run(connection, profile: profile, days: weeks * 7, seed: seed, through: through, progress: progress)
  }

  /// `days` rather than weeks, so tests can run a large profile briefly; `oneByOne` posts each request on its
  /// own, so tests can compare the batched history with it.
  static func run(
    _ connection: Connection, profile: SimulationProfile, days: Int, seed: UInt64, through: CalendarDate?,
    oneByOne: Bool = false, progress: ((SimulationProgress) -> Void)?
  ) throws -> SimulationReport {
    let callersDay: String? = try connection.query("SELECT current_setting('kpstock.today', true) AS day")[0]
      .decode("day")
    defer {
      if let callersDay, !callersDay.isEmpty {
        _ = try? connection.query("SELECT set_config('kpstock.today', \(callersDay), false)")
      } else {
        _ = try? connection.execute("RESET kpstock.today")
      }
    }
    let lastDay = try through ?? ProgrammeCalendar.today(connection)
    let codes = try connection.transaction { try profile.prepareNetwork($0) }
    let network = try SimulationNetwork.load(connection, codes: codes)
    let keyPrefix = SimulationRun.keyPrefix(profile: profile, seed: seed)
    let earlier = try EarlierRuns.read(connection, network: network, keyPrefix: keyPrefix, through: lastDay)
    let firstDay = earlier.firstDay ?? lastDay.adding(days: 1 - days)

    let populations = Set(try connection.query("SELECT code FROM populations").map { try $0.decode(at: 0) as String })
    let activities = network.sites.map {
      SiteActivity.make(site: $0, populations: populations, profile: profile, seed: seed)
    }
    var run = SimulationRun(
      network: network, activities: activities, profile: profile, seed: seed, firstDay: firstDay,
      stock: StockModel(sites: network.sites.count, commodities: network.commodities.count))
    if earlier.firstDay != nil {
      run.stock = try StockModel.load(
        connection, network: network, keyPrefix: keyPrefix, arrival: run.arrival(from:to:commodity:dispatchedOn:))
    }
    run.alreadyRecorded = earlier.events
    run.postsOneByOne = oneByOne

    // Each chain carries on from the day after the last it recorded: a run that stopped part-way through a
    // week may have committed some chains' week and not others'.
    var nextDays = network.chains.map { chain in
      chain.compactMap { earlier.lastDays[$0] }.max().map { max($0.adding(days: 1), firstDay) } ?? firstDay
    }
    let totalDays = max(0, lastDay.daysSinceEpoch - firstDay.daysSinceEpoch + 1)
    let weeks = (totalDays + 6) / 7
    let resumeDay = nextDays.min() ?? firstDay
    let daysSimulated = max(0, lastDay.daysSinceEpoch - resumeDay.daysSinceEpoch + 1)
    let firstWeek = max(0, (resumeDay.daysSinceEpoch - firstDay.daysSinceEpoch) / 7)
    var growth = try LedgerGrowth(connection)
    for week in firstWeek..<max(firstWeek, weeks) {
      let weekEnd = min(firstDay.adding(days: week * 7 + 6), lastDay)
      for chain in network.chains.indices where nextDays[chain] <= weekEnd {
        let writtenBefore = run.written
        run = try connection.transaction { connection in
          var next = run
          var day = nextDays[chain]
          while day <= weekEnd {
            try connection.query("SELECT set_config('kpstock.today', \(day.description), false)")
            try next.simulate(day, chain: chain, connection)
            day = day.adding(days: 1)
          }
          return next
        }
        nextDays[chain] = weekEnd.adding(days: 1)
        try growth.wrote(run.written - writtenBefore, connection)
      }
      progress?(SimulationProgress(week: week + 1, weeks: weeks, lastDay: weekEnd, eventsWritten: run.written))
    }

    return SimulationReport(
      profile: profile, seed: seed, firstDay: firstDay, lastDay: lastDay, weeks: weeks, sites: network.sites.count,
      daysSimulated: daysSimulated, eventsWritten: run.written, eventsAlreadyRecorded: run.alreadyRecorded,
      requestsPosted: run.requests, batchesPosted: run.batches,
      stockOutSiteDays: try stockOutSiteDays(connection, network: network, from: firstDay, through: lastDay),
      continuedFrom: earlier.firstDay.flatMap { $0 == lastDay.adding(days: 1 - days) ? nil : $0 })
  }

  /// What earlier runs of one simulation (one key prefix) recorded.
  struct EarlierRuns {
    var firstDay: CalendarDate?
    /// [site]: the last day the simulation recorded an event there.
    var lastDays: [CalendarDate?]
    /// Events up to `through`.
    var events: Int

    static func read(
      _ connection: Connection, network: SimulationNetwork, keyPrefix: String, through: CalendarDate
    ) throws -> EarlierRuns {
      var runs = EarlierRuns(lastDays: Array(repeating: nil, count: network.sites.count), events: 0)
      for row in try connection.query(
        """
        SELECT site_code, min(occurred_on) AS first_day, max(occurred_on) AS last_day,
          count(*) FILTER (WHERE occurred_on <= \(through)) AS events
        FROM stock_events WHERE idempotency_key LIKE \(keyPrefix + "%") GROUP BY site_code
        """)
      {
        let first: CalendarDate = try row.decode("first_day")
        runs.firstDay = min(runs.firstDay ?? first, first)
        runs.events += Int(try row.decode("events", as: Int64.self))
        if let site = network.siteIndex[try row.decode("site_code")] {
          runs.lastDays[site] = try row.decode("last_day")
        }
      }
      return runs
    }
  }

  /// Counted from the ledger's daily history, as the forecast counts them.
  static func stockOutSiteDays(
    _ connection: Connection, network: SimulationNetwork, from: CalendarDate, through: CalendarDate
  ) throws -> Int {
    guard from <= through else { return 0 }
    let dispensing = network.sites.filter { $0.kind != "store" }.map(\.code)
    let count: Int64 = try connection.query(
      """
      SELECT count(*) AS n FROM (
        SELECT DISTINCT site_code, day FROM stock_daily_history(\(from), \(through))
        WHERE closing_on_hand <= 0 AND site_code = ANY(\(PostgresArray(dispensing)))
      ) out_of_stock
      """)[0].decode("n")
    return Int(count)
  }
}
