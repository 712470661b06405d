-- Fast paths for the ledger's two hot writers: a single dispense (many pharmacists at once) and a dispensing
-- register import (a million rows). Both keep balances and daily rollups themselves, in the same statement
-- sequence and transaction as their events, instead of through the generic trigger; every other writer still
-- goes through the trigger. Measured in Benchmarks/LedgerBenchmark (docs/benchmarks.md).

-- plpgsql keeps a cached plan; the SQL version was re-planned on every call from plpgsql.
CREATE OR REPLACE FUNCTION programme_today() RETURNS date LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_simulated text := current_setting('kpstock.today', true);
  v_zone text;
BEGIN
  IF coalesce(v_simulated, '') <> '' THEN
    RETURN v_simulated::date;
  END IF;
  SELECT time_zone INTO v_zone FROM programme_settings;
  RETURN (now() AT TIME ZONE v_zone)::date;
END $$;

-- Row-by-row foreign keys from events to sites, commodities and populations cost a lookup and a shared row
-- lock on a hot parent row for every event. They are replaced by checks in the posting functions (one per
-- request, set-wise in the import) and by guards that keep the parents from going away: every event books a
-- balance row, and balances keep their foreign keys to sites and commodities; populations in use cannot be
-- deleted or renamed.
ALTER TABLE stock_events
  DROP CONSTRAINT stock_events_site_code_fkey,
  DROP CONSTRAINT stock_events_commodity_code_fkey,
  DROP CONSTRAINT stock_events_population_code_fkey;

CREATE FUNCTION populations_keep_used() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (TG_OP = 'DELETE' OR NEW.code IS DISTINCT FROM OLD.code)
    AND EXISTS (SELECT 1 FROM stock_events WHERE population_code = OLD.code) THEN
    RAISE EXCEPTION 'population % has stock events', OLD.code
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'populations_used_by_ledger';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER populations_keep_used BEFORE DELETE OR UPDATE OF code ON populations
  FOR EACH ROW EXECUTE FUNCTION populations_keep_used();

-- Only undo events carry reverses_event_id: the index need not hold a NULL for every other event.
ALTER TABLE stock_events DROP CONSTRAINT stock_events_reverses_event_id_key;
CREATE UNIQUE INDEX stock_events_reverses_event_id_key ON stock_events (reverses_event_id)
  WHERE reverses_event_id IS NOT NULL;

