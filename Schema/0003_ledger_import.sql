-- Bulk import of paper registers typed into spreadsheets. The file is streamed by COPY into the temporary
-- table ledger_staging (line number + one text column per CSV column); these functions check it set-wise,
-- then post each row through the same posting functions as the CLI, in date order, in the caller's
-- transaction. A row's idempotency key is its `key` cell or a digest of its content, so importing the same
-- file twice, or two overlapping files, posts nothing twice.

-- A date in YYYY-MM-DD, or NULL when the text is not one (never an error, so a bad cell is reported, not fatal).
CREATE FUNCTION ledger_parse_date(p_text text) RETURNS date LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_text ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
    CASE WHEN substr(p_text, 6, 2)::integer BETWEEN 1 AND 12 AND substr(p_text, 1, 4)::integer >= 1 THEN
      CASE WHEN substr(p_text, 9, 2)::integer BETWEEN 1 AND extract(day FROM
          make_date(substr(p_text, 1, 4)::integer, substr(p_text, 6, 2)::integer, 1) + interval '1 month - 1 day')
        THEN p_text::date END
    END
  END
$$;

-- Types the staged rows into ledger_import_rows and lists cells that cannot be read into
-- ledger_import_errors (line, field, problem). p_kind: dispensing, receipts, adjustments or counts.
CREATE FUNCTION ledger_import_prepare(p_kind text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_column text;
BEGIN
  IF p_kind NOT IN ('dispensing', 'receipts', 'adjustments', 'counts') THEN
    RAISE EXCEPTION 'unknown import kind %', p_kind;
  END IF;
  FOREACH v_column IN ARRAY ARRAY['site', 'commodity', 'lot', 'expiry', 'qty', 'date', 'population', 'channel',
    'worker', 'client', 'reason', 'note', 'key']
  LOOP
    EXECUTE format('ALTER TABLE ledger_staging ADD COLUMN IF NOT EXISTS %I text', v_column);
  END LOOP;
  DROP TABLE IF EXISTS pg_temp.ledger_import_rows, pg_temp.ledger_import_errors;
  CREATE TEMP TABLE ledger_import_errors (line bigint NOT NULL, field text NOT NULL, problem text NOT NULL);

  CREATE TEMP TABLE ledger_import_rows AS
  WITH cells AS (
    SELECT line, upper(btrim(site)) AS site, upper(btrim(commodity)) AS commodity, upper(btrim(lot)) AS lot,
      btrim(expiry) AS expiry, btrim(qty) AS qty, btrim(date) AS date, upper(btrim(population)) AS population,
      lower(btrim(channel)) AS channel, upper(btrim(worker)) AS worker, upper(btrim(client)) AS client,
      lower(btrim(reason)) AS reason, btrim(note) AS note, btrim(key) AS key
    FROM ledger_staging
  ), described AS (
    SELECT cells.*, md5(concat_ws(E'\x1f', p_kind, site, commodity, lot, expiry, qty, date, population, channel,
      worker, client, reason, note)) AS digest
    FROM cells
  )
  SELECT row_number() OVER (ORDER BY ledger_parse_date(date), line) AS seq, line, site, commodity,
    nullif(lot, '') AS lot, expiry, ledger_parse_date(expiry) AS expires_on, qty,
    CASE WHEN qty ~ '^[+-]?[0-9]{1,10}$' THEN qty::bigint END AS quantity, date, ledger_parse_date(date) AS day,
    population, channel, worker, client, reason, note,
    coalesce(key, 'row:' || digest || ':' || row_number() OVER (PARTITION BY digest ORDER BY line)) AS key,
    decode(digest, 'hex') AS fingerprint
  FROM described;
  ANALYZE ledger_import_rows;

  INSERT INTO ledger_import_errors (line, field, problem)
  SELECT line, 'date', CASE WHEN date IS NULL THEN 'is required' ELSE format('''%s'' is not a date (YYYY-MM-DD)', date) END
  FROM ledger_import_rows WHERE day IS NULL
  UNION ALL
  SELECT line, 'expiry', format('''%s'' is not a date (YYYY-MM-DD)', expiry)
  FROM ledger_import_rows WHERE expiry IS NOT NULL AND expires_on IS NULL
  UNION ALL
  SELECT line, 'qty', CASE WHEN qty IS NULL THEN 'is required'
      WHEN quantity IS NULL THEN format('''%s'' is not a whole number of base units', qty)
      WHEN p_kind = 'counts' THEN format('''%s'' is negative: give the quantity counted', qty)
      ELSE format('''%s'' must be a positive whole number', qty) END
  FROM ledger_import_rows
  WHERE quantity IS NULL
    OR (p_kind IN ('dispensing', 'receipts') AND (quantity <= 0 OR qty ~ '^[+-]'))
    OR (p_kind = 'counts' AND (quantity < 0 OR qty ~ '^[+-]'))
    OR (p_kind = 'adjustments' AND quantity = 0)
  UNION ALL
  SELECT line, 'population', CASE WHEN population IS NULL THEN 'is required'
    ELSE format('unknown population %s', population) END
  FROM ledger_import_rows WHERE p_kind = 'dispensing'
    AND (population IS NULL OR NOT EXISTS (SELECT 1 FROM populations p WHERE p.code = population))
  UNION ALL
  SELECT line, 'channel', CASE WHEN channel IS NULL THEN 'is required'
    ELSE format('''%s'' is not a channel (clinic, outreach)', channel) END
  FROM ledger_import_rows WHERE p_kind = 'dispensing' AND (channel IS NULL OR channel NOT IN ('clinic', 'outreach'))
  UNION ALL
  SELECT line, 'worker', format('''%s'' is not a valid code (2–32 letters, digits or dashes)', worker)
  FROM ledger_import_rows WHERE worker !~ '^[A-Z0-9][A-Z0-9-]{1,31}$'
  UNION ALL
  SELECT line, 'client', format(
    '''%s'' is not a UIC (6–32 letters, digits or dashes, with a letter); never a name or phone number', client)
  FROM ledger_import_rows WHERE client !~ '^[A-Z0-9-]{6,32}$' OR client !~ '[A-Z]'
  UNION ALL
  SELECT line, 'reason', CASE WHEN reason IS NULL THEN 'is required' ELSE format('unknown reason %s', reason) END
  FROM ledger_import_rows r WHERE (p_kind = 'adjustments' AND reason IS NULL)
    OR (reason IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stock_reasons s WHERE s.code = r.reason))
  UNION ALL
  SELECT r.line, 'qty', CASE s.direction
      WHEN 'in' THEN format('reason %s adds stock: give the quantity found, without a sign', r.reason)
      WHEN 'out' THEN format('reason %s removes stock: give the quantity removed, without a sign', r.reason)
      ELSE format('reason %s can add or remove stock: write +%s or -%s', r.reason, abs(r.quantity), abs(r.quantity)) END
  FROM ledger_import_rows r JOIN stock_reasons s ON s.code = r.reason
  WHERE p_kind = 'adjustments' AND r.quantity IS NOT NULL AND r.quantity <> 0
    AND ((s.direction = 'in' AND r.qty ~ '^-') OR (s.direction = 'out' AND r.qty ~ '^\+')
      OR (s.direction = 'either' AND r.qty !~ '^[+-]'))
  UNION ALL
  SELECT line, 'note', 'is longer than 500 characters' FROM ledger_import_rows WHERE length(note) > 500
  UNION ALL
  SELECT line, 'key', 'must be 1–100 characters without control characters'
  FROM ledger_import_rows WHERE length(key) > 100 OR key ~ '[[:cntrl:]]';
END $$;

-- Posts typed rows seq p_from..p_to (date order) that have no cell errors, one subtransaction each, and
-- returns every row's outcome: posted, repeat (already recorded under its key) or error with field and problem.
-- Errors that say the transaction itself failed (deadlock, cancel, lost connection) are raised, not reported.
CREATE FUNCTION ledger_import_post(p_kind text, p_from bigint, p_to bigint)
RETURNS TABLE (line bigint, outcome text, field text, problem text, constraint_name text) LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_replayed boolean;
  v_state text;
  v_message text;
  v_column text;
  v_constraint text;
BEGIN
  FOR r IN
    SELECT * FROM ledger_import_rows i
    WHERE i.seq BETWEEN p_from AND p_to AND NOT EXISTS (SELECT 1 FROM ledger_import_errors e WHERE e.line = i.line)
    ORDER BY i.seq
  LOOP
    BEGIN
      CASE p_kind
        WHEN 'dispensing' THEN
          SELECT bool_or(replayed) INTO v_replayed FROM ledger_dispense(r.key, r.fingerprint, r.site, r.commodity,
            r.lot, r.quantity, r.day, r.population, r.channel, r.worker, r.client, r.note);
        WHEN 'receipts' THEN
          SELECT bool_or(replayed) INTO v_replayed FROM ledger_receive(r.key, r.fingerprint, r.site, r.commodity,
            r.lot, r.expires_on, r.quantity, r.day, r.note);
        WHEN 'adjustments' THEN
          SELECT bool_or(replayed) INTO v_replayed FROM ledger_adjust(r.key, r.fingerprint, r.site, r.commodity,
            r.lot, r.expires_on,
            CASE WHEN (SELECT direction FROM stock_reasons WHERE code = r.reason) = 'out' THEN -abs(r.quantity)
              ELSE r.quantity END,
            r.reason, r.day, r.note);
        WHEN 'counts' THEN
          SELECT bool_or(replayed) INTO v_replayed FROM ledger_count(r.key, r.fingerprint, r.site, r.commodity,
            r.lot, r.expires_on, r.quantity, r.reason, r.day, NULL, r.note);
      END CASE;
      line := r.line;
      outcome := CASE WHEN v_replayed THEN 'repeat' ELSE 'posted' END;
      field := NULL;
      problem := NULL;
      constraint_name := NULL;
      RETURN NEXT;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_column = COLUMN_NAME,
        v_constraint = CONSTRAINT_NAME;
      IF left(v_state, 2) NOT IN ('KP', '22', '23') THEN
        RAISE;
      END IF;
      line := r.line;
      outcome := 'error';
      field := coalesce(nullif(v_column, ''), CASE v_state WHEN 'KP001' THEN 'qty' WHEN 'KP004' THEN 'date' END);
      problem := v_message;
      constraint_name := nullif(v_constraint, '');
      RETURN NEXT;
    END;
  END LOOP;
END $$;

-- Dispensing registers are long (a year of a busy DICE is tens of thousands of rows), so they are checked
-- and posted set-wise: one INSERT writes every event and the ledger trigger applies the balances once.
-- The rules are ledger_dispense's, applied to the rows in date order:
--   * the commodity's history: a row fits when the rows up to it (same site and commodity, date order) do
--     not exceed the smallest closing balance from its day on;
--   * lots: rows naming a lot take from it; the others are allocated first-expiry-first-out across the lots
--     usable today (intervals of cumulative demand laid over intervals of cumulative stock).
-- Only the first row that runs short in a site and commodity is reported (the rows after it depend on it).
-- With p_skip, that row is dropped and the check runs again, until the rest fit.
CREATE FUNCTION ledger_import_dispensing(p_skip boolean, OUT posted bigint, OUT repeats bigint)
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
  ), pieces AS (
    SELECT d.line, s.lot_code, s.expires_on,
      least(d.upto + d.quantity, s.stock_through) - greatest(d.upto, s.stock_through - s.available) AS quantity
    FROM demand d JOIN supply s ON s.site_code = d.site AND s.commodity_code = d.commodity
      AND s.stock_through - s.available < d.upto + d.quantity AND s.stock_through > d.upto
    UNION ALL
    SELECT t.line, t.lot, NULL, t.quantity FROM ledger_import_take t WHERE t.lot IS NOT NULL
  )
  INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, note, population_code,
    channel, worker_code, client_uic, idempotency_key, key_part, fingerprint)
  SELECT t.site, t.commodity, p.lot_code, 'dispense', -p.quantity, t.day, t.note, t.population, t.channel, t.worker,
    t.client, t.key, row_number() OVER (PARTITION BY t.line ORDER BY p.expires_on NULLS LAST, p.lot_code),
    t.fingerprint
  FROM pieces p JOIN ledger_import_take t ON t.line = p.line
  ORDER BY t.day, t.line;
  SELECT count(*) INTO posted FROM ledger_import_take;
END $$;
