// The stock ledger's speed, as ratios against baselines measured in the same run on the same server:
//   1. import of a dispensing register vs. a plain COPY of the same file into an unindexed table, with five floors
//      (from the events copied into a bare table up to everything the rules ask, set-wise in one statement);
//   2. single dispense commit latency (p50/p99), this process's CPU a post, and the server's time a dispense in one
//      backend against a dispense's writes as plain SQL (the steadiest figure this machine gives);
//   3. 16-client dispense throughput vs. pgbench running a guarded UPDATE + INSERT, in alternating rounds
//      (the machine drifts by ±20 % within minutes; the median of per-round ratios does not), beside pgbench
//      sending Ledger.post's statement, a dispense's writes as plain SQL (sent by pgbench and by this process's
//      threads) and the rules floor (one owner-run function doing only what the rules ask of a dispense);
//   4. the national synthetic history (1,000 sites) written through ledger_book, county-day batches: the time
//      per simulated week against the ≤ 15 minutes the 104-week history may take.
// Run: swift run -c release LedgerBenchmark [--rows 1000000] [--seconds 6] [--rounds 3] [--clients 16]
//      [--national-weeks 4] (104 writes the whole history)
// Results and the command are recorded in docs/benchmarks.md.

import BenchmarkSupport
import EmbeddedCluster
import Foundation
import KPStock
import Postgres

struct Settings {
  var rows = 1_000_000
  var seconds = 6.0
  var rounds = 3
  var clients = 16
  var latencySamples = 2_000
  var nationalWeeks = 4

  init(arguments: [String]) throws {
    var rest = arguments[...]
    while let flag = rest.popFirst() {
      guard let value = rest.popFirst() else { throw BenchmarkError("\(flag) needs a value") }
      switch flag {
      case "--rows": rows = try Self.number(flag, value)
      case "--seconds": seconds = Double(try Self.number(flag, value))
      case "--rounds": rounds = try Self.number(flag, value)
      case "--clients": clients = try Self.number(flag, value)
      case "--samples": latencySamples = try Self.number(flag, value)
      case "--national-weeks": nationalWeeks = try Self.number(flag, value)
      default:
        throw BenchmarkError(
          "unknown option \(flag) (--rows, --seconds, --rounds, --clients, --samples, --national-weeks)")
      }
    }
  }

  static func number(_ flag: String, _ text: String) throws -> Int {
    guard let value = Int(text), value > 0 else { throw BenchmarkError("\(flag): '\(text)' is not a positive number") }
    return value
  }
}

func peakResidentMegabytes() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Double(usage.ru_maxrss) / 1024
}

/// CPU seconds this process has used (user and system), to tell its share of a round trip from the server's.
func processorSeconds() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
  return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

let commodities = ["MALE-CONDOM", "FEMALE-CONDOM", "LUBRICANT", "NS-SET"]
let populations = ["FSW", "MSM", "PWID", "TG"]

/// One site per client, each with a huge stock of every commodity, received before the register's first day.
func prepare(_ store: Store, sites: Int, today: CalendarDate) throws -> [String] {
  let codes = (1...sites).map { String(format: "BENCH-%02d", $0) }
  for code in codes {
    try store.connection.execute(
      "INSERT INTO sites (code, name, kind, county_code) VALUES (\(code), \(code), 'dice', '002')")
    for (index, commodity) in commodities.enumerated() {
      try Ledger.post(
        store,
        Receipt(
          site: code, commodity: commodity, lot: "B\(index)", expiry: today.adding(days: 700),
          quantity: 900_000_000, date: today.adding(days: -55)))
    }
  }
  return codes
}

/// A register of `rows` dispensing lines spread over the sites, commodities and the last 50 days.
func writeRegister(rows: Int, sites: [String], today: CalendarDate, to path: String) throws {
  guard FileManager.default.createFile(atPath: path, contents: nil) else {
    throw BenchmarkError("cannot write \(path)")
  }
  let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
  defer { try? file.close() }
  var buffer = "site,commodity,qty,date,population,channel,worker,client\n"
  var state: UInt64 = 42
  func next(_ bound: Int) -> Int {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Int((state >> 33) % UInt64(bound))
  }
  for _ in 0..<rows {
    let site = sites[next(sites.count)]
    let outreach = next(3) == 0
    let client = !outreach && next(4) == 0 ? "KWL-\(100_000 + next(900_000))-X" : ""
    buffer += "\(site),\(commodities[next(commodities.count)]),\(1 + next(20)),"
    buffer += "\(today.adding(days: -next(50))),\(populations[next(populations.count)]),"
    buffer += outreach ? "outreach,PE-\(next(40) + 1),\n" : "clinic,,\(client)\n"
    if buffer.utf8.count > 1 << 20 {
      file.write(Data(buffer.utf8))
      buffer = ""
    }
  }
  file.write(Data(buffer.utf8))
}

func copyBaseline(_ connection: Connection, path: String) throws -> Double {
  try connection.execute(
    """
    CREATE TABLE baseline_copy (site text, commodity text, qty text, date text, population text, channel text,
      worker text, client text)
    """)
  let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
  defer { try? file.close() }
  let (_, seconds) = try timed {
    try connection.copyFrom("COPY baseline_copy FROM STDIN (FORMAT csv, HEADER true)") { writer in
      while let chunk = try file.read(upToCount: 1 << 20), !chunk.isEmpty { try writer.write(chunk) }
    }
  }
  return seconds
}

