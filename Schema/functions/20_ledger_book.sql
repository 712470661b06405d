-- ledger_book: the one writer of stock. Every request — a command, a register row, a simulated entry, and later a
-- methadone dose or an order's dispatch — becomes ledger lines (Schema/0002_ledger.sql, type ledger_line) and is
-- booked here, a batch at a time: claim keys, check, allocate first-expiry-first-out, write events, book balances and
-- the daily rollup per lot. ledger_book books the everyday dispense itself and hands every other batch to
-- ledger_book_general, which no one else calls. Nothing else writes stock_events, stock_balances, stock_lot_daily or
-- stock_cards (the guards in 60_ledger_guards.sql refuse it), and `ledger verify` recomputes balances and rollups from
-- events.
--
-- Refusals use SQLSTATE class KP: KP001 not enough stock, KP002 a bad value, KP003 an idempotency key reused for
-- other content, KP004 a back-dated take that would break history, KP005 a change the ledger never allows, KP006 a
-- record not in the state a change needs (an order already approved, say: 90_orders.sql). COLUMN
-- names the field (site, commodity, qty, lot, expiry, date, population, channel, worker, reason, key, …) and HINT, when
-- set, names what the caller may point the person to: 'backdating_window' (the programme setting) or 'reasons' (the
-- list of reasons). Messages never name a command or a flag: callers word those.

