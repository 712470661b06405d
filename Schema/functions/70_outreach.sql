-- Outreach reports, peer-reported need and size estimates (Schema/0009_outreach.sql): reading weeks, checking rows and
-- saving them. A file is streamed by COPY into the temporary table outreach_staging (line number + one text column per
-- CSV column); outreach_import_check types every cell and lists what is wrong, and outreach_import_apply saves the rows
-- without a problem. `kpstock outreach record` and `kpstock size-estimate set` stage one row and go the same way, so
-- every rule below has one home. Messages never name a command or a flag: callers word those.

-- The Monday of an ISO week written 2026-W47 or 2026W47 (w in either case), or NULL when the text is not one (never
-- an error, so a bad cell is reported, not fatal). Week 53 exists only in years that have one.
CREATE OR REPLACE FUNCTION iso_week_start(p_text text) RETURNS date LANGUAGE sql STABLE AS $$
  -- Week 1 is the week of 4 January; its Monday is found by arithmetic (to_date costs several times as much).
  SELECT CASE WHEN y.monday IS NOT NULL AND extract(isoyear FROM y.monday) = y.year THEN y.monday END
  FROM (
    SELECT x.m[1]::integer AS year, CASE WHEN x.m[1]::integer >= 1 AND x.m[2]::integer BETWEEN 1 AND 53 THEN
        make_date(x.m[1]::integer, 1, 4) - (extract(isodow FROM make_date(x.m[1]::integer, 1, 4))::integer - 1)
          + (x.m[2]::integer - 1) * 7 END AS monday
    FROM (SELECT regexp_match(btrim(p_text), '^([0-9]{4})-?[Ww]([0-9]{2})$') AS m) x
  ) y
$$;

