-- County reports (issue: county reports from the command line). The functions that read a year of a county's
-- events or rollup turn off JIT: compiling their plans costs a second, more than running them. Each measure has one definition, shared by every
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

-- A sub-county as typed: its name (Matuga), or COUNTY/NAME when the name is not unique (002/Matuga), in any case.
-- Refuses one that is unknown or ambiguous.
CREATE OR REPLACE FUNCTION report_sub_county(p_text text, OUT county_code char(3), OUT name text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_county text := CASE WHEN p_text LIKE '%/%' THEN btrim(split_part(p_text, '/', 1)) END;
  v_name text := btrim(CASE WHEN p_text LIKE '%/%' THEN substr(p_text, strpos(p_text, '/') + 1) ELSE p_text END);
  v_found integer;
BEGIN
  SELECT count(*), min(s.county_code), min(s.name) INTO v_found, county_code, name
  FROM sub_counties s
  WHERE lower(s.name) = lower(v_name) AND (v_county IS NULL OR s.county_code = v_county);
  IF v_found = 0 THEN
    PERFORM ledger_refuse('sub-county', format('no sub-county %s', btrim(p_text)));
  ELSIF v_found > 1 THEN
    PERFORM ledger_refuse('sub-county', format('%s is a sub-county of %s counties: give COUNTY/NAME (%s/%s)',
      v_name, v_found, county_code, name));
  END IF;
END $$;

DROP FUNCTION IF EXISTS report_sites(char(3), text, date, date);

-- The sites a report covers: a county's, a sub-county's (as report_sub_county reads it), a site, or (all NULL)
-- every site; only those open at some time between p_first and p_last. Refuses an unknown county, sub-county or
-- site, and more than one of them.
CREATE OR REPLACE FUNCTION report_sites(p_county char(3), p_sub_county text, p_site text, p_first date, p_last date)
RETURNS SETOF text LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_county char(3);
  v_name text;
BEGIN
  IF p_sub_county IS NOT NULL AND (p_county IS NOT NULL OR p_site IS NOT NULL) THEN
    PERFORM ledger_refuse('sub-county', 'give a county, a sub-county or a site, not two');
  END IF;
  PERFORM scope_check(p_county, p_site);
  IF p_sub_county IS NOT NULL THEN
    SELECT r.county_code, r.name INTO v_county, v_name FROM report_sub_county(p_sub_county) r;
  END IF;
  -- A county or site the person may not see is refused by name; a report of everything is of what they may see.
  IF p_county IS NOT NULL OR p_site IS NOT NULL OR p_sub_county IS NOT NULL THEN
    PERFORM access_refuse_scope(coalesce(p_county, v_county), p_site, 'read');
  END IF;
  RETURN QUERY
  SELECT s.code FROM sites s
  WHERE (p_county IS NULL OR s.county_code = p_county) AND (p_site IS NULL OR s.code = p_site)
    AND (p_sub_county IS NULL OR (s.county_code = v_county AND s.sub_county = v_name))
    AND (s.opened_on IS NULL OR s.opened_on <= p_last) AND (s.closed_on IS NULL OR s.closed_on >= p_first)
    AND ((SELECT access_sites('read')) IS NULL OR s.code = ANY ((SELECT access_sites('read'))::text[]))
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
  ORDER BY f.site_code, f.commodity_code, r.made_on DESC, r.id DESC
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

-- The cards (site × commodity) of the sites of p_sites, each from p_first: the argument stock_out_spells takes.
CREATE OR REPLACE FUNCTION report_stock_out_spells(p_sites text[], p_first date, p_last date)
RETURNS TABLE (site_code text, commodity_code text, spell daterange) LANGUAGE sql STABLE AS $$
  SELECT * FROM stock_out_spells(
    ARRAY(SELECT c.site_code FROM stock_cards c WHERE c.site_code = ANY (p_sites) ORDER BY 1, c.commodity_code),
    ARRAY(SELECT c.commodity_code FROM stock_cards c WHERE c.site_code = ANY (p_sites) ORDER BY c.site_code, 1),
    ARRAY(SELECT p_first FROM stock_cards c WHERE c.site_code = ANY (p_sites)), p_last)
$$;

-- Per card of the sites of p_sites over p_first … p_last: the days of the period that have closed, and of those the
-- ones with no usable stock (stock_out_spells) and the longest run of them.
CREATE OR REPLACE FUNCTION report_stock_out_days(p_sites text[], p_first date, p_last date)
RETURNS TABLE (site_code text, commodity_code text, closed_days integer, stocked_out_days integer,
  longest_spell integer, longest_from date)
LANGUAGE sql STABLE SET jit = off AS $$
  SELECT c.site_code, c.commodity_code,
    greatest(0, least(p_last + 1, (SELECT programme_today())) - p_first),
    coalesce(sum(upper(s.spell) - lower(s.spell)), 0)::integer,
    coalesce(max(upper(s.spell) - lower(s.spell)), 0)::integer,
    (array_agg(lower(s.spell) ORDER BY upper(s.spell) - lower(s.spell) DESC, lower(s.spell)))[1]
  FROM stock_cards c
  LEFT JOIN report_stock_out_spells(p_sites, p_first, p_last) s
    ON s.site_code = c.site_code AND s.commodity_code = c.commodity_code
  WHERE c.site_code = ANY (p_sites)
  GROUP BY c.site_code, c.commodity_code
$$;

-- Units dispensed per site, commodity, population and channel over the days of p_first … p_last that have closed
-- (what is dispensed today counts once the day closes, as in the forecast), net of undone dispenses; with each
-- card's closed and stocked-out days and the consumption adjusted for them as the forecast adjusts a week
-- (forecast_adjusted_consumption over the period's days): NULL when no day of the period closed with stock.
CREATE OR REPLACE FUNCTION report_consumption(p_sites text[], p_first date, p_last date)
RETURNS TABLE (site_code text, commodity_code text, population_code text, channel text, dispensed bigint,
  closed_days integer, stocked_out_days integer, adjusted bigint)
LANGUAGE sql STABLE SET jit = off AS $$
  WITH given AS (
    SELECT e.site_code, e.commodity_code, e.population_code, e.channel, -sum(e.quantity) AS dispensed
    FROM stock_events e
    WHERE e.site_code = ANY (p_sites) AND e.kind = 'dispense' AND e.occurred_on BETWEEN p_first AND p_last
      AND e.occurred_on < (SELECT programme_today())
    GROUP BY 1, 2, 3, 4
  )
  SELECT g.site_code, g.commodity_code, g.population_code, g.channel, g.dispensed::bigint, o.closed_days,
    o.stocked_out_days,
    forecast_adjusted_consumption(g.dispensed, o.stocked_out_days, (p_last - p_first + 1) - o.closed_days,
      p_last - p_first + 1)::bigint
  FROM given g
  JOIN report_stock_out_days(p_sites, p_first, p_last) o
    ON o.site_code = g.site_code AND o.commodity_code = g.commodity_code
  ORDER BY 1, 2, 3, 4
$$;

-- Per commodity over the period: the sites holding a card for it, stocked-out site-days (stock_out_spells over the
-- days that have closed), the sites with any, and the longest run (where and from when).
CREATE OR REPLACE FUNCTION report_stockouts(p_sites text[], p_first date, p_last date)
RETURNS TABLE (commodity_code text, sites integer, sites_affected integer, closed_days integer,
  stocked_out_site_days integer, longest_spell integer, longest_site text, longest_from date)
LANGUAGE sql STABLE SET jit = off AS $$
  SELECT o.commodity_code, count(*)::integer, count(*) FILTER (WHERE o.stocked_out_days > 0)::integer,
    max(o.closed_days), sum(o.stocked_out_days)::integer, max(o.longest_spell),
    (array_agg(o.site_code ORDER BY o.longest_spell DESC, o.site_code) FILTER (WHERE o.longest_spell > 0))[1],
    (array_agg(o.longest_from ORDER BY o.longest_spell DESC, o.site_code) FILTER (WHERE o.longest_spell > 0))[1]
  FROM report_stock_out_days(p_sites, p_first, p_last) o
  GROUP BY o.commodity_code
  ORDER BY 1
$$;

-- The day an order arrived: its transfers' last receipt, or for a requisition received by hand the day it was
-- closed as received (in the programme's time zone).
CREATE OR REPLACE FUNCTION report_order_received_on(p_order bigint) RETURNS date LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT max(t.received_on) FROM order_line_lots x JOIN transfers t ON t.id = x.transfer_id
     WHERE x.order_id = p_order),
    (SELECT max((c.changed_at AT TIME ZONE s.time_zone)::date) FROM order_changes c, programme_settings s
     WHERE c.order_id = p_order AND c.change = 'received'))
$$;

-- Orders made in the period for the sites of p_sites: status, what was asked for (the rule's packs in units), what
-- was approved and what arrived, the fill rate (received ÷ asked), lead time achieved (made → arrived, in days)
-- against the supply line's (the longest of its categories'), and the shortfall the supplier could not cover.
CREATE OR REPLACE FUNCTION report_orders(p_sites text[], p_first date, p_last date)
RETURNS TABLE (order_id bigint, site_code text, supplier text, status text, made_on date, lines integer,
  ordered bigint, approved bigint, received bigint, fill_rate numeric, received_on date, lead_days integer,
  planned_lead_days integer, shortfall bigint)
LANGUAGE sql STABLE AS $$
  SELECT o.id, o.site_code, coalesce(o.supplier_code, o.external_supplier), o.status, o.made_on,
    count(l.*)::integer, coalesce(sum(l.requested_units), 0)::bigint, coalesce(sum(l.units), 0)::bigint,
    CASE WHEN o.status = 'received' THEN coalesce(sum(coalesce(l.accepted_units, 0)), 0)::bigint END,
    CASE WHEN o.status = 'received' THEN
      round(100 * sum(coalesce(l.accepted_units, 0)) / nullif(sum(l.requested_units), 0), 1) END,
    r.received_on, r.received_on - o.made_on,
    (SELECT max(v.lead_time_days) FROM order_lines x JOIN commodities c ON c.code = x.commodity_code
     JOIN supply_lines v ON v.site_code = o.site_code AND v.category = c.category WHERE x.order_id = o.id),
    coalesce(sum(l.shortfall_units), 0)::bigint
  FROM orders o
  LEFT JOIN order_lines l ON l.order_id = o.id
  CROSS JOIN LATERAL (SELECT CASE WHEN o.status = 'received' THEN report_order_received_on(o.id) END AS received_on) r
  WHERE o.site_code = ANY (p_sites) AND o.made_on BETWEEN p_first AND p_last
  GROUP BY o.id, r.received_on
  ORDER BY o.made_on, o.id
$$;

DROP FUNCTION IF EXISTS report_fcdrr_column(text, bigint, text);

-- The month's events of the sites of p_sites, each with the F-CDRR column it goes in and the reason that explains
-- it: B received (receipts, transfers in), C issued (dispensed, sent), D losses (adjustments under a reason that only
-- ever takes stock out: expired, damaged, lost, stolen), E and F the other adjustments and count variances that add
-- or take stock. Undoing an entry counts in the entry's column, with the other sign.
CREATE OR REPLACE FUNCTION report_fcdrr_movements(p_sites text[], p_first date, p_last date)
RETURNS TABLE (id bigint, site_code text, commodity_code text, occurred_on date, quantity bigint,
  fcdrr_column text, reason text, note text)
LANGUAGE sql STABLE AS $$
  SELECT e.id, e.site_code, e.commodity_code, e.occurred_on, e.quantity,
    CASE
      WHEN e.kind IN ('receipt', 'transfer_in') THEN 'B'
      WHEN e.kind IN ('dispense', 'transfer_out') THEN 'C'
      WHEN e.kind = 'adjustment' AND r.direction = 'out' THEN 'D'
      WHEN e.quantity > 0 THEN 'E'
      WHEN e.quantity < 0 THEN 'F'
    END,
    CASE WHEN e.kind = 'count' THEN 'count variance' || coalesce(': ' || r.description, '') ELSE r.description END,
    e.note
  FROM stock_events e
  LEFT JOIN stock_reasons r ON r.code = e.reason_code
  WHERE e.site_code = ANY (p_sites) AND e.occurred_on BETWEEN p_first AND p_last
$$;

-- The facility consumption data report and request (MOH 739C) of the sites of p_sites for the month p_first …
-- p_last, per site and commodity with a card: A beginning balance (closing of the day before), B received, C issued
-- (dispensed and sent to other sites), D losses and wastage, E positive and F negative adjustments (count variances
-- included), the closing balance (A + B − C − D + E − F), G the physical count (the month's last count: a count
-- sheet's counted lots, or after a count entered without a sheet the closing balance of its day; else the closing
-- balance; and which), H what expires within 6 months of the month's end and the earliest such expiry,
-- I days out of stock, and the quantity requested in the latest order made by the month's end. All in base units.
CREATE OR REPLACE FUNCTION report_fcdrr(p_sites text[], p_first date, p_last date)
RETURNS TABLE (site_code text, commodity_code text, beginning_balance bigint, received bigint, issued bigint,
  losses bigint, positive_adjustments bigint, negative_adjustments bigint, closing_balance bigint,
  physical_count bigint, physical_count_source text, expiring_6_months bigint, earliest_expiry date,
  days_out_of_stock integer, requested bigint)
LANGUAGE sql STABLE SET jit = off AS $$
  WITH moved AS (
    SELECT m.site_code, m.commodity_code,
      sum(m.quantity) FILTER (WHERE m.fcdrr_column = 'B') AS b, -sum(m.quantity) FILTER (WHERE m.fcdrr_column = 'C')
        AS c,
      -sum(m.quantity) FILTER (WHERE m.fcdrr_column = 'D') AS d,
      sum(m.quantity) FILTER (WHERE m.fcdrr_column = 'E') AS e,
      -sum(m.quantity) FILTER (WHERE m.fcdrr_column = 'F') AS f
    FROM report_fcdrr_movements(p_sites, p_first, p_last) m
    GROUP BY 1, 2
  ), opening AS (
    SELECT o.site_code, o.commodity_code, sum(o.closing) AS a
    FROM report_lot_closings(p_sites, p_first - 1) o GROUP BY 1, 2
  ), closing AS (
    SELECT o.site_code, o.commodity_code, sum(o.closing) AS g,
      sum(o.closing) FILTER (WHERE o.expires_on >= p_last AND o.expires_on < (p_last + interval '6 months')::date)
        AS h,
      min(o.expires_on) FILTER (WHERE o.expires_on >= p_last AND o.expires_on < (p_last + interval '6 months')::date)
        AS h_first
    FROM report_lot_closings(p_sites, p_last) o GROUP BY 1, 2
  ), counted AS (
    -- The month's last count of each card: a count sheet's counted lots, or a count entered without a sheet, which
    -- set the books to what was found: then the closing balance of that day.
    SELECT DISTINCT ON (c.site_code, c.commodity_code) c.site_code, c.commodity_code, c.counted_on,
      coalesce(c.counted, (
        SELECT sum(b.on_hand) - coalesce((SELECT sum(d.net_change) FROM stock_lot_daily d
          WHERE d.site_code = c.site_code AND d.commodity_code = c.commodity_code AND d.day > c.counted_on), 0)
        FROM stock_balances b WHERE b.site_code = c.site_code AND b.commodity_code = c.commodity_code)) AS counted
    FROM (
      SELECT n.site_code, l.commodity_code, n.counted_on, sum(l.counted) AS counted
      FROM stock_counts n JOIN stock_count_lines l ON l.count_id = n.id
      WHERE n.site_code = ANY (p_sites) AND n.counted_on BETWEEN p_first AND p_last AND l.counted IS NOT NULL
      GROUP BY n.id, n.site_code, l.commodity_code, n.counted_on
      UNION ALL
      SELECT e.site_code, e.commodity_code, e.occurred_on, NULL
      FROM stock_events e
      WHERE e.site_code = ANY (p_sites) AND e.kind = 'count' AND e.count_id IS NULL
        AND e.occurred_on BETWEEN p_first AND p_last
    ) c
    ORDER BY c.site_code, c.commodity_code, c.counted_on DESC, c.counted IS NULL
  ), asked AS (
    SELECT DISTINCT ON (o.site_code, l.commodity_code) o.site_code, l.commodity_code, l.requested_units
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    WHERE o.site_code = ANY (p_sites) AND o.made_on <= p_last AND o.status <> 'cancelled'
    ORDER BY o.site_code, l.commodity_code, o.made_on DESC, o.id DESC
  )
  SELECT k.site_code, k.commodity_code, coalesce(a.a, 0)::bigint, coalesce(m.b, 0)::bigint, coalesce(m.c, 0)::bigint,
    coalesce(m.d, 0)::bigint, coalesce(m.e, 0)::bigint, coalesce(m.f, 0)::bigint, coalesce(g.g, 0)::bigint,
    coalesce(n.counted, g.g, 0)::bigint,
    CASE WHEN n.counted IS NOT NULL THEN 'count of ' || n.counted_on ELSE 'closing balance' END,
    coalesce(g.h, 0)::bigint, g.h_first, s.stocked_out_days, q.requested_units
  FROM report_stock_out_days(p_sites, p_first, p_last) s
  JOIN stock_cards k ON k.site_code = s.site_code AND k.commodity_code = s.commodity_code
  LEFT JOIN moved m ON m.site_code = k.site_code AND m.commodity_code = k.commodity_code
  LEFT JOIN opening a ON a.site_code = k.site_code AND a.commodity_code = k.commodity_code
  LEFT JOIN closing g ON g.site_code = k.site_code AND g.commodity_code = k.commodity_code
  LEFT JOIN counted n ON n.site_code = k.site_code AND n.commodity_code = k.commodity_code
  LEFT JOIN asked q ON q.site_code = k.site_code AND q.commodity_code = k.commodity_code
  ORDER BY 1, 2
$$;

-- Every loss and adjustment of the month behind the F-CDRR's columns D, E and F, with its reason and note: the form
-- asks for each to be explained.
CREATE OR REPLACE FUNCTION report_fcdrr_explanations(p_sites text[], p_first date, p_last date)
RETURNS TABLE (site_code text, commodity_code text, occurred_on date, fcdrr_column text, quantity bigint,
  reason text, note text)
LANGUAGE sql STABLE AS $$
  SELECT m.site_code, m.commodity_code, m.occurred_on, m.fcdrr_column, m.quantity, m.reason, m.note
  FROM report_fcdrr_movements(p_sites, p_first, p_last) m
  WHERE m.fcdrr_column IN ('D', 'E', 'F')
  ORDER BY 1, 2, 3, m.id
$$;

-- Which cells of a row of counts of people a report may not show. p_cells holds the parts and, last, their total.
-- A part or total from 1 to 4 is '<5'. When exactly one part is, the total would give it away (total minus the
-- others), so the smallest other part above zero is 'suppressed' too, or the total when there is none. NULL: shown.
CREATE OR REPLACE FUNCTION report_suppress(p_cells bigint[]) RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v_n integer := coalesce(cardinality(p_cells), 0);
  v_marks text[] := array_fill(NULL::text, ARRAY[v_n]);
  v_small integer := 0;
  v_pick integer;
BEGIN
  FOR i IN 1 .. v_n LOOP
    IF p_cells[i] BETWEEN 1 AND 4 THEN
      v_marks[i] := '<5';
      v_small := v_small + CASE WHEN i < v_n THEN 1 ELSE 0 END;
    END IF;
  END LOOP;
  IF v_small = 1 AND v_marks[v_n] IS NULL THEN
    SELECT i INTO v_pick FROM generate_series(1, v_n - 1) i
    WHERE v_marks[i] IS NULL AND p_cells[i] > 0 ORDER BY p_cells[i], i LIMIT 1;
    v_marks[coalesce(v_pick, v_n)] := 'suppressed';
  END IF;
  RETURN v_marks;
END $$;

-- Small numbers may be shown to those who work with the people behind them (pharmacists, logistics officers) and to
-- admins; a county viewer reads aggregates only (docs/security.md).
CREATE OR REPLACE FUNCTION report_may_show_small_numbers() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT access_unrestricted() OR pg_has_role(session_user, 'kp_pharmacist', 'MEMBER')
    OR pg_has_role(session_user, 'kp_logistics', 'MEMBER')
$$;

-- Refuses a report without suppression (p_suppress false) to those who may not see small numbers: every report with
-- counts of people asks here.
CREATE OR REPLACE FUNCTION report_check_suppression(p_suppress boolean) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT p_suppress AND NOT report_may_show_small_numbers() THEN
    PERFORM ledger_refuse('no-suppress', format('%s may not see counts of people under 5: a county viewer reads aggregates only',
      session_user));
  END IF;
END $$;

-- Coverage over the days of p_first … p_last that have closed, for the sites of p_sites (p_whole_counties: they are
-- whole counties, so a county's own size estimate counts for its sites without one):
-- * 'per person per year': units of each commodity of coverage_targets given to its population, per member of the
--   population's size estimate, annualised (× 365 ÷ days), against the minimum and the target;
-- * 'distributed vs need': units of condoms and lubricant given to each population against its need (before
--   wastage) in the latest forecast run for each week, both over the days a run gives a need for, in per cent
--   (target 100);
-- * 'reached vs size': the people each population reached in a week, on average over the weeks with reports,
--   against its size estimate, in per cent; with a row for all populations.
-- Counts of people (reached, size estimates) from 1 to 4 are '<5' and their complements 'suppressed' (figure_mark,
-- base_mark; the figure and any rate from it NULL), unless p_suppress is false, which only
-- report_may_show_small_numbers() may ask.
CREATE OR REPLACE FUNCTION report_coverage(p_sites text[], p_first date, p_last date, p_whole_counties boolean,
  p_suppress boolean DEFAULT true)
RETURNS TABLE (measure text, population_code text, commodity_code text, figure bigint, figure_mark text,
  base bigint, base_mark text, rate numeric, minimum numeric, target numeric)
LANGUAGE plpgsql STABLE SET jit = off SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_until date := least(p_last, programme_today() - 1);
  v_days integer := greatest(0, least(p_last, programme_today() - 1) - p_first + 1);
BEGIN
  PERFORM report_check_suppression(p_suppress);
  -- It reads client-level rows with the owner's rights (a county viewer may not read them), so it keeps to the sites
  -- the person may see itself.
  PERFORM access_refuse(p_sites, 'read', 'site');
  RETURN QUERY
  WITH given AS (
    SELECT e.commodity_code, e.population_code, -sum(e.quantity) AS units
    FROM stock_events e
    WHERE e.site_code = ANY (p_sites) AND e.kind = 'dispense' AND e.occurred_on BETWEEN p_first AND v_until
    GROUP BY 1, 2
  ), scope_sites AS (
    SELECT s.code, s.county_code FROM sites s WHERE s.code = ANY (p_sites)
  ), site_sizes AS (
    SELECT DISTINCT ON (e.site_code, e.population_code) e.site_code, e.population_code, e.size
    FROM size_estimates e JOIN scope_sites s ON s.code = e.site_code
    WHERE e.year <= extract(year FROM p_last)
    ORDER BY e.site_code, e.population_code, e.year DESC
  ), county_sizes AS (
    SELECT DISTINCT ON (e.county_code, e.population_code) e.county_code, e.population_code, e.size
    FROM size_estimates e
    WHERE p_whole_counties AND e.county_code IN (SELECT county_code FROM scope_sites)
      AND e.year <= extract(year FROM p_last)
    ORDER BY e.county_code, e.population_code, e.year DESC
  ), sizes AS (
    -- A county's estimate stands for its sites that have none of their own.
    SELECT p.population_code, sum(p.size)::bigint AS size
    FROM (
      SELECT z.population_code, z.size FROM site_sizes z
      UNION ALL
      SELECT c.population_code, c.size FROM county_sizes c
      WHERE EXISTS (SELECT FROM scope_sites s WHERE s.county_code = c.county_code
        AND NOT EXISTS (SELECT FROM site_sizes z WHERE z.site_code = s.code AND z.population_code = c.population_code))
    ) p
    GROUP BY 1
  ), week_needs AS (
    -- Each site's need per population in the latest run for each week of the period, for the days of the week the
    -- period has closed.
    SELECT DISTINCT ON (p.site_code, p.commodity_code, p.population_code, r.week) p.site_code, p.commodity_code,
      p.population_code, greatest(r.week, p_first) AS first_day, least(r.week + 6, v_until) AS last_day, p.need
    FROM forecast_line_populations p JOIN forecast_runs r ON r.id = p.run_id
    WHERE p.site_code = ANY (p_sites) AND r.week BETWEEN p_first - 6 AND v_until
    ORDER BY p.site_code, p.commodity_code, p.population_code, r.week, r.id DESC
  ), needs AS (
    -- Need and what was given on the same days: those a run gives a need for.
    SELECT n.commodity_code, n.population_code,
      round(sum(n.need * (n.last_day - n.first_day + 1) / 7.0))::bigint AS need,
      coalesce(sum(g.units), 0)::bigint AS units
    FROM week_needs n
    LEFT JOIN LATERAL (
      SELECT -sum(e.quantity) AS units FROM stock_events e
      WHERE e.site_code = n.site_code AND e.commodity_code = n.commodity_code AND e.kind = 'dispense'
        AND e.population_code = n.population_code AND e.occurred_on BETWEEN n.first_day AND n.last_day
    ) g ON true
    WHERE n.last_day >= n.first_day
    GROUP BY 1, 2
  ), reach AS (
    SELECT w.population_code, round(avg(w.reached))::bigint AS reached
    FROM (
      SELECT o.week, o.population_code, sum(o.reached) AS reached FROM outreach_weekly o
      WHERE o.site_code = ANY (p_sites) AND o.week BETWEEN p_first - 6 AND v_until
      GROUP BY 1, 2
    ) w
    GROUP BY 1
  ), reach_rows AS (
    SELECT p.code AS population_code, r.reached, z.size
    FROM populations p
    LEFT JOIN reach r ON r.population_code = p.code
    LEFT JOIN sizes z ON z.population_code = p.code
    WHERE r.reached IS NOT NULL OR z.size IS NOT NULL
  ), reach_marks AS (
    SELECT
      CASE WHEN p_suppress THEN report_suppress(array_append(
        ARRAY(SELECT coalesce(x.reached, 0) FROM reach_rows x ORDER BY x.population_code),
        (SELECT sum(x.reached)::bigint FROM reach_rows x))) END AS reached,
      CASE WHEN p_suppress THEN report_suppress(array_append(
        ARRAY(SELECT coalesce(x.size, 0) FROM reach_rows x ORDER BY x.population_code),
        (SELECT sum(x.size)::bigint FROM reach_rows x))) END AS size
  ), reach_lines AS (
    SELECT x.population_code, x.reached, x.size,
      (row_number() OVER (ORDER BY x.population_code))::integer AS i
    FROM reach_rows x
    UNION ALL
    SELECT 'ALL', (SELECT sum(x.reached)::bigint FROM reach_rows x), (SELECT sum(x.size)::bigint FROM reach_rows x),
      (SELECT count(*)::integer + 1 FROM reach_rows)
    WHERE EXISTS (SELECT FROM reach_rows)
  )
  SELECT 'per person per year'::text, t.population_code, t.commodity_code, coalesce(g.units, 0)::bigint, NULL::text,
    CASE WHEN z.size BETWEEN 1 AND 4 AND p_suppress THEN NULL ELSE z.size END,
    CASE WHEN z.size BETWEEN 1 AND 4 AND p_suppress THEN '<5' END,
    CASE WHEN NOT (z.size BETWEEN 1 AND 4 AND p_suppress) AND v_days > 0 THEN
      round(coalesce(g.units, 0) * 365.0 / v_days / nullif(z.size, 0), 1) END,
    t.minimum_per_year, t.target_per_year
  FROM coverage_targets t
  LEFT JOIN given g ON g.commodity_code = t.commodity_code AND g.population_code = t.population_code
  LEFT JOIN sizes z ON z.population_code = t.population_code
  UNION ALL
  (SELECT 'distributed vs need', n.population_code, n.commodity_code, n.units, NULL, n.need, NULL,
    round(100.0 * n.units / nullif(n.need, 0), 1), NULL::numeric, 100::numeric
  FROM needs n
  JOIN commodities c ON c.code = n.commodity_code
  WHERE c.category IN ('condom', 'lubricant')
  ORDER BY 2, 3)
  UNION ALL
  (SELECT 'reached vs size', l.population_code, NULL::text,
    CASE WHEN m.reached[l.i] IS NULL THEN l.reached END, m.reached[l.i],
    CASE WHEN m.size[l.i] IS NULL THEN l.size END, m.size[l.i],
    CASE WHEN m.reached[l.i] IS NULL AND m.size[l.i] IS NULL THEN round(100.0 * l.reached / nullif(l.size, 0), 1) END,
    NULL::numeric, NULL::numeric
  FROM reach_lines l, reach_marks m
  ORDER BY l.i)
  UNION ALL
  -- Methadone, from the register (mat_monthly) over the MAT clinics in scope: clients currently on methadone at the
  -- period's end, new, exited, on MAT 6 months or more (KP_MAT, against those currently on), the mean dose and the
  -- share at 60 mg or more. Counts of people from 1 to 4 are withheld, and the mean and share when they describe 1–4.
  (WITH mat AS (
    SELECT sum(m.currently_on)::bigint AS active, sum(m.new_clients)::bigint AS new_clients,
      sum(m.exited_completed + m.exited_transferred_out + m.exited_died + m.exited_other)::bigint AS exited,
      sum(m.on_mat_six_months)::bigint AS six_months,
      round(sum(m.mean_dose_mg * m.currently_on) / nullif(sum(m.currently_on), 0), 1) AS mean_dose,
      round(sum(m.share_at_least_60_mg * m.currently_on) / nullif(sum(m.currently_on), 0), 1) AS share_60
    FROM sites s CROSS JOIN LATERAL mat_monthly(s.code, p_first, v_until) m
    WHERE s.code = ANY (p_sites) AND s.kind = 'mat_clinic'
      AND EXISTS (SELECT FROM mat_episodes e WHERE e.clinic_code = s.code)
    HAVING count(*) > 0
  ), marks AS (
    -- Each count on its own: no total of these rows is printed, so none can be worked out from the others.
    SELECT ARRAY(SELECT CASE WHEN p_suppress AND v BETWEEN 1 AND 4 THEN '<5' END
        FROM unnest(ARRAY[x.active, x.new_clients, x.exited, x.six_months]) WITH ORDINALITY u (v, i) ORDER BY u.i)
      AS mark, x.active BETWEEN 1 AND 4 AND p_suppress AS few
    FROM mat x
  )
  SELECT f.measure, 'PWID', mat_commodity(), CASE WHEN k.mark[f.i] IS NULL THEN f.figure END, k.mark[f.i],
    CASE WHEN f.i = 4 AND NOT k.few THEN x.active END, CASE WHEN f.i = 4 AND k.few THEN '<5' END,
    CASE WHEN f.i = 4 AND NOT k.few AND k.mark[4] IS NULL THEN round(100.0 * x.six_months / nullif(x.active, 0), 1)
      WHEN f.i = 5 AND NOT k.few THEN x.mean_dose WHEN f.i = 6 AND NOT k.few THEN x.share_60 END,
    NULL::numeric, NULL::numeric
  FROM mat x CROSS JOIN marks k
  CROSS JOIN LATERAL (VALUES (1, 'MAT clients on methadone', x.active), (2, 'MAT new clients', x.new_clients),
    (3, 'MAT clients exited', x.exited), (4, 'MAT KP_MAT (6+ months)', x.six_months),
    (5, 'MAT mean dose, mg', NULL::bigint), (6, 'MAT share 60+ mg, %', NULL::bigint)) f (i, measure, figure)
  ORDER BY f.i);
END $$;

-- Per commodity and ISO week touching p_first … p_last, over the sites of p_sites: units dispensed in the weeks
-- that have closed (stock_weeks: the forecast's figure) and the forecast's need for that week (the latest run for the week, each
-- site's own need, so that a store's echelon need does not count its DICEs twice). The report's chart.
CREATE OR REPLACE FUNCTION report_weekly_consumption(p_sites text[], p_first date, p_last date)
RETURNS TABLE (commodity_code text, week date, dispensed bigint, stocked_out_days bigint, need bigint)
LANGUAGE sql STABLE SET jit = off AS $$
  WITH weeks AS (
    SELECT w.site_code, w.commodity_code, w.week, w.dispensed, w.stocked_out_days
    FROM stock_weeks(p_first - (extract(isodow FROM p_first)::integer - 1),
      p_last - (extract(isodow FROM p_last)::integer - 1), p_sites) w
    WHERE w.unclosed_days = 0
  ), needs AS (
    SELECT n.commodity_code, n.week, sum(n.own_need)::bigint AS need
    FROM (
      SELECT DISTINCT ON (f.site_code, f.commodity_code, r.week) f.commodity_code, r.week, f.own_need
      FROM forecast_lines f JOIN forecast_runs r ON r.id = f.run_id
      WHERE f.site_code = ANY (p_sites) AND r.week BETWEEN p_first - 6 AND p_last
      ORDER BY f.site_code, f.commodity_code, r.week, r.id DESC
    ) n
    GROUP BY 1, 2
  ), given AS (
    SELECT w.commodity_code, w.week, sum(w.dispensed)::bigint AS dispensed,
      sum(w.stocked_out_days)::bigint AS stocked_out_days
    FROM weeks w GROUP BY 1, 2
  )
  SELECT coalesce(g.commodity_code, n.commodity_code), coalesce(g.week, n.week), g.dispensed, g.stocked_out_days,
    n.need
  FROM given g FULL JOIN needs n ON n.commodity_code = g.commodity_code AND n.week = g.week
  ORDER BY 1, 2
$$;
