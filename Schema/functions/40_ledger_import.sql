-- Bulk import of paper registers typed into spreadsheets. The file is streamed by COPY into the temporary table
-- ledger_staging (line number + one text column per CSV column); ledger_import_prepare reads each cell into its type,
-- and ledger_import_post books the rows through ledger_book, in date order, in the caller's transaction. Every rule
-- beyond a cell's type is ledger_book's. A row's idempotency key is its `key` cell or made from its content
-- (ledger_import_span), so importing the same file twice, or two overlapping files, posts nothing twice.

-- Adds to a staged file's temporary table (Sources/KPStock/Import/StagingTable.swift) the text columns it lacks, so that
-- one query reads every kind of file: a column the file did not have is NULL in every row.
CREATE OR REPLACE FUNCTION staging_columns(p_table text, p_columns text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_column text;
BEGIN
  -- Only the missing ones: an ALTER TABLE costs a lock and a catalog change even when it changes nothing.
  FOR v_column IN
    SELECT c FROM unnest(p_columns) c
    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = format('pg_temp.%I', p_table)::regclass
      AND a.attname = c AND NOT a.attisdropped)
  LOOP
    EXECUTE format('ALTER TABLE pg_temp.%I ADD COLUMN %I text', p_table, v_column);
  END LOOP;
END $$;

-- The columns ledger_import_prepare reads from ledger_staging; the importer adds those its file lacks
-- (staging_columns) before calling it.
CREATE OR REPLACE FUNCTION ledger_import_columns() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['site', 'commodity', 'lot', 'expiry', 'qty', 'date', 'population', 'channel', 'worker', 'client',
    'reason', 'note', 'key']
$$;

-- A date in YYYY-MM-DD, or NULL when the text is not one (never an error, so a bad cell is reported, not fatal).
-- STABLE, as the text-to-date cast is, so that it is inlined into the query that reads a register.
CREATE OR REPLACE FUNCTION ledger_parse_date(p_text text) RETURNS date LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_text ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
    CASE WHEN substr(p_text, 6, 2)::integer BETWEEN 1 AND 12 AND substr(p_text, 1, 4)::integer >= 1 THEN
      CASE WHEN substr(p_text, 9, 2)::integer BETWEEN 1 AND extract(day FROM
          make_date(substr(p_text, 1, 4)::integer, substr(p_text, 6, 2)::integer, 1) + interval '1 month - 1 day')
        THEN p_text::date END
    END
  END
$$;