-- What is wrong with a week as typed, or NULL when it reads as one: the one wording of an unreadable week, for files and
-- command lines alike.
CREATE OR REPLACE FUNCTION iso_week_problem(p_text text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN iso_week_start(p_text) IS NULL THEN format('''%s'' is not an ISO week (2026-W47)', btrim(p_text)) END
$$;

-- How a week is written everywhere kpstock shows one: 2026-W47.
CREATE OR REPLACE FUNCTION iso_week_label(p_week date) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(p_week, 'IYYY-"W"IW')
$$;

-- People reached and newly enrolled per site, week and population: the rows of every peer educator and hotspot summed.
-- What the forecast reads as a week's reach.
CREATE OR REPLACE VIEW outreach_weekly AS
SELECT site_code, week, population_code, sum(reached)::bigint AS reached, sum(new_enrolments)::bigint AS new_enrolments,
  count(*)::integer AS reports
FROM outreach_reach
GROUP BY site_code, week, population_code;

DROP FUNCTION IF EXISTS outreach_week_problem(text, date, date);

-- The columns outreach_import_check reads from outreach_staging; the importer adds those its file lacks
-- (staging_columns) before calling it.
CREATE OR REPLACE FUNCTION outreach_import_columns() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['site', 'week', 'population', 'reached', 'new', 'worker', 'hotspot', 'commodity', 'qty', 'area', 'year',
    'size', 'source', 'key']
$$;

-- Types outreach_staging into outreach_import_rows and lists every problem in outreach_import_errors (line, field,
-- problem). p_kind: reach (site, week, population, reached, new, worker, hotspot, key), peer_need (site, week,
-- population, commodity, qty, key) or size_estimates (area, population, year, size, source). Codes are compared as
-- typed, trimmed and in upper case; hotspots in lower case.
CREATE OR REPLACE FUNCTION outreach_import_check(p_kind text) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_today date := programme_today();
  -- The Monday of the week today is in: a later week has not begun.
  v_this_week date := v_today - (extract(isodow FROM v_today)::integer - 1);
BEGIN
  IF p_kind NOT IN ('reach', 'peer_need', 'size_estimates') THEN
    RAISE EXCEPTION 'unknown outreach import kind %', p_kind;
  END IF;
  -- The importer has added the columns its file lacked (outreach_import_columns): a temporary table is changed only by
  -- the role that made it, and this function runs as the owner.
  DROP TABLE IF EXISTS pg_temp.outreach_import_rows, pg_temp.outreach_import_errors;
  -- Made by the owner (this function runs as it), for the importer to read (granted below); the next import of the
  -- session drops them, as above.
  CREATE TEMP TABLE outreach_import_errors (line bigint NOT NULL, field text NOT NULL, problem text NOT NULL);

  -- Weeks are read once per distinct text, not once per row.
  CREATE TEMP TABLE outreach_import_rows AS
  WITH weeks AS (
    SELECT w.text, iso_week_start(w.text) AS week FROM (SELECT DISTINCT s.week AS text FROM outreach_staging s) w
  )
  SELECT s.line, upper(btrim(s.site) COLLATE "C") AS site, btrim(s.week) AS week_text, wk.week,
    upper(btrim(s.population) COLLATE "C") AS population, btrim(s.reached) AS reached_text,
    CASE WHEN btrim(s.reached) ~ '^[0-9]{1,9}$' THEN btrim(s.reached)::integer END AS reached,
    btrim(s.new) AS new_text,
    CASE WHEN s.new IS NULL THEN 0 WHEN btrim(s.new) ~ '^[0-9]{1,9}$' THEN btrim(s.new)::integer END AS new_enrolments,
    coalesce(upper(btrim(s.worker) COLLATE "C"), '') AS worker, coalesce(lower(btrim(s.hotspot) COLLATE "C"), '')
      AS hotspot,
    upper(btrim(s.commodity) COLLATE "C") AS commodity, btrim(s.qty) AS qty_text,
    CASE WHEN btrim(s.qty) ~ '^[0-9]{1,15}$' THEN btrim(s.qty)::bigint END AS quantity,
    upper(btrim(s.area) COLLATE "C") AS area, btrim(s.year) AS year_text,
    CASE WHEN btrim(s.year) ~ '^[0-9]{4}$' THEN btrim(s.year)::integer END AS year,
    btrim(s.size) AS size_text, CASE WHEN btrim(s.size) ~ '^[0-9]{1,9}$' THEN btrim(s.size)::integer END AS size,
    btrim(s.source) AS source, btrim(s.key) AS key
  FROM outreach_staging s LEFT JOIN weeks wk ON wk.text = s.week;
  GRANT SELECT ON pg_temp.outreach_import_rows, pg_temp.outreach_import_errors TO PUBLIC;

  -- Rows of a site (or a county's estimate) where the person importing may not record outreach.
  INSERT INTO outreach_import_errors (line, field, problem)
  SELECT r.line, CASE WHEN p_kind = 'size_estimates' THEN 'area' ELSE 'site' END,
    format('%s may not record outreach at %s', session_user, coalesce(r.site, r.area))
  FROM outreach_import_rows r, access_sites('stock') a
  WHERE a IS NOT NULL AND CASE WHEN p_kind = 'size_estimates'
    THEN EXISTS (SELECT FROM sites s WHERE (s.code = r.area OR s.county_code = r.area) AND s.code <> ALL (a))
    ELSE r.site <> ALL (a) END;

  INSERT INTO outreach_import_errors (line, field, problem)
  SELECT r.line, p.field, p.problem
  FROM outreach_import_rows r
  LEFT JOIN populations pop ON pop.code = r.population
  LEFT JOIN commodities m ON m.code = r.commodity
  LEFT JOIN sites asite ON asite.code = r.area
  LEFT JOIN counties acounty ON acounty.code = r.area
  LEFT JOIN sites st ON st.code = r.site
  CROSS JOIN LATERAL (VALUES
    -- Outreach is reported by DICEs and satellites, for weeks that have begun and in which the site was open.
    ('site', CASE WHEN p_kind = 'size_estimates' THEN NULL WHEN r.site IS NULL THEN 'is required'
      WHEN st.code IS NULL THEN format('unknown site %s', r.site)
      WHEN st.kind NOT IN ('dice', 'satellite')
        THEN format('%s is a %s: outreach is reported by DICEs and satellites', st.code, replace(st.kind, '_', ' '))
      END),
    ('week', CASE WHEN p_kind = 'size_estimates' THEN NULL WHEN r.week_text IS NULL THEN 'is required'
      WHEN r.week IS NULL THEN iso_week_problem(r.week_text)
      WHEN st.code IS NULL OR st.kind NOT IN ('dice', 'satellite') THEN NULL
      WHEN r.week > v_this_week THEN format('week %s has not begun', iso_week_label(r.week))
      WHEN r.week + 6 < st.opened_on
        THEN format('site %s opened on %s, after week %s', st.code, st.opened_on, iso_week_label(r.week))
      WHEN r.week > st.closed_on
        THEN format('site %s closed on %s, before week %s', st.code, st.closed_on, iso_week_label(r.week)) END),
    ('population', CASE WHEN r.population IS NULL THEN 'is required'
      WHEN pop.code IS NULL THEN format('unknown population %s', r.population) END),
    ('reached', CASE WHEN p_kind <> 'reach' THEN NULL WHEN r.reached_text IS NULL THEN 'is required'
      WHEN r.reached IS NULL THEN format('''%s'' must be a whole number of people, zero or more', r.reached_text) END),
    ('new', CASE WHEN p_kind = 'reach' AND r.new_enrolments IS NULL
      THEN format('''%s'' must be a whole number of people, zero or more', r.new_text) END),
    ('worker', CASE WHEN p_kind = 'reach' AND r.worker <> '' AND r.worker !~ '^[A-Z0-9][A-Z0-9-]{1,31}$'
      THEN format('''%s'' is not a valid code (2–32 letters, digits or dashes)', r.worker) END),
    ('hotspot', CASE WHEN p_kind = 'reach' AND r.hotspot NOT IN ('', 'street', 'bar', 'brothel', 'home',
        'injecting_den', 'beach', 'virtual', 'other')
      THEN format('''%s'' is not a hotspot type (street, bar, brothel, home, injecting_den, beach, virtual, other)',
        r.hotspot) END),
    ('commodity', CASE WHEN p_kind <> 'peer_need' THEN NULL WHEN r.commodity IS NULL THEN 'is required'
      WHEN m.code IS NULL THEN format('unknown commodity %s', r.commodity) END),
    ('qty', CASE WHEN p_kind <> 'peer_need' THEN NULL WHEN r.qty_text IS NULL THEN 'is required'
      WHEN r.quantity IS NULL THEN format('''%s'' must be a whole number of base units, zero or more', r.qty_text)
      END),
    ('area', CASE WHEN p_kind <> 'size_estimates' THEN NULL WHEN r.area IS NULL THEN 'is required'
      WHEN asite.code IS NOT NULL AND acounty.code IS NOT NULL
        THEN format('%s is both a site and a county code', r.area)
      WHEN asite.code IS NULL AND acounty.code IS NULL THEN format('unknown site or county %s', r.area) END),
    ('year', CASE WHEN p_kind <> 'size_estimates' THEN NULL WHEN r.year_text IS NULL THEN 'is required'
      WHEN r.year IS NULL OR r.year NOT BETWEEN 1990 AND 2200
        THEN format('''%s'' is not a year (1990–2200)', r.year_text) END),
    ('size', CASE WHEN p_kind <> 'size_estimates' THEN NULL WHEN r.size_text IS NULL THEN 'is required'
      WHEN r.size IS NULL THEN format('''%s'' must be a whole number of people, zero or more', r.size_text) END),
    ('source', CASE WHEN p_kind <> 'size_estimates' THEN NULL WHEN r.source IS NULL THEN 'is required'
      WHEN length(r.source) > 200 THEN 'is longer than 200 characters' END),
    ('key', CASE WHEN length(r.key) > 100 OR r.key ~ '[[:cntrl:]]'
      THEN 'must be 1–100 characters without control characters' END)
  ) p (field, problem)
  WHERE p.problem IS NOT NULL;

  -- A row that gives what an earlier row of the file gave is refused, naming the earlier one: which of the two is
  -- right is for the person to say.
  INSERT INTO outreach_import_errors (line, field, problem)
  SELECT d.line, CASE p_kind WHEN 'size_estimates' THEN 'area' ELSE 'site' END,
    format('repeats line %s (%s)', d.first_line, CASE p_kind
      WHEN 'reach' THEN 'the same site, week, population, worker and hotspot'
      WHEN 'peer_need' THEN 'the same site, week, population and commodity'
      ELSE 'the same area, population and year' END)
  FROM (
    SELECT r.line, min(r.line) OVER (PARTITION BY r.site, r.week, r.population, r.worker, r.hotspot, r.commodity,
      r.area, r.year) AS first_line
    FROM outreach_import_rows r
    WHERE NOT EXISTS (SELECT 1 FROM outreach_import_errors e WHERE e.line = r.line)
  ) d
  WHERE d.line <> d.first_line;
END $$;

-- Saves the checked rows that have no problem: a new row is added, a row that changes what was recorded replaces it
-- (the old version goes to the _replaced table with who replaced it and when), and a row equal to what is recorded
-- changes nothing, so importing a file twice saves it once. Returns how many rows were added, replaced and unchanged.
CREATE OR REPLACE FUNCTION outreach_import_apply(p_kind text, OUT added bigint, OUT replaced bigint,
  OUT unchanged bigint) LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_rows bigint;
BEGIN
  -- Only rows without a problem are saved (all of them, unless the caller chose to skip the others).
  DELETE FROM outreach_import_rows r WHERE EXISTS (SELECT 1 FROM outreach_import_errors e WHERE e.line = r.line);
  -- Writers of the same site (or area) take turns, so a correction always keeps what the one before it saved, even a
  -- row both were adding; writers of other sites do not wait. Locked in the order of the lock keys themselves, so
  -- two calls cannot take the same two locks in opposite orders.
  PERFORM pg_advisory_xact_lock(hashtext('kpstock.outreach'), a.key)
  FROM (SELECT DISTINCT hashtext(coalesce(r.site, r.area)) AS key FROM outreach_import_rows r ORDER BY 1) a;
  SELECT count(*) INTO v_rows FROM outreach_import_rows;

  IF p_kind = 'reach' THEN
    WITH old AS (
      INSERT INTO outreach_reach_replaced (site_code, week, population_code, worker_code, hotspot, reached,
        new_enrolments, source_key, recorded_at, recorded_by)
      SELECT o.site_code, o.week, o.population_code, o.worker_code, o.hotspot, o.reached, o.new_enrolments,
        o.source_key, o.recorded_at, o.recorded_by
      FROM outreach_reach o JOIN outreach_import_rows g ON g.site = o.site_code AND g.week = o.week
        AND g.population = o.population_code AND g.worker = o.worker_code AND g.hotspot = o.hotspot
      WHERE (o.reached, o.new_enrolments) IS DISTINCT FROM (g.reached, g.new_enrolments)
    ), saved AS (
      INSERT INTO outreach_reach AS o (site_code, week, population_code, worker_code, hotspot, reached,
        new_enrolments, source_key)
      SELECT g.site, g.week, g.population, g.worker, g.hotspot, g.reached, g.new_enrolments, g.key FROM outreach_import_rows g
      ON CONFLICT (site_code, week, population_code, worker_code, hotspot) DO UPDATE SET
        reached = excluded.reached, new_enrolments = excluded.new_enrolments, source_key = excluded.source_key,
        recorded_at = now(), recorded_by = session_user
      WHERE (o.reached, o.new_enrolments) IS DISTINCT FROM (excluded.reached, excluded.new_enrolments)
      RETURNING xmax = 0 AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) INTO added, replaced FROM saved;
  ELSIF p_kind = 'peer_need' THEN
    WITH old AS (
      INSERT INTO peer_need_replaced (site_code, week, population_code, commodity_code, quantity, source_key,
        recorded_at, recorded_by)
      SELECT o.site_code, o.week, o.population_code, o.commodity_code, o.quantity, o.source_key, o.recorded_at,
        o.recorded_by
      FROM peer_need o JOIN outreach_import_rows g ON g.site = o.site_code AND g.week = o.week AND g.population = o.population_code
        AND g.commodity = o.commodity_code
      WHERE o.quantity <> g.quantity
    ), saved AS (
      INSERT INTO peer_need AS o (site_code, week, population_code, commodity_code, quantity, source_key)
      SELECT g.site, g.week, g.population, g.commodity, g.quantity, g.key FROM outreach_import_rows g
      ON CONFLICT (site_code, week, population_code, commodity_code) DO UPDATE SET
        quantity = excluded.quantity, source_key = excluded.source_key, recorded_at = now(),
        recorded_by = session_user
      WHERE o.quantity <> excluded.quantity
      RETURNING xmax = 0 AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) INTO added, replaced FROM saved;
  ELSE
    WITH good AS (
      SELECT r.*, s.code AS site_code, c.code AS county_code FROM outreach_import_rows r
      LEFT JOIN sites s ON s.code = r.area LEFT JOIN counties c ON c.code = r.area
    ), old AS (
      INSERT INTO size_estimates_replaced (site_code, county_code, population_code, year, size, source, recorded_at,
        recorded_by)
      SELECT o.site_code, o.county_code, o.population_code, o.year, o.size, o.source, o.recorded_at, o.recorded_by
      FROM size_estimates o JOIN good g ON g.site_code IS NOT DISTINCT FROM o.site_code
        AND g.county_code IS NOT DISTINCT FROM o.county_code AND g.population = o.population_code AND g.year = o.year
      WHERE (o.size, o.source) IS DISTINCT FROM (g.size, g.source)
    ), saved AS (
      INSERT INTO size_estimates AS o (site_code, county_code, population_code, year, size, source)
      SELECT g.site_code, g.county_code, g.population, g.year, g.size, g.source FROM good g
      ON CONFLICT ON CONSTRAINT size_estimates_key DO UPDATE SET size = excluded.size, source = excluded.source,
        recorded_at = now(), recorded_by = session_user
      WHERE (o.size, o.source) IS DISTINCT FROM (excluded.size, excluded.source)
      RETURNING xmax = 0 AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) INTO added, replaced FROM saved;
  END IF;
  unchanged := v_rows - added - replaced;
END $$;