-- A writer that books its own events sets kpstock.booked for the transaction while it inserts them; the
-- generic trigger then stands aside, and the guards let that writer touch balances and daily rollups.
-- The setting is reset before the writer returns (and with any error, by the rollback), and `ledger verify`
-- recomputes everything from events.
DROP TRIGGER stock_events_apply ON stock_events;
CREATE TRIGGER stock_events_apply AFTER INSERT ON stock_events
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT
  WHEN (current_setting('kpstock.booked', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION stock_events_apply();

-- The guards decide in their WHEN clause, so a permitted write costs no function call. A write from inside
-- the generic trigger runs at trigger depth 1 when the clause is evaluated.
DROP TRIGGER stock_balances_derived ON stock_balances;
DROP TRIGGER stock_daily_derived ON stock_daily;
CREATE TRIGGER stock_balances_derived BEFORE INSERT OR UPDATE OR DELETE ON stock_balances FOR EACH STATEMENT
  WHEN (pg_trigger_depth() < 1 AND current_setting('kpstock.booked', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE TRIGGER stock_balances_no_truncate BEFORE TRUNCATE ON stock_balances
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE TRIGGER stock_daily_derived BEFORE INSERT OR UPDATE OR DELETE ON stock_daily FOR EACH STATEMENT
  WHEN (pg_trigger_depth() < 1 AND current_setting('kpstock.booked', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE TRIGGER stock_daily_no_truncate BEFORE TRUNCATE ON stock_daily
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE OR REPLACE FUNCTION stock_derived_refuse_direct_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is kept from stock_events: record an event instead', TG_TABLE_NAME USING ERRCODE = 'KP005';
END $$;

-- ledger_take's rules, returning arrays instead of a set (no result store, no cursor): locks the commodity's
-- balances at the site in lot order and reads them in the same statement, then allocates first-expiry-
-- first-out unless a lot is named, and refuses what the stock (today, and on every day since a back-dated
-- p_day) cannot cover. `p_expired` is 'skip' (dispense, send), 'only' (write off as expired) or 'allow'.
CREATE FUNCTION ledger_allocate(
  p_site text, p_commodity text, p_lot text, p_quantity bigint, p_day date, p_expired text, p_today date,
  OUT lots text[], OUT quantities bigint[], OUT expiries date[]
) LANGUAGE plpgsql AS $$
DECLARE
  v_left bigint := p_quantity;
  v_expired_stock bigint := 0;
  v_lot_expiry date;
  v_history record;
  v_lot text := nullif(p_lot, '');
  v_what text;
  v_taken bigint;
  v_lots text[];
  v_on_hand bigint[];
  v_expiries date[];
BEGIN
  IF p_quantity <= 0 THEN
    PERFORM ledger_refuse('qty', format('must be a positive whole number, not %s', p_quantity));
  END IF;
  IF NOT ledger_lot_tracked(p_commodity) THEN
    IF v_lot IS NOT NULL THEN
      PERFORM ledger_refuse('lot', format('%s is not lot-tracked: give no lot', p_commodity));
    END IF;
    v_lot := '';
  ELSIF v_lot IS NOT NULL THEN
    SELECT expires_on INTO v_lot_expiry FROM lots l WHERE l.commodity_code = p_commodity AND l.lot_code = v_lot;
    IF NOT FOUND THEN
      PERFORM ledger_refuse('lot', format('unknown lot %s of %s', v_lot, p_commodity));
    ELSIF p_expired = 'skip' AND v_lot_expiry < p_day THEN
      PERFORM ledger_refuse('lot', format(
        'lot %s of %s expired on %s: it can only be adjusted out as expired', v_lot, p_commodity, v_lot_expiry));
    ELSIF p_expired = 'only' AND v_lot_expiry >= p_day THEN
      PERFORM ledger_refuse('lot', format('lot %s of %s expires on %s: it has not expired', v_lot, p_commodity, v_lot_expiry));
    END IF;
  END IF;

  SELECT array_agg(locked.lot_code ORDER BY locked.expires_on NULLS LAST, locked.lot_code),
    array_agg(locked.on_hand ORDER BY locked.expires_on NULLS LAST, locked.lot_code),
    array_agg(locked.expires_on ORDER BY locked.expires_on NULLS LAST, locked.lot_code)
  INTO v_lots, v_on_hand, v_expiries
  FROM (
    SELECT b.lot_code, b.on_hand, l.expires_on
    FROM stock_balances b LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
    WHERE b.site_code = p_site AND b.commodity_code = p_commodity
    ORDER BY b.lot_code FOR UPDATE OF b
  ) locked
  WHERE locked.on_hand > 0 AND (v_lot IS NULL OR locked.lot_code = v_lot);

  FOR i IN 1..coalesce(array_length(v_lots, 1), 0) LOOP
    IF v_lot IS NULL AND v_expiries[i] IS NOT NULL
      AND ((p_expired = 'skip' AND v_expiries[i] < p_day) OR (p_expired = 'only' AND v_expiries[i] >= p_day)) THEN
      v_expired_stock := v_expired_stock + CASE WHEN v_expiries[i] < p_day THEN v_on_hand[i] ELSE 0 END;
      CONTINUE;
    END IF;
    EXIT WHEN v_left = 0;
    v_taken := least(v_left, v_on_hand[i]);
    v_left := v_left - v_taken;
    lots := lots || v_lots[i];
    quantities := quantities || v_taken;
    expiries := expiries || v_expiries[i];
  END LOOP;

  v_what := p_commodity || CASE WHEN coalesce(p_lot, '') <> '' THEN ' lot ' || p_lot ELSE '' END;
  IF v_left > 0 THEN
    RAISE EXCEPTION '%', format('insufficient %sstock of %s at %s: on hand %s, asked %s%s',
        CASE WHEN p_expired = 'only' THEN 'expired ' ELSE '' END, v_what, p_site, p_quantity - v_left, p_quantity,
        CASE WHEN p_expired = 'skip' AND v_expired_stock > 0
          THEN format(' (another %s are in expired lots)', v_expired_stock) ELSE '' END)
      USING ERRCODE = 'KP001';
  END IF;

  IF p_day < p_today THEN
    SELECT * INTO v_history FROM ledger_history_room(p_site, p_commodity, p_day);
    IF v_history.room < p_quantity THEN
      RAISE EXCEPTION '%', format(
          'back-dated to %s, this would make the stock of %s at %s negative on %s: balance then %s, asked %s',
          p_day, p_commodity, p_site, v_history.limiting_day, v_history.room, p_quantity)
        USING ERRCODE = 'KP004';
    END IF;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION ledger_take(
  p_site text, p_commodity text, p_lot text, p_quantity bigint, p_day date, p_expired text
) RETURNS TABLE (taken_lot text, taken bigint) LANGUAGE sql AS $$
  SELECT lot, quantity FROM ledger_allocate(p_site, p_commodity, p_lot, p_quantity, p_day, p_expired, programme_today()) a,
    unnest(a.lots, a.quantities) AS u (lot, quantity)
$$;

-- The same rules as before (ledger_claim_key, ledger_check_day, ledger_check_site, ledger_take), with the
-- checks that pass folded into one lookup; the detailed functions run only to word a refusal.
CREATE OR REPLACE FUNCTION ledger_dispense(
  p_key text, p_fingerprint bytea, p_site text, p_commodity text, p_lot text, p_quantity bigint, p_day date,
  p_population text, p_channel text, p_worker text, p_client text, p_note text
) RETURNS SETOF ledger_posted LANGUAGE plpgsql AS $$
DECLARE
  v_today date := programme_today();
  v_site text;
  v_closed date;
  v_window integer;
  v_population text;
  v_taken record;
BEGIN
  p_day := coalesce(p_day, v_today);
  IF NOT ledger_claim_key(p_site, p_key, p_fingerprint) THEN
    RETURN QUERY SELECT * FROM ledger_posted_for(p_site, p_key, true);
    RETURN;
  END IF;
  SELECT s.code, s.closed_on, ps.backdating_window_days, p.code INTO v_site, v_closed, v_window, v_population
  FROM programme_settings ps LEFT JOIN sites s ON s.code = p_site LEFT JOIN populations p ON p.code = p_population;
  IF p_day NOT BETWEEN v_today - v_window AND v_today THEN
    PERFORM ledger_check_day(p_day);
  END IF;
  IF v_site IS NULL OR p_day > v_closed THEN
    PERFORM ledger_check_site(p_site, p_day);
  END IF;
  IF p_channel = 'outreach' AND p_worker IS NULL THEN
    PERFORM ledger_refuse('worker', 'outreach dispensing needs the peer educator''s code');
  ELSIF p_channel = 'clinic' AND p_worker IS NOT NULL THEN
    PERFORM ledger_refuse('worker', 'only outreach dispensing names a peer educator');
  END IF;
  IF v_population IS NULL THEN
    PERFORM ledger_refuse('population',
      CASE WHEN p_population IS NULL THEN 'is required' ELSE format('unknown population %s', p_population) END);
  END IF;

  SELECT * INTO v_taken FROM ledger_allocate(p_site, p_commodity, p_lot, p_quantity, p_day, 'skip', v_today);
  PERFORM set_config('kpstock.booked', 'on', true);
  -- One statement books the events it writes: fewer executor starts on the hottest path.
  RETURN QUERY
  WITH taken AS (
    SELECT lot, quantity, expires_on, part::smallint AS part
    FROM unnest(v_taken.lots, v_taken.quantities, v_taken.expiries) WITH ORDINALITY AS u (lot, quantity, expires_on, part)
  ), added AS (
    INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, note, population_code,
      channel, worker_code, client_uic, idempotency_key, key_part, fingerprint)
    SELECT p_site, p_commodity, lot, 'dispense', -quantity, p_day, p_note, p_population, p_channel, p_worker, p_client,
      p_key, part, p_fingerprint
    FROM taken
    RETURNING id, lot_code, key_part
  ), balances AS (
    UPDATE stock_balances b SET on_hand = b.on_hand - taken.quantity FROM taken
    WHERE b.site_code = p_site AND b.commodity_code = p_commodity AND b.lot_code = taken.lot
  ), daily AS (
    INSERT INTO stock_daily AS d (site_code, commodity_code, day, net_change, received, dispensed, sent, adjusted)
    VALUES (p_site, p_commodity, p_day, -p_quantity, 0, p_quantity, 0, 0)
    ON CONFLICT (site_code, commodity_code, day) DO UPDATE SET
      net_change = d.net_change + excluded.net_change, dispensed = d.dispensed + excluded.dispensed
  )
  SELECT false, added.id, p_site, p_commodity, taken.lot, taken.expires_on, 'dispense'::text, -taken.quantity,
    NULL::text, p_day, NULL::bigint, NULL::bigint, NULL::bigint
  FROM added JOIN taken ON taken.part = added.key_part ORDER BY added.key_part;
  PERFORM set_config('kpstock.booked', '', true);
END $$;

-- Dispensing registers are long (a year of a busy DICE is tens of thousands of rows), so they are checked
-- and posted set-wise: one INSERT writes every event, then one UPDATE and one upsert book them (the generic
-- trigger stands aside).
-- The rules are ledger_dispense's, applied to the rows in date order:
--   * the commodity's history: a row fits when the rows up to it (same site and commodity, date order) do
--     not exceed the smallest closing balance from its day on;
--   * lots: rows naming a lot take from it; the others are allocated first-expiry-first-out across the lots
--     usable today (intervals of cumulative demand laid over intervals of cumulative stock).
-- Only the first row that runs short in a site and commodity is reported (the rows after it depend on it).
-- With p_skip, that row is dropped and the check runs again, until the rest fit.
CREATE OR REPLACE FUNCTION ledger_import_dispensing(p_skip boolean, OUT posted bigint, OUT repeats bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_today date := programme_today();
  v_window integer := (SELECT backdating_window_days FROM programme_settings);
  v_short bigint;
BEGIN
  INSERT INTO ledger_import_errors (line, field, problem)
  SELECT r.line, 'site', format('unknown site %s', r.site) FROM ledger_import_rows r
  WHERE r.site IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sites s WHERE s.code = r.site)
  UNION ALL
  SELECT r.line, 'site', 'is required' FROM ledger_import_rows r WHERE r.site IS NULL
  UNION ALL
  SELECT r.line, 'site', format('site %s closed on %s', r.site, s.closed_on)
  FROM ledger_import_rows r JOIN sites s ON s.code = r.site WHERE r.day > s.closed_on
  UNION ALL
  SELECT r.line, 'commodity', CASE WHEN r.commodity IS NULL THEN 'is required'
    ELSE format('unknown commodity %s', r.commodity) END
  FROM ledger_import_rows r WHERE NOT EXISTS (SELECT 1 FROM commodities c WHERE c.code = r.commodity)
  UNION ALL
  SELECT r.line, 'date', format('%s is in the future (today is %s)', r.day, v_today)
  FROM ledger_import_rows r WHERE r.day > v_today
  UNION ALL
  SELECT r.line, 'date', format(
    '%s is more than %s days ago, outside the back-dating window (kpstock settings set --backdating-window-days)',
    r.day, v_window)
  FROM ledger_import_rows r WHERE r.day < v_today - v_window
  UNION ALL
  SELECT r.line, 'worker', 'only outreach dispensing names a peer educator' FROM ledger_import_rows r
  WHERE r.channel = 'clinic' AND r.worker IS NOT NULL
  UNION ALL
  SELECT r.line, 'worker', 'outreach dispensing needs the peer educator''s code' FROM ledger_import_rows r
  WHERE r.channel = 'outreach' AND r.worker IS NULL
  UNION ALL
  SELECT r.line, 'lot', CASE
      WHEN NOT c.lot_tracked THEN format('%s is not lot-tracked: give no lot', r.commodity)
      WHEN l.lot_code IS NULL THEN format('unknown lot %s of %s', r.lot, r.commodity)
      ELSE format('lot %s of %s expired on %s: it can only be adjusted out as expired', r.lot, r.commodity,
        l.expires_on) END
  FROM ledger_import_rows r JOIN commodities c ON c.code = r.commodity
  LEFT JOIN lots l ON l.commodity_code = r.commodity AND l.lot_code = r.lot
  WHERE r.lot IS NOT NULL AND (NOT c.lot_tracked OR l.lot_code IS NULL OR l.expires_on < r.day);

  -- Keys: one already in the ledger is a repeat when its content matches and an error when it does not;
  -- within the file the first line with a key wins.
  CREATE TEMP TABLE ledger_import_outcome ON COMMIT DROP AS
  SELECT r.line, CASE WHEN e.fingerprint = r.fingerprint THEN 'repeat' ELSE 'conflict' END AS outcome, e.id
  FROM ledger_import_rows r
  JOIN stock_events e ON e.site_code = r.site AND e.idempotency_key = r.key AND e.key_part = 1;
  INSERT INTO ledger_import_outcome
  SELECT line, CASE WHEN fingerprint = first_fingerprint THEN 'repeat' ELSE 'conflict' END, NULL
  FROM (
    SELECT line, fingerprint, first_value(fingerprint) OVER w AS first_fingerprint, row_number() OVER w AS n
    FROM ledger_import_rows WINDOW w AS (PARTITION BY site, key ORDER BY line)
  ) k
  WHERE n > 1 AND line NOT IN (SELECT line FROM ledger_import_outcome);
  INSERT INTO ledger_import_errors (line, field, problem)
  SELECT o.line, 'key', format('key %s was already used at %s for a different entry%s', r.key, r.site,
    coalesce(format(' (event %s)', o.id), ' (an earlier line)'))
  FROM ledger_import_outcome o JOIN ledger_import_rows r USING (line) WHERE o.outcome = 'conflict';
  SELECT count(*) INTO repeats FROM ledger_import_outcome WHERE outcome = 'repeat';

  CREATE TEMP TABLE ledger_import_take ON COMMIT DROP AS
  SELECT r.* FROM ledger_import_rows r
  WHERE NOT EXISTS (SELECT 1 FROM ledger_import_errors e WHERE e.line = r.line)
    AND NOT EXISTS (SELECT 1 FROM ledger_import_outcome o WHERE o.line = r.line);

  ANALYZE ledger_import_take;

  PERFORM 1 FROM stock_balances b
  WHERE (b.site_code, b.commodity_code) IN (SELECT site, commodity FROM ledger_import_take)
  ORDER BY b.site_code, b.commodity_code, b.lot_code FOR UPDATE;

  -- The room each (site, commodity, day) of the file has in the ledger's history, before this file.
  CREATE TEMP TABLE ledger_import_room ON COMMIT DROP AS
  SELECT site, commodity, day, (ledger_history_room(site, commodity, day)).room AS room
  FROM (SELECT DISTINCT site, commodity, day FROM ledger_import_take) d;

  LOOP
    CREATE TEMP TABLE ledger_import_short ON COMMIT DROP AS
    WITH ordered AS (
      SELECT t.*, sum(t.quantity) OVER (PARTITION BY t.site, t.commodity ORDER BY t.day, t.line) AS total_through,
        sum(t.quantity) FILTER (WHERE t.lot IS NOT NULL)
          OVER (PARTITION BY t.site, t.commodity, t.lot ORDER BY t.day, t.line) AS lot_through,
        sum(t.quantity) FILTER (WHERE t.lot IS NULL)
          OVER (PARTITION BY t.site, t.commodity ORDER BY t.day, t.line) AS fefo_through
      FROM ledger_import_take t
    ), history AS (
      -- The smallest room from each day on: a row may not use stock a later day needs.
      SELECT site, commodity, day,
        min(room) OVER (PARTITION BY site, commodity ORDER BY day DESC) AS room_from
      FROM ledger_import_room
    ), lot_stock AS (
      SELECT b.site_code, b.commodity_code, b.lot_code, b.on_hand FROM stock_balances b
      WHERE (b.site_code, b.commodity_code) IN (SELECT site, commodity FROM ledger_import_take)
    ), usable AS (
      SELECT s.site_code, s.commodity_code, sum(s.on_hand - coalesce(named.quantity, 0)) AS quantity
      FROM lot_stock s LEFT JOIN lots l ON l.commodity_code = s.commodity_code AND l.lot_code = s.lot_code
      LEFT JOIN (SELECT site, commodity, lot, sum(quantity) AS quantity FROM ledger_import_take
        WHERE lot IS NOT NULL GROUP BY 1, 2, 3) named
        ON named.site = s.site_code AND named.commodity = s.commodity_code AND named.lot = s.lot_code
      WHERE l.expires_on IS NULL OR l.expires_on >= v_today
      GROUP BY 1, 2
    ), judged AS (
      SELECT o.line, o.site, o.commodity, o.lot, o.day, o.quantity,
        CASE
          WHEN o.lot IS NOT NULL AND o.lot_through > coalesce(ls.on_hand, 0) THEN format(
            'insufficient stock of %s lot %s at %s: on hand %s, asked %s', o.commodity, o.lot, o.site,
            greatest(coalesce(ls.on_hand, 0) - (o.lot_through - o.quantity), 0), o.quantity)
          WHEN o.lot IS NULL AND o.fefo_through > coalesce(u.quantity, 0) THEN format(
            'insufficient stock of %s at %s: on hand %s, asked %s', o.commodity, o.site,
            greatest(coalesce(u.quantity, 0) - (o.fefo_through - o.quantity), 0), o.quantity)
          WHEN o.total_through > h.room_from THEN format(
            'back-dated to %s, this would make the stock of %s at %s negative: balance then %s, asked %s',
            o.day, o.commodity, o.site, greatest(h.room_from - (o.total_through - o.quantity), 0), o.quantity)
        END AS problem
      FROM ordered o
      JOIN history h ON h.site = o.site AND h.commodity = o.commodity AND h.day = o.day
      LEFT JOIN lot_stock ls ON ls.site_code = o.site AND ls.commodity_code = o.commodity AND ls.lot_code = o.lot
      LEFT JOIN usable u ON u.site_code = o.site AND u.commodity_code = o.commodity
    )
    SELECT DISTINCT ON (site, commodity) line, problem FROM judged WHERE problem IS NOT NULL
    ORDER BY site, commodity, day, line;

    SELECT count(*) INTO v_short FROM ledger_import_short;
    INSERT INTO ledger_import_errors (line, field, problem) SELECT line, 'qty', problem FROM ledger_import_short;
    DELETE FROM ledger_import_take WHERE line IN (SELECT line FROM ledger_import_short);
    DROP TABLE ledger_import_short;
    EXIT WHEN v_short = 0 OR NOT p_skip;
  END LOOP;

  IF NOT p_skip AND EXISTS (SELECT 1 FROM ledger_import_errors) THEN
    posted := 0;
    RETURN;
  END IF;

  -- First-expiry-first-out for the rows without a lot: each row's slice of cumulative demand, laid over
  -- each usable lot's slice of cumulative stock (after what named-lot rows take), gives what it takes from it.
  CREATE TEMP TABLE ledger_import_pieces ON COMMIT DROP AS
  WITH demand AS (
    SELECT t.*, sum(t.quantity) OVER (PARTITION BY t.site, t.commodity ORDER BY t.day, t.line) - t.quantity AS upto
    FROM ledger_import_take t WHERE t.lot IS NULL
  ), supply AS (
    SELECT b.site_code, b.commodity_code, b.lot_code, l.expires_on,
      sum(b.on_hand - coalesce(named.quantity, 0)) OVER (PARTITION BY b.site_code, b.commodity_code
        ORDER BY l.expires_on NULLS LAST, b.lot_code) AS stock_through,
      b.on_hand - coalesce(named.quantity, 0) AS available
    FROM stock_balances b LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
    LEFT JOIN (SELECT site, commodity, lot, sum(quantity) AS quantity FROM ledger_import_take
      WHERE lot IS NOT NULL GROUP BY 1, 2, 3) named
      ON named.site = b.site_code AND named.commodity = b.commodity_code AND named.lot = b.lot_code
    WHERE (b.site_code, b.commodity_code) IN (SELECT site, commodity FROM demand)
      AND (l.expires_on IS NULL OR l.expires_on >= v_today) AND b.on_hand - coalesce(named.quantity, 0) > 0
  )
  SELECT d.line, s.lot_code, s.expires_on,
    least(d.upto + d.quantity, s.stock_through) - greatest(d.upto, s.stock_through - s.available) AS quantity
  FROM demand d JOIN supply s ON s.site_code = d.site AND s.commodity_code = d.commodity
    AND s.stock_through - s.available < d.upto + d.quantity AND s.stock_through > d.upto
  UNION ALL
  SELECT t.line, t.lot, NULL, t.quantity FROM ledger_import_take t WHERE t.lot IS NOT NULL;
  ANALYZE ledger_import_pieces;

  PERFORM set_config('kpstock.booked', 'on', true);
  INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, note, population_code,
    channel, worker_code, client_uic, idempotency_key, key_part, fingerprint)
  SELECT t.site, t.commodity, p.lot_code, 'dispense', -p.quantity, t.day, t.note, t.population, t.channel, t.worker,
    t.client, t.key, row_number() OVER (PARTITION BY t.line ORDER BY p.expires_on NULLS LAST, p.lot_code),
    t.fingerprint
  FROM ledger_import_pieces p JOIN ledger_import_take t ON t.line = p.line
  ORDER BY t.day, t.line;
  -- The balances were locked above, in key order.
  UPDATE stock_balances b SET on_hand = b.on_hand - taken.quantity
  FROM (SELECT t.site, t.commodity, p.lot_code, sum(p.quantity) AS quantity
    FROM ledger_import_pieces p JOIN ledger_import_take t ON t.line = p.line GROUP BY 1, 2, 3) taken
  WHERE b.site_code = taken.site AND b.commodity_code = taken.commodity AND b.lot_code = taken.lot_code;
  INSERT INTO stock_daily AS d (site_code, commodity_code, day, net_change, received, dispensed, sent, adjusted)
  SELECT site, commodity, day, -sum(quantity), 0, sum(quantity), 0, 0 FROM ledger_import_take
  GROUP BY site, commodity, day ORDER BY site, commodity, day
  ON CONFLICT (site_code, commodity_code, day) DO UPDATE SET
    net_change = d.net_change + excluded.net_change, dispensed = d.dispensed + excluded.dispensed;
  PERFORM set_config('kpstock.booked', '', true);
  SELECT count(*) INTO posted FROM ledger_import_take;
END $$;

-- A register is sorted and joined in memory rather than on disk, and these statements run once per import:
-- compiling them (JIT) costs more than it saves.
ALTER FUNCTION ledger_import_prepare(text) SET work_mem = '128MB';
ALTER FUNCTION ledger_import_prepare(text) SET jit = off;
ALTER FUNCTION ledger_import_dispensing(boolean) SET work_mem = '128MB';
ALTER FUNCTION ledger_import_dispensing(boolean) SET jit = off;