func dispensing(_ site: String) -> Dispensing {
  Dispensing(site: site, commodity: "MALE-CONDOM", quantity: 1, population: "FSW", channel: .clinic)
}

func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
  sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
}

/// Commits counted by the client threads.
final class Tally: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  private var error: (any Error)?

  func add(_ commits: Int) { lock.withLock { count += commits } }
  func fail(_ error: any Error) { lock.withLock { self.error = error } }
  var total: Int { lock.withLock { count } }
  var failure: (any Error)? { lock.withLock { error } }
}

/// Posts for `seconds` on one thread per site, each thread with a client of its own that `open` makes and that
/// returns one post; returns commits per second and this process's CPU per commit (all threads).
func postingOnThreads(
  sites: [String], seconds: Double, open: @escaping @Sendable (String) throws -> () throws -> Void
) throws -> (rate: Double, cpuPerPost: Double) {
  let group = DispatchGroup()
  let tally = Tally()
  let processorBefore = processorSeconds()
  let start = DispatchTime.now().uptimeNanoseconds
  let end = start + UInt64(seconds * 1e9)
  for site in sites {
    group.enter()
    Thread {
      defer { group.leave() }
      do {
        let post = try open(site)
        var count = 0
        while DispatchTime.now().uptimeNanoseconds < end {
          try post()
          count += 1
        }
        tally.add(count)
      } catch {
        tally.fail(error)
      }
    }.start()
  }
  group.wait()
  if let failure = tally.failure { throw failure }
  return (
    Double(tally.total) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9),
    (processorSeconds() - processorBefore) / Double(max(tally.total, 1))
  )
}

/// Each client posts single dispenses at its own site for `seconds`; returns commits per second and this process's
/// CPU per commit (all threads), which shows what sixteen threads cost beside one.
func ledgerThroughput(conninfo: String, sites: [String], seconds: Double) throws -> (rate: Double, cpuPerPost: Double) {
  try postingOnThreads(sites: sites, seconds: seconds) { site in
    let store = try Store.open(conninfo: conninfo)
    return { try Ledger.post(store, dispensing(site)) }
  }
}

/// The floor of a client shaped as kpstock is (a thread and a blocking libpq connection per client, one round trip a
/// dispense): each thread sends a dispense's writes as one plain, prepared statement, its own transaction, with
/// kpstock.booked set once for its session (the guards read it when a statement starts) and without the stock card's
/// lock, which would take a statement of its own: each thread dispenses at a site of its own. pgbench runs its clients
/// two threads to eight connections each, which wakes a thread once for several replies; this measures what one
/// wake-up a reply costs a client that does nothing else.
func writesThroughput(conninfo: String, sites: [String], seconds: Double) throws -> Double {
  try postingOnThreads(sites: sites, seconds: seconds) { site in
    let connection = try Connection(connectingTo: conninfo)
    try connection.execute("SELECT set_config('kpstock.booked', 'on', false)")
    let writes = Query(unsafeSQL: dispenseWritesSQL(site: "'\(site)'"))
    return { _ = try connection.repeatedQuery(writes) }
  }.rate
}

