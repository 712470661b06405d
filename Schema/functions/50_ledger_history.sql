-- Reading the ledger: history for forecasting, and the proof that balances and rollups match the events.

-- What moved per site, commodity and day: the daily rollup per lot (stock_lot_daily), summed over lots (for a
-- commodity that is not lot-tracked, one lot, '', so the same rows). A WHERE on the view's site, commodity or day
-- reaches stock_lot_daily's index; a join on them does not (the whole rollup would be summed first), so a function
-- that joins reads stock_lot_daily itself, as stock_daily_history does.
CREATE OR REPLACE VIEW stock_daily AS
SELECT site_code, commodity_code, day, sum(net_change)::bigint AS net_change, sum(received)::bigint AS received,
  sum(dispensed)::bigint AS dispensed, sum(sent)::bigint AS sent, sum(adjusted)::bigint AS adjusted
FROM stock_lot_daily
GROUP BY site_code, commodity_code, day;

-- What was on its way to each site (of p_sites; NULL: all) at the close of p_day, per commodity: transfers dispatched
-- by then and not received by then. The one definition of "in transit", for orders' stock position and reports.
CREATE OR REPLACE FUNCTION stock_in_transit(p_sites text[], p_day date)
RETURNS TABLE (site_code text, commodity_code text, quantity bigint) LANGUAGE sql STABLE AS $$
  SELECT t.to_site_code, t.commodity_code, sum(t.quantity)::bigint
  FROM transfers t
  WHERE (p_sites IS NULL OR t.to_site_code = ANY (p_sites)) AND t.dispatched_on <= p_day
    AND (t.status = 'in_transit' OR t.received_on > p_day)
  GROUP BY 1, 2
$$;

