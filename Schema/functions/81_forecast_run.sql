-- The weekly forecast run (../shared/domain.md, "Forecast of weekly need"; issue: outreach counts and the weekly
-- forecast): for target week W, per site and commodity, the need by outreach, consumption, clients and the naive
-- method, a back-test of each over the origins W−8 … W−1, the method's choice, the echelon need over the supply
-- lines, and flags. Set-wise over weekly series: outreach_weekly and peer_need for weeks W−20 … W−1 (an origin reads
-- the 12 weeks before it) and stock_weeks for W−16 … W−1 (an origin reads the 8 before it). The
-- arithmetic is the functions of 80_forecast.sql, in numeric; nothing reads raw stock events.

-- The method each commodity's need is taken from: its own setting, else its category's default (condoms, lubricant
-- and injecting equipment → max; methadone → clients; the rest → consumption).
CREATE OR REPLACE VIEW forecast_commodity_methods AS
SELECT c.code AS commodity_code,
  coalesce(m.method, CASE c.category WHEN 'condom' THEN 'max' WHEN 'lubricant' THEN 'max'
    WHEN 'injecting_equipment' THEN 'max' WHEN 'opioid_agonist' THEN 'clients' ELSE 'consumption' END) AS method,
  m.method IS NULL AS is_default, c.category
FROM commodities c LEFT JOIN forecast_methods m ON m.commodity_code = c.code;

