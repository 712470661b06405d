-- The weekly forecast's arithmetic (../shared/domain.md, "Forecast of weekly need"), as pure functions over weekly
-- series, in exact numeric arithmetic: Holt's linear smoothing of people reached (and of peer-reported need),
-- consumption adjusted for stocked-out days, and the back-test's error. The forecast run reads the weekly series
-- from outreach_weekly, peer_need and the ledger's daily history and hands them to these; `forecast explain` shows
-- their steps.

-- Holt's linear smoothing of a weekly series, oldest week first, NULL for a week without a report: at the first
-- reported week level = the value and trend = 0; at each later reported week level′ = α·y + (1−α)(level + trend) and
-- trend′ = β(level′ − level) + (1−β)·trend; a week without a report only advances (level′ = level + trend, trend
-- kept). One row per week from the first reported one on, with the level and trend after it.
CREATE OR REPLACE FUNCTION forecast_holt_steps(p_series numeric[], p_alpha numeric, p_beta numeric)
RETURNS TABLE (step integer, observed numeric, level numeric, trend numeric) LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v_level numeric;
  v_trend numeric;
  v_next numeric;
BEGIN
  FOR v_step IN 1..coalesce(cardinality(p_series), 0) LOOP
    step := v_step;
    observed := p_series[v_step];
    IF v_level IS NULL THEN
      CONTINUE WHEN observed IS NULL;
      v_level := observed;
      v_trend := 0;
    ELSIF observed IS NULL THEN
      v_level := v_level + v_trend;
    ELSE
      v_next := p_alpha * observed + (1 - p_alpha) * (v_level + v_trend);
      v_trend := p_beta * (v_next - v_level) + (1 - p_beta) * v_trend;
      v_level := v_next;
    END IF;
    level := v_level;
    trend := v_trend;
    RETURN NEXT;
  END LOOP;
END $$;

-- The series projected one week past its end: level + trend after its last week, never below zero; NULL when no week
-- of the series was reported (unknown, not zero).
CREATE OR REPLACE FUNCTION forecast_holt_projection(p_series numeric[], p_alpha numeric, p_beta numeric)
RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT greatest(0, s.level + s.trend) FROM forecast_holt_steps(p_series, p_alpha, p_beta) s
  ORDER BY s.step DESC LIMIT 1
$$;

-- A week's consumption adjusted for the days that closed with no usable stock: N = ⌈C × 7 / (7 − X)⌉. A week
-- stocked out every day carries no information: NULL, not zero use.
CREATE OR REPLACE FUNCTION forecast_adjusted_consumption(p_dispensed numeric, p_stocked_out_days integer)
RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_stocked_out_days BETWEEN 0 AND 6 THEN ceil(p_dispensed * 7 / (7 - p_stocked_out_days)) END
$$;

-- The consumption-based need from the adjusted weeks (NULL for a week without information): ⌈mean of the informative
-- weeks⌉, NULL (unknown) when there is none.
CREATE OR REPLACE FUNCTION forecast_consumption_need(p_adjusted numeric[]) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT ceil(avg(n)) FROM unnest(p_adjusted) n
$$;

-- The back-test's error of a method: WAPE = Σ|forecast − actual| / Σ actual over the origins where the method could
-- forecast and the actual week is informative; NULL when that Σ actual is zero (or there is no such origin).
CREATE OR REPLACE FUNCTION forecast_wape(p_forecasts numeric[], p_actuals numeric[]) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
  SELECT sum(abs(f - a)) / nullif(sum(a), 0)
  FROM unnest(p_forecasts, p_actuals) AS pair (f, a)
  WHERE f IS NOT NULL AND a IS NOT NULL
$$;

-- The norm a site uses for a commodity and population on a day: its own norm in force, else its county's, else the
-- national one, with where it comes from (scope 'site', 'county' or 'national'). No row when none is in force.
CREATE OR REPLACE FUNCTION norm_in_force(p_commodity text, p_population text, p_site text, p_day date)
RETURNS TABLE (quantity_per_week numeric, source text, scope text, effective_from date) LANGUAGE sql STABLE AS $$
  SELECT n.quantity_per_week, n.source,
    CASE WHEN n.site_code IS NOT NULL THEN 'site' WHEN n.county_code IS NOT NULL THEN 'county' ELSE 'national' END,
    n.effective_from
  FROM norms n JOIN sites s ON s.code = p_site
  WHERE n.commodity_code = p_commodity AND n.population_code = p_population AND n.effective_from <= p_day
    AND (n.site_code = s.code OR n.county_code = s.county_code OR (n.site_code IS NULL AND n.county_code IS NULL))
  ORDER BY n.site_code IS NOT NULL DESC, n.county_code IS NOT NULL DESC, n.effective_from DESC
  LIMIT 1