-- Closing on-hand per site, commodity and day, and what was dispensed that day, read from the daily rollup
-- and today's balances. Days without movement carry the previous closing balance.
CREATE OR REPLACE FUNCTION stock_daily_history(p_from date, p_to date, p_site text DEFAULT NULL, p_commodity text DEFAULT NULL)
RETURNS TABLE (site_code text, commodity_code text, day date, closing_on_hand bigint, dispensed bigint)
LANGUAGE sql STABLE AS $$
  WITH keys AS (
    SELECT b.site_code, b.commodity_code, sum(b.on_hand) AS on_hand FROM stock_balances b
    WHERE (p_site IS NULL OR b.site_code = p_site) AND (p_commodity IS NULL OR b.commodity_code = p_commodity)
    GROUP BY b.site_code, b.commodity_code
  ), grid AS (
    SELECT k.site_code, k.commodity_code, k.on_hand, g.day,
      coalesce(d.net_change, 0) AS net_change, coalesce(d.dispensed, 0) AS dispensed
    FROM keys k
    CROSS JOIN LATERAL (SELECT p_from + i AS day FROM generate_series(0, greatest(p_to, programme_today()) - p_from) i) g
    LEFT JOIN (
      SELECT l.site_code, l.commodity_code, l.day, sum(l.net_change) AS net_change, sum(l.dispensed) AS dispensed
      FROM stock_lot_daily l
      WHERE (p_site IS NULL OR l.site_code = p_site) AND (p_commodity IS NULL OR l.commodity_code = p_commodity)
        AND l.day >= p_from
      GROUP BY l.site_code, l.commodity_code, l.day
    ) d ON d.site_code = k.site_code AND d.commodity_code = k.commodity_code AND d.day = g.day
  ), closing AS (
    SELECT site_code, commodity_code, day, dispensed,
      on_hand - coalesce(sum(net_change) OVER (PARTITION BY site_code, commodity_code ORDER BY day DESC
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS closing_on_hand
    FROM grid
  )
  SELECT site_code, commodity_code, day, closing_on_hand, dispensed FROM closing
  WHERE day BETWEEN p_from AND p_to ORDER BY site_code, commodity_code, day
$$;

-- Weekly figures per stock card have one definition, stock_weeks (45_stock_weeks.sql): days without usable stock
-- count a lot's expiry, which a closing balance of zero alone did not.
DROP FUNCTION IF EXISTS stock_weekly_history(date, date, text, text);

-- Recomputes what the ledger keeps from events and lists every difference, and every event that breaks a rule
-- ledger_book enforces (so an event written around it, or a balance edited directly, shows); no rows means all is
-- consistent. For an event, `expected` is 0 and `recorded` its quantity.
CREATE OR REPLACE FUNCTION ledger_verify_everything() RETURNS TABLE (
  check_name text, site_code text, commodity_code text, lot_code text, day date, expected bigint, recorded bigint
) LANGUAGE sql STABLE AS $$
  WITH from_events AS (
    SELECT site_code, commodity_code, lot_code, sum(quantity) AS on_hand FROM stock_events GROUP BY 1, 2, 3
  )
  SELECT 'balance', coalesce(e.site_code, b.site_code), coalesce(e.commodity_code, b.commodity_code),
    coalesce(e.lot_code, b.lot_code), NULL::date, coalesce(e.on_hand, 0), coalesce(b.on_hand, 0)
  FROM from_events e FULL JOIN stock_balances b USING (site_code, commodity_code, lot_code)
  WHERE coalesce(e.on_hand, 0) IS DISTINCT FROM coalesce(b.on_hand, 0) OR b.on_hand IS NULL
  UNION ALL
  -- A site-commodity with stock and no card would be booked without the lock every writer takes.
  SELECT 'stock card', b.site_code, b.commodity_code, NULL, NULL::date, 1, 0
  FROM (SELECT DISTINCT site_code, commodity_code FROM stock_balances) b
  WHERE NOT EXISTS (SELECT 1 FROM stock_cards c WHERE c.site_code = b.site_code
    AND c.commodity_code = b.commodity_code)
  UNION ALL
  -- A balance carries its lot's expiry (0018), which the everyday dispense picks its lot by; day is the lot's expiry.
  SELECT 'balance expiry', b.site_code, b.commodity_code, b.lot_code, l.expires_on, 1, 0
  FROM stock_balances b LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
  WHERE b.expires_on IS DISTINCT FROM l.expires_on
  UNION ALL
  -- One row per figure of a lot's day that differs: 'lot daily' for its net change, 'lot daily received' and so on.
  SELECT 'lot daily' || f.suffix, coalesce(e.site_code, d.site_code), coalesce(e.commodity_code, d.commodity_code),
    coalesce(e.lot_code, d.lot_code), coalesce(e.day, d.day), f.expected, f.recorded
  FROM (SELECT site_code, commodity_code, lot_code, occurred_on AS day, sum(quantity) AS net,
      coalesce(sum(quantity) FILTER (WHERE kind IN ('receipt', 'transfer_in')), 0) AS received,
      coalesce(-sum(quantity) FILTER (WHERE kind = 'dispense'), 0) AS dispensed,
      coalesce(-sum(quantity) FILTER (WHERE kind = 'transfer_out'), 0) AS sent,
      coalesce(sum(quantity) FILTER (WHERE kind IN ('adjustment', 'count')), 0) AS adjusted
    FROM stock_events GROUP BY 1, 2, 3, 4) e
  FULL JOIN stock_lot_daily d USING (site_code, commodity_code, lot_code, day)
  CROSS JOIN LATERAL (VALUES
    ('', coalesce(e.net, 0), coalesce(d.net_change, 0)),
    (' received', coalesce(e.received, 0), d.received),
    (' dispensed', coalesce(e.dispensed, 0), d.dispensed),
    (' sent', coalesce(e.sent, 0), d.sent),
    (' adjusted', coalesce(e.adjusted, 0), d.adjusted)
  ) AS f (suffix, expected, recorded)
  -- A day with events and no row is one difference, of its net change; a row without events is expected to hold
  -- nothing, figure by figure.
  WHERE (f.suffix = '' AND (f.expected <> f.recorded OR d.day IS NULL))
    OR (f.suffix <> '' AND d.day IS NOT NULL AND f.expected <> f.recorded)
  UNION ALL
  SELECT 'transfer ' || t.id, t.from_site_code, t.commodity_code, NULL, t.dispatched_on, t.quantity,
    coalesce(-(SELECT sum(quantity) FROM stock_events e WHERE e.transfer_id = t.id AND e.kind = 'transfer_out'), 0)
  FROM transfers t
  WHERE t.quantity <> coalesce(-(SELECT sum(quantity) FROM stock_events e
      WHERE e.transfer_id = t.id AND e.kind = 'transfer_out'), 0)
    OR (t.status = 'received') <> EXISTS (SELECT 1 FROM stock_events e WHERE e.transfer_id = t.id
      AND e.kind = 'transfer_in')
  UNION ALL
  -- Events carry no foreign keys (see stock_events, and 0005): expected is how many events refer to the missing row.
  SELECT CASE WHEN s.code IS NULL THEN 'unknown site'
      WHEN c.code IS NULL THEN 'unknown commodity'
      WHEN e.population_code IS NOT NULL AND p.code IS NULL THEN 'unknown population ' || e.population_code
      WHEN e.reason_code IS NOT NULL AND r.code IS NULL THEN 'unknown reason ' || e.reason_code
      WHEN e.transfer_id IS NOT NULL AND t.id IS NULL THEN 'unknown transfer ' || e.transfer_id
      WHEN e.count_id IS NOT NULL AND k.id IS NULL THEN 'unknown count ' || e.count_id
      ELSE 'reverses unknown event ' || e.reverses_event_id END,
    e.site_code, e.commodity_code, NULL, NULL::date, count(*), 0
  FROM stock_events e
  LEFT JOIN sites s ON s.code = e.site_code
  LEFT JOIN commodities c ON c.code = e.commodity_code
  LEFT JOIN populations p ON p.code = e.population_code
  LEFT JOIN stock_reasons r ON r.code = e.reason_code
  LEFT JOIN transfers t ON t.id = e.transfer_id
  LEFT JOIN stock_counts k ON k.id = e.count_id
  WHERE s.code IS NULL OR c.code IS NULL OR (e.population_code IS NOT NULL AND p.code IS NULL)
    OR (e.reason_code IS NOT NULL AND r.code IS NULL) OR (e.transfer_id IS NOT NULL AND t.id IS NULL)
    OR (e.count_id IS NOT NULL AND k.id IS NULL)
    OR (e.reverses_event_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM stock_events o WHERE o.id = e.reverses_event_id))
  GROUP BY 1, 2, 3
  UNION ALL
  SELECT 'event ' || e.id || ': ' || broken.rule, e.site_code, e.commodity_code, e.lot_code, e.occurred_on, 0,
    e.quantity
  FROM stock_events e
  LEFT JOIN commodities c ON c.code = e.commodity_code
  LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
  LEFT JOIN sites s ON s.code = e.site_code
  CROSS JOIN LATERAL (VALUES
    (e.occurred_on > e.recorded_on, format('happened on %s, after the day it was booked (%s)', e.occurred_on,
      e.recorded_on)),
    (e.occurred_on > s.closed_on OR e.occurred_on < s.opened_on, format('outside the site''s open dates')),
    (c.lot_tracked AND e.lot_code = '', 'has no lot, but the commodity is lot-tracked'),
    (NOT c.lot_tracked AND e.lot_code <> '', 'has a lot, but the commodity is not lot-tracked'),
    (e.lot_code <> '' AND l.lot_code IS NULL, 'names a lot the ledger does not know'),
    (e.kind IN ('dispense', 'transfer_out') AND e.reverses_event_id IS NULL AND l.expires_on < e.occurred_on,
      format('took stock from lot %s, expired on %s', e.lot_code, l.expires_on)),
    (e.quantity = 0 AND e.kind <> 'count', 'moves nothing'),
    (e.reverses_event_id IS NULL AND e.kind IN ('receipt', 'transfer_in') AND e.quantity < 0
      OR e.reverses_event_id IS NULL AND e.kind IN ('dispense', 'transfer_out') AND e.quantity > 0,
      'has the wrong sign for its kind'),
    (e.kind = 'dispense' AND (e.channel = 'outreach') IS DISTINCT FROM (e.worker_code IS NOT NULL),
      'outreach names a peer educator, and only outreach does'),
    (e.kind = 'dispense' AND (e.population_code IS NULL OR e.channel IS NULL),
      'is a dispense without its population or channel'),
    (e.kind <> 'dispense' AND num_nonnulls(e.population_code, e.channel, e.worker_code, e.client_uic) > 0,
      'names a population, channel, peer educator or client, but only a dispense does'),
    (e.kind = 'adjustment' AND e.reason_code IS NULL, 'is an adjustment without a reason'),
    (e.kind IN ('transfer_out', 'transfer_in') AND e.transfer_id IS NULL, 'belongs to no transfer'),
    (e.reverses_event_id IS NOT NULL
      AND (SELECT o.quantity FROM stock_events o WHERE o.id = e.reverses_event_id) <> -e.quantity,
      format('reverses event %s by other than its opposite', e.reverses_event_id))
  ) AS broken (is_broken, rule)
  WHERE broken.is_broken
  UNION ALL
  -- Every week kept and trusted (stock_weeks_valid) against the same week computed now.
  SELECT 'kept week ' || f.figure, k.site_code, k.commodity_code, NULL, k.week, f.expected, f.recorded
  FROM stock_weeks_valid k
  LEFT JOIN stock_weeks((SELECT min(week) FROM stock_weeks_valid), (SELECT max(week) FROM stock_weeks_valid), NULL,
    true) c ON c.site_code = k.site_code AND c.commodity_code = k.commodity_code AND c.week = k.week
  CROSS JOIN LATERAL (VALUES
    ('dispensed', c.dispensed, k.dispensed),
    ('stocked-out days', c.stocked_out_days::bigint, k.stocked_out_days::bigint)
  ) AS f (figure, expected, recorded)
  WHERE f.expected IS DISTINCT FROM f.recorded
  ORDER BY 1, 2, 3, 4, 5
$$;

-- ledger_verify_everything for the sites the person may see. It reads every event with the owner's rights: a
-- transfer's two ends may lie at sites of which the person sees one, and the check needs both.
CREATE OR REPLACE FUNCTION ledger_verify() RETURNS TABLE (
  check_name text, site_code text, commodity_code text, lot_code text, day date, expected bigint, recorded bigint
) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT v.* FROM ledger_verify_everything() v
  WHERE (SELECT access_sites('read')) IS NULL OR v.site_code = ANY ((SELECT access_sites('read'))::text[])
$$;