/// The floor of what the ledger's rules ask of an everyday dispense, as cheap as they allow it: one function run as
/// the schema owner with a fixed search_path (every writer of stock is one, docs/security.md), which makes the
/// request's line by the one normalising and digest (ledger_request_line, its absent fields as constants), checks the
/// person may record stock at the site, takes the stock card's lock and the guards' flag, and then, in one statement,
/// checks the site is open and the population known, takes the first usable lot, writes the keyed event, books the
/// balance and the daily rollup, and returns the event. Nothing else: no second function, no other kind of request,
/// no refusal worded (a request it cannot book writes nothing and returns no row) and three columns returned, not
/// ledger_booked's nineteen. Made by the benchmark, owned by kp_owner as the schema's functions are, dropped after.
/// Its statement is ledger_book's fast path copied on purpose, not called: a floor that followed the code it bounds
/// would measure nothing, so a change to the fast path that the rules would let the floor make too belongs here as
/// well.
let rulesFloorFunction = """
  CREATE OR REPLACE FUNCTION bench_rules_floor(p_key text, p_site text, p_commodity text, p_quantity bigint,
    p_population text, p_channel text, p_worker text, p_client text, p_note text)
  RETURNS TABLE (event_id bigint, event_lot text, lot_expires_on date) LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp AS $$
  DECLARE
    v_line ledger_line := ledger_request_line(1, 'dispense', p_key, p_site, p_commodity, NULL, NULL, p_quantity, NULL,
      p_population, p_channel, p_worker, p_client, NULL, p_note, NULL, programme_today());
    v_ignored text;
  BEGIN
    IF NOT (access_unrestricted() OR access_may_record_stock(ARRAY[v_line.site])) THEN
      PERFORM access_refuse(ARRAY[v_line.site], 'stock', 'site');
    END IF;
    v_ignored := pg_advisory_xact_lock(stock_card_key(v_line.site, v_line.commodity));
    v_ignored := set_config('kpstock.booked', 'on', true);
    RETURN QUERY WITH first_usable AS MATERIALIZED (
      SELECT b.lot_code, b.on_hand, b.expires_on
      FROM stock_balances b
      WHERE b.site_code = v_line.site AND b.commodity_code = v_line.commodity AND b.on_hand > 0
        AND (b.expires_on IS NULL OR b.expires_on >= v_line.day)
        AND EXISTS (SELECT 1 FROM sites s, populations p
          WHERE s.code = v_line.site AND coalesce(s.closed_on >= v_line.day, true)
          AND coalesce(s.opened_on <= v_line.day, true) AND p.code = v_line.population)
      ORDER BY b.expires_on NULLS LAST, b.lot_code LIMIT 1
    ), added AS (
      INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, recorded_on, note,
        population_code, channel, worker_code, client_uic, idempotency_key, key_part, fingerprint)
      SELECT v_line.site, v_line.commodity, f.lot_code, 'dispense', v_line.quantity, v_line.day, v_line.day, v_line.note,
        v_line.population, v_line.channel, v_line.worker, v_line.client, v_line.key, 1, v_line.fingerprint
      FROM first_usable f WHERE f.on_hand >= -v_line.quantity
      ON CONFLICT (site_code, idempotency_key, key_part) DO NOTHING
      RETURNING stock_events.id, stock_events.lot_code
    ), taken AS (
      UPDATE stock_balances b SET on_hand = b.on_hand + v_line.quantity
      WHERE b.site_code = v_line.site AND b.commodity_code = v_line.commodity
        AND b.lot_code = (SELECT a.lot_code FROM added a)
    ), daily AS (
      INSERT INTO stock_lot_daily AS d (site_code, commodity_code, lot_code, day, net_change, received, dispensed, sent,
        adjusted)
      SELECT v_line.site, v_line.commodity, a.lot_code, v_line.day, v_line.quantity, 0, -v_line.quantity, 0, 0
      FROM added a
      ON CONFLICT (site_code, commodity_code, lot_code, day) DO UPDATE SET
        net_change = d.net_change + excluded.net_change, dispensed = d.dispensed + excluded.dispensed
    )
    SELECT a.id, a.lot_code, f.expires_on FROM added a, first_usable f;
  END $$;
  """

/// Each thread calls the rules floor (rulesFloorFunction) as kpstock's client posts: a thread and a blocking
/// connection per client, one prepared statement and one round trip a dispense.
func rulesFloorThroughput(conninfo: String, sites: [String], seconds: Double) throws -> Double {
  try postingOnThreads(sites: sites, seconds: seconds) { site in
    let connection = try Connection(connectingTo: conninfo)
    let prefix = "floor-\(UInt64.random(in: 0...UInt64.max))-"
    var posted = 0
    return {
      posted += 1
      _ = try connection.repeatedQuery(
        """
        SELECT * FROM bench_rules_floor(\(prefix + String(posted)), \(site), 'MALE-CONDOM', 1, 'FSW', 'clinic', NULL,
          NULL, NULL)
        """)
    }
  }.rate
}

/// What the floor's table carries: nothing, the idempotency key's unique index alone, or everything stock_events has
/// (its three indexes, the partial ones, the column domains).
enum FloorTable {
  case bare, keyIndex, ledgerTable
}

/// How long the posting step alone takes, at the least: the imported events copied server-side into a copy of
/// the ledger's table. No staging, typing or checking is counted, so with the key's index this is a floor for any
/// import that makes every register row a ledger row with its own key, and with all of stock_events' indexes a floor
/// for one that writes them into this ledger.

func postingFloor(_ connection: Connection, _ table: FloorTable) throws -> Double {
  let like = table == .ledgerTable ? "INCLUDING ALL" : "INCLUDING DEFAULTS"
  try connection.execute(Query(unsafeSQL: "CREATE TABLE floor_events (LIKE stock_events \(like))"))
  defer { _ = try? connection.execute("DROP TABLE floor_events") }
  if table == .keyIndex {
    try connection.execute("ALTER TABLE floor_events ADD UNIQUE (site_code, idempotency_key, key_part)")
  }
  try connection.execute("CHECKPOINT")
  return try timed {
    try connection.execute(
      "INSERT INTO floor_events OVERRIDING SYSTEM VALUE SELECT * FROM stock_events WHERE kind = 'dispense'")
  }.1
}

/// Runs a floor's statement under the settings the import's own functions run with (ledger_import_prepare and
/// ledger_import_post set work_mem and turn JIT off), so floor and import sort and plan alike.
func withImportSettings(_ connection: Connection, _ body: () throws -> Double) throws -> Double {
  try connection.execute("SET work_mem = '128MB'")
  try connection.execute("SET jit = off")
  defer {
    _ = try? connection.execute("RESET work_mem")
    _ = try? connection.execute("RESET jit")
  }
  return try body()
}

