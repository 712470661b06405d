-- Bulk import of paper registers typed into spreadsheets. The file is streamed by COPY into the temporary table
-- ledger_staging (line number + one text column per CSV column); ledger_import_prepare reads each cell into its type,
-- and ledger_import_post books the rows through ledger_book, in date order, in the caller's transaction. Every rule
-- beyond a cell's type is ledger_book's. A row's idempotency key is its `key` cell or a digest of its content, so
-- importing the same file twice, or two overlapping files, posts nothing twice.

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
CREATE OR REPLACE FUNCTION ledger_import_prepare(p_kind text) RETURNS void LANGUAGE plpgsql
SET work_mem = '128MB' SET jit = off AS $$
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
    SELECT s.line, upper(btrim(s.site)) AS site, upper(btrim(s.commodity)) AS commodity, upper(btrim(s.lot)) AS lot,
      btrim(s.expiry) AS expiry, btrim(s.qty) AS qty, btrim(s.date) AS date,
      upper(btrim(s.population)) AS population, lower(btrim(s.channel)) AS channel, upper(btrim(s.worker)) AS worker,
      upper(btrim(s.client)) AS client, lower(btrim(s.reason)) AS reason, btrim(s.note) AS note, btrim(s.key) AS key
    FROM ledger_staging s
  ), typed AS (
    SELECT c.*, ledger_parse_date(c.expiry) AS expires_on, ledger_parse_date(c.date) AS day,
      CASE WHEN c.qty ~ '^[+-]?[0-9]{1,10}$' THEN c.qty::bigint END AS magnitude, r.direction,
      encode(ledger_fingerprint(p_kind, c.site, c.commodity, c.lot, c.expiry, c.qty, c.date, c.population, c.channel,
        c.worker, c.client, c.reason, c.note), 'hex') AS digest
    FROM cells c LEFT JOIN stock_reasons r ON r.code = c.reason
  )
  SELECT row_number() OVER (ORDER BY day, line) AS seq, line, site, commodity, nullif(lot, '') AS lot, expiry,
    expires_on, qty, magnitude,
    CASE WHEN p_kind = 'adjustments' AND direction = 'out' THEN -abs(magnitude)
      WHEN p_kind = 'adjustments' AND direction = 'in' THEN abs(magnitude) ELSE magnitude END AS quantity,
    direction, date, day, population, channel, worker, client, reason, note,
    coalesce(key, 'row:' || digest || ':' || row_number() OVER (PARTITION BY digest ORDER BY line)) AS key
  FROM typed;
  ANALYZE ledger_import_rows;

  INSERT INTO ledger_import_errors (line, field, problem)
  SELECT line, 'date', CASE WHEN date IS NULL THEN 'is required' ELSE format('''%s'' is not a date (YYYY-MM-DD)', date) END
  FROM ledger_import_rows WHERE day IS NULL
  UNION ALL
  SELECT line, 'expiry', format('''%s'' is not a date (YYYY-MM-DD)', expiry)
  FROM ledger_import_rows WHERE expiry IS NOT NULL AND expires_on IS NULL
  UNION ALL
  SELECT line, 'qty', CASE WHEN qty IS NULL THEN 'is required'
      WHEN magnitude IS NULL THEN format('''%s'' is not a whole number of base units', qty)
      WHEN p_kind = 'counts' THEN format('''%s'' is negative: give the quantity counted', qty)
      WHEN p_kind = 'adjustments' THEN 'must not be zero'
      ELSE format('''%s'' must be a positive whole number', qty) END
  FROM ledger_import_rows
  WHERE magnitude IS NULL
    OR (p_kind IN ('dispensing', 'receipts') AND (magnitude <= 0 OR qty ~ '^[+-]'))
    OR (p_kind = 'counts' AND (magnitude < 0 OR qty ~ '^[+-]'))
    OR (p_kind = 'adjustments' AND magnitude = 0)
  UNION ALL
  SELECT line, 'worker', format('''%s'' is not a valid code (2–32 letters, digits or dashes)', worker)
  FROM ledger_import_rows WHERE worker !~ '^[A-Z0-9][A-Z0-9-]{1,31}$'
  UNION ALL
  SELECT line, 'client', format(
    '''%s'' is not a UIC (6–32 letters, digits or dashes, with a letter); never a name or phone number', client)
  FROM ledger_import_rows WHERE client !~ '^[A-Z0-9-]{6,32}$' OR client !~ '[A-Z]'
  UNION ALL
  SELECT line, 'qty', CASE direction
      WHEN 'in' THEN format('reason %s adds stock: give the quantity found, without a sign', reason)
      WHEN 'out' THEN format('reason %s removes stock: give the quantity removed, without a sign', reason)
      ELSE format('reason %s can add or remove stock: write +%s or -%s', reason, abs(magnitude), abs(magnitude)) END
  FROM ledger_import_rows
  WHERE p_kind = 'adjustments' AND magnitude IS NOT NULL AND magnitude <> 0
    AND ((direction = 'in' AND qty ~ '^-') OR (direction = 'out' AND qty ~ '^\+')
      OR (direction = 'either' AND qty !~ '^[+-]'))
  UNION ALL
  SELECT line, 'note', 'is longer than 500 characters' FROM ledger_import_rows WHERE length(note) > 500;
END $$;

-- Books the typed rows seq p_from..p_to (date order) that have no cell errors and returns every row's outcome:
-- posted, repeat (already recorded under its key) or error with field and problem. Dispensing, receipts and
-- adjustments go to ledger_book as one batch, which reports refused rows and books the rest (p_dry_run: with
-- negative event ids, for the caller to roll back); counts go row by row through ledger_count, since each is compared
-- with the stock the rows before it left. Errors that say the transaction itself failed (deadlock, cancel, lost
-- connection) are raised, not reported.
CREATE OR REPLACE FUNCTION ledger_import_post(p_kind text, p_from bigint, p_to bigint, p_dry_run boolean)
RETURNS TABLE (line bigint, outcome text, field text, problem text, hint text, constraint_name text)
LANGUAGE plpgsql SET work_mem = '128MB' SET jit = off AS $$
DECLARE
  r record;
  v_outcome text;
  v_state text;
  v_message text;
  v_column text;
  v_constraint text;
  v_hint text;
  v_today date := programme_today();
BEGIN
  IF p_kind <> 'counts' THEN
    RETURN QUERY
    SELECT b.req::bigint, min(b.outcome), min(b.field), min(b.problem), min(b.hint), NULL::text
    FROM ledger_book(ARRAY(
      SELECT ledger_request_line(i.line::integer,
        CASE p_kind WHEN 'dispensing' THEN 'dispense' WHEN 'receipts' THEN 'receipt' ELSE 'adjustment' END,
        i.key, i.site, i.commodity, i.lot, i.expires_on, i.quantity, i.day, i.population, i.channel, i.worker, i.client,
        i.reason, i.note, NULL, v_today)
      FROM ledger_import_rows i
      WHERE i.seq BETWEEN p_from AND p_to AND NOT EXISTS (SELECT 1 FROM ledger_import_errors e WHERE e.line = i.line)
      ORDER BY i.seq), true, p_dry_run, 'line') b
    GROUP BY b.req;
    RETURN;
  END IF;

  FOR r IN
    SELECT * FROM ledger_import_rows i
    WHERE i.seq BETWEEN p_from AND p_to AND NOT EXISTS (SELECT 1 FROM ledger_import_errors e WHERE e.line = i.line)
    ORDER BY i.seq
  LOOP
    BEGIN
      SELECT min(c.outcome) INTO v_outcome FROM ledger_count(r.key, r.site, r.commodity, r.lot, r.expires_on,
        r.quantity, r.reason, r.day, NULL, r.note) c;
      line := r.line;
      outcome := v_outcome;
      field := NULL;
      problem := NULL;
      hint := NULL;
      constraint_name := NULL;
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
      RETURN NEXT;
    END;
  END LOOP;
END $$;
