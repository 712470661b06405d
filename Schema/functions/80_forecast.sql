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