/// The least any import can cost that follows the ledger's rules: the register as COPY left it, each row normalised
/// and digested as every request is (ledger_request_line: the digest is what tells a repeat under a key from another
/// entry) and written, keyed by its day and digest, into a copy of stock_events with all its indexes, in date order
/// (in file order it costs a quarter more: each day's keys sit together in the key index). No key claims, rules,
/// allocation or rollups are counted. The import's own COPY is added by the caller.
func typedFloor(_ connection: Connection) throws -> Double {
  try connection.execute("CREATE TABLE floor_events (LIKE stock_events INCLUDING ALL)")
  defer { _ = try? connection.execute("DROP TABLE floor_events") }
  try connection.execute("CHECKPOINT")
  return try withImportSettings(connection) {
    try timed {
      try connection.execute(
        """
        INSERT INTO floor_events (site_code, commodity_code, kind, quantity, occurred_on, recorded_on, population_code,
          channel, worker_code, client_uic, idempotency_key, fingerprint)
        SELECT (x.l).site, (x.l).commodity, 'dispense', (x.l).quantity, (x.l).day, (x.l).day, (x.l).population,
          (x.l).channel, (x.l).worker, (x.l).client,
          'row:' || (x.l).day || ':' || encode((x.l).fingerprint, 'hex') || ':' || x.n, (x.l).fingerprint
        FROM (
          SELECT ledger_request_line(0, 'dispense', NULL, c.site, c.commodity, NULL, NULL, c.qty::bigint, c.date::date,
              c.population, c.channel, c.worker, c.client, NULL, NULL, NULL, current_date) AS l,
            row_number() OVER () AS n
          FROM baseline_copy c OFFSET 0
        ) x
        ORDER BY (x.l).day
        """)
    }.1
  }
}

/// The least an import can cost that does all the ledger's rules ask of it, in the cheapest form they allow: the
/// register COPYed, each row normalised and digested (ledger_request_line), checked against the reference tables
/// (its site open on its day, its commodity and population known) and given its site's first-expiring usable lot by
/// joins, written keyed into a copy of stock_events (a row whose key is there already is passed over, as a repeat is), and
/// booked into copies of the balances and the daily rollup: one statement, each row read once. What it leaves out
/// costs only when a row is unusual (wording a refusal, telling a repeat from another entry, a take spread over
/// lots or checked against later days), which no row of this register is. The import's own COPY is added by the
/// caller.
func rulesFloor(_ connection: Connection) throws -> Double {
  try connection.execute("CREATE TABLE floor_events (LIKE stock_events INCLUDING ALL)")
  try connection.execute("CREATE TABLE floor_lot_daily (LIKE stock_lot_daily INCLUDING ALL)")
  try connection.execute("CREATE TABLE floor_balances (LIKE stock_balances INCLUDING ALL)")
  try connection.execute("INSERT INTO floor_balances SELECT * FROM stock_balances")
  defer { _ = try? connection.execute("DROP TABLE floor_events, floor_lot_daily, floor_balances") }
  try connection.execute("CHECKPOINT")
  return try withImportSettings(connection) {
    try timed {
      try connection.execute(
        """
        WITH first_lots AS (
          SELECT DISTINCT ON (b.site_code, b.commodity_code) b.site_code, b.commodity_code, b.lot_code
          FROM floor_balances b LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
          WHERE b.on_hand > 0 AND (l.expires_on IS NULL OR l.expires_on >= current_date)
          ORDER BY b.site_code, b.commodity_code, l.expires_on NULLS LAST, b.lot_code
        ), typed AS (
          SELECT ledger_request_line(0, 'dispense', NULL, c.site, c.commodity, NULL, NULL, c.qty::bigint, c.date::date,
              c.population, c.channel, c.worker, c.client, NULL, NULL, NULL, current_date) AS l,
            row_number() OVER () AS n
          FROM baseline_copy c OFFSET 0
        ), allowed AS (
          SELECT x.l, x.n, f.lot_code
          FROM typed x
          JOIN sites s ON s.code = (x.l).site AND (x.l).day >= coalesce(s.opened_on, '-infinity')
            AND (x.l).day <= coalesce(s.closed_on, 'infinity')
          JOIN commodities m ON m.code = (x.l).commodity
          JOIN populations p ON p.code = (x.l).population
          JOIN first_lots f ON f.site_code = (x.l).site AND f.commodity_code = (x.l).commodity
        ), added AS (
          INSERT INTO floor_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, recorded_on,
            population_code, channel, worker_code, client_uic, idempotency_key, fingerprint)
          SELECT (a.l).site, (a.l).commodity, a.lot_code, 'dispense', (a.l).quantity, (a.l).day, current_date,
            (a.l).population, (a.l).channel, (a.l).worker, (a.l).client,
            'row:' || (a.l).day || ':' || encode((a.l).fingerprint, 'hex') || ':' || a.n, (a.l).fingerprint
          FROM allowed a
          WHERE NOT EXISTS (SELECT 1 FROM floor_events e WHERE e.site_code = (a.l).site
            AND e.idempotency_key = 'row:' || (a.l).day || ':' || encode((a.l).fingerprint, 'hex') || ':' || a.n
            AND e.key_part = 1)
          ORDER BY (a.l).day
          RETURNING site_code, commodity_code, lot_code, occurred_on, quantity
        ), daily AS (
          INSERT INTO floor_lot_daily AS d (site_code, commodity_code, lot_code, day, net_change, received, dispensed,
            sent, adjusted)
          SELECT site_code, commodity_code, lot_code, occurred_on, sum(quantity), 0, -sum(quantity), 0, 0 FROM added
          GROUP BY 1, 2, 3, 4
          ON CONFLICT (site_code, commodity_code, lot_code, day) DO UPDATE SET
            net_change = d.net_change + excluded.net_change, dispensed = d.dispensed + excluded.dispensed
        )
        UPDATE floor_balances b SET on_hand = b.on_hand + t.quantity
        FROM (SELECT site_code, commodity_code, lot_code, sum(quantity) AS quantity FROM added GROUP BY 1, 2, 3) t
        WHERE b.site_code = t.site_code AND b.commodity_code = t.commodity_code AND b.lot_code = t.lot_code
        """)
    }.1
  }
}

