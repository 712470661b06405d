import Foundation
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
/// week of it is one transaction, so an interrupted run keeps every chain-week it finished. A simulation is anchored at
/// its first day: a second run of the same profile and seed reads the first run's stock back from the ledger
/// and carries on from the day after its last, so running it again the same day adds nothing and a week later
/// adds that week, and the history stays what one long run would have written.
public enum Simulator {
  public static func run(
    _ store: Store, profile: SimulationProfile, weeks: Int? = nil, seed: UInt64 = 1, through: CalendarDate? = nil,
    progress: ((SimulationProgress) -> Void)? = nil
  ) throws -> SimulationReport {
    try store.run {
      try run(
        $0, profile: profile, weeks: weeks, seed: seed, through: through, openSibling: store.sibling,
        progress: progress)
    }
  }

  static func run(
    _ connection: Connection, profile: SimulationProfile, weeks: Int? = nil, seed: UInt64 = 1,
    through: CalendarDate? = nil, openSibling: (() throws -> Connection)? = nil,
    progress: ((SimulationProgress) -> Void)? = nil
  ) throws -> SimulationReport {
    let weeks = weeks ?? profile.defaultWeeks
    guard (1...520).contains(weeks) else {
      throw FieldError(field: "weeks", problem: "must be between 1 and 520, not \(weeks)")
    }
    return try run(
      connection, profile: profile, days: weeks * 7, seed: seed, through: through, openSibling: openSibling,
      progress: progress)
  }

  /// `days` rather than weeks, so tests can run a large profile briefly; `oneByOne` posts each request on its
  /// own, so tests can compare the batched history with it.
  ///
  /// `workers`: how many connections write at once (default: one per processor, at most eight, so a large server's
  /// connection limit is not spent on one simulation, and at most one per supply chain);
  /// `openSibling` opens each further one (the store's, so an interrupt reaches it; by default a plain copy of
  /// `connection`'s).
  static func run(
    _ connection: Connection, profile: SimulationProfile, days: Int, seed: UInt64, through: CalendarDate?,
    oneByOne: Bool = false, workers: Int? = nil, openSibling: (() throws -> Connection)? = nil,
    progress: ((SimulationProgress) -> Void)?
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
    let nextDays = network.chains.map { chain in
      chain.compactMap { earlier.lastDays[$0] }.max().map { max($0.adding(days: 1), firstDay) } ?? firstDay
    }
    let totalDays = max(0, lastDay.daysSinceEpoch - firstDay.daysSinceEpoch + 1)
    let weeks = (totalDays + 6) / 7
    let resumeDay = nextDays.min() ?? firstDay
    let daysSimulated = max(0, lastDay.daysSinceEpoch - resumeDay.daysSinceEpoch + 1)
    let firstWeek = max(0, (resumeDay.daysSinceEpoch - firstDay.daysSinceEpoch) / 7)
    // Supply chains share no stock, so they are simulated side by side, each worker on its own connection with its
    // own copy of the run (which only its chains change). What each chain writes does not depend on which worker
    // wrote it or when; only event and transfer numbers interleave differently.
    let growth = try LedgerGrowth(connection)
    let workerCount = max(1, min(workers ?? min(ProcessInfo.processInfo.activeProcessorCount, 8), network.chains.count))
    run.alreadyRecorded = 0
    let simulationWorkers = try (0..<workerCount).map { index in
      SimulationWorker(
        run: run, connection: index == 0 ? connection : try openSibling?() ?? siblingConnection(of: connection))
    }
    let chainsOfWorker = Self.share(network.chains, among: workerCount)
    // Each worker walks its own chains week by week without waiting for the others at the end of a week: nothing
    // it does needs their week. A failure stops the others at their next chain-week.
    let tracker = WeekTracker(
      workers: workerCount, firstWeek: firstWeek, weeks: weeks, firstDay: firstDay, lastDay: lastDay,
      progress: progress)
    // A thread each, not concurrentPerform, which runs no more iterations at once than there are processors: a
    // worker beyond them would start only when another had finished its whole run.
    Self.onThreads(workerCount) { index in
      let worker = simulationWorkers[index]
      var starts = nextDays
      for week in firstWeek..<max(firstWeek, weeks) {
        let weekEnd = min(firstDay.adding(days: week * 7 + 6), lastDay)
        do {
          for chain in chainsOfWorker[index] where starts[chain] <= weekEnd {
            guard !tracker.stopped else { return }
            try worker.simulate(chain: chain, from: starts[chain], through: weekEnd, growth: growth)
            starts[chain] = weekEnd.adding(days: 1)
          }
        } catch {
          worker.failure = error
          tracker.stop()
          return
        }
        tracker.finished(week: week, worker: index, eventsWritten: worker.run.written)
      }
    }
    if let failure = simulationWorkers.lazy.compactMap(\.failure).first { throw failure }
    for worker in simulationWorkers.dropFirst() { worker.connection = nil }
    let runs = simulationWorkers.map(\.run)

    return SimulationReport(
      profile: profile, seed: seed, firstDay: firstDay, lastDay: lastDay, weeks: weeks, sites: network.sites.count,
      daysSimulated: daysSimulated, eventsWritten: runs.reduce(0) { $0 + $1.written },
      eventsAlreadyRecorded: earlier.events + runs.reduce(0) { $0 + $1.alreadyRecorded },
      requestsPosted: runs.reduce(0) { $0 + $1.requests }, batchesPosted: runs.reduce(0) { $0 + $1.batches },
      stockOutSiteDays: try stockOutSiteDays(connection, network: network, from: firstDay, through: lastDay),
      continuedFrom: earlier.firstDay.flatMap { $0 == lastDay.adding(days: 1 - days) ? nil : $0 })
  }