$$;

-- What the consumption-based forecast reads, per site, commodity and ISO week from p_first_week to p_last_week (both
-- Mondays): units dispensed (both channels, net of undone dispenses; not transfers or adjustments) and the days that
-- closed with no usable stock, that is none of an unexpired lot (a lot is usable through its expiry day). Read from the
-- per-lot daily rollup from p_first_week on and the current balances, never from events: each lot holds its closing
-- balance from one movement day to the next, so the days with usable stock are a union of date ranges. A site and
-- commodity that never held stock has no rows. Days before a site opened count as days without stock.
CREATE OR REPLACE FUNCTION forecast_weekly_consumption(p_first_week date, p_last_week date, p_site text DEFAULT NULL)
RETURNS TABLE (site_code text, commodity_code text, week date, dispensed bigint, stocked_out_days integer)
LANGUAGE sql STABLE AS $$
  WITH window_rows AS MATERIALIZED (
    -- The rollup rows from the first week to today, read once, by day: a probe of the rollup per balance would visit
    -- every lot a site ever held, nearly all of them used up long ago.
    SELECT d.site_code, d.commodity_code, d.lot_code, d.day, d.net_change, d.dispensed
    FROM stock_lot_daily d WHERE d.day >= p_first_week AND (p_site IS NULL OR d.site_code = p_site)
  ), recent AS (
    -- Each beside its lot's balance today.
    SELECT r.*, b.on_hand FROM window_rows r
    JOIN stock_balances b ON b.site_code = r.site_code AND b.commodity_code = r.commodity_code
      AND b.lot_code = r.lot_code
  ), moves AS (
    -- Each lot's movement days, with its balance at the close of each (today's balance less what later days
    -- changed) and the day the next movement comes.
    SELECT r.site_code, r.commodity_code, r.lot_code, r.day, r.on_hand - coalesce(sum(r.net_change) OVER later, 0)
        AS closing,
      lead(r.day) OVER (PARTITION BY r.site_code, r.commodity_code, r.lot_code ORDER BY r.day) AS next_day
    FROM recent r
    WINDOW later AS (PARTITION BY r.site_code, r.commodity_code, r.lot_code ORDER BY r.day DESC
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
  ), opening AS (
    -- Each lot's balance at the close of the day before the first week, held until its first movement from then on.
    SELECT b.site_code, b.commodity_code, b.lot_code, b.on_hand - coalesce(r.changed, 0) AS closing,
      r.first_day AS next_day
    FROM stock_balances b
    LEFT JOIN (
      SELECT r.site_code, r.commodity_code, r.lot_code, sum(r.net_change) AS changed, min(r.day) AS first_day
      FROM recent r GROUP BY 1, 2, 3
    ) r ON r.site_code = b.site_code AND r.commodity_code = b.commodity_code AND r.lot_code = b.lot_code
    WHERE p_site IS NULL OR b.site_code = p_site
  ), held AS (
    SELECT o.site_code, o.commodity_code, o.lot_code, daterange(p_first_week, o.next_day) AS days, o.closing
    FROM opening o
    UNION ALL
    SELECT m.site_code, m.commodity_code, m.lot_code, daterange(m.day, m.next_day), m.closing FROM moves m
  ), usable AS (
    SELECT h.site_code, h.commodity_code,
      range_agg(h.days * daterange(NULL, l.expires_on, '[]')) FILTER (WHERE h.closing > 0) AS days
    FROM held h LEFT JOIN lots l ON l.commodity_code = h.commodity_code AND l.lot_code = h.lot_code
    GROUP BY h.site_code, h.commodity_code
  ), given AS (
    SELECT r.site_code, r.commodity_code, r.day - (extract(isodow FROM r.day)::integer - 1) AS week,
      sum(r.dispensed)::bigint AS dispensed
    FROM recent r WHERE r.day <= p_last_week + 6
    GROUP BY 1, 2, 3
  )
  SELECT u.site_code, u.commodity_code, w.week, coalesce(g.dispensed, 0),
    7 - coalesce((SELECT sum(upper(r) - lower(r))::integer
      FROM unnest(u.days * datemultirange(daterange(w.week, w.week + 7))) r), 0)
  FROM usable u
  CROSS JOIN LATERAL (SELECT p_first_week + 7 * i AS week FROM generate_series(0, (p_last_week - p_first_week) / 7) i) w
  LEFT JOIN given g ON g.site_code = u.site_code AND g.commodity_code = u.commodity_code AND g.week = w.week
  ORDER BY 1, 2, 3
$$;