/// The baseline's tables: one balance row per client, and events with a unique key. The events start with as
/// many rows as the ledger holds, so both sides insert into indexes of the same size (a random key into a
/// million-entry index costs more than into an empty one).
func createBaselineTables(_ connection: Connection, clients: Int) throws {
  try connection.execute(
    "CREATE TABLE bench_balance (id integer PRIMARY KEY, on_hand bigint NOT NULL CHECK (on_hand >= 0))")
  try connection.execute(
    "INSERT INTO bench_balance SELECT g, 900000000 FROM generate_series(1, \(clients)) g")
  try connection.execute(
    """
    CREATE TABLE bench_event (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, balance_id integer NOT NULL,
      quantity bigint NOT NULL, occurred_on date NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
      key text NOT NULL UNIQUE)
    """)
  try connection.execute(
    """
    INSERT INTO bench_event (balance_id, quantity, occurred_on, key)
    SELECT 1, quantity, occurred_on, md5(id::text) FROM stock_events
    """)
  try connection.execute("VACUUM ANALYZE bench_event")
}

/// pgbench with a guarded update of one balance row per client and an insert of one event with a unique key.
func pgbenchThroughput(binDirectory: String, conninfo: String, clients: Int, seconds: Double) throws -> Double {
  try pgbench(
    binDirectory: binDirectory, conninfo: conninfo, clients: clients, seconds: seconds,
    script: """
      \\set id :client_id + 1
      BEGIN;
      UPDATE bench_balance SET on_hand = on_hand - 1 WHERE id = :id AND on_hand >= 1;
      INSERT INTO bench_event (balance_id, quantity, occurred_on, key) VALUES (:id, -1, CURRENT_DATE, md5(random()::text));
      END;
      """)
}

/// A new key as Ledger.post makes one when none is given: time first (the milliseconds in hex), then random, so a
/// site's keys are inserted at the end of its part of the key index (Ledger.freshKey, a version 7 UUID).
let timeOrderedKeySQL = "to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint) || md5(random()::text)"

/// The statement Ledger.post sends for one dispense of one unit (the everyday entry, ledger_post_request, as the
/// schema owner), at the site `site` (an SQL expression) under a random key.
func ledgerDispenseSQL(site: String) -> String {
  """
  SELECT * FROM ledger_post_request('dispense', \(timeOrderedKeySQL), \(site), 'MALE-CONDOM', NULL, NULL, 1, NULL,
    'FSW', 'clinic', NULL, NULL, NULL, NULL, NULL)
  """
}

/// What a dispense of one unit must write, as one plain statement: pick the first usable lot (by the expiry its
/// balance carries), write the keyed event, book the balance and the lot's daily rollup — ledger_book's fast path
/// without a function, a JSON request, a digest, a check or a reply.
/// Run with kpstock.booked on and the stock card's lock held (dispenseLockSQL), taken by an earlier statement as
/// ledger_book takes it, so that this statement reads what the writer before left and locks no balance itself.
func dispenseWritesSQL(site: String) -> String {
  """
  WITH first_usable AS MATERIALIZED (
    SELECT b.lot_code, b.on_hand FROM stock_balances b
    WHERE b.site_code = \(site) AND b.commodity_code = 'MALE-CONDOM' AND b.on_hand > 0
      AND (b.expires_on IS NULL OR b.expires_on >= CURRENT_DATE)
    ORDER BY b.expires_on NULLS LAST, b.lot_code LIMIT 1
  ), added AS (
    INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, recorded_on,
      population_code, channel, idempotency_key, key_part, fingerprint)
    SELECT \(site), 'MALE-CONDOM', f.lot_code, 'dispense', -1, CURRENT_DATE, CURRENT_DATE, 'FSW', 'clinic',
      \(timeOrderedKeySQL), 1, '\\x00000000000000000000000000000000'::bytea
    FROM first_usable f WHERE f.on_hand >= 1
    RETURNING id, lot_code
  ), taken AS (
    UPDATE stock_balances b SET on_hand = b.on_hand - 1
    WHERE b.site_code = \(site) AND b.commodity_code = 'MALE-CONDOM' AND b.lot_code = (SELECT a.lot_code FROM added a)
  )
  INSERT INTO stock_lot_daily AS d (site_code, commodity_code, lot_code, day, net_change, received, dispensed, sent,
    adjusted)
  SELECT \(site), 'MALE-CONDOM', a.lot_code, CURRENT_DATE, -1, 0, 1, 0, 0 FROM added a
  ON CONFLICT (site_code, commodity_code, lot_code, day) DO UPDATE SET
    net_change = d.net_change + excluded.net_change, dispensed = d.dispensed + excluded.dispensed
  """
}

