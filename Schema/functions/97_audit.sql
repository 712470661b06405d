-- The audit trail (migration 0021): every insert, update and delete of a tracked table is a row of audit_log, with
-- the session user (the person logged in, whoever owns the function that made the change) and the time. Stock events,
-- doses and order changes are not copied here: they carry their own who and when, and `kpstock audit` reads them
-- where they are (AuditTrail in Sources/KPStock/Audit), so the ledger's hot path writes nothing more.
--
-- To track a table, call audit_track once at the end of this file (a table added by a later migration too: the
-- access work's grants table is one line, `SELECT audit_track('access_grants');`). It attaches three triggers that
-- run audit_record: inserts and deletes once per statement, reading the statement's rows from its transition table
-- (a seed or an import of a few hundred rows is one trigger call), updates once per row, keeping only the columns that
-- changed. A table's key columns default to its primary key; the site and county a row belongs to are read from its
-- site_code and county_code columns, where it has them.

-- A row as the audit keeps it: never a client's UIC, whatever table the row comes from.
CREATE OR REPLACE FUNCTION audit_row(p_row jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT p_row - 'uic' - 'client_uic'
$$;

CREATE OR REPLACE FUNCTION audit_row_key(p_row jsonb, p_columns text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_object_agg(c, p_row -> c) FROM unnest(p_columns) c
$$;

-- The trigger function of every tracked table. Arguments (audit_track writes them): the column holding the row's
-- site code ('' for none), the column holding its county code ('' for none), then the key columns.
-- Runs with the owner's rights: people write audit_log only through it (who is still the session user).
CREATE OR REPLACE FUNCTION audit_record() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_site text := nullif(TG_ARGV[0], '');
  v_county text := nullif(TG_ARGV[1], '');
  v_key text[] := TG_ARGV[2:];
  v_new jsonb;
  v_before jsonb;
  v_after jsonb;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    v_new := audit_row(to_jsonb(NEW));
    SELECT jsonb_object_agg(o.key, o.value), jsonb_object_agg(o.key, n.value) INTO v_before, v_after
    FROM jsonb_each(audit_row(to_jsonb(OLD))) o JOIN jsonb_each(v_new) n USING (key)
    WHERE o.value IS DISTINCT FROM n.value;
    IF v_after IS NOT NULL THEN
      INSERT INTO audit_log (table_name, action, site_code, county_code, row_key, before, after)
      VALUES (TG_TABLE_NAME, 'update', v_new ->> v_site, v_new ->> v_county, audit_row_key(v_new, v_key), v_before,
        v_after);
    END IF;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO audit_log (table_name, action, site_code, county_code, row_key, after)
    SELECT TG_TABLE_NAME, 'insert', r ->> v_site, r ->> v_county, audit_row_key(r, v_key), r
    FROM (SELECT audit_row(to_jsonb(n)) AS r FROM audit_new n) rows;
  ELSE
    INSERT INTO audit_log (table_name, action, site_code, county_code, row_key, before)
    SELECT TG_TABLE_NAME, 'delete', r ->> v_site, r ->> v_county, audit_row_key(r, v_key), r
    FROM (SELECT audit_row(to_jsonb(o)) AS r FROM audit_old o) rows;
  END IF;
  RETURN NULL;
END $$;

-- Attaches audit_record to a table (again, harmlessly). p_key names the key columns where the table has no primary
-- key; p_site_column and p_county_column name where the row's site and county are, where not site_code and
-- county_code.
CREATE OR REPLACE FUNCTION audit_track(p_table regclass, p_key text[] DEFAULT NULL, p_site_column text DEFAULT NULL,
  p_county_column text DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_key text[] := coalesce(p_key, (
    SELECT array_agg(a.attname::text ORDER BY k.n)
    FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = p_table AND i.indisprimary));
  v_columns text[] := ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = p_table AND attnum > 0
    AND NOT attisdropped);
  v_arguments text;
BEGIN
  IF v_key IS NULL THEN
    RAISE EXCEPTION 'audit_track: % has no primary key; name its key columns', p_table;
  END IF;
  v_arguments := array_to_string(ARRAY(SELECT quote_literal(a) FROM unnest(ARRAY[
    coalesce(p_site_column, CASE WHEN 'site_code' = ANY (v_columns) THEN 'site_code' END, ''),
    coalesce(p_county_column, CASE WHEN 'county_code' = ANY (v_columns) THEN 'county_code' END, '')] || v_key) a),
    ', ');
  EXECUTE format('CREATE OR REPLACE TRIGGER audit_inserts AFTER INSERT ON %s REFERENCING NEW TABLE AS audit_new '
    'FOR EACH STATEMENT EXECUTE FUNCTION audit_record(%s)', p_table, v_arguments);
  EXECUTE format('CREATE OR REPLACE TRIGGER audit_updates AFTER UPDATE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION audit_record(%s)', p_table, v_arguments);
  EXECUTE format('CREATE OR REPLACE TRIGGER audit_deletes AFTER DELETE ON %s REFERENCING OLD TABLE AS audit_old '
    'FOR EACH STATEMENT EXECUTE FUNCTION audit_record(%s)', p_table, v_arguments);
END $$;

-- A value as audit_what shows it: text unquoted, anything longer than 60 characters cut short; NULL for null.
CREATE OR REPLACE FUNCTION audit_value(p_value jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN length(t) > 60 THEN left(t, 59) || '…' ELSE t END
  FROM (SELECT CASE WHEN p_value = 'null' THEN NULL ELSE p_value #>> '{}' END AS t) v
$$;

-- One audit row in words, as `kpstock audit` lists it: "update sites DICE-X: closed_on → 2026-11-30". An insert
-- names the row's fields (not who and when, which the listing shows), an update the columns that changed, from what
-- (where there was a value) to what. Long values are cut short; the row itself keeps them whole.
CREATE OR REPLACE FUNCTION audit_what(p_table text, p_action text, p_key jsonb, p_before jsonb, p_after jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  WITH shown AS (
    SELECT f.key, audit_value(p_before -> f.key) AS before, audit_value(p_after -> f.key) AS after
    FROM jsonb_each(coalesce(p_after, p_before)) f
    WHERE NOT p_key ? f.key AND f.key NOT IN ('recorded_at', 'recorded_by', 'made_at', 'made_by')
  )
  SELECT left(concat_ws(': ',
    concat_ws(' ', p_action, p_table,
      (SELECT string_agg(k.value #>> '{}', ' ' ORDER BY k.key) FROM jsonb_each(p_key) k
        WHERE k.value <> 'null' AND k.key <> 'singleton')),
    CASE p_action
      WHEN 'update' THEN (SELECT string_agg(concat_ws(' ', key, before, '→', coalesce(after, 'null')), ', '
        ORDER BY key) FROM shown)
      WHEN 'insert' THEN (SELECT string_agg(key || ' ' || after, ', ' ORDER BY key) FROM shown WHERE after IS NOT NULL)
    END), 400)
$$;

-- The audit trail is append-only, and so is the order's own log of its changes, which the trail reads: no role but
-- the owner (who may drop a trigger) can change or remove what either says happened.
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: what it records cannot be changed or removed', TG_TABLE_NAME
    USING ERRCODE = 'KP005';
END $$;
CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE OR REPLACE TRIGGER order_changes_append_only BEFORE UPDATE OR DELETE ON order_changes
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE OR REPLACE TRIGGER order_changes_no_truncate BEFORE TRUNCATE ON order_changes
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The tracked tables. Orders are read from order_changes and forecast runs by their header (forecast_runs), not their
-- thousands of lines; stock events and doses are read where they are.
SELECT audit_track('counties', p_county_column => 'code');
SELECT audit_track('sub_counties');
SELECT audit_track('sites', p_site_column => 'code');
SELECT audit_track('commodities');
SELECT audit_track('populations');
SELECT audit_track('norms',
  p_key => ARRAY['commodity_code', 'population_code', 'county_code', 'site_code', 'effective_from']);
SELECT audit_track('supply_lines');
SELECT audit_track('programme_settings');
SELECT audit_track('stock_reasons');
SELECT audit_track('coverage_targets');
SELECT audit_track('forecast_methods');
SELECT audit_track('forecast_runs');
SELECT audit_track('mat_settings');
SELECT audit_track('mat_dosing_sites');