CREATE OR REPLACE FUNCTION ledger_refuse(p_field text, p_message text, p_hint text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_hint IS NULL THEN
    RAISE EXCEPTION '%', p_message USING ERRCODE = 'KP002', COLUMN = p_field;
  END IF;
  RAISE EXCEPTION '%', p_message USING ERRCODE = 'KP002', COLUMN = p_field, HINT = p_hint;
END $$;

-- The digest that tells a repeat from a different request under the same key: the request's kind and its normalised
-- fields, without its day (a repeat may name the day or leave it out). Commands, imports and the simulator all use
-- this one function. STABLE, as array_to_string and convert_to are: a function marked IMMUTABLE that calls stable ones is
-- never inlined, and a call per row costs more than the digest.
CREATE OR REPLACE FUNCTION ledger_fingerprint(VARIADIC p_parts text[]) RETURNS bytea LANGUAGE sql STABLE AS $$
  SELECT substring(sha256(convert_to(array_to_string(p_parts, E'\x1f', E'\x1e'), 'UTF8')) FROM 1 FOR 16)
$$;

-- The events recorded under a key at a site, as ledger_book returns them.
CREATE OR REPLACE FUNCTION ledger_recorded(p_req integer, p_site text, p_key text, p_outcome text)
RETURNS SETOF ledger_booked LANGUAGE sql STABLE AS $$
  SELECT p_req, p_outcome, NULL, NULL, NULL, NULL, e.id, e.key_part, e.site_code, e.commodity_code, e.lot_code, l.expires_on,
    e.kind, e.quantity, e.reason_code, e.occurred_on, e.transfer_id, e.count_id, e.reverses_event_id
  FROM stock_events e LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
  WHERE e.site_code = p_site AND e.idempotency_key = p_key ORDER BY e.key_part
$$;

-- A refused request, as ledger_book reports it.
CREATE OR REPLACE FUNCTION ledger_refusal(p_req integer, p_field text, p_problem text, p_sqlstate text,
  p_hint text DEFAULT NULL) RETURNS ledger_booked LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(p_req, 'refused', p_field, p_problem, p_sqlstate, p_hint, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL)::ledger_booked
$$;

-- A batch's lines as rows, for statements that join them to reference tables. A generic plan guesses ten rows for
-- unnest of an array parameter, and so builds a hash table of the whole batch at each join instead of one of each
-- small table: for a register's 50,000 lines, 40 % of the rules' time. Not inlined (plpgsql), so its estimate holds.
CREATE OR REPLACE FUNCTION ledger_batch_lines(p_lines ledger_line[]) RETURNS SETOF ledger_line LANGUAGE plpgsql
IMMUTABLE ROWS 5000 AS $$
BEGIN
  RETURN QUERY SELECT * FROM unnest(p_lines);
END $$;

-- When and where anything may be recorded: on a day no later than today and within the back-dating window, at a
-- site that exists and is open that day. ledger_book judges every line by it; count_start, which opens a count rather
-- than booking stock, judges the count's day by it. NULL when all is well. p_site_code and the dates are the site's
-- row, NULL when there is none.
CREATE OR REPLACE FUNCTION ledger_when_where(
  p_req integer, p_day date, p_today date, p_window integer, p_site text, p_site_code text, p_opened_on date,
  p_closed_on date
) RETURNS ledger_booked LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN p_day > p_today THEN ledger_refusal(p_req, 'date',
      format('%s is in the future (today is %s)', p_day, p_today), 'KP002')
    WHEN p_day < p_today - p_window THEN ledger_refusal(p_req, 'date',
      format('%s is more than %s days ago, outside the back-dating window', p_day, p_window), 'KP002',
      'backdating_window')
    WHEN p_site IS NULL THEN ledger_refusal(p_req, 'site', 'is required', 'KP002')
    WHEN p_site_code IS NULL THEN ledger_refusal(p_req, 'site', format('unknown site %s', p_site), 'KP002')
    WHEN p_day > p_closed_on THEN ledger_refusal(p_req, 'site', format('site %s closed on %s', p_site, p_closed_on),
      'KP002')
    WHEN p_day < p_opened_on THEN ledger_refusal(p_req, 'site', format('site %s opens on %s', p_site, p_opened_on),
      'KP002')
  END
$$;

-- The stock card's lock: every writer of a site-commodity's stock (events, balances, daily rollup) holds it from
-- before it reads that stock until its transaction ends, so concurrent writers queue, and each reads what the one
-- before it left. It is a transaction-scoped advisory lock on this key, not a row lock on the card
-- (Schema/0008_stock_cards.sql), because a row lock writes a WAL record and dirties the card's page at every
-- posting, where an advisory lock lives in the lock table only. The 64-bit hash of the two codes (which hold no
-- space) makes two cards sharing a key unlikely and harmless: they queue behind one another, and writers lock in
-- the order of the key, not of the codes, so a batch holding both still cannot deadlock with another. The seed
-- keeps these keys apart from the programme's other advisory locks, which are of 32-bit hashes.
CREATE OR REPLACE FUNCTION stock_card_key(p_site text, p_commodity text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT hashtextextended(p_site || ' ' || p_commodity, 8)
$$;

-- Makes (for the known codes among them) the stock cards of these site-commodities and takes their locks
-- (stock_card_key), in key order, so batches locking overlapping sets queue instead of deadlocking. A writer locks all
-- it needs in one call: locked a part at a time, a later part could need a key that sorts before one already held. The
-- cards are made here, as before (`ledger verify` lists stock without one), though the lock no longer needs the row.
-- Only statements that start after this call see what the holder before left (READ COMMITTED: a statement's snapshot is
-- taken when it starts), so callers read stock in later statements. The everyday dispense takes its one card's lock
-- itself (ledger_book).
CREATE OR REPLACE FUNCTION stock_cards_lock(p_sites text[], p_commodities text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_booked text := current_setting('kpstock.booked', true);
BEGIN
  PERFORM set_config('kpstock.booked', 'on', true);
  INSERT INTO stock_cards (site_code, commodity_code)
  SELECT DISTINCT s.code, m.code FROM unnest(p_sites, p_commodities) k (site, commodity)
  JOIN sites s ON s.code = k.site JOIN commodities m ON m.code = k.commodity
  ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM set_config('kpstock.booked', coalesce(v_booked, ''), true);
  -- The keys sorted in a subquery of their own, so the locks are taken in that order.
  PERFORM pg_advisory_xact_lock(k.key)
  FROM (SELECT DISTINCT stock_card_key(u.site, u.commodity) AS key
    FROM unnest(p_sites, p_commodities) u (site, commodity)
    WHERE u.site IS NOT NULL AND u.commodity IS NOT NULL ORDER BY 1) k;
END $$;

-- Books a batch of lines, in day order and, within a day, additions before takes (so what arrives on a day can
-- leave on it). A take on a past day is allocated from the lots on hand at the end of that day that no later day
-- needs: a lot that arrived later cannot be taken, and no later closing balance goes negative.
--
-- p_report: refused requests come back as rows (outcome 'refused', with field, problem, sqlstate, hint) and the rest
-- are booked; only for batches whose requests are one line each (register imports). Otherwise the first refusal is
-- raised and nothing is booked. p_dry_run: events get negative ids, so a rolled-back trial run consumes no event
-- numbers. p_req_name: how a refusal names another request of the batch ('line' for an import). Rows come first for
-- the site-commodities booked all days at once, then a day of the batch at a time (a request's events in key_part
-- order, not always next to each other), then repeats and refusals.
CREATE OR REPLACE FUNCTION ledger_book(
  p_lines ledger_line[], p_report boolean DEFAULT false, p_dry_run boolean DEFAULT false,
  p_req_name text DEFAULT 'entry'
) RETURNS SETOF ledger_booked LANGUAGE plpgsql AS $$
DECLARE
  v_line ledger_line;
  -- Set by assignment, not PERFORM: an assignment is evaluated in place, a PERFORM starts a query.
  v_booked_flag text;
  v_sites text[];
BEGIN
  -- Who may record stock where: the one check every writer of stock passes (docs/security.md). Admins and the owner
  -- pass on two role lookups; anyone else must hold a grant for every site of the batch, and is refused in words
  -- (access_refuse) only when not. Each step is its own statement so that the everyday single line meets only plain
  -- expressions, which plpgsql evaluates in place: a statement holding the batch's subquery is a query to start at
  -- every call, even where the subquery is not reached (docs/benchmarks.md, twelfth round).
  IF NOT access_unrestricted() THEN
    v_sites := CASE WHEN cardinality(p_lines) = 1 THEN ARRAY[p_lines[1].site] END;
    IF v_sites IS NULL THEN
      v_sites := ARRAY(SELECT DISTINCT l.site FROM unnest(p_lines) l);
    END IF;
    IF NOT access_may_record_stock(v_sites) THEN
      PERFORM access_refuse(v_sites, 'stock', 'site');
    END IF;
  END IF;
  -- The everyday dispense (today, no lot named, first usable lot covers it) in one statement, which picks the first
  -- usable lot, writes the event and books it. Only a request that named no day is tried: its day is the today its
  -- line's maker read (programme_day, in this transaction), as the general path takes it too, so a back-dated one
  -- costs nothing here and the day is not read again. The event's unique key stands in for the key check: a key
  -- already used writes nothing, and the general path below replays or refuses it. Anything unusual (the lot runs
  -- short, the site is closed, the population unknown, an expiry or a reason named) writes nothing too and goes the
  -- general way, which words it (and takes the card's lock again, which it holds already). It evaluates as few
  -- plpgsql expressions as will do: each is compiled again in every new transaction.
  v_line := CASE WHEN cardinality(p_lines) = 1 AND NOT p_dry_run THEN p_lines[1] END;
  IF v_line.kind = 'dispense' AND v_line.asked_day IS NULL AND v_line.lot IS NULL AND v_line.quantity < 0
    AND v_line.lots = 'usable' AND v_line.expiry IS NULL AND v_line.reason IS NULL
    -- A key's length is its domain's (idempotency_key, refused when the event is written); control characters are
    -- the ledger's rule. Each function a condition calls is looked up and checked again in every transaction: the
    -- length test cost a dispense 9 k instructions (docs/benchmarks.md, fourteenth round).
    AND v_line.key !~ '[[:cntrl:]]'
    -- The channel its worker implies (outreach names a peer educator, the clinic none): one comparison, not two.
    -- In parentheses, or plpgsql would end the condition at the CASE's THEN.
    AND v_line.channel = (CASE WHEN v_line.worker IS NULL THEN 'clinic' ELSE 'outreach' END) THEN
    -- The card's lock (stock_card_key), as every writer of this stock takes it, and taken here, before the statement
    -- below starts: that statement's snapshot then holds all that the writer before committed, so it reads the
    -- balances as they are and locks none of them. An assignment, not PERFORM, which starts a query; it returns
    -- nothing (an empty text).
    v_booked_flag := pg_advisory_xact_lock(stock_card_key(v_line.site, v_line.commodity));
    v_booked_flag := set_config('kpstock.booked', 'on', true);
    RETURN QUERY WITH first_usable AS MATERIALIZED (
      -- The first usable lot with stock, read and not locked: no other writer can change it while the card's lock is
      -- held. One query with its LIMIT, not a CTE each: each CTE and its scan cost more to start than they do to run.
      SELECT b.lot_code, b.on_hand, b.expires_on
      FROM stock_balances b
      WHERE b.site_code = v_line.site AND b.commodity_code = v_line.commodity AND b.on_hand > 0
        AND (b.expires_on IS NULL OR b.expires_on >= v_line.day)
        -- One subquery for both, not one each: each costs more to start than to run.
        AND EXISTS (SELECT 1 FROM sites s, populations p
          WHERE s.code = v_line.site
          AND coalesce(s.closed_on >= v_line.day, true) AND coalesce(s.opened_on <= v_line.day, true)
          AND p.code = v_line.population)
      ORDER BY b.expires_on NULLS LAST, b.lot_code LIMIT 1
    ), added AS (
      INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, recorded_on, note,
        population_code, channel, worker_code, client_uic, idempotency_key, key_part, fingerprint)
      SELECT v_line.site, v_line.commodity, f.lot_code, 'dispense', v_line.quantity, v_line.day, v_line.day, v_line.note,
        v_line.population, v_line.channel, v_line.worker, v_line.client, v_line.key, 1, v_line.fingerprint
      FROM first_usable f WHERE f.on_hand >= -v_line.quantity
      ON CONFLICT (site_code, idempotency_key, key_part) DO NOTHING
      RETURNING id, lot_code
    ), taken AS (
      -- The lot by a subquery, not a join to added: a join would carry added's whole row for a recheck.
      UPDATE stock_balances b SET on_hand = b.on_hand + v_line.quantity
      WHERE b.site_code = v_line.site AND b.commodity_code = v_line.commodity
        AND b.lot_code = (SELECT a.lot_code FROM added a)
    ), daily AS (
      -- An upsert, as the general path books its days. It locks the row it updates (a WAL record of its own); an
      -- update, then an insert only when it found no row, would not, and is race-free under the card's lock, but
      -- costs the dispense more instructions (two statement parts to start) than the record saves in writing
      -- (docs/benchmarks.md, eleventh round).
      INSERT INTO stock_lot_daily AS d (site_code, commodity_code, lot_code, day, net_change, received, dispensed, sent,
        adjusted)
      SELECT v_line.site, v_line.commodity, a.lot_code, v_line.day, v_line.quantity, 0, -v_line.quantity, 0, 0
      FROM added a
      ON CONFLICT (site_code, commodity_code, lot_code, day) DO UPDATE SET
        net_change = d.net_change + excluded.net_change, dispensed = d.dispensed + excluded.dispensed
    )
    SELECT v_line.req, 'posted'::text, NULL::text, NULL::text, NULL::text, NULL::text, a.id, 1::smallint, v_line.site,
      v_line.commodity, a.lot_code, f.expires_on, 'dispense'::text, v_line.quantity, NULL::text, v_line.day,
      NULL::bigint, NULL::bigint, NULL::bigint
    FROM added a, first_usable f;
    v_booked_flag := set_config('kpstock.booked', '', true);
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;

  RETURN QUERY SELECT * FROM ledger_book_general(p_lines, p_report, p_dry_run, p_req_name);
END $$;

-- ledger_book's general path: every batch but the everyday dispense that its fast path books. Called by ledger_book
-- only. A function of its own for its plan mode, which the fast path does without: setting it costs a dispense
-- about a tenth of its server time.
CREATE OR REPLACE FUNCTION ledger_book_general(
  p_lines ledger_line[], p_report boolean, p_dry_run boolean, p_req_name text
) RETURNS SETOF ledger_booked LANGUAGE plpgsql
-- Its statements take whole batches as array parameters; planning them afresh for each call (custom plans) costs
-- several times what running them does, for a batch of one or of thousands. The generic plans join the batch to the
-- ledger by hash or index whatever its size; keep it so (no join between two sets made from the batch).
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  -- No initial values: each is set where it is first needed.
  v_today date;
  v_window integer;
  v_refused ledger_booked[];
  v_repeat_reqs integer[];
  -- The site-commodities the batch books, and the earliest day it books on each.
  v_card_sites text[];
  v_card_commodities text[];
  v_card_days date[];
  v_repeat_sites text[];
  v_repeat_keys text[];
  v_wave ledger_booked[];
  v_lines ledger_line[];
  v_wave_lines ledger_line[];
  v_days date[];
  v_firsts integer[];
  v_lasts integer[];
  v_i integer;
  v_takes ledger_line[];
  v_stock ledger_lot_stock[];
  v_short ledger_booked[];
  v_transfer_reqs integer[];
  v_transfer_ids bigint[];
  v_day date;
  v_next_id bigint;
  v_added integer;
  v_first ledger_booked;
  v_event_seq regclass;
  v_transfer_seq regclass;
  v_maybe_short boolean;
  v_bulk_sites text[];
  v_bulk_commodities text[];
  v_bulk_lots text[];
  v_bulk_expiries date[];
  v_bulk_firsts date[];
  v_bulk_lasts date[];
  v_bulk_asked bigint[];
  v_bulk_count integer;
  v_multi integer[];
BEGIN
  SELECT programme_day(ps.time_zone), ps.backdating_window_days INTO v_today, v_window FROM programme_settings ps;

  -- Keys: a request whose key is already recorded at its site is a repeat when it carries the same content and
  -- names the same day or none (the recorded events come back, nothing is written), and refused otherwise. Within
  -- the batch, the first request with a key wins.
  WITH requests AS (
    SELECT DISTINCT ON (l.req) l.req, l.key, l.site, l.fingerprint, l.asked_day
    FROM unnest(p_lines) l ORDER BY l.req, l.line
  ), shared AS (
    -- Keys that several requests of the batch carry, with the first of those requests. Nearly every key is carried
    -- once, so they are found by hashing, not by sorting every request by key.
    SELECT DISTINCT ON (r.site, r.key) r.site, r.key, r.req AS first_req, r.fingerprint AS first_fingerprint
    FROM requests r
    WHERE (r.site, r.key) IN (SELECT q.site, q.key FROM requests q GROUP BY q.site, q.key HAVING count(*) > 1)
    ORDER BY r.site, r.key, r.req
  ), judged AS (
    SELECT r.req, r.key, r.site, e.id AS event, s.first_req,
      CASE WHEN r.key IS NULL OR length(r.key) NOT BETWEEN 1 AND 100 OR r.key ~ '[[:cntrl:]]' THEN 'bad key'
        WHEN e.id IS NOT NULL AND e.fingerprint = r.fingerprint AND coalesce(r.asked_day = e.occurred_on, true)
          THEN 'repeat'
        WHEN e.id IS NOT NULL THEN 'conflict'
        WHEN s.first_req <> r.req AND s.first_fingerprint = r.fingerprint THEN 'repeat'
        WHEN s.first_req <> r.req THEN 'batch conflict'
      END AS verdict
    FROM requests r
    LEFT JOIN stock_events e ON e.site_code = r.site AND e.idempotency_key = r.key AND e.key_part = 1
    LEFT JOIN shared s ON s.site = r.site AND s.key = r.key
  )
  SELECT
    coalesce(array_agg(ledger_refusal(j.req, 'key',
        CASE j.verdict
          WHEN 'bad key' THEN 'must be 1–100 characters without control characters'
          WHEN 'conflict' THEN format('key %s was already used at %s for a different entry (event %s)', j.key, j.site,
            j.event)
          ELSE format('key %s was already used at %s for a different entry (%s %s)', j.key, j.site, p_req_name,
            j.first_req) END,
        CASE WHEN j.verdict = 'bad key' THEN 'KP002' ELSE 'KP003' END) ORDER BY j.req)
      FILTER (WHERE j.verdict <> 'repeat'), '{}'),
    coalesce(array_agg(j.req ORDER BY j.req) FILTER (WHERE j.verdict = 'repeat'), '{}'),
    coalesce(array_agg(j.site ORDER BY j.req) FILTER (WHERE j.verdict = 'repeat'), '{}'),
    coalesce(array_agg(j.key ORDER BY j.req) FILTER (WHERE j.verdict = 'repeat'), '{}')
  INTO v_refused, v_repeat_reqs, v_repeat_sites, v_repeat_keys
  FROM judged j WHERE j.verdict IS NOT NULL;

  -- Every rule a line must meet before stock is looked at, in the order a person would fix them; the first broken
  -- one of each request is reported. One CASE, so a line that breaks nothing costs a few comparisons.
  WITH problems AS (
    SELECT DISTINCT ON (l.req) x.refusal
    FROM ledger_batch_lines(p_lines) l
    LEFT JOIN sites s ON s.code = l.site
    LEFT JOIN sites t ON t.code = l.to_site
    LEFT JOIN commodities m ON m.code = l.commodity
    LEFT JOIN lots lo ON lo.commodity_code = l.commodity AND lo.lot_code = l.lot
    LEFT JOIN stock_reasons r ON r.code = l.reason
    LEFT JOIN populations p ON p.code = l.population
    CROSS JOIN LATERAL (SELECT CASE
      WHEN (ledger_when_where(l.req, l.day, v_today, v_window, l.site, s.code, s.opened_on, s.closed_on)).req
        IS NOT NULL THEN ledger_when_where(l.req, l.day, v_today, v_window, l.site, s.code, s.opened_on, s.closed_on)
      -- The transfer is looked up by its key, and only for its arrival: joined, it was read whole for every batch
      -- (a generic plan is made for a batch of any size), and transfers grow with every dispatch. A scalar subquery,
      -- not EXISTS, which the planner may turn into a hash of the whole table. One lookup for an arrival that is in
      -- order; a refused one is looked up again to word it.
      WHEN l.kind = 'transfer_in' AND NOT coalesce(l.day >= (SELECT t.dispatched_on FROM transfers t
          WHERE t.id = l.transfer_id AND t.to_site_code = l.site AND t.commodity_code = l.commodity), false)
        THEN coalesce(
          (SELECT ledger_refusal(l.req, 'date', format('transfer %s was dispatched on %s', t.id, t.dispatched_on),
            'KP002') FROM transfers t
            WHERE t.id = l.transfer_id AND t.to_site_code = l.site AND t.commodity_code = l.commodity),
          ledger_refusal(l.req, 'transfer', format('no transfer %s of %s to %s', l.transfer_id, l.commodity, l.site),
            'KP002'))
      WHEN l.kind = 'transfer_out' AND l.transfer_id IS NULL AND t.code IS NULL THEN ledger_refusal(l.req, 'to',
        format('unknown site %s', l.to_site), 'KP002')
      WHEN l.kind = 'transfer_out' AND l.transfer_id IS NULL AND l.to_site = l.site THEN ledger_refusal(l.req, 'to',
        'a site cannot send stock to itself', 'KP002')
      WHEN l.kind = 'transfer_out' AND l.transfer_id IS NULL AND l.day > t.closed_on THEN ledger_refusal(l.req, 'to',
        format('site %s closed on %s', l.to_site, t.closed_on), 'KP002')
      WHEN l.kind = 'transfer_out' AND l.transfer_id IS NULL AND l.day < t.opened_on THEN ledger_refusal(l.req, 'to',
        format('site %s opens on %s', l.to_site, t.opened_on), 'KP002')
      WHEN l.commodity IS NULL THEN ledger_refusal(l.req, 'commodity', 'is required', 'KP002')
      WHEN m.code IS NULL THEN ledger_refusal(l.req, 'commodity', format('unknown commodity %s', l.commodity),
        'KP002')
      WHEN l.quantity IS NULL OR (l.quantity = 0 AND l.kind <> 'count') THEN ledger_refusal(l.req, 'qty',
        'must not be zero', 'KP002')
      WHEN l.reverses_event_id IS NULL AND ((l.kind IN ('receipt', 'transfer_in') AND l.quantity < 0)
          OR (l.kind IN ('dispense', 'transfer_out') AND l.quantity > 0)) THEN ledger_refusal(l.req, 'qty',
        format('must be a positive whole number, not %s', -abs(l.quantity)), 'KP002')
      WHEN l.kind = 'dispense' AND l.reverses_event_id IS NULL AND l.population IS NULL THEN ledger_refusal(l.req,
        'population', 'is required', 'KP002')
      WHEN l.kind = 'dispense' AND l.reverses_event_id IS NULL AND p.code IS NULL THEN ledger_refusal(l.req,
        'population', format('unknown population %s', l.population), 'KP002')
      WHEN l.kind = 'dispense' AND l.reverses_event_id IS NULL AND l.channel IS NULL THEN ledger_refusal(l.req,
        'channel', 'is required', 'KP002')
      WHEN l.kind = 'dispense' AND l.reverses_event_id IS NULL AND l.channel NOT IN ('clinic', 'outreach') THEN
        ledger_refusal(l.req, 'channel', format('''%s'' is not a channel (clinic, outreach)', l.channel), 'KP002')
      WHEN l.kind = 'dispense' AND l.reverses_event_id IS NULL AND l.channel = 'outreach' AND l.worker IS NULL THEN
        ledger_refusal(l.req, 'worker', 'outreach dispensing needs the peer educator''s code', 'KP002')
      WHEN l.kind = 'dispense' AND l.reverses_event_id IS NULL AND l.channel = 'clinic' AND l.worker IS NOT NULL THEN
        ledger_refusal(l.req, 'worker', 'only outreach dispensing names a peer educator', 'KP002')
      WHEN l.kind <> 'dispense' AND num_nonnulls(l.population, l.channel, l.worker, l.client) > 0 THEN
        ledger_refusal(l.req, CASE WHEN l.population IS NOT NULL THEN 'population' WHEN l.channel IS NOT NULL
          THEN 'channel' WHEN l.worker IS NOT NULL THEN 'worker' ELSE 'client' END,
          'only dispensing names a population, channel, peer educator or client', 'KP002')
      WHEN l.kind = 'adjustment' AND l.reason IS NULL THEN ledger_refusal(l.req, 'reason', 'is required', 'KP002',
        'reasons')
      WHEN l.reason IS NOT NULL AND r.code IS NULL THEN ledger_refusal(l.req, 'reason',
        format('unknown reason %s', l.reason), 'KP002', 'reasons')
      WHEN l.kind = 'adjustment' AND l.reverses_event_id IS NULL AND l.transfer_id IS NULL AND l.quantity > 0
          AND r.direction = 'out' THEN ledger_refusal(l.req, 'qty', format('reason %s removes stock', l.reason),
        'KP002')
      WHEN l.kind = 'adjustment' AND l.reverses_event_id IS NULL AND l.transfer_id IS NULL AND l.quantity < 0
          AND r.direction = 'in' THEN ledger_refusal(l.req, 'qty', format('reason %s adds stock', l.reason), 'KP002')
      WHEN NOT m.lot_tracked AND coalesce(l.lot, '') <> '' THEN ledger_refusal(l.req, 'lot',
        format('%s is not lot-tracked: give no lot%s', l.commodity,
          CASE WHEN l.quantity > 0 THEN ' or expiry' ELSE '' END), 'KP002')
      WHEN NOT m.lot_tracked AND l.expiry IS NOT NULL THEN ledger_refusal(l.req, 'expiry',
        format('%s is not lot-tracked: give no lot or expiry', l.commodity), 'KP002')
      WHEN NOT m.lot_tracked THEN NULL
      WHEN l.quantity > 0 AND l.lot IS NULL THEN ledger_refusal(l.req, 'lot',
        format('%s is lot-tracked: give its lot', l.commodity), 'KP002')
      WHEN l.lot !~ '^[A-Z0-9][A-Z0-9./-]{0,39}$' THEN ledger_refusal(l.req, 'lot',
        format('''%s'' is not a lot code (1–40 letters, digits, dots, slashes or dashes)', l.lot), 'KP002')
      WHEN l.quantity < 0 AND l.lot IS NOT NULL AND lo.lot_code IS NULL THEN ledger_refusal(l.req, 'lot',
        format('unknown lot %s of %s', l.lot, l.commodity), 'KP002')
      WHEN l.quantity < 0 AND l.lots = 'usable' AND lo.expires_on < l.day THEN ledger_refusal(l.req, 'lot',
        format('lot %s of %s expired on %s: it can only be adjusted out as expired', l.lot, l.commodity,
          lo.expires_on), 'KP002')
      WHEN l.quantity < 0 AND l.lots = 'expired' AND lo.expires_on >= l.day THEN ledger_refusal(l.req, 'lot',
        format('lot %s of %s expires on %s: it has not expired', l.lot, l.commodity, lo.expires_on), 'KP002')
      WHEN l.expiry IS NOT NULL AND lo.expires_on <> l.expiry THEN ledger_refusal(l.req, 'expiry',
        format('lot %s of %s expires on %s, not %s', l.lot, l.commodity, lo.expires_on, l.expiry), 'KP002')
      WHEN l.quantity < 0 AND l.kind <> 'count' AND l.expiry IS NOT NULL THEN ledger_refusal(l.req, 'expiry',
        'give an expiry only when adding stock of a new lot', 'KP002')
      WHEN l.lot IS NULL OR l.quantity < 0 THEN NULL
      WHEN lo.lot_code IS NULL AND l.expiry IS NULL THEN ledger_refusal(l.req, 'expiry',
        format('lot %s of %s is new: give its expiry date', l.lot, l.commodity), 'KP002')
      WHEN l.quantity > 0 AND l.lots = 'usable' AND coalesce(lo.expires_on, l.expiry) < l.day THEN
        ledger_refusal(l.req, 'expiry', format('lot %s of %s expired on %s, before %s', l.lot, l.commodity,
          coalesce(lo.expires_on, l.expiry), l.day), 'KP002')
    END) x (refusal)
    WHERE (x.refusal).req IS NOT NULL AND NOT EXISTS (SELECT 1 FROM unnest(v_repeat_reqs) y WHERE y = l.req)
      AND NOT EXISTS (SELECT 1 FROM unnest(v_refused) f WHERE f.req = l.req)
    ORDER BY l.req, l.line
  )
  SELECT v_refused || coalesce(array_agg(refusal ORDER BY (refusal).req), '{}') INTO v_refused FROM problems;

  IF NOT p_report AND cardinality(v_refused) > 0 THEN
    SELECT * INTO v_first FROM unnest(v_refused) ORDER BY req LIMIT 1;
    IF v_first.hint IS NULL THEN
      RAISE EXCEPTION '%', v_first.problem USING ERRCODE = v_first.sqlstate, COLUMN = v_first.field;
    END IF;
    RAISE EXCEPTION '%', v_first.problem USING ERRCODE = v_first.sqlstate, COLUMN = v_first.field,
      HINT = v_first.hint;
  END IF;

  -- Looked up once: a generic plan would look each sequence up in the catalogue for every row.
  v_event_seq := pg_get_serial_sequence('stock_events', 'id')::regclass;
  v_transfer_seq := pg_get_serial_sequence('transfers', 'id')::regclass;

  -- A trial run's events count down from below the lowest number an earlier batch of the same trial used.
  v_next_id := 0;
  IF p_dry_run THEN
    SELECT greatest(0, -min(id)) INTO v_next_id FROM stock_events;
  END IF;
  PERFORM set_config('kpstock.booked', 'on', true);

  -- The cards of every site-commodity the batch may change, all at once (stock_cards_lock).
  SELECT array_agg(l.site), array_agg(l.commodity), array_agg(l.day)
  INTO v_card_sites, v_card_commodities, v_card_days
  FROM (SELECT l.site, l.commodity, min(l.day) AS day FROM unnest(p_lines) l
    WHERE NOT EXISTS (SELECT 1 FROM unnest(v_repeat_reqs) x WHERE x = l.req)
      AND NOT EXISTS (SELECT 1 FROM unnest(v_refused) x WHERE x.req = l.req)
    GROUP BY l.site, l.commodity) l;
  PERFORM stock_cards_lock(v_card_sites, v_card_commodities);
  -- The weeks kept of those cards from the earliest day booked on are no longer right (45_stock_weeks.sql).
  PERFORM stock_weeks_forget(v_card_sites, v_card_commodities, v_card_days);

  -- Whole site-commodities at once. A register is mostly takes without a named lot; where every line of a site and
  -- commodity in the batch is one, and the first lot usable on the batch's first day there is usable through its
  -- last day and has room on that first day for all of them, every take is one event from that lot whatever its
  -- day: room only grows with the day, and what earlier days of the batch take leaves the later days' room no
  -- smaller than what they ask. Those lines are booked here in one pass, all days together, in the order the day
  -- by day account below would number them; the rest go day by day. A request of several lines (a transfer's
  -- arrival, lot by lot) numbers its events across them, so a site and commodity where one books goes day by day.
  v_multi := ARRAY(SELECT DISTINCT l.req FROM unnest(p_lines) l WHERE l.line > 1);
  SELECT coalesce(array_agg(g.site ORDER BY g.site, g.commodity), '{}'),
    coalesce(array_agg(g.commodity ORDER BY g.site, g.commodity), '{}'),
    coalesce(array_agg(g.first_day ORDER BY g.site, g.commodity), '{}'),
    coalesce(array_agg(g.last_day ORDER BY g.site, g.commodity), '{}'),
    coalesce(array_agg(g.asked ORDER BY g.site, g.commodity), '{}')
  INTO v_bulk_sites, v_bulk_commodities, v_bulk_firsts, v_bulk_lasts, v_bulk_asked
  FROM (
    SELECT l.site, l.commodity, min(l.day) AS first_day, max(l.day) AS last_day, sum(-l.quantity)::bigint AS asked
    FROM unnest(p_lines) l
    WHERE NOT EXISTS (SELECT 1 FROM unnest(v_repeat_reqs) x WHERE x = l.req)
      AND NOT EXISTS (SELECT 1 FROM unnest(v_refused) x WHERE x.req = l.req)
    GROUP BY l.site, l.commodity
    HAVING bool_and(l.quantity < 0 AND l.lot IS NULL AND l.lots = 'usable' AND l.kind IN ('dispense', 'adjustment')
      AND l.transfer_id IS NULL AND l.count_id IS NULL AND l.reverses_event_id IS NULL AND l.req <> ALL (v_multi))
  ) g;

  IF cardinality(v_bulk_sites) > 0 THEN
    SELECT coalesce(array_agg(g.site), '{}'), coalesce(array_agg(g.commodity), '{}'),
      coalesce(array_agg(f.lot_code), '{}'), coalesce(array_agg(f.expires_on), '{}')
    INTO v_bulk_sites, v_bulk_commodities, v_bulk_lots, v_bulk_expiries
    FROM unnest(v_bulk_sites, v_bulk_commodities, v_bulk_firsts, v_bulk_lasts, v_bulk_asked)
      g (site, commodity, first_day, last_day, asked)
    CROSS JOIN LATERAL (
      SELECT b.lot_code, lo.expires_on, b.on_hand FROM stock_balances b
      LEFT JOIN lots lo ON lo.commodity_code = b.commodity_code AND lo.lot_code = b.lot_code
      WHERE b.site_code = g.site AND b.commodity_code = g.commodity AND b.on_hand > 0
        AND coalesce(lo.expires_on >= g.first_day, true)
      ORDER BY lo.expires_on NULLS LAST, b.lot_code LIMIT 1
    ) f
    WHERE coalesce(f.expires_on >= g.last_day, true)
      AND f.on_hand - greatest(0, coalesce((
        SELECT max(s.suffix) FROM (
          SELECT sum(ld.net_change) OVER (ORDER BY ld.day DESC) AS suffix FROM stock_lot_daily ld
          WHERE ld.site_code = g.site AND ld.commodity_code = g.commodity AND ld.lot_code = f.lot_code
            AND ld.day > g.first_day) s), 0)) >= g.asked;
  END IF;

  IF cardinality(v_bulk_sites) > 0 THEN
    -- Returned as it is booked: collected into an array first, the batch's events were copied twice more.
    RETURN QUERY
    WITH numbered AS (
      SELECT t.*, CASE WHEN p_dry_run THEN -(v_next_id + row_number() OVER ()) ELSE nextval(v_event_seq) END AS id
      FROM (SELECT l.*, c.lot AS taken_lot, c.expires_on AS taken_expiry
        FROM ledger_batch_lines(p_lines) l
        JOIN unnest(v_bulk_sites, v_bulk_commodities, v_bulk_lots, v_bulk_expiries) c (site, commodity, lot, expires_on)
          ON c.site = l.site AND c.commodity = l.commodity
        WHERE NOT EXISTS (SELECT 1 FROM unnest(v_repeat_reqs) x WHERE x = l.req)
          AND NOT EXISTS (SELECT 1 FROM unnest(v_refused) x WHERE x.req = l.req)
        ORDER BY l.day, l.req) t
    ), added AS (
      INSERT INTO stock_events (id, site_code, commodity_code, lot_code, kind, quantity, reason_code, occurred_on,
        recorded_on, note, population_code, channel, worker_code, client_uic, idempotency_key, key_part, fingerprint)
      OVERRIDING SYSTEM VALUE
      SELECT n.id, n.site, n.commodity, n.taken_lot, n.kind, n.quantity, n.reason, n.day, v_today, n.note,
        n.population, n.channel, n.worker, n.client, n.key, 1, n.fingerprint
      FROM numbered n
    ), balances AS (
      UPDATE stock_balances b SET on_hand = b.on_hand + t.quantity
      FROM (SELECT site, commodity, taken_lot, sum(quantity) AS quantity FROM numbered GROUP BY 1, 2, 3) t
      WHERE b.site_code = t.site AND b.commodity_code = t.commodity AND b.lot_code = t.taken_lot
    ), moved AS (
      -- Summed before sorting: the rollups lock their rows in key order, and a sort of the summed rows is a sort
      -- of a few hundred, not of the batch.
      SELECT site, commodity, taken_lot, day, kind, sum(quantity) AS quantity FROM numbered GROUP BY 1, 2, 3, 4, 5
    ), daily AS (
      INSERT INTO stock_lot_daily AS d (site_code, commodity_code, lot_code, day, net_change, received, dispensed, sent,
        adjusted)
      SELECT site, commodity, taken_lot, day, sum(quantity), 0,
        coalesce(-sum(quantity) FILTER (WHERE kind = 'dispense'), 0), 0,
        coalesce(sum(quantity) FILTER (WHERE kind = 'adjustment'), 0)
      FROM moved GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
      ON CONFLICT (site_code, commodity_code, lot_code, day) DO UPDATE SET
        net_change = d.net_change + excluded.net_change, dispensed = d.dispensed + excluded.dispensed,
        adjusted = d.adjusted + excluded.adjusted
    )
    SELECT n.req, 'posted'::text, NULL::text, NULL::text, NULL::text, NULL::text, n.id, 1::smallint, n.site,
      n.commodity, n.taken_lot, n.taken_expiry, n.kind, n.quantity, n.reason, n.day, NULL::bigint, NULL::bigint,
      NULL::bigint
    FROM numbered n;
    GET DIAGNOSTICS v_bulk_count = ROW_COUNT;
    v_next_id := v_next_id + v_bulk_count;
  END IF;

  -- The lines to book day by day (none when the pass above booked them all). A commodity that is not lot-tracked
  -- has one balance per site, under lot ''.
  IF coalesce(v_bulk_count, 0) < cardinality(p_lines) - cardinality(v_repeat_reqs) - cardinality(v_refused) THEN
    SELECT coalesce(array_agg(ROW(l.req, l.line, l.key, l.fingerprint, l.asked_day, l.day, l.site, l.commodity,
        CASE WHEN m.lot_tracked THEN l.lot ELSE '' END, l.expiry, l.kind, l.quantity, l.lots, l.reason, l.population,
        l.channel, l.worker, l.client, l.note, l.to_site, l.transfer_id, l.count_id, l.reverses_event_id)::ledger_line
        ORDER BY l.day, l.req, l.line), '{}')
    INTO v_lines
    FROM unnest(p_lines) l JOIN commodities m ON m.code = l.commodity
    WHERE NOT EXISTS (SELECT 1 FROM unnest(v_repeat_reqs) x WHERE x = l.req)
      AND NOT EXISTS (SELECT 1 FROM unnest(v_refused) x WHERE x.req = l.req)
      AND NOT EXISTS (SELECT 1 FROM unnest(v_bulk_sites, v_bulk_commodities) c (site, commodity)
        WHERE c.site = l.site AND c.commodity = l.commodity);
  END IF;
  -- Each day's lines are a slice of the batch, so a register spanning weeks is read once, not once a day.
  SELECT coalesce(array_agg(d.day ORDER BY d.day), '{}'), coalesce(array_agg(d.first ORDER BY d.day), '{}'),
    coalesce(array_agg(d.last ORDER BY d.day), '{}')
  INTO v_days, v_firsts, v_lasts
  FROM (SELECT u.day, min(u.ordinality)::integer AS first, max(u.ordinality)::integer AS last
    FROM unnest(v_lines) WITH ORDINALITY u GROUP BY u.day) d;

  FOR v_i IN 1..cardinality(v_days) LOOP
    v_day := v_days[v_i];
    v_wave_lines := v_lines[v_firsts[v_i]:v_lasts[v_i]];

    -- A dispatch opens its transfer; its id is drawn first so that its events can carry it.
    WITH opened AS (
      SELECT l.req, nextval(v_transfer_seq) AS id, l.site, l.to_site, l.commodity,
        -l.quantity AS quantity
      FROM unnest(v_wave_lines) l WHERE l.kind = 'transfer_out' AND l.transfer_id IS NULL
    ), inserted AS (
      INSERT INTO transfers (id, from_site_code, to_site_code, commodity_code, quantity, dispatched_on)
      OVERRIDING SYSTEM VALUE SELECT id, site, to_site, commodity, quantity, v_day FROM opened
    )
    SELECT coalesce(array_agg(req), '{}'), coalesce(array_agg(id), '{}') INTO v_transfer_reqs, v_transfer_ids
    FROM opened;

    -- Additions: new lots first, then one event per line.
    INSERT INTO lots (commodity_code, lot_code, expires_on)
    SELECT DISTINCT ON (l.commodity, l.lot) l.commodity, l.lot, l.expiry FROM unnest(v_wave_lines) l
    WHERE l.quantity > 0 AND l.lot <> '' AND l.expiry IS NOT NULL
    ORDER BY l.commodity, l.lot, l.req
    ON CONFLICT DO NOTHING;

    -- Event ids are drawn before the insert, so the rows returned need no join back to the insert (a join the
    -- planner cannot size for a batch it has not seen).
    WITH additions AS (
      SELECT a.*, CASE WHEN p_dry_run THEN -(v_next_id + row_number() OVER (ORDER BY a.req, a.part))
          ELSE nextval(v_event_seq) END AS id
      FROM (SELECT l.*, row_number() OVER (PARTITION BY l.req ORDER BY l.line) AS part
        FROM unnest(v_wave_lines) l WHERE l.quantity >= 0 ORDER BY l.req, l.line) a
    ), added AS (
      INSERT INTO stock_events (id, site_code, commodity_code, lot_code, kind, quantity, reason_code, occurred_on,
        recorded_on, note, population_code, channel, worker_code, client_uic, transfer_id, count_id, reverses_event_id,
        idempotency_key, key_part, fingerprint)
      OVERRIDING SYSTEM VALUE
      SELECT a.id, a.site, a.commodity, a.lot, a.kind, a.quantity, a.reason, a.day, v_today, a.note, a.population,
        a.channel, a.worker, a.client, a.transfer_id, a.count_id, a.reverses_event_id, a.key, a.part, a.fingerprint
      FROM additions a ORDER BY a.req, a.part
    ), balances AS (
      -- A balance carries its lot's expiry (0018), for the everyday dispense's first-expiry-first-out.
      INSERT INTO stock_balances AS b (site_code, commodity_code, lot_code, on_hand, expires_on)
      SELECT a.site, a.commodity, a.lot, sum(a.quantity), lo.expires_on
      FROM additions a LEFT JOIN lots lo ON lo.commodity_code = a.commodity AND lo.lot_code = a.lot
      GROUP BY 1, 2, 3, 5 ORDER BY 1, 2, 3
      ON CONFLICT (site_code, commodity_code, lot_code) DO UPDATE SET on_hand = b.on_hand + excluded.on_hand
    )
    SELECT coalesce(array_agg(ROW(a.req, 'posted', NULL, NULL, NULL, NULL, a.id, a.part, a.site, a.commodity, a.lot,
        lo.expires_on, a.kind, a.quantity, a.reason, a.day, a.transfer_id, a.count_id,
        a.reverses_event_id)::ledger_booked ORDER BY a.req, a.part), '{}')
    INTO v_wave
    FROM additions a LEFT JOIN lots lo ON lo.commodity_code = a.commodity AND lo.lot_code = a.lot;
    v_next_id := v_next_id + cardinality(v_wave);

    -- Takes. A take from a named lot comes from that lot; the others are spread first-expiry-first-out over the lots
    -- usable on the day ('usable') or expired by then ('expired'). What a lot can give on a day is its balance less
    -- the most that any later day's closing balance still needs of it (its room); for today that is its balance.
    -- Requests are served in order; the first in a site and commodity that runs short is refused, and (when
    -- refusals are reported) the allocation runs again without it.
    SELECT coalesce(array_agg(l ORDER BY l.req, l.line), '{}') INTO v_takes
    FROM unnest(v_wave_lines) l WHERE l.quantity < 0;

    IF cardinality(v_takes) > 0 THEN
      SELECT coalesce(array_agg(ROW(b.site_code, b.commodity_code, b.lot_code, lo.expires_on, b.on_hand,
          b.on_hand - greatest(0, coalesce(later.most, 0)))::ledger_lot_stock), '{}')
      INTO v_stock
      FROM stock_balances b
      LEFT JOIN lots lo ON lo.commodity_code = b.commodity_code AND lo.lot_code = b.lot_code
      LEFT JOIN LATERAL (
        SELECT max(suffix) AS most FROM (
          SELECT sum(ld.net_change) OVER (ORDER BY ld.day DESC) AS suffix
          FROM stock_lot_daily ld
          WHERE ld.site_code = b.site_code AND ld.commodity_code = b.commodity_code AND ld.lot_code = b.lot_code
            AND ld.day > v_day
        ) s
      ) later ON v_day < v_today
      WHERE (b.site_code, b.commodity_code) IN (SELECT l.site, l.commodity FROM unnest(v_takes) l);
    END IF;

    -- Cheap check first: when every named lot and every pool of lots has room for all that the day's takes ask of
    -- it, no take runs short, and the request-by-request account below is not needed.
    IF cardinality(v_takes) > 0 THEN
      -- A named lot is asked for once, whichever pool its takes name (a batch may take the same expired lot as
      -- 'expired' and as 'any'), as the account below sums it.
      WITH named AS (
        SELECT l.site, l.commodity, l.lot, sum(-l.quantity) AS asked
        FROM unnest(v_takes) l WHERE nullif(l.lot, '') IS NOT NULL GROUP BY 1, 2, 3
      ), stock AS (
        SELECT s.site, s.commodity, s.lot, s.room, CASE WHEN s.expires_on < v_day THEN 'expired' ELSE 'usable' END AS pool
        FROM unnest(v_stock) s
      ), left_over AS (
        SELECT s.site, s.commodity, s.pool, sum(greatest(s.room - coalesce(n.asked, 0), 0)) AS room,
          bool_or(n.asked > s.room) AS named_short
        FROM stock s LEFT JOIN named n ON n.site = s.site AND n.commodity = s.commodity AND n.lot = s.lot
        GROUP BY 1, 2, 3
      ), fefo AS (
        SELECT l.site, l.commodity, CASE WHEN l.lots = 'expired' THEN 'expired' ELSE 'usable' END AS pool,
          sum(-l.quantity) AS asked
        FROM unnest(v_takes) l WHERE nullif(l.lot, '') IS NULL GROUP BY 1, 2, 3
      )
      SELECT EXISTS (SELECT 1 FROM left_over WHERE named_short)
        OR EXISTS (SELECT 1 FROM fefo f LEFT JOIN left_over o ON o.site = f.site AND o.commodity = f.commodity
          AND o.pool = f.pool WHERE f.asked > coalesce(o.room, 0))
        OR EXISTS (SELECT 1 FROM named n LEFT JOIN stock s ON s.site = n.site AND s.commodity = n.commodity
          AND s.lot = n.lot WHERE s.lot IS NULL)
      INTO v_maybe_short;
    END IF;

    LOOP
      EXIT WHEN cardinality(v_takes) = 0 OR NOT v_maybe_short;
      WITH takes AS (
        SELECT l.req, l.line, l.site, l.commodity, nullif(l.lot, '') AS lot,
          CASE WHEN l.lots = 'expired' THEN 'expired' ELSE 'usable' END AS pool, -l.quantity AS asked
        FROM unnest(v_takes) l
      ), stock AS (
        SELECT s.*, CASE WHEN s.expires_on < v_day THEN 'expired' ELSE 'usable' END AS pool FROM unnest(v_stock) s
      ), named AS (
        SELECT t.*, coalesce(s.room, 0) AS room, coalesce(s.on_hand, 0) AS on_hand,
          sum(t.asked) OVER (PARTITION BY t.site, t.commodity, t.lot ORDER BY t.req, t.line) AS through
        FROM takes t LEFT JOIN stock s ON s.site = t.site AND s.commodity = t.commodity AND s.lot = t.lot
        WHERE t.lot IS NOT NULL
      ), named_total AS (
        SELECT site, commodity, lot, sum(asked) AS asked FROM named GROUP BY 1, 2, 3
      ), pool_total AS (
        -- What the lots of each pool have left for first-expiry-first-out takes.
        SELECT s.site, s.commodity, s.pool, sum(greatest(s.room - coalesce(nt.asked, 0), 0)) AS room,
          sum(greatest(s.on_hand - coalesce(nt.asked, 0), 0)) AS on_hand
        FROM stock s LEFT JOIN named_total nt ON nt.site = s.site AND nt.commodity = s.commodity AND nt.lot = s.lot
        GROUP BY 1, 2, 3
      ), fefo AS (
        SELECT t.*, coalesce(p.room, 0) AS room, coalesce(p.on_hand, 0) AS on_hand,
          sum(t.asked) OVER (PARTITION BY t.site, t.commodity, t.pool ORDER BY t.req, t.line) AS through,
          coalesce(x.on_hand, 0) AS expired_on_hand
        FROM takes t
        LEFT JOIN pool_total p ON p.site = t.site AND p.commodity = t.commodity AND p.pool = t.pool
        LEFT JOIN pool_total x ON x.site = t.site AND x.commodity = t.commodity AND x.pool = 'expired'
        WHERE t.lot IS NULL
      ), short AS (
        SELECT n.req, n.line, n.site, n.commodity,
          CASE WHEN n.through > n.on_hand THEN 'KP001' ELSE 'KP004' END AS state,
          CASE WHEN n.through > n.on_hand THEN format('insufficient stock of %s lot %s at %s: on hand %s, asked %s',
              n.commodity, n.lot, n.site, greatest(n.on_hand - (n.through - n.asked), 0), n.asked)
            ELSE format('back-dated to %s, lot %s of %s at %s is needed by later entries: %s could be taken on that '
              || 'day, asked %s', v_day, n.lot, n.commodity, n.site, greatest(n.room - (n.through - n.asked), 0),
              n.asked) END AS problem
        FROM named n WHERE n.through > n.room
        UNION ALL
        SELECT f.req, f.line, f.site, f.commodity,
          CASE WHEN f.through > f.on_hand THEN 'KP001' ELSE 'KP004' END,
          CASE WHEN f.through > f.on_hand THEN format('insufficient %sstock of %s at %s: on hand %s, asked %s%s',
              CASE WHEN f.pool = 'expired' THEN 'expired ' ELSE '' END, f.commodity, f.site,
              greatest(f.on_hand - (f.through - f.asked), 0), f.asked,
              CASE WHEN f.pool = 'usable' AND f.expired_on_hand > 0
                THEN format(' (another %s are in expired lots)', f.expired_on_hand) ELSE '' END)
            ELSE ledger_history_refusal(f.site, f.commodity, v_day, greatest(f.room - (f.through - f.asked), 0),
              f.asked) END
        FROM fefo f WHERE f.through > f.room
      )
      SELECT coalesce(array_agg(ledger_refusal(s.req, CASE WHEN s.state = 'KP004' THEN 'date' ELSE 'qty' END,
          s.problem, s.state) ORDER BY s.req), '{}')
      INTO v_short
      FROM (SELECT DISTINCT ON (site, commodity) * FROM short ORDER BY site, commodity, req, line) s;

      EXIT WHEN cardinality(v_short) = 0;
      IF NOT p_report THEN
        SELECT * INTO v_first FROM unnest(v_short) ORDER BY req LIMIT 1;
        RAISE EXCEPTION '%', v_first.problem USING ERRCODE = v_first.sqlstate;
      END IF;
      v_refused := v_refused || v_short;
      SELECT coalesce(array_agg(l ORDER BY l.req, l.line), '{}') INTO v_takes
      FROM unnest(v_takes) l WHERE NOT EXISTS (SELECT 1 FROM unnest(v_short) s WHERE s.req = l.req);
    END LOOP;

    IF cardinality(v_takes) > 0 THEN
      v_added := cardinality(v_wave);
      WITH takes AS (
        SELECT l.*, nullif(l.lot, '') AS named_lot, -l.quantity AS asked,
          CASE WHEN l.lots = 'expired' THEN 'expired' ELSE 'usable' END AS pool,
          coalesce(a.parts, 0) AS parts_before, coalesce(l.transfer_id, o.id) AS transfer
        FROM unnest(v_takes) l
        LEFT JOIN (SELECT x.req, count(*) AS parts FROM unnest(v_wave_lines) x WHERE x.quantity >= 0
          GROUP BY x.req) a ON a.req = l.req
        LEFT JOIN unnest(v_transfer_reqs, v_transfer_ids) AS o (req, id) ON o.req = l.req
      ), named_total AS (
        SELECT site, commodity, named_lot AS lot, sum(asked) AS asked FROM takes WHERE named_lot IS NOT NULL
        GROUP BY 1, 2, 3
      ), supply AS (
        SELECT s.site, s.commodity, s.lot, s.expires_on,
          CASE WHEN s.expires_on < v_day THEN 'expired' ELSE 'usable' END AS pool,
          s.room - coalesce(nt.asked, 0) AS available
        FROM unnest(v_stock) s
        LEFT JOIN named_total nt ON nt.site = s.site AND nt.commodity = s.commodity AND nt.lot = s.lot
        WHERE s.room - coalesce(nt.asked, 0) > 0
      ), supply_through AS (
        SELECT s.*, sum(s.available) OVER (PARTITION BY s.site, s.commodity, s.pool
          ORDER BY s.expires_on NULLS LAST, s.lot) AS through
        FROM supply s
      ), demand AS (
        SELECT t.*, sum(t.asked) OVER (PARTITION BY t.site, t.commodity, t.pool ORDER BY t.req, t.line) - t.asked
          AS upto
        FROM takes t WHERE t.named_lot IS NULL
      ), pieces AS (
        -- Each request's slice of cumulative demand, laid over each lot's slice of cumulative room, is what it
        -- takes from that lot. The pieces carry their take along, so nothing joins back to it.
        SELECT d.*, s.lot AS taken_lot, s.expires_on AS taken_expiry,
          least(d.upto + d.asked, s.through) - greatest(d.upto, s.through - s.available) AS taken
        FROM demand d JOIN supply_through s ON s.site = d.site AND s.commodity = d.commodity AND s.pool = d.pool
          AND s.through - s.available < d.upto + d.asked AND s.through > d.upto
        UNION ALL
        SELECT t.*, NULL, t.named_lot, NULL, t.asked FROM takes t WHERE t.named_lot IS NOT NULL
      ), numbered AS (
        SELECT n.*, CASE WHEN p_dry_run THEN -(v_next_id + row_number() OVER (ORDER BY n.req, n.part))
            ELSE nextval(v_event_seq) END AS id
        FROM (SELECT p.*, p.parts_before + row_number() OVER (PARTITION BY p.req
              ORDER BY p.line, p.taken_expiry NULLS LAST, p.taken_lot) AS part
          FROM pieces p ORDER BY p.req, part) n
      ), added AS (
        INSERT INTO stock_events (id, site_code, commodity_code, lot_code, kind, quantity, reason_code, occurred_on,
          recorded_on, note, population_code, channel, worker_code, client_uic, transfer_id, count_id, reverses_event_id,
          idempotency_key, key_part, fingerprint)
        OVERRIDING SYSTEM VALUE
        SELECT n.id, n.site, n.commodity, n.taken_lot, n.kind, -n.taken, n.reason, n.day, v_today, n.note,
          n.population, n.channel, n.worker, n.client, n.transfer, n.count_id, n.reverses_event_id, n.key, n.part,
          n.fingerprint
        FROM numbered n ORDER BY n.req, n.part
      ), balances AS (
        UPDATE stock_balances b SET on_hand = b.on_hand - taken.quantity
        FROM (SELECT site, commodity, taken_lot, sum(taken) AS quantity FROM numbered GROUP BY 1, 2, 3) taken
        WHERE b.site_code = taken.site AND b.commodity_code = taken.commodity AND b.lot_code = taken.taken_lot
      )
      SELECT v_wave || coalesce(array_agg(ROW(n.req, 'posted', NULL, NULL, NULL, NULL, n.id, n.part, n.site,
          n.commodity, n.taken_lot, lo.expires_on, n.kind, -n.taken, n.reason, n.day, n.transfer, n.count_id,
          n.reverses_event_id)::ledger_booked ORDER BY n.req, n.part), '{}')
      INTO v_wave
      FROM numbered n LEFT JOIN lots lo ON lo.commodity_code = n.commodity AND lo.lot_code = n.taken_lot;
      v_next_id := v_next_id + cardinality(v_wave) - v_added;
    END IF;

    INSERT INTO stock_lot_daily AS d (site_code, commodity_code, lot_code, day, net_change, received, dispensed, sent,
      adjusted)
    SELECT e.site_code, e.commodity_code, e.lot_code, v_day, sum(e.quantity),
      coalesce(sum(e.quantity) FILTER (WHERE e.kind IN ('receipt', 'transfer_in')), 0),
      coalesce(-sum(e.quantity) FILTER (WHERE e.kind = 'dispense'), 0),
      coalesce(-sum(e.quantity) FILTER (WHERE e.kind = 'transfer_out'), 0),
      coalesce(sum(e.quantity) FILTER (WHERE e.kind IN ('adjustment', 'count')), 0)
    FROM unnest(v_wave) e
    GROUP BY e.site_code, e.commodity_code, e.lot_code ORDER BY e.site_code, e.commodity_code, e.lot_code
    ON CONFLICT (site_code, commodity_code, lot_code, day) DO UPDATE SET
      net_change = d.net_change + excluded.net_change, received = d.received + excluded.received,
      dispensed = d.dispensed + excluded.dispensed, sent = d.sent + excluded.sent,
      adjusted = d.adjusted + excluded.adjusted;
    -- Returned a day at a time: a request's events are all on its day, in key_part order, and appending each day to
    -- one array would copy the batch's events once a day.
    RETURN QUERY SELECT * FROM unnest(v_wave);
  END LOOP;
  PERFORM set_config('kpstock.booked', '', true);

  RETURN QUERY
  SELECT (coalesce(r, ROW(x.req, 'repeat', NULL, NULL, NULL, NULL, NULL, NULL, x.site, NULL, NULL, NULL, NULL, NULL,
      NULL, NULL, NULL, NULL, NULL)::ledger_booked)).*
  FROM unnest(v_repeat_reqs, v_repeat_sites, v_repeat_keys) AS x (req, site, key)
  LEFT JOIN LATERAL ledger_recorded(x.req, x.site, x.key, 'repeat') r ON true
  UNION ALL
  SELECT f.* FROM unnest(v_refused) f
  ORDER BY 1, 8;
END $$;

-- Words a back-dated take that the days after it cannot spare: when the commodity's own closing balance would go
-- negative, on which day; otherwise the lots on hand that day are needed by later entries.
CREATE OR REPLACE FUNCTION ledger_history_refusal(p_site text, p_commodity text, p_day date, p_room numeric,
  p_asked numeric) RETURNS text LANGUAGE sql STABLE AS $$
  WITH days AS (
    SELECT day, sum(net_change) AS net_change FROM stock_lot_daily
    WHERE site_code = p_site AND commodity_code = p_commodity AND day > p_day GROUP BY day
  ), later AS (
    SELECT day, sum(net_change) OVER (ORDER BY day DESC) - net_change AS after_day FROM days
  ), candidates AS (
    SELECT p_day AS day, coalesce((SELECT sum(net_change) FROM days), 0) AS after_day
    UNION ALL SELECT day, after_day FROM later
  ), limiting AS (
    SELECT (SELECT coalesce(sum(on_hand), 0) FROM stock_balances WHERE site_code = p_site
        AND commodity_code = p_commodity) - after_day AS balance, day
    FROM candidates ORDER BY after_day DESC, day LIMIT 1
  )
  SELECT CASE WHEN balance < p_asked THEN format(
      'back-dated to %s, this would make the stock of %s at %s negative on %s: balance then %s, asked %s',
      p_day, p_commodity, p_site, day, balance, p_asked)
    ELSE format('back-dated to %s, the lots of %s at %s on that day are needed by later entries: %s could be taken, '
      || 'asked %s', p_day, p_commodity, p_site, p_room, p_asked) END
  FROM limiting
$$;