/// The statement before a dispense's writes (dispenseWritesSQL): kpstock.booked on, and the stock card's lock.
func dispenseLockSQL(site: String) -> String {
  "SELECT set_config('kpstock.booked', 'on', true), pg_advisory_xact_lock(stock_card_key(\(site), 'MALE-CONDOM'))"
}

/// pgbench posting the same dispense with the statement Ledger.post sends: the server's share, without this process
/// as client.
func pgbenchLedgerThroughput(binDirectory: String, conninfo: String, clients: Int, seconds: Double) throws -> Double {
  try pgbench(
    binDirectory: binDirectory, conninfo: conninfo, clients: clients, seconds: seconds,
    script: "\\set id :client_id + 1\n" + ledgerDispenseSQL(site: "'BENCH-' || lpad(:id::text, 2, '0')") + ";\n")
}

/// pgbench running a dispense's writes as plain SQL: the floor of what a dispense can cost on this ledger.
func pgbenchWritesThroughput(binDirectory: String, conninfo: String, clients: Int, seconds: Double) throws -> Double {
  try pgbench(
    binDirectory: binDirectory, conninfo: conninfo, clients: clients, seconds: seconds,
    script: "\\set id :client_id + 1\nBEGIN;\n" + dispenseLockSQL(site: "'BENCH-' || lpad(:id::text, 2, '0')")
      + ";\n" + dispenseWritesSQL(site: "'BENCH-' || lpad(:id::text, 2, '0')") + ";\nEND;\n")
}

/// The server's time for one dispense, steadier than any throughput on this machine: one backend runs `count`
/// dispenses in a loop, each committed, with synchronous_commit off so that only processor time counts; the least
/// of `runs` runs, the two statements alternating. Returns microseconds a dispense: Ledger.post's statement, and a
/// dispense's writes run bare.
func serverMicroseconds(_ connection: Connection, site: String, count: Int = 500, runs: Int = 5) throws -> (
  ledger: Double, writes: Double
) {
  try connection.execute("SET synchronous_commit = off")
  defer { _ = try? connection.execute("RESET synchronous_commit") }
  let quoted = "'\(site)'"
  let ledger = "PERFORM " + ledgerDispenseSQL(site: quoted).dropFirst("SELECT ".count) + ";"
  let writes =
    "PERFORM " + dispenseLockSQL(site: quoted).dropFirst("SELECT ".count) + ";\n"
    + dispenseWritesSQL(site: quoted) + ";"
  func loop(_ body: String) throws -> Double {
    try timed {
      try connection.execute(
        Query(unsafeSQL: "DO $x$ BEGIN FOR i IN 1..\(count) LOOP \(body) COMMIT; END LOOP; END $x$"))
    }.1 / Double(count) * 1e6
  }
  var best = (ledger: Double.infinity, writes: Double.infinity)
  for _ in 0..<runs {
    best.ledger = min(best.ledger, try loop(ledger))
    best.writes = min(best.writes, try loop(writes))
  }
  return best
}

func pgbench(binDirectory: String, conninfo: String, clients: Int, seconds: Double, script text: String) throws
  -> Double
{
  let script = FileManager.default.temporaryDirectory.appendingPathComponent("kpstock-bench-\(getpid()).sql").path
  try text.write(toFile: script, atomically: true, encoding: .utf8)
  defer { try? FileManager.default.removeItem(atPath: script) }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: binDirectory + "/pgbench")
  process.arguments = [
    "-n", "-M", "prepared", "-c", String(clients), "-j", "2", "-T", String(Int(seconds)), "-f", script, conninfo,
  ]
  let output = Pipe()
  process.standardOutput = output
  process.standardError = FileHandle.nullDevice
  try process.run()
  let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  guard let line = printed.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
    let tps = Double(line.dropFirst(6).prefix { $0.isNumber || $0 == "." })
  else { throw BenchmarkError("pgbench printed no tps:\n\(printed)") }
  return tps
}

/// What has been printed reaches a file or a pipe before the next part starts, so a long run shows where it is and a
/// profiler can be started on the part it is after. (stdout itself is shared mutable state to Swift 6; fflush(nil)
/// flushes every stream without naming it.)
func flushOutput() { fflush(nil) }