  /// Runs `body` for 0..<count, each on a thread of its own, and returns when all have.
  private static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
      group.enter()
      Thread {
        body(index)
        group.leave()
      }.start()
    }
    group.wait()
  }

  /// Which chains each worker simulates: the largest first, each to the worker with the fewest sites so far, so the
  /// workers have about as much to do.
  static func share(_ chains: [[Int]], among workers: Int) -> [[Int]] {
    var chainsOfWorker = Array(repeating: [Int](), count: workers)
    var sitesOfWorker = Array(repeating: 0, count: workers)
    for chain in chains.indices.sorted(by: { (chains[$0].count, $1) > (chains[$1].count, $0) }) {
      let worker = sitesOfWorker.indices.min { (sitesOfWorker[$0], $0) < (sitesOfWorker[$1], $1) } ?? 0
      chainsOfWorker[worker].append(chain)
      sitesOfWorker[worker] += chains[chain].count
    }
    return chainsOfWorker
  }

  /// A connection like `connection`, in the same time zone.
  private static func siblingConnection(of connection: Connection) throws -> Connection {
    let sibling = try Connection(connectingTo: connection.conninfo)
    try Store.useProgrammeTimeZone(sibling)
    return sibling
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

/// Where each worker of a simulation has got to: a week is reported once every worker has finished it, with the
/// events written so far (by then some workers may be further on). Reports are made under the lock, one at a time,
/// on whichever worker's thread finished the week last.
private final class WeekTracker: @unchecked Sendable {
  private let lock = NSLock()
  private var weeksDone: [Int]
  private var written: [Int]
  private var reported: Int
  private var isStopped = false
  private let weeks: Int
  private let firstDay: CalendarDate
  private let lastDay: CalendarDate
  private let progress: ((SimulationProgress) -> Void)?

  init(
    workers: Int, firstWeek: Int, weeks: Int, firstDay: CalendarDate, lastDay: CalendarDate,
    progress: ((SimulationProgress) -> Void)?
  ) {
    weeksDone = Array(repeating: firstWeek, count: workers)
    written = Array(repeating: 0, count: workers)
    reported = firstWeek
    self.weeks = weeks
    self.firstDay = firstDay
    self.lastDay = lastDay
    self.progress = progress
  }

  var stopped: Bool { lock.withLock { isStopped } }

  func stop() { lock.withLock { isStopped = true } }

  func finished(week: Int, worker: Int, eventsWritten: Int) {
    lock.withLock {
      weeksDone[worker] = week + 1
      written[worker] = eventsWritten
      guard !isStopped, let done = weeksDone.min(), done > reported else { return }
      reported = done
      progress?(
        SimulationProgress(
          week: done, weeks: weeks, lastDay: min(firstDay.adding(days: done * 7 - 1), lastDay),
          eventsWritten: written.reduce(0, +)))
    }
  }
}

/// One worker of a simulation: a connection and its copy of the run. Only one thread uses a worker at a time (the
/// worker has a thread of its own for the run), which is what makes the unchecked `Sendable` sound.
private final class SimulationWorker: @unchecked Sendable {
  var run: SimulationRun
  var connection: Connection?
  var failure: (any Error)?

  init(run: SimulationRun, connection: Connection) {
    self.run = run
    self.connection = connection
  }

  /// Simulates `from`…`through` of one chain in one transaction: a week of a chain is committed whole or not at all.
  func simulate(chain: Int, from: CalendarDate, through: CalendarDate, growth: LedgerGrowth) throws {
    guard let connection else { return }
    let writtenBefore = run.written
    let start = run
    run = try connection.transaction { connection in
      var next = start
      var day = from
      while day <= through {
        try connection.query("SELECT set_config('kpstock.today', \(day.description), false)")
        try next.simulate(day, chain: chain, connection)
        day = day.adding(days: 1)
      }
      return next
    }
    try growth.wrote(run.written - writtenBefore, connection)
  }
}