-- A weekly series p_length weeks long from p_first_week (a Monday): the value reported for each week, NULL for a
-- week without a report.
CREATE OR REPLACE FUNCTION forecast_weekly_series(p_weeks date[], p_values numeric[], p_first_week date,
  p_length integer) RETURNS numeric[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v_series numeric[] := array_fill(NULL::numeric, ARRAY[p_length]);
BEGIN
  FOR v_index IN 1..cardinality(p_weeks) LOOP
    v_series[(p_weeks[v_index] - p_first_week) / 7 + 1] := p_values[v_index];
  END LOOP;
  RETURN v_series;
END $$;

-- Computes and stores a forecast run for week p_week (a Monday; NULL: the coming week) over a county, a site or (both
-- NULL) the whole programme, and returns its id. Refuses a week after the coming one, an unknown county or site, a site
-- not open in the week, and a county and a site together. The lines stored are the scope's open sites and every site they supply, since the
-- scope's echelon need includes theirs. The same data and settings give the same lines, whatever the row order.
CREATE OR REPLACE FUNCTION forecast_run(p_week date, p_county char(3) DEFAULT NULL, p_site text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql
-- Compiling a plan's expressions costs more than the run's small temporary tables save.
SET jit = off SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  -- Weeks each origin reads, and how many origins the back-test has.
  c_outreach_weeks constant integer := 12;
  c_consumption_weeks constant integer := 8;
  c_origins constant integer := 8;
  v_settings programme_settings;
  v_markup numeric;
  v_run bigint;
  -- The sites whose stock is read; NULL (all) for a national run.
  v_sites text[];
BEGIN
  p_week := coalesce(p_week, forecast_coming_week());
  IF extract(isodow FROM p_week) <> 1 THEN
    PERFORM ledger_refuse('week', format('%s is not a Monday: a week is given by its Monday', p_week));
  ELSIF p_week > forecast_coming_week() THEN
    PERFORM ledger_refuse('week', format('%s is after the coming week, %s: its weeks before have not happened yet',
      iso_week_label(p_week), iso_week_label(forecast_coming_week())));
  END IF;
  PERFORM scope_check(p_county, p_site);
  PERFORM access_refuse_scope(p_county, p_site, 'plan');
  IF p_site IS NOT NULL AND NOT EXISTS (SELECT FROM sites s WHERE s.code = p_site
      AND (s.opened_on IS NULL OR s.opened_on <= p_week + 6) AND (s.closed_on IS NULL OR s.closed_on >= p_week)) THEN
    PERFORM ledger_refuse('site', format('%s is not open in %s: nothing to forecast', p_site, iso_week_label(p_week)));
  END IF;
  SELECT * INTO STRICT v_settings FROM programme_settings;
  v_markup := 1 + v_settings.wastage_percent / 100;

  -- The scope's open sites, the sites they supply (any distance down), and for the size caps every open site of the
  -- counties those are in.
  CREATE TEMP TABLE fc_sites ON COMMIT DROP AS
  WITH RECURSIVE open_sites AS (
    SELECT s.code, s.county_code, s.kind FROM sites s
    WHERE (s.opened_on IS NULL OR s.opened_on <= p_week + 6) AND (s.closed_on IS NULL OR s.closed_on >= p_week)
  ), stored (code) AS (
    SELECT o.code FROM open_sites o
    WHERE (p_site IS NULL OR o.code = p_site) AND (p_county IS NULL OR o.county_code = p_county)
    UNION
    SELECT l.site_code FROM supply_lines l JOIN stored t ON l.supplier_code = t.code
    JOIN open_sites o ON o.code = l.site_code
  )
  SELECT o.code AS site_code, o.county_code, o.kind, o.code IN (SELECT code FROM stored) AS stored
  FROM open_sites o
  WHERE (p_site IS NULL AND p_county IS NULL)
    OR o.county_code IN (SELECT o2.county_code FROM open_sites o2 JOIN stored t ON t.code = o2.code);
  ANALYZE fc_sites;

  -- Weeks W−16 … W−1 (index 1 … 16) per site and commodity that ever held stock.
  IF p_site IS NOT NULL OR p_county IS NOT NULL THEN
    v_sites := ARRAY(SELECT site_code FROM fc_sites);
  END IF;
  -- The closed weeks not kept yet are kept first (stock_weeks_keep), so that next week's run computes only the
  -- weeks closed since.
  PERFORM stock_weeks_keep(p_week - 7 * (c_consumption_weeks + c_origins), p_week - 7, v_sites);
  CREATE TEMP TABLE fc_consumption ON COMMIT DROP AS
  WITH weeks AS MATERIALIZED (
    SELECT * FROM stock_weeks(p_week - 7 * (c_consumption_weeks + c_origins), p_week - 7, v_sites)
  )
  SELECT c.site_code, c.commodity_code,
    array_agg(c.dispensed ORDER BY c.week) AS dispensed,
    array_agg(c.stocked_out_days ORDER BY c.week) AS stocked_out_days,
    array_agg(c.unclosed_days ORDER BY c.week) AS unclosed_days,
    array_agg(forecast_adjusted_consumption(c.dispensed, c.stocked_out_days, c.unclosed_days) ORDER BY c.week)
      AS adjusted
  FROM weeks c JOIN fc_sites s ON s.site_code = c.site_code
  GROUP BY c.site_code, c.commodity_code;
  -- Statistics of the keys alone, here and below: the later joins need them, and those of the arrays cost more
  -- than they guide.
  ANALYZE fc_consumption (site_code, commodity_code);

  -- People reached, weeks W−20 … W−1 (index 1 … 20), per site and population reported in them, projected at each
  -- origin (index 1 … 9: W−8 … W).
  CREATE TEMP TABLE fc_reach ON COMMIT DROP AS
  WITH reported AS (
    SELECT o.site_code, o.population_code, o.week, o.reached FROM outreach_weekly o
    JOIN fc_sites s ON s.site_code = o.site_code
    WHERE o.week BETWEEN p_week - 7 * (c_outreach_weeks + c_origins) AND p_week - 7
  ), series AS (
    SELECT r.site_code, r.population_code,
      forecast_weekly_series(array_agg(r.week), array_agg(r.reached::numeric), p_week - 7 * (c_outreach_weeks
        + c_origins), c_outreach_weeks + c_origins) AS series
    FROM reported r GROUP BY r.site_code, r.population_code
  )
  SELECT s.site_code, s.population_code, s.series, p.origin::integer, p.projection
  FROM series s
  CROSS JOIN LATERAL unnest(forecast_holt_origins(s.series, c_outreach_weeks, v_settings.forecast_alpha,
    v_settings.forecast_beta)) WITH ORDINALITY p (projection, origin)
  WHERE p.projection IS NOT NULL;

  -- The size cap of each projection: the site's own estimate for the origin's year (the latest year up to it), else
  -- its county's spread over the county's reporting sites without their own, in proportion to their projections.
  ALTER TABLE fc_reach ADD COLUMN size_cap numeric, ADD COLUMN cap_source text;
  UPDATE fc_reach r SET size_cap = e.size, cap_source = 'site'
  FROM (
    SELECT DISTINCT ON (r.site_code, r.population_code, r.origin) r.site_code, r.population_code, r.origin, e.size
    FROM fc_reach r JOIN size_estimates e ON e.site_code = r.site_code AND e.population_code = r.population_code
      AND e.year <= extract(isoyear FROM p_week - 7 * (c_origins + 1 - r.origin))
    ORDER BY r.site_code, r.population_code, r.origin, e.year DESC
  ) e
  WHERE e.site_code = r.site_code AND e.population_code = r.population_code AND e.origin = r.origin;
  WITH uncapped AS (
    SELECT r.site_code, r.population_code, r.origin, r.projection, s.county_code
    FROM fc_reach r JOIN fc_sites s ON s.site_code = r.site_code WHERE r.cap_source IS NULL
  ), totals AS (
    SELECT county_code, population_code, origin, sum(projection) AS total FROM uncapped GROUP BY 1, 2, 3
  ), estimates AS (
    SELECT DISTINCT ON (t.county_code, t.population_code, t.origin) t.county_code, t.population_code, t.origin,
      t.total, e.size
    FROM totals t JOIN size_estimates e ON e.county_code = t.county_code AND e.population_code = t.population_code
      AND e.year <= extract(isoyear FROM p_week - 7 * (c_origins + 1 - t.origin))
    ORDER BY t.county_code, t.population_code, t.origin, e.year DESC
  )
  UPDATE fc_reach r
  SET size_cap = CASE WHEN e.total > 0 THEN e.size * r.projection / e.total ELSE e.size END, cap_source = 'county'
  FROM uncapped u JOIN estimates e ON e.county_code = u.county_code AND e.population_code = u.population_code
    AND e.origin = u.origin
  WHERE r.site_code = u.site_code AND r.population_code = u.population_code AND r.origin = u.origin;
  ANALYZE fc_reach (site_code, population_code, origin);

  -- The need peers reported, weeks W−20 … W−1, projected the same way.
  CREATE TEMP TABLE fc_peer ON COMMIT DROP AS
  WITH reported AS (
    SELECT n.site_code, n.population_code, n.commodity_code, n.week, n.quantity FROM peer_need n
    JOIN fc_sites s ON s.site_code = n.site_code
    WHERE n.week BETWEEN p_week - 7 * (c_outreach_weeks + c_origins) AND p_week - 7
  ), series AS (
    SELECT r.site_code, r.population_code, r.commodity_code,
      forecast_weekly_series(array_agg(r.week), array_agg(r.quantity::numeric), p_week - 7 * (c_outreach_weeks
        + c_origins), c_outreach_weeks + c_origins) AS series
    FROM reported r GROUP BY r.site_code, r.population_code, r.commodity_code
  )
  SELECT s.site_code, s.population_code, s.commodity_code, s.series, p.origin::integer, p.projection
  FROM series s
  CROSS JOIN LATERAL unnest(forecast_holt_origins(s.series, c_outreach_weeks, v_settings.forecast_alpha,
    v_settings.forecast_beta)) WITH ORDINALITY p (projection, origin)
  WHERE p.projection IS NOT NULL;
  ANALYZE fc_peer (site_code, population_code, commodity_code, origin);

  -- Each population's weekly need before wastage at each origin: the projected peer need where peers reported one in
  -- the origin's weeks, else the capped projection of reach × the norm in force in the origin's week (site, else
  -- county, else national). A population with neither counts nothing.
  CREATE TEMP TABLE fc_population_need ON COMMIT DROP AS
  WITH by_reach AS (
    SELECT DISTINCT ON (r.site_code, n.commodity_code, r.population_code, r.origin)
      r.site_code, n.commodity_code, r.population_code, r.origin, r.series, r.projection, r.size_cap, r.cap_source,
      n.quantity_per_week AS norm, n.scope AS norm_scope, n.effective_from AS norm_effective_from,
      n.source AS norm_source
    FROM fc_reach r
    JOIN site_norms n ON n.site_code = r.site_code AND n.population_code = r.population_code
      AND n.effective_from <= p_week - 7 * (c_origins + 1 - r.origin)
    ORDER BY r.site_code, n.commodity_code, r.population_code, r.origin, n.precedence, n.effective_from DESC
  )
  SELECT p.site_code, p.commodity_code, p.population_code, p.origin, 'peer_need' AS basis, p.series,
    p.projection, NULL::numeric AS size_cap, NULL::text AS cap_source, NULL::numeric AS norm, NULL::text AS norm_scope,
    NULL::date AS norm_effective_from, NULL::text AS norm_source, p.projection AS need
  FROM fc_peer p
  UNION ALL
  SELECT b.site_code, b.commodity_code, b.population_code, b.origin, 'reach', b.series, b.projection, b.size_cap,
    b.cap_source, b.norm, b.norm_scope, b.norm_effective_from, b.norm_source,
    least(b.projection, b.size_cap) * b.norm
  FROM by_reach b
  WHERE NOT EXISTS (SELECT FROM fc_peer p WHERE p.site_code = b.site_code AND p.commodity_code = b.commodity_code
    AND p.population_code = b.population_code AND p.origin = b.origin);
  ANALYZE fc_population_need (site_code, commodity_code, population_code, origin);

  -- The outreach-based need per site and commodity at each origin (index 1 … 9): ⌈Σ populations × (1 + wastage)⌉;
  -- and what the populations of W say about the line: one that went unreported in 2 of the last 4 weeks, one capped.
  CREATE TEMP TABLE fc_outreach ON COMMIT DROP AS
  WITH by_origin AS (
    SELECT site_code, commodity_code, origin, ceil(sum(need) * v_markup) AS need
    FROM fc_population_need GROUP BY site_code, commodity_code, origin
  ), flags AS (
    SELECT site_code, commodity_code,
      bool_or(basis = 'reach' AND (SELECT count(*) FROM unnest(series[c_outreach_weeks + c_origins - 3:]) y
        WHERE y IS NULL) >= 2) AS missing_outreach,
      bool_or(projection > size_cap) AS capped
    FROM fc_population_need WHERE origin = c_origins + 1 GROUP BY site_code, commodity_code
  )
  SELECT k.site_code, k.commodity_code, array_agg(b.need ORDER BY g.i) AS outreach,
    coalesce(bool_or(f.missing_outreach), false) AS missing_outreach, coalesce(bool_or(f.capped), false) AS capped
  FROM (SELECT DISTINCT site_code, commodity_code FROM by_origin) k
  CROSS JOIN generate_series(1, c_origins + 1) g (i)
  LEFT JOIN by_origin b ON b.site_code = k.site_code AND b.commodity_code = k.commodity_code AND b.origin = g.i
  LEFT JOIN flags f ON f.site_code = k.site_code AND f.commodity_code = k.commodity_code AND g.i = 1
  GROUP BY k.site_code, k.commodity_code;
  ANALYZE fc_outreach (site_code, commodity_code);

  -- Every site and commodity with stock or an outreach-based need, and every supplier above them (whose echelon need
  -- includes theirs), with the methods' figures at each origin.
  CREATE TEMP TABLE fc_pairs ON COMMIT DROP AS
  WITH RECURSIVE direct AS (
    SELECT site_code, commodity_code FROM fc_consumption
    UNION
    SELECT site_code, commodity_code FROM fc_outreach
  ), with_suppliers (site_code, commodity_code) AS (
    SELECT site_code, commodity_code FROM direct
    UNION
    SELECT l.supplier_code, w.commodity_code FROM with_suppliers w
    JOIN commodities c ON c.code = w.commodity_code
    JOIN supply_lines l ON l.site_code = w.site_code AND l.category = c.category
    JOIN fc_sites s ON s.site_code = l.supplier_code
  )
  SELECT w.site_code, w.commodity_code, m.method, s.kind, l.supplier_code,
    coalesce(c.dispensed, array_fill(0::bigint, ARRAY[c_consumption_weeks + c_origins])) AS dispensed,
    coalesce(c.stocked_out_days, array_fill(7, ARRAY[c_consumption_weeks + c_origins])) AS stocked_out_days,
    coalesce(c.unclosed_days, array_fill(0, ARRAY[c_consumption_weeks + c_origins])) AS unclosed_days,
    coalesce(c.adjusted, array_fill(NULL::numeric, ARRAY[c_consumption_weeks + c_origins])) AS adjusted,
    coalesce(o.outreach, array_fill(NULL::numeric, ARRAY[c_origins + 1])) AS outreach,
    coalesce(o.missing_outreach, false) AS missing_outreach, coalesce(o.capped, false) AS capped
  FROM with_suppliers w
  JOIN fc_sites s ON s.site_code = w.site_code
  JOIN forecast_commodity_methods m ON m.commodity_code = w.commodity_code
  LEFT JOIN supply_lines l ON l.site_code = w.site_code AND l.category = m.category
  LEFT JOIN fc_consumption c ON c.site_code = w.site_code AND c.commodity_code = w.commodity_code
  LEFT JOIN fc_outreach o ON o.site_code = w.site_code AND o.commodity_code = w.commodity_code;
  ANALYZE fc_pairs (site_code, commodity_code, supplier_code);

  -- Each line's methods for W and their back-test. The client-based need is the methadone register's (for the sites
  -- that dose MAT clients: clinics, prisons, hospitals); it has no back-test.
  CREATE TEMP TABLE fc_lines ON COMMIT DROP AS
  WITH methods AS (
    SELECT p.*, co.consumption, co.naive, p.adjusted[c_consumption_weeks + 1:] AS actual,
      CASE WHEN p.commodity_code = mat_commodity() AND p.kind IN ('mat_clinic', 'prison', 'hospital')
        THEN mat_weekly_need(p.site_code, p_week)::numeric END AS client_need
    FROM fc_pairs p
    CROSS JOIN LATERAL forecast_consumption_origins(p.adjusted, c_consumption_weeks) co
  ), judged AS (
    SELECT m.*, m.outreach[c_origins + 1] AS outreach_need, m.consumption[c_origins + 1] AS consumption_need,
      m.naive[c_origins + 1] AS naive_need,
      forecast_wape(m.outreach[1:c_origins], m.actual) AS wape_outreach,
      forecast_wape(m.consumption[1:c_origins], m.actual) AS wape_consumption,
      forecast_wape(m.naive[1:c_origins], m.actual) AS wape_naive
    FROM methods m
  ), chosen AS (
    SELECT j.*,
      CASE
        -- A store's own need is nothing unless it gave some out in the consumption weeks.
        WHEN j.kind = 'store' AND (SELECT sum(d) FROM unnest(j.dispensed[c_origins + 1:]) d) = 0 THEN 'none'
        WHEN j.method = 'outreach' AND j.outreach_need IS NOT NULL THEN 'outreach'
        WHEN j.method = 'consumption' AND j.consumption_need IS NOT NULL THEN 'consumption'
        WHEN j.method = 'clients' AND j.client_need IS NOT NULL THEN 'clients'
        WHEN j.method = 'max' THEN (
          SELECT c.name FROM (VALUES (1, 'consumption', j.consumption_need), (2, 'outreach', j.outreach_need),
            (3, 'clients', j.client_need)) c (tie, name, need)
          WHERE c.need IS NOT NULL ORDER BY c.need DESC, c.tie LIMIT 1)
        WHEN j.method = 'auto' THEN (
          SELECT c.name FROM (VALUES (1, 'consumption', j.consumption_need, j.wape_consumption),
            (2, 'outreach', j.outreach_need, j.wape_outreach), (3, 'naive', j.naive_need, j.wape_naive)) c (tie, name,
            need, wape)
          WHERE c.need IS NOT NULL ORDER BY c.wape NULLS LAST, c.tie LIMIT 1)
      END AS chosen_method
    FROM judged j
  )
  SELECT c.*,
    CASE c.chosen_method WHEN 'none' THEN 0 WHEN 'outreach' THEN c.outreach_need
      WHEN 'consumption' THEN c.consumption_need WHEN 'clients' THEN c.client_need WHEN 'naive' THEN c.naive_need
    END::bigint AS own_need
  FROM chosen c;
  ANALYZE fc_lines (site_code, commodity_code, supplier_code);

  -- The need of each supplier: its own and, through the supply lines of the commodity's category, that of every site
  -- below it (the sites it supplies, and theirs). An unknown own need below counts nothing, and says so.
  ALTER TABLE fc_lines ADD COLUMN supplied_need bigint NOT NULL DEFAULT 0,
    ADD COLUMN below_known boolean NOT NULL DEFAULT false, ADD COLUMN below_unknown boolean NOT NULL DEFAULT false;
  WITH RECURSIVE below (top, site_code, commodity_code) AS (
    SELECT l.supplier_code, l.site_code, l.commodity_code FROM fc_lines l WHERE l.supplier_code IS NOT NULL
    UNION
    SELECT b.top, l.site_code, l.commodity_code FROM below b
    JOIN fc_lines l ON l.supplier_code = b.site_code AND l.commodity_code = b.commodity_code
  )
  UPDATE fc_lines t SET supplied_need = coalesce(s.need, 0), below_known = s.known, below_unknown = s.unknown
  FROM (
    SELECT b.top, b.commodity_code, sum(l.own_need)::bigint AS need, bool_or(l.own_need IS NOT NULL) AS known,
      bool_or(l.own_need IS NULL) AS unknown
    FROM below b JOIN fc_lines l ON l.site_code = b.site_code AND l.commodity_code = b.commodity_code
    GROUP BY b.top, b.commodity_code
  ) s
  WHERE s.top = t.site_code AND s.commodity_code = t.commodity_code;

  INSERT INTO forecast_runs (week, county_code, site_code, settings, made_on)
  VALUES (p_week, p_county, p_site, jsonb_build_object(
    'alpha', v_settings.forecast_alpha, 'beta', v_settings.forecast_beta,
    'wastage_percent', v_settings.wastage_percent, 'tolerance_percent', v_settings.forecast_tolerance_percent,
    'outreach_weeks', c_outreach_weeks, 'consumption_weeks', c_consumption_weeks, 'backtest_origins', c_origins,
    'methods', (SELECT jsonb_object_agg(commodity_code, method) FROM forecast_commodity_methods)),
    programme_today())
  RETURNING id INTO v_run;

  INSERT INTO forecast_lines (run_id, site_code, commodity_code, method, chosen_method, need, own_need, supplied_need,
    outreach_need, consumption_need, client_need, naive_need, wape_outreach, wape_consumption, wape_naive, flags,
    supplier_code, dispensed, stocked_out_days, unclosed_days, adjusted, backtest_outreach, backtest_consumption,
    backtest_naive)
  SELECT v_run, l.site_code, l.commodity_code, l.method, l.chosen_method,
    CASE WHEN l.own_need IS NULL AND NOT l.below_known THEN NULL ELSE coalesce(l.own_need, 0) + l.supplied_need END,
    l.own_need, l.supplied_need, l.outreach_need, l.consumption_need, l.client_need, l.naive_need,
    l.wape_outreach, l.wape_consumption, l.wape_naive,
    ARRAY(SELECT f FROM unnest(ARRAY[
      CASE WHEN l.outreach_need IS NOT NULL AND l.consumption_need IS NOT NULL
        AND abs(l.outreach_need - l.consumption_need)
          > v_settings.forecast_tolerance_percent / 100 * greatest(l.outreach_need, l.consumption_need)
        THEN 'methods_disagree' END,
      CASE WHEN l.missing_outreach THEN 'missing_outreach' END,
      CASE WHEN l.stocked_out_days[c_consumption_weeks + c_origins] >= 3 THEN 'recent_stockout' END,
      CASE WHEN l.capped THEN 'capped' END,
      CASE WHEN l.own_need IS NULL THEN 'unknown' END,
      CASE WHEN l.below_unknown THEN 'unknown_supplied' END,
      CASE WHEN (
        SELECT count(*) = 4 AND count(DISTINCT n) = 1 AND max(n) > 0
        FROM (SELECT n FROM unnest(l.adjusted[c_origins + 1:]) WITH ORDINALITY a (n, i)
          WHERE n IS NOT NULL ORDER BY i DESC LIMIT 4) last4)
        THEN 'flat' END]) f WHERE f IS NOT NULL),
    l.supplier_code, l.dispensed, l.stocked_out_days, l.unclosed_days, l.adjusted::bigint[],
    l.outreach[1:c_origins]::bigint[], l.consumption[1:c_origins]::bigint[], l.naive[1:c_origins]::bigint[]
  FROM fc_lines l JOIN fc_sites s ON s.site_code = l.site_code
  WHERE s.stored;

  INSERT INTO forecast_line_populations (run_id, site_code, commodity_code, population_code, basis, series,
    projection, size_cap, cap_source, norm, norm_scope, norm_effective_from, norm_source, need)
  SELECT v_run, p.site_code, p.commodity_code, p.population_code, p.basis, p.series[c_origins + 1:],
    p.projection, p.size_cap, p.cap_source, p.norm, p.norm_scope, p.norm_effective_from, p.norm_source, p.need
  FROM fc_population_need p JOIN fc_sites s ON s.site_code = p.site_code
  WHERE p.origin = c_origins + 1 AND s.stored;

  -- The working tables go with the transaction; dropped now, a second run in the same transaction can make them.
  DROP TABLE fc_sites, fc_consumption, fc_reach, fc_peer, fc_population_need, fc_outreach, fc_pairs, fc_lines;
  RETURN v_run;
END $$;