func run() throws {
  let settings = try Settings(arguments: Array(CommandLine.arguments.dropFirst()))
  let home = "/tmp/kpstock-bench-\(getpid())"
  try FileManager.default.createDirectory(
    atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
  let cluster = EmbeddedCluster(
    configuration: ClusterConfiguration(home: home, serverSettings: ["max_connections": "100"]))
  defer {
    try? cluster.destroy()
    try? FileManager.default.removeItem(atPath: home)
  }
  _ = try cluster.start()
  try cluster.createDatabaseIfMissing()
  let conninfo = cluster.connectionString()
  let store = try Store.open(conninfo: conninfo)
  let connection = store.connection
  try Seeds.loadKwaleDemo(store)
  let today = try ProgrammeCalendar.today(store)
  let sites = try prepare(store, sites: settings.clients, today: today)
  let register = home + "/dispensing.csv"
  try writeRegister(rows: settings.rows, sites: sites, today: today, to: register)
  let megabytes = Double((try FileManager.default.attributesOfItem(atPath: register)[.size] as? Int) ?? 0) / 1e6

  print("kpstock ledger benchmark — \(settings.rows) rows, \(settings.clients) clients, \(Int(settings.seconds)) s")
  print("server: embedded PostgreSQL, durable (fsync on), same cluster for every baseline\n")

  let copySeconds = try copyBaseline(connection, path: register)
  let memoryBefore = peakResidentMegabytes()
  flushOutput()
  let (report, importSeconds) = try timed { try LedgerImport.run(store, kind: .dispensing, path: register) }
  guard report.posted == settings.rows else { throw BenchmarkError("import posted \(report.posted) rows") }
  print("1. import of a \(String(format: "%.0f", megabytes)) MB dispensing register")
  print(
    String(
      format: "   plain COPY into an unindexed table  %8.2f s  %9.0f rows/s", copySeconds,
      Double(settings.rows) / copySeconds))
  print(
    String(
      format: "   kpstock import dispensing           %8.2f s  %9.0f rows/s", importSeconds,
      Double(settings.rows) / importSeconds))
  print(
    String(
      format: "   ratio import / COPY                 %8.2f×   (target ≤ 20×)",
      importSeconds / copySeconds))
  print(
    String(
      format: "   peak memory of this process         %8.0f MB (%.0f MB before the import)", peakResidentMegabytes(),
      memoryBefore))
  let bareFloor = try postingFloor(connection, .bare)
  let keyedFloor = try postingFloor(connection, .keyIndex)
  let ledgerFloor = try postingFloor(connection, .ledgerTable)
  print("   floor: the imported events copied server-side (no staging, typing or checks) into a table with")
  print(
    String(format: "     no index or constraint            %8.2f s  %8.2f× COPY", bareFloor, bareFloor / copySeconds))
  print(
    String(
      format: "     only the key's unique index       %8.2f s  %8.2f× COPY", keyedFloor, keyedFloor / copySeconds))
  print(
    String(
      format: "     stock_events' indexes and domains %8.2f s  %8.2f× COPY", ledgerFloor, ledgerFloor / copySeconds))
  let typed = try typedFloor(connection) + copySeconds
  print("   floor: the register COPYed, each row normalised and digested (ledger_request_line) and written into")
  print(
    String(
      format: "     stock_events' shape (no key claims, rules, allocation or rollups) %6.2f s  %6.2f× COPY", typed,
      typed / copySeconds))
  let rules = try rulesFloor(connection) + copySeconds
  print("   floor: as above, and each row checked against the reference tables, given its lot, keyed (a repeat passed")
  print(
    String(
      format: "     over) and booked into balances and the daily rollup, all in one statement  %6.2f s  %6.2f× COPY\n",
      rules,
      rules / copySeconds))

  flushOutput()
  var latencies: [Double] = []
  let processorBefore = processorSeconds()
  for _ in 0..<settings.latencySamples {
    let (_, seconds) = try timed { try Ledger.post(store, dispensing(sites[0])) }
    latencies.append(seconds * 1000)
  }
  let clientMicroseconds = (processorSeconds() - processorBefore) / Double(settings.latencySamples) * 1e6
  latencies.sort()
  print("2. single dispense, commit latency over \(settings.latencySamples) posts")
  print(
    String(
      format: "   p50 %.2f ms   p99 %.2f ms   this process's CPU %.0f µs a post", percentile(latencies, 0.5),
      percentile(latencies, 0.99), clientMicroseconds))
  let server = try serverMicroseconds(connection, site: sites[0])
  print("   the server's time a dispense, in one backend, each committed (no fsync; least of five runs of 500):")
  print(
    String(
      format: "     Ledger.post's statement %.0f µs; a dispense's writes as plain SQL %.0f µs (%.2f×)\n", server.ledger,
      server.writes, server.ledger / server.writes))

  let binDirectory = try cluster.status().binDirectory ?? ""
  try createBaselineTables(connection, clients: settings.clients)
  print("3. \(settings.clients)-client dispensing throughput (one site per client), tx/s")
  print(
    "   round   pgbench guarded   kpstock       pgbench sending       pgbench: a dispense's   this process: the   this process:   kpstock /   server alone /   writes /   writes, this process /   rules floor /"
  )
  print(
    "           UPDATE + INSERT   Ledger.post   Ledger.post's SQL     writes, plain SQL       same writes         rules floor     pgbench     pgbench          pgbench    pgbench                  pgbench"
  )
  print(
    "           (before→after)"
  )
  var clientRatios: [Double] = []
  var serverRatios: [Double] = []
  var writesRatios: [Double] = []
  var ownWritesRatios: [Double] = []
  var rulesFloorRatios: [Double] = []
  var clientCPUs: [Double] = []
  try connection.execute(Query(unsafeSQL: rulesFloorFunction))
  try connection.execute("ALTER FUNCTION bench_rules_floor OWNER TO kp_owner")
  defer { _ = try? connection.execute("DROP FUNCTION bench_rules_floor") }
  try connection.execute("VACUUM ANALYZE stock_events")
  // Each run starts just after a checkpoint, so none pays more than another for full-page images in the WAL.
  func afterCheckpoint(_ body: () throws -> Double) throws -> Double {
    try connection.execute("CHECKPOINT")
    return try body()
  }
  flushOutput()
  // The baseline runs before a round's five other runs and again after them (the next round's first), and each run is
  // compared with the baseline drawn straight between the two at its place in the round: the machine's speed drifts
  // by a fifth within minutes, and a baseline taken once, before the others, charged the drift to them.
  func baselineRun() throws -> Double {
    try afterCheckpoint {
      try pgbenchThroughput(
        binDirectory: binDirectory, conninfo: conninfo, clients: settings.clients, seconds: settings.seconds)
    }
  }
  var baselineBefore = try baselineRun()
  for round in 1...settings.rounds {
    var clientCPU = 0.0
    let ours = try afterCheckpoint {
      let (rate, cpuPerPost) = try ledgerThroughput(conninfo: conninfo, sites: sites, seconds: settings.seconds)
      clientCPU = cpuPerPost
      return rate
    }
    let serverOnly = try afterCheckpoint {
      try pgbenchLedgerThroughput(
        binDirectory: binDirectory, conninfo: conninfo, clients: settings.clients, seconds: settings.seconds)
    }
    let writes = try afterCheckpoint {
      try pgbenchWritesThroughput(
        binDirectory: binDirectory, conninfo: conninfo, clients: settings.clients, seconds: settings.seconds)
    }
    let ownWrites = try afterCheckpoint {
      try writesThroughput(conninfo: conninfo, sites: sites, seconds: settings.seconds)
    }
    let rulesFloor = try afterCheckpoint {
      try rulesFloorThroughput(conninfo: conninfo, sites: sites, seconds: settings.seconds)
    }
    let baselineAfter = try baselineRun()
    /// The baseline at the run's place among the round's six intervals between the two baseline runs.
    func baseline(at place: Double) -> Double { baselineBefore + (baselineAfter - baselineBefore) * place / 6 }
    let (oursRatio, serverRatio, writesRatio, ownWritesRatio, rulesFloorRatio) = (
      ours / baseline(at: 1), serverOnly / baseline(at: 2), writes / baseline(at: 3), ownWrites / baseline(at: 4),
      rulesFloor / baseline(at: 5)
    )
    clientRatios.append(oursRatio)
    rulesFloorRatios.append(rulesFloorRatio)
    serverRatios.append(serverRatio)
    writesRatios.append(writesRatio)
    ownWritesRatios.append(ownWritesRatio)
    clientCPUs.append(clientCPU)
    print(
      String(
        format:
          "   %5d   %7.0f→%-7.0f   %11.0f   %19.0f   %21.0f   %17.0f   %13.0f   %7.0f %%   %12.0f %%   %6.0f %%   %18.0f %%   %11.0f %%",
        round, baselineBefore, baselineAfter, ours, serverOnly, writes, ownWrites, rulesFloor, oursRatio * 100,
        serverRatio * 100, writesRatio * 100, ownWritesRatio * 100, rulesFloorRatio * 100))
    flushOutput()
    baselineBefore = baselineAfter
  }
  print(
    String(
      format:
        "   median ratio kpstock / pgbench %5.0f %%   (target ≥ 50 %%); server alone %.0f %%; floor (a dispense's writes) %.0f %%"
        + " with pgbench as client, %.0f %% with this process's threads; the rules floor %.0f %% with this process's"
        + " threads",
      median(clientRatios) * 100, median(serverRatios) * 100, median(writesRatios) * 100,
      median(ownWritesRatios) * 100, median(rulesFloorRatios) * 100))
  print(
    String(
      format: "   this process's CPU a post with %d threads posting: %.0f µs (median of the rounds)", settings.clients,
      median(clientCPUs) * 1e6))

  let differences = try StockQueries.verify(store)
  print("\nledger verify: " + (differences.isEmpty ? "consistent" : "\(differences.count) differences"))

  // A database of its own, so the history is the only thing in it, as on a new national server.
  try connection.execute("CREATE DATABASE kpstock_national")
  let national = try Store.open(conninfo: cluster.connectionString(database: "kpstock_national"))
  flushOutput()
  let (history, simulateSeconds) = try timed {
    try Simulator.run(national, profile: .national, weeks: settings.nationalWeeks)
  }
  let perWeek = simulateSeconds / Double(settings.nationalWeeks)
  print("\n4. national synthetic history, \(settings.nationalWeeks) weeks of 1,000 sites (county-day batches)")
  print(
    String(
      format: "   %d events in %.0f s: %.0f events/s, %.1f s per simulated week", history.eventsWritten,
      simulateSeconds, Double(history.eventsWritten) / simulateSeconds, perWeek))
  print(
    String(format: "   104 weeks at that rate            %8.1f min   (target ≤ 15 min)", perWeek * 104 / 60)
      + (settings.nationalWeeks == 104 ? " — measured, not extrapolated" : ""))
  let nationalDifferences = try StockQueries.verify(national)
  print(
    "   ledger verify: " + (nationalDifferences.isEmpty ? "consistent" : "\(nationalDifferences.count) differences"))
}

do {
  try run()
} catch {
  FileHandle.standardError.write(Data("LedgerBenchmark: error: \(error)\n".utf8))
  exit(1)
}
