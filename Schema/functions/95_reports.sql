-- County reports (issue: county reports from the command line). Each measure has one definition, shared by every
-- report and format: weekly dispensed and stocked-out days are stock_weeks (45_stock_weeks.sql), levels are
-- supply_line_levels (90_orders.sql), need is the latest forecast run's.

-- A reporting period as typed: an ISO week (2026-W47 or 2026W47), a month (2026-11), a quarter (2026-Q4) or a year
-- (2026), with its first and last day, how kpstock writes it, and how DHIS2 does (2026W47, 202611, 2026Q4, 2026).
-- A period that has not begun is refused; one that is running ends today for what has happened.
CREATE OR REPLACE FUNCTION report_period(p_text text, OUT kind text, OUT first_day date, OUT last_day date,
  OUT label text, OUT dhis2 text) LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_text text := upper(btrim(coalesce(p_text, '')));
BEGIN
  IF iso_week_start(v_text) IS NOT NULL THEN
    kind := 'week';
    first_day := iso_week_start(v_text);
    last_day := first_day + 6;
    label := iso_week_label(first_day);
    dhis2 := to_char(first_day, 'IYYY') || 'W' || extract(week FROM first_day)::integer;
  ELSIF v_text ~ '^[0-9]{4}-(0[1-9]|1[0-2])$' AND left(v_text, 4)::integer >= 1 THEN
    kind := 'month';
    first_day := make_date(left(v_text, 4)::integer, right(v_text, 2)::integer, 1);
    last_day := (first_day + interval '1 month')::date - 1;
    label := v_text;
    dhis2 := replace(v_text, '-', '');
  ELSIF v_text ~ '^[0-9]{4}-Q[1-4]$' AND left(v_text, 4)::integer >= 1 THEN
    kind := 'quarter';
    first_day := make_date(left(v_text, 4)::integer, (right(v_text, 1)::integer - 1) * 3 + 1, 1);
    last_day := (first_day + interval '3 months')::date - 1;
    label := v_text;
    dhis2 := replace(v_text, '-', '');
  ELSIF v_text ~ '^[0-9]{4}$' AND v_text::integer >= 1 THEN
    kind := 'year';
    first_day := make_date(v_text::integer, 1, 1);
    last_day := make_date(v_text::integer, 12, 31);
    label := v_text;
    dhis2 := v_text;
  ELSE
    PERFORM ledger_refuse('period', format(
      '''%s'' is not a period: a week (2026-W47), a month (2026-11), a quarter (2026-Q4) or a year (2026)',
      btrim(coalesce(p_text, ''))));
  END IF;
  IF first_day > programme_today() THEN
    PERFORM ledger_refuse('period', format('%s has not begun (today is %s)', label, programme_today()));
  END IF;
END $$;

-- The sites a report covers: a county's, a site, or (both NULL) every site; only those open at some time between
-- p_first and p_last. Refuses an unknown county or site, and both at once.
CREATE OR REPLACE FUNCTION report_sites(p_county char(3), p_site text, p_first date, p_last date)
RETURNS SETOF text LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM scope_check(p_county, p_site);
  RETURN QUERY
  SELECT s.code FROM sites s
  WHERE (p_county IS NULL OR s.county_code = p_county) AND (p_site IS NULL OR s.code = p_site)
    AND (s.opened_on IS NULL OR s.opened_on <= p_last) AND (s.closed_on IS NULL OR s.closed_on >= p_first)
  ORDER BY s.code;
END $$;

-- What each lot of the sites of p_sites held at the close of p_day (today's balance less what changed after), with its
-- expiry (NULL for a commodity without lots); lots holding nothing are left out.
CREATE OR REPLACE FUNCTION report_lot_closings(p_sites text[], p_day date)
RETURNS TABLE (site_code text, commodity_code text, lot_code text, expires_on date, closing bigint)
LANGUAGE sql STABLE AS $$
  SELECT b.site_code, b.commodity_code, b.lot_code, l.expires_on, (b.on_hand - coalesce(x.changed, 0))::bigint
  FROM stock_balances b
  LEFT JOIN (
    SELECT d.site_code, d.commodity_code, d.lot_code, sum(d.net_change) AS changed
    FROM stock_lot_daily d
    WHERE d.day > p_day AND d.site_code = ANY (p_sites)
    GROUP BY 1, 2, 3
  ) x ON x.site_code = b.site_code AND x.commodity_code = b.commodity_code AND x.lot_code = b.lot_code
  LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
  WHERE b.site_code = ANY (p_sites) AND b.on_hand - coalesce(x.changed, 0) > 0
$$;

-- Each site's weekly need for each commodity in the latest forecast run made by p_day that covers it (the echelon
-- need: what a site holds serves the sites it supplies too). The one definition of "need" in every report.
CREATE OR REPLACE FUNCTION report_needs(p_sites text[], p_day date)
RETURNS TABLE (site_code text, commodity_code text, need bigint) LANGUAGE sql STABLE AS $$
  SELECT DISTINCT ON (f.site_code, f.commodity_code) f.site_code, f.commodity_code, f.need
  FROM forecast_lines f JOIN forecast_runs r ON r.id = f.run_id
  WHERE f.site_code = ANY (p_sites) AND r.made_on <= p_day
  ORDER BY f.site_code, f.commodity_code, r.id DESC
$$;

-- Stock status at the close of p_day, per site of p_sites and commodity it holds, has in transit or has a need for:
-- usable on hand (lots not expired that day), in transit to it, its weekly need in the latest forecast run made by
-- then that covers it (echelon need: what it holds serves the sites it supplies too), weeks of stock, status, and
-- what of its usable stock expires within 90 days. Status: 'stocked out' (nothing usable), else against its supply
-- line's levels (supply_line_levels): 'below EOP', 'below min', 'above max' or 'OK'; 'unknown need' when no run
-- gives one, 'no levels' for a site no line supplies.
CREATE OR REPLACE FUNCTION report_stock_status(p_sites text[], p_day date)
RETURNS TABLE (site_code text, commodity_code text, usable_on_hand bigint, in_transit bigint, need bigint,
  weeks_of_stock numeric, status text, expiring_90_days bigint)
LANGUAGE sql STABLE AS $$
  WITH held AS (
    SELECT c.site_code, c.commodity_code,
      sum(c.closing) FILTER (WHERE c.expires_on IS NULL OR c.expires_on >= p_day) AS usable,
      sum(c.closing) FILTER (WHERE c.expires_on >= p_day AND c.expires_on <= p_day + 90) AS expiring
    FROM report_lot_closings(p_sites, p_day) c
    GROUP BY 1, 2
  ), travelling AS (
    SELECT * FROM stock_in_transit(p_sites, p_day)
  ), needs AS (
    SELECT * FROM report_needs(p_sites, p_day)
  ), keys AS (
    -- Every card the sites ever booked (a card emptied long ago is stocked out), and what is travelling or needed.
    SELECT c.site_code, c.commodity_code FROM stock_cards c WHERE c.site_code = ANY (p_sites)
    UNION SELECT site_code, commodity_code FROM held
    UNION SELECT site_code, commodity_code FROM travelling
    UNION SELECT site_code, commodity_code FROM needs
  )
  SELECT k.site_code, k.commodity_code, coalesce(h.usable, 0)::bigint, coalesce(t.quantity, 0)::bigint, n.need,
    round(coalesce(h.usable, 0)::numeric / nullif(n.need, 0), 1),
    CASE
      WHEN coalesce(h.usable, 0) = 0 THEN 'stocked out'
      WHEN n.need IS NULL THEN 'unknown need'
      WHEN v.site_code IS NULL THEN 'no levels'
      WHEN 7 * h.usable < v.eop_days * n.need THEN 'below EOP'
      WHEN 7 * h.usable < v.min_days * n.need THEN 'below min'
      WHEN 7 * h.usable > v.max_days * n.need THEN 'above max'
      ELSE 'OK'
    END,
    coalesce(h.expiring, 0)::bigint
  FROM keys k
  JOIN commodities c ON c.code = k.commodity_code
  LEFT JOIN held h ON h.site_code = k.site_code AND h.commodity_code = k.commodity_code
  LEFT JOIN travelling t ON t.site_code = k.site_code AND t.commodity_code = k.commodity_code
  LEFT JOIN needs n ON n.site_code = k.site_code AND n.commodity_code = k.commodity_code
  LEFT JOIN supply_line_levels v ON v.site_code = k.site_code AND v.category = c.category
  ORDER BY 1, 2
$$;

-- Lots on hand at the close of p_day at the sites of p_sites that expire within p_days of it (or have expired and are
-- still on the shelf), soonest first: quantity, days left, and the weeks of the site's need they would cover (need as
-- in report_stock_status).
CREATE OR REPLACE FUNCTION report_expiry(p_sites text[], p_day date, p_days integer DEFAULT 90)
RETURNS TABLE (site_code text, commodity_code text, lot_code text, expires_on date, days_left integer,
  quantity bigint, need bigint, weeks_of_need numeric)
LANGUAGE sql STABLE AS $$
  SELECT c.site_code, c.commodity_code, c.lot_code, c.expires_on, c.expires_on - p_day, c.closing, n.need,
    round(c.closing::numeric / nullif(n.need, 0), 1)
  FROM report_lot_closings(p_sites, p_day) c
  LEFT JOIN report_needs(p_sites, p_day) n ON n.site_code = c.site_code AND n.commodity_code = c.commodity_code
  WHERE c.expires_on <= p_day + p_days
  ORDER BY c.expires_on, c.site_code, c.commodity_code, c.lot_code
$$;
