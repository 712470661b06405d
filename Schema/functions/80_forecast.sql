-- The weekly forecast's arithmetic (../shared/domain.md, "Forecast of weekly need"), as pure functions over weekly
-- series, in exact numeric arithmetic: Holt's linear smoothing of people reached (and of peer-reported need),
-- consumption adjusted for stocked-out days, and the back-test's error. The forecast run reads the weekly series
-- from outreach_weekly, peer_need and the ledger's daily history and hands them to these; `forecast explain` shows
-- their steps.

-- Holt's linear smoothing of weeks p_from … p_to of a weekly series (NULL for a week without a report): at the first
-- reported week level = the value and trend = 0; at each later reported week level′ = α·y + (1−α)(level + trend) and
-- trend′ = β(level′ − level) + (1−β)·trend; a week without a report only advances (level′ = level + trend, trend
-- kept). Returns {level, trend} after week p_to, NULL when no week was reported. The one home of the recurrence:
-- the steps that `explain` shows and every projection call it.
CREATE OR REPLACE FUNCTION forecast_holt_state(p_series numeric[], p_from integer, p_to integer, p_alpha numeric,
  p_beta numeric) RETURNS numeric[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v_level numeric;
  v_trend numeric;
  v_next numeric;
  v_observed numeric;
  v_alpha_rest numeric := 1 - p_alpha;
  v_beta_rest numeric := 1 - p_beta;
BEGIN
  FOR v_week IN p_from..p_to LOOP
    v_observed := p_series[v_week];
    IF v_level IS NULL THEN
      IF v_observed IS NOT NULL THEN
        v_level := v_observed;
        v_trend := 0;
      END IF;
    ELSIF v_observed IS NULL THEN
      v_level := v_level + v_trend;
    ELSE
      v_next := p_alpha * v_observed + v_alpha_rest * (v_level + v_trend);
      v_trend := p_beta * (v_next - v_level) + v_beta_rest * v_trend;
      v_level := v_next;
    END IF;
  END LOOP;
  RETURN CASE WHEN v_level IS NOT NULL THEN ARRAY[v_level, v_trend] END;
END $$;

-- The smoothing week by week, oldest first: one row per week from the first reported one on, with the level and
-- trend after it.
CREATE OR REPLACE FUNCTION forecast_holt_steps(p_series numeric[], p_alpha numeric, p_beta numeric)
RETURNS TABLE (step integer, observed numeric, level numeric, trend numeric) LANGUAGE sql IMMUTABLE AS $$
  SELECT w.step, p_series[w.step], s.state[1], s.state[2]
  FROM generate_series(1, coalesce(cardinality(p_series), 0)) w (step)
  CROSS JOIN LATERAL (SELECT forecast_holt_state(p_series, 1, w.step, p_alpha, p_beta) AS state) s
  WHERE s.state IS NOT NULL
  ORDER BY w.step
$$;

-- Holt's projection one week past each window of p_window weeks: for origin k (0-based) the weeks k+1 … k+p_window,
-- so a series of p_window + n weeks gives n + 1 projections. A projection is level + trend after the window's last
-- week, never below zero; NULL where the window has no report (unknown, not zero). The forecast run projects every
-- origin of its back-test and the target week in one call per series.
CREATE OR REPLACE FUNCTION forecast_holt_origins(p_series numeric[], p_window integer, p_alpha numeric,
  p_beta numeric) RETURNS numeric[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v_projections numeric[] := '{}';
  v_state numeric[];
BEGIN
  FOR v_origin IN 0..coalesce(cardinality(p_series), 0) - p_window LOOP
    v_state := forecast_holt_state(p_series, v_origin + 1, v_origin + p_window, p_alpha, p_beta);
    v_projections := v_projections || CASE WHEN v_state IS NOT NULL THEN greatest(0, v_state[1] + v_state[2]) END;
  END LOOP;
  RETURN v_projections;
END $$;

-- The whole series projected one week past its end.
CREATE OR REPLACE FUNCTION forecast_holt_projection(p_series numeric[], p_alpha numeric, p_beta numeric)
RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT (forecast_holt_origins(p_series, coalesce(cardinality(p_series), 0), p_alpha, p_beta))[1]
$$;

-- A week's consumption adjusted for the days that closed with no usable stock (X) and the days that have not closed
-- yet (U: today and after, in the week that is running): N = ⌈C × 7 / (7 − X − U)⌉. A week with no day that closed
-- with stock carries no information: NULL, not zero use. Reports adjust a period of D days the same way
-- (p_days = D): ⌈C × D / (D − X − U)⌉.
DROP FUNCTION IF EXISTS forecast_adjusted_consumption(numeric, integer);
DROP FUNCTION IF EXISTS forecast_adjusted_consumption(numeric, integer, integer);
CREATE OR REPLACE FUNCTION forecast_adjusted_consumption(p_dispensed numeric, p_stocked_out_days integer,
  p_unclosed_days integer DEFAULT 0, p_days integer DEFAULT 7) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_stocked_out_days + p_unclosed_days BETWEEN 0 AND p_days - 1
    THEN ceil(p_dispensed * p_days / (p_days - p_stocked_out_days - p_unclosed_days)) END
$$;

-- The consumption-based need and the naive forecast one week past each window of p_window weeks of adjusted N (NULL:
-- a week without information): for origin k (0-based) the weeks k+1 … k+p_window. Consumption = ⌈mean of the window's
-- informative N⌉; naive = its latest informative N; both NULL (unknown, not zero) when it has none. The forecast run
-- takes every origin of its back-test and the target week in one call per site and commodity.
CREATE OR REPLACE FUNCTION forecast_consumption_origins(p_adjusted numeric[], p_window integer,
  OUT consumption numeric[], OUT naive numeric[]) LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  -- Through each week (index 0: before the first), the informative weeks' running total and count, and the index of
  -- the latest of them: one pass over the series instead of one over each window.
  v_totals numeric[] := '[0:0]={0}';
  v_counts integer[] := '[0:0]={0}';
  v_latest integer[] := '[0:0]={0}';
  v_week numeric;
  v_last integer;
BEGIN
  consumption := '{}';
  naive := '{}';
  FOR v_index IN 1..coalesce(cardinality(p_adjusted), 0) LOOP
    v_week := p_adjusted[v_index];
    IF v_week IS NULL THEN
      v_totals[v_index] := v_totals[v_index - 1];
      v_counts[v_index] := v_counts[v_index - 1];
      v_latest[v_index] := v_latest[v_index - 1];
    ELSE
      v_totals[v_index] := v_totals[v_index - 1] + v_week;
      v_counts[v_index] := v_counts[v_index - 1] + 1;
      v_latest[v_index] := v_index;
    END IF;
  END LOOP;
  FOR v_origin IN 0..coalesce(cardinality(p_adjusted), 0) - p_window LOOP
    v_last := v_origin + p_window;
    consumption := consumption || CASE WHEN v_counts[v_last] > v_counts[v_origin]
      THEN ceil((v_totals[v_last] - v_totals[v_origin]) / (v_counts[v_last] - v_counts[v_origin])) END;
    naive := naive || CASE WHEN v_latest[v_last] > v_origin THEN p_adjusted[v_latest[v_last]] END;
  END LOOP;
END $$;

-- The consumption-based need from the adjusted weeks: ⌈mean of the informative weeks⌉, NULL (unknown) when there is
-- none.
CREATE OR REPLACE FUNCTION forecast_consumption_need(p_adjusted numeric[]) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT (forecast_consumption_origins(p_adjusted, coalesce(cardinality(p_adjusted), 0))).consumption[1]
$$;

-- The back-test's error of a method: WAPE = Σ|forecast − actual| / Σ actual over the origins where the method could
-- forecast and the actual week is informative; NULL when that Σ actual is zero (or there is no such origin).
CREATE OR REPLACE FUNCTION forecast_wape(p_forecasts numeric[], p_actuals numeric[]) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
  SELECT sum(abs(f - a)) / nullif(sum(a), 0)
  FROM unnest(p_forecasts, p_actuals) AS pair (f, a)
  WHERE f IS NOT NULL AND a IS NOT NULL
$$;

-- Every norm a site may use, with where it comes from and its precedence: the site's own (1), its county's (2), the
-- national one (3). The one home of which norm applies where: norm_in_force and the forecast run both read it.
CREATE OR REPLACE VIEW site_norms AS
SELECT s.code AS site_code, n.commodity_code, n.population_code, n.effective_from, n.quantity_per_week, n.source,
  CASE WHEN n.site_code IS NOT NULL THEN 'site' WHEN n.county_code IS NOT NULL THEN 'county' ELSE 'national' END
    AS scope,
  CASE WHEN n.site_code IS NOT NULL THEN 1 WHEN n.county_code IS NOT NULL THEN 2 ELSE 3 END AS precedence
FROM sites s
JOIN norms n ON n.site_code = s.code OR n.county_code = s.county_code OR (n.site_code IS NULL AND n.county_code IS NULL);

-- The norm a site uses for a commodity and population on a day: of those in force then, the one of highest
-- precedence, the latest of it. No row when none is in force.
CREATE OR REPLACE FUNCTION norm_in_force(p_commodity text, p_population text, p_site text, p_day date)
RETURNS TABLE (quantity_per_week numeric, source text, scope text, effective_from date) LANGUAGE sql STABLE AS $$
  SELECT n.quantity_per_week, n.source, n.scope, n.effective_from
  FROM site_norms n
  WHERE n.site_code = p_site AND n.commodity_code = p_commodity AND n.population_code = p_population
    AND n.effective_from <= p_day
  ORDER BY n.precedence, n.effective_from DESC
  LIMIT 1
$$;

-- The week a forecast is made for unless another is named: the one after today's. No later week can be forecast:
-- the weeks before it have not happened.
CREATE OR REPLACE FUNCTION forecast_coming_week() RETURNS date LANGUAGE sql STABLE AS $$
  SELECT programme_today() + 7 - (extract(isodow FROM programme_today())::integer - 1)
$$;

-- The consumption-based forecast reads each card's weeks from stock_weeks (45_stock_weeks.sql).
DROP FUNCTION IF EXISTS forecast_weekly_consumption(date, date, text);
DROP FUNCTION IF EXISTS forecast_weekly_consumption(date, date, text[]);