-- Types the staged rows into ledger_import_rows and lists cells that cannot be read into ledger_import_errors
-- (line, field, problem). p_kind: dispensing, receipts, adjustments or counts. An adjustment's quantity takes its sign
-- from its reason (a reason that can go either way needs +N or -N), as `kpstock adjust` reads --qty.
--
-- Each row becomes its request's ledger line here, once (ledger_request_line: the normalised fields and the
-- fingerprint). A row without a `key` cell is keyed by its day, its fingerprint and its place among identical rows of
-- that day (ledger_import_span), so a register imported twice, or two overlapping registers, post nothing twice, and
-- the keys of one day's rows sit together in the key index. Dates are parsed once per distinct text, not per row.
-- Rows are read back a span of days at a time (ledger_import_spans), through an index on the day.
CREATE OR REPLACE FUNCTION ledger_import_prepare(p_kind text) RETURNS void LANGUAGE plpgsql
SET work_mem = '128MB' SET jit = off SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_today date := programme_today();
BEGIN
  IF p_kind NOT IN ('dispensing', 'receipts', 'adjustments', 'counts') THEN
    RAISE EXCEPTION 'unknown import kind %', p_kind;
  END IF;
  -- The importer has added the columns its file lacked (ledger_import_columns): a temporary table is changed only by
  -- the role that made it, and this function runs as the owner.
  DROP TABLE IF EXISTS pg_temp.ledger_import_rows, pg_temp.ledger_import_errors;
  -- Made by the owner (this function runs as it), for the importer to read (granted below); the next import of the
  -- session drops them, as above.
  CREATE TEMP TABLE ledger_import_errors (line bigint NOT NULL, field text NOT NULL, problem text NOT NULL);

  CREATE TEMP TABLE ledger_import_rows AS
  WITH dates AS (
    SELECT d.text, ledger_parse_date(btrim(d.text)) AS day
    FROM (SELECT s.date AS text FROM ledger_staging s UNION SELECT s.expiry FROM ledger_staging s) d
  ), typed AS (
    -- Codes are passed as they were typed: ledger_request_line normalises them.
    SELECT s.line, s.site, s.commodity, s.lot, s.population, s.channel, s.worker, s.client, s.reason, s.note,
      nullif(btrim(s.key), '') AS key, btrim(s.date) AS date, d.day, btrim(s.expiry) AS expiry, x.day AS expires_on,
      btrim(s.qty) AS qty, q.magnitude, r.direction,
      CASE WHEN p_kind = 'adjustments' AND r.direction = 'out' THEN -abs(q.magnitude)
        WHEN p_kind = 'adjustments' AND r.direction = 'in' THEN abs(q.magnitude) ELSE q.magnitude END AS quantity
    FROM ledger_staging s
    LEFT JOIN dates d ON d.text = s.date
    LEFT JOIN dates x ON x.text = s.expiry
    LEFT JOIN stock_reasons r ON r.code = lower(btrim(s.reason) COLLATE "C")
    CROSS JOIN LATERAL (SELECT CASE WHEN btrim(s.qty) ~ '^[+-]?[0-9]{1,10}$' THEN btrim(s.qty)::bigint END)
      q (magnitude)
  )
  SELECT t.line, t.key, t.date, t.day, t.expiry, t.expires_on, t.qty, t.magnitude, t.direction,
    ledger_request_line(t.line::integer,
      CASE p_kind WHEN 'dispensing' THEN 'dispense' WHEN 'receipts' THEN 'receipt' WHEN 'counts' THEN 'count'
        ELSE 'adjustment' END,
      t.key, t.site, t.commodity, t.lot, t.expires_on, t.quantity, t.day, t.population, t.channel, t.worker, t.client,
      t.reason, t.note, NULL, v_today) AS booking
  FROM typed t;

  CREATE INDEX ON pg_temp.ledger_import_rows (day);
  ANALYZE ledger_import_rows;

  -- Every problem of every row, from one scan: each row's problems are worded beside it (NULL when there is none),
  -- and only rows with one are taken apart into (field, problem) pairs.
  INSERT INTO ledger_import_errors (line, field, problem)
  SELECT c.line, p.field, p.problem
  FROM (
    SELECT i.line,
      CASE WHEN i.day IS NOT NULL THEN NULL WHEN i.date IS NULL THEN 'is required'
        ELSE format('''%s'' is not a date (YYYY-MM-DD)', i.date) END AS date_problem,
      CASE WHEN i.expiry IS NOT NULL AND i.expires_on IS NULL
        THEN format('''%s'' is not a date (YYYY-MM-DD)', i.expiry) END AS expiry_problem,
      CASE WHEN i.qty IS NULL THEN 'is required'
        WHEN i.magnitude IS NULL THEN format('''%s'' is not a whole number of base units', i.qty)
        WHEN p_kind IN ('dispensing', 'receipts') AND (i.magnitude <= 0 OR i.qty ~ '^[+-]')
          THEN format('''%s'' must be a positive whole number', i.qty)
        WHEN p_kind = 'counts' AND (i.magnitude < 0 OR i.qty ~ '^[+-]')
          THEN format('''%s'' is negative: give the quantity counted', i.qty)
        WHEN p_kind = 'adjustments' AND i.magnitude = 0 THEN 'must not be zero'
        WHEN p_kind = 'adjustments' AND ((i.direction = 'in' AND i.qty ~ '^-')
          OR (i.direction = 'out' AND i.qty ~ '^\+') OR (i.direction = 'either' AND i.qty !~ '^[+-]'))
        THEN CASE i.direction
          WHEN 'in' THEN format('reason %s adds stock: give the quantity found, without a sign', (i.booking).reason)
          WHEN 'out' THEN format('reason %s removes stock: give the quantity removed, without a sign',
            (i.booking).reason)
          ELSE format('reason %s can add or remove stock: write +%s or -%s', (i.booking).reason, abs(i.magnitude),
            abs(i.magnitude)) END
      END AS qty_problem,
      CASE WHEN (i.booking).worker !~ '^[A-Z0-9][A-Z0-9-]{1,31}$'
        THEN format('''%s'' is not a valid code (2–32 letters, digits or dashes)', (i.booking).worker) END
        AS worker_problem,
      -- Never repeating the value: what stands where a UIC belongs may be a name or a phone number.
      CASE WHEN (i.booking).client !~ '^[A-Z0-9-]{6,32}$' OR (i.booking).client !~ '[A-Z]'
          THEN 'is not a UIC (6–32 letters, digits or dashes, with a letter); never a name or phone number'
        WHEN (i.booking).client ~ '[0-9]{7}'
          THEN 'holds a run of 7 or more digits, as a phone or ID number does; a UIC never carries one' END
        AS client_problem,
      CASE WHEN length((i.booking).note) > 500 THEN 'is longer than 500 characters'
        WHEN privacy_identifier_found((i.booking).note)
          THEN 'looks like it holds a phone or ID number; kpstock never stores one — leave it out' END AS note_problem
    FROM ledger_import_rows i
    OFFSET 0
  ) c
  CROSS JOIN LATERAL (VALUES ('date', c.date_problem), ('expiry', c.expiry_problem), ('qty', c.qty_problem),
    ('worker', c.worker_problem), ('client', c.client_problem), ('note', c.note_problem)) p (field, problem)
  WHERE num_nonnulls(c.date_problem, c.expiry_problem, c.qty_problem, c.worker_problem, c.client_problem,
      c.note_problem) > 0
    AND p.problem IS NOT NULL;

  -- Rows at a site where the person importing may not record stock.
  INSERT INTO ledger_import_errors (line, field, problem)
  SELECT i.line, 'site', format('%s may not record stock at %s', session_user, (i.booking).site)
  FROM ledger_import_rows i, access_sites('stock') a
  WHERE a IS NOT NULL AND (i.booking).site <> ALL (a);
  GRANT SELECT ON pg_temp.ledger_import_rows, pg_temp.ledger_import_errors TO PUBLIC;

  -- The register's stock cards, locked before any span is booked (stock_cards_lock): each span's ledger_book locks
  -- its own, and spans doing so one after another could need a card that sorts before one already held.
  PERFORM stock_cards_lock(array_agg(k.site), array_agg(k.commodity))
  FROM (SELECT DISTINCT (i.booking).site, (i.booking).commodity FROM ledger_import_rows i) k;
END $$;

-- The typed rows of days p_first_day..p_last_day, each with its idempotency key (its `key` cell, or its day,
-- fingerprint and place among the identical keyless rows of that day in file order) and whether a cell of it is
-- refused. Refused rows keep their place in that count, and the rejected-rows file carries their keys, so a row
-- fixed and imported again is told apart from an identical row of its day that was posted.
DROP FUNCTION IF EXISTS ledger_import_key(text, date, bytea, integer);
DROP FUNCTION IF EXISTS ledger_import_span(date, date);
CREATE OR REPLACE FUNCTION ledger_import_span(p_first_day date, p_last_day date)
RETURNS TABLE (line bigint, day date, row_key text, expires_on date, booking ledger_line, refused boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  -- plpgsql: the tables it reads exist only while an import runs.
  RETURN QUERY
  SELECT n.line, n.day,
    coalesce(n.key, 'row:' || n.day || ':' || encode((n.booking).fingerprint, 'hex') || ':' || n.ordinal),
    n.expires_on, n.booking, EXISTS (SELECT 1 FROM ledger_import_errors e WHERE e.line = n.line)
  FROM (
    SELECT i.line, i.day, i.key, i.expires_on, i.booking,
      row_number() OVER (PARTITION BY (i.booking).fingerprint, i.day, i.key IS NULL ORDER BY i.line) AS ordinal
    FROM ledger_import_rows i WHERE i.day BETWEEN p_first_day AND p_last_day
  ) n;
END $$;

-- Spans of whole days of the typed register, in date order, of about p_rows rows each. A day is never split, so its
-- rows meet in one ledger_book batch.
CREATE OR REPLACE FUNCTION ledger_import_spans(p_rows bigint)
RETURNS TABLE (first_day date, last_day date, rows bigint) LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  -- plpgsql: the table it reads exists only while an import runs.
  RETURN QUERY
  WITH days AS (
    SELECT i.day, count(*) AS day_rows FROM ledger_import_rows i WHERE i.day IS NOT NULL GROUP BY i.day
  ), spans AS (
    SELECT d.day, d.day_rows, (sum(d.day_rows) OVER (ORDER BY d.day) - d.day_rows)::bigint / greatest(p_rows, 1) AS span
    FROM days d
  )
  SELECT min(s.day), max(s.day), sum(s.day_rows)::bigint FROM spans s GROUP BY s.span ORDER BY s.span;
END $$;

-- A register row's ledger line under the row's key.
CREATE OR REPLACE FUNCTION ledger_import_line(p_line ledger_line, p_key text) RETURNS ledger_line
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(p_line.req, p_line.line, p_key, p_line.fingerprint, p_line.asked_day, p_line.day, p_line.site,
    p_line.commodity, p_line.lot, p_line.expiry, p_line.kind, p_line.quantity, p_line.lots, p_line.reason,
    p_line.population, p_line.channel, p_line.worker, p_line.client, p_line.note, p_line.to_site, p_line.transfer_id,
    p_line.count_id, p_line.reverses_event_id)::ledger_line
$$;

-- Books the typed rows of days p_first_day..p_last_day that have no cell errors and returns what became of them:
-- one row counting those posted, one counting repeats (already recorded under their key), and one row per refused
-- row with its field and problem (`rows` says how many rows each result row stands for). Dispensing, receipts and
-- adjustments go to ledger_book as one batch, which reports refused rows and books the rest (p_dry_run: with
-- negative event ids, for the caller to roll back); counts go row by row through ledger_count, since each is compared
-- with the stock the rows before it left. Errors that say the transaction itself failed (deadlock, cancel, lost
-- connection) are raised, not reported.
DROP FUNCTION IF EXISTS ledger_import_post(text, bigint, bigint, boolean);
DROP FUNCTION IF EXISTS ledger_import_post(text, date, date, boolean);
CREATE OR REPLACE FUNCTION ledger_import_post(p_kind text, p_first_day date, p_last_day date, p_dry_run boolean)
RETURNS TABLE (line bigint, outcome text, field text, problem text, hint text, constraint_name text, rows bigint)
LANGUAGE plpgsql SET work_mem = '128MB' SET jit = off SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r record;
  v_outcome text;
  v_state text;
  v_message text;
  v_column text;
  v_constraint text;
  v_hint text;
BEGIN
  IF p_kind <> 'counts' THEN
    -- Counted, not listed, in one pass: a request posted or repeated has one event numbered 1 (a repeat whose events
    -- are not found yet has one row without a number), and its other events (a take spread over lots) are not
    -- counted; a refused request has one row, and is listed.
    RETURN QUERY
    SELECT CASE WHEN b.outcome = 'refused' THEN b.req::bigint END, b.outcome, b.field, b.problem, b.hint, NULL::text,
      count(*) FILTER (WHERE coalesce(b.key_part, 1) = 1)
    FROM ledger_book(ARRAY(
      SELECT ledger_import_line(i.booking, i.row_key) FROM ledger_import_span(p_first_day, p_last_day) i
      WHERE NOT i.refused ORDER BY i.day, i.line), true, p_dry_run, 'line') b
    GROUP BY 1, 2, 3, 4, 5;
    RETURN;
  END IF;

  FOR r IN
    SELECT * FROM ledger_import_span(p_first_day, p_last_day) i WHERE NOT i.refused ORDER BY i.day, i.line
  LOOP
    BEGIN
      SELECT min(c.outcome) INTO v_outcome FROM ledger_count(r.row_key, (r.booking).site, (r.booking).commodity,
        (r.booking).lot, r.expires_on, (r.booking).quantity, (r.booking).reason, r.day, NULL, (r.booking).note) c;
      line := r.line;
      outcome := v_outcome;
      field := NULL;
      problem := NULL;
      hint := NULL;
      constraint_name := NULL;
      rows := 1;
      RETURN NEXT;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_column = COLUMN_NAME,
        v_constraint = CONSTRAINT_NAME, v_hint = PG_EXCEPTION_HINT;
      IF left(v_state, 2) NOT IN ('KP', '22', '23') THEN
        RAISE;
      END IF;
      line := r.line;
      outcome := 'refused';
      field := coalesce(nullif(v_column, ''), CASE v_state WHEN 'KP001' THEN 'qty' WHEN 'KP004' THEN 'date' END);
      problem := v_message;
      hint := nullif(v_hint, '');
      constraint_name := nullif(v_constraint, '');
      rows := 1;
      RETURN NEXT;
    END;
  END LOOP;
END $$;
