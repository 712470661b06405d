-- Replenishment orders (../shared/domain.md, "Replenishment (max–min, in weeks of stock)"; issue: replenishment
-- orders): a forecast run's echelon need turned into orders per destination and supplier. The rule per supply line
-- and commodity, in base units: min = (lead time + safety stock) × weekly need, max = min + review period × need,
-- emergency order point (EOP) = its weeks × need; stock position = usable on hand + in transit + on order; order
-- max − position, in whole packs at the end.

-- Whole packs for an order of p_units: ⌊units / pack⌋, plus one when the remainder exceeds the commodity's rounding
-- threshold; a positive order never rounds to no pack unless the commodity allows it (OpenLMIS packsToOrder).
CREATE OR REPLACE FUNCTION order_packs(p_units bigint, p_pack_size integer, p_threshold integer,
  p_may_round_to_zero boolean DEFAULT false) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN p_units <= 0 THEN 0
    WHEN p_units / p_pack_size + (p_units % p_pack_size > p_threshold)::integer = 0 AND NOT p_may_round_to_zero THEN 1
    ELSE (p_units / p_pack_size + (p_units % p_pack_size > p_threshold)::integer)::integer
  END
$$;

-- Per site and commodity, what the stock position is made of on p_today: on hand in lots usable to the end of the
-- site's next cover period (today + lead time + review period of its supply line; today alone for a site no line
-- supplies), on hand in lots that expire before it, in transit to the site, and on order (approved orders not yet
-- dispatched). Sites in p_sites (NULL: all); a site and commodity with none of these has no row.
CREATE OR REPLACE FUNCTION order_stock_positions(p_today date, p_sites text[] DEFAULT NULL)
RETURNS TABLE (site_code text, commodity_code text, usable_on_hand bigint, unusable_on_hand bigint,
  in_transit bigint, on_order bigint)
LANGUAGE sql STABLE AS $$
  WITH held AS (
    SELECT b.site_code, b.commodity_code,
      sum(b.on_hand) FILTER (WHERE l.expires_on IS NULL
        OR l.expires_on >= p_today + coalesce(s.lead_time_days + s.review_period_days, 0)) AS usable,
      sum(b.on_hand) FILTER (WHERE l.expires_on < p_today + coalesce(s.lead_time_days + s.review_period_days, 0))
        AS unusable
    FROM stock_balances b
    JOIN commodities c ON c.code = b.commodity_code
    LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
    LEFT JOIN supply_lines s ON s.site_code = b.site_code AND s.category = c.category
    WHERE b.on_hand > 0 AND (p_sites IS NULL OR b.site_code = ANY (p_sites))
    GROUP BY b.site_code, b.commodity_code
  ), travelling AS (
    SELECT * FROM stock_in_transit(p_sites, p_today)
  ), ordered AS (
    SELECT o.site_code, l.commodity_code, sum(l.units) AS units
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    WHERE o.status = 'approved' AND (p_sites IS NULL OR o.site_code = ANY (p_sites))
    GROUP BY 1, 2
  )
  SELECT coalesce(h.site_code, t.site_code, o.site_code), coalesce(h.commodity_code, t.commodity_code,
      o.commodity_code),
    coalesce(h.usable, 0)::bigint, coalesce(h.unusable, 0)::bigint, coalesce(t.quantity, 0)::bigint,
    coalesce(o.units, 0)::bigint
  FROM held h
  FULL JOIN travelling t ON t.site_code = h.site_code AND t.commodity_code = h.commodity_code
  FULL JOIN ordered o ON o.site_code = coalesce(h.site_code, t.site_code)
    AND o.commodity_code = coalesce(h.commodity_code, t.commodity_code)
$$;

-- The levels of each supply line in days of the site's weekly need, exact (a level in units is days × need / 7):
-- min = lead time + safety stock, max = min + review period, emergency order point. The one home of these rules:
-- orders and the stock-status report read them here.
CREATE OR REPLACE VIEW supply_line_levels AS
SELECT s.site_code, s.category, s.supplier_code, s.external_supplier, s.variant, s.lead_time_days,
  s.review_period_days, s.lead_time_days + 7 * s.safety_stock_weeks AS min_days,
  s.lead_time_days + 7 * s.safety_stock_weeks + s.review_period_days AS max_days,
  7 * s.emergency_order_point_weeks AS eop_days
FROM supply_lines s;

-- How deep each site sits in the supply lines of a category: 1 below a site no line supplies, one more per step
-- down. A supplier is rationed after every supplier below it, whose shortfall it carries up.
CREATE OR REPLACE VIEW supply_line_depths AS
WITH RECURSIVE down (site_code, category, depth) AS (
  SELECT s.site_code, s.category, 1 FROM supply_lines s
  WHERE s.supplier_code IS NULL
    OR NOT EXISTS (SELECT FROM supply_lines u WHERE u.site_code = s.supplier_code AND u.category = s.category)
  UNION ALL
  SELECT s.site_code, s.category, d.depth + 1 FROM supply_lines s
  JOIN down d ON d.site_code = s.supplier_code AND d.category = s.category
)
SELECT site_code, category, max(depth) AS depth FROM down GROUP BY site_code, category;

-- Generates the orders of forecast run p_run (of destination p_site only, when given: `orders check`) and returns how
-- many it made. Replaces the run's drafts (cancelled, with the reason recorded) and leaves the destinations that have
-- an approved or later order of the run alone. Per
-- destination, supplier and commodity with a known echelon need:
--   forced: order max − position when positive; standard and continuous: only when position ≤ min; whatever the
--   variant, a position below the EOP makes an emergency line. An unknown need makes no line and a warning.
-- A supplier gives at most its usable on hand less what it already promised (approved orders) and its own reserve
-- (its own min for its own dispensing). Short, it shares whole packs: emergency lines first, then one pack at a
-- time to the destination with the fewest weeks of stock (ties by site code); each line records its shortfall, and
-- the shortfall is added to the supplier's own order upstream. Lots are picked when an order is approved
-- (order_pick).
DROP FUNCTION IF EXISTS orders_generate(bigint);
CREATE OR REPLACE FUNCTION orders_generate(p_run bigint, p_site text DEFAULT NULL) RETURNS integer LANGUAGE plpgsql
SET jit = off SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_today date := programme_today();
  v_group record;
  v_depth integer;
  v_sites text[];
  v_requested integer[];
  v_granted integer[];
  v_positions bigint[];
  v_needs bigint[];
  v_emergency boolean[];
  v_packs_left bigint;
  v_best integer;
  v_best_key numeric;
  v_key numeric;
  v_orders integer;
BEGIN
  IF NOT EXISTS (SELECT FROM forecast_runs WHERE id = p_run) THEN
    PERFORM ledger_refuse('run', format('no forecast run %s', p_run));
  ELSIF p_site IS NOT NULL AND NOT EXISTS (SELECT FROM forecast_lines WHERE run_id = p_run AND site_code = p_site) THEN
    PERFORM ledger_refuse('site', format('forecast run %s has no line for site %s', p_run, p_site));
  END IF;
  PERFORM access_refuse_scope(r.county_code, coalesce(p_site, r.site_code), 'plan') FROM forecast_runs r
  WHERE r.id = p_run;
  -- One generation of a run at a time: the second waits, then replaces the first one's drafts.
  PERFORM pg_advisory_xact_lock(hashtext('kpstock.orders_generate'), hashtext(p_run::text));

  -- The run's drafts, and the drafts of earlier runs for a destination and supplier the run serves (approving
  -- both would order twice), are replaced.
  WITH replaced AS (
    UPDATE orders o SET status = 'cancelled'
    WHERE o.status = 'draft' AND (p_site IS NULL OR o.site_code = p_site)
      AND (o.run_id = p_run OR (o.run_id < p_run AND EXISTS (
        SELECT FROM forecast_lines f JOIN commodities c ON c.code = f.commodity_code
        JOIN supply_lines s ON s.site_code = f.site_code AND s.category = c.category
        WHERE f.run_id = p_run AND f.site_code = o.site_code
          AND coalesce(s.supplier_code, s.external_supplier) = coalesce(o.supplier_code, o.external_supplier))))
    RETURNING o.id, o.run_id
  )
  INSERT INTO order_changes (order_id, change, detail)
  SELECT id, 'cancelled', jsonb_build_object('reason', format('replaced by a new generation of run %s', p_run))
  FROM replaced;
  DELETE FROM order_warnings WHERE run_id = p_run AND (p_site IS NULL OR site_code = p_site);

  -- Every line of the run that a supply line serves, with its levels as exact numerators over 7 (weeks are days / 7).
  CREATE TEMP TABLE og_lines ON COMMIT DROP AS
  SELECT f.site_code, f.commodity_code, c.category, f.need, s.supplier_code, s.external_supplier, s.variant, s.lead_time_days, s.review_period_days,
    c.pack_size, c.pack_rounding_threshold, c.packs_may_round_to_zero,
    s.min_days * f.need AS min7, s.max_days * f.need AS max7, s.eop_days * f.need AS eop7,
    coalesce(p.usable_on_hand, 0) AS usable_on_hand, coalesce(p.unusable_on_hand, 0) AS unusable_on_hand,
    coalesce(p.in_transit, 0) AS in_transit, coalesce(p.on_order, 0) AS on_order,
    coalesce(p.usable_on_hand, 0) + coalesce(p.in_transit, 0) + coalesce(p.on_order, 0) AS position,
    0::bigint AS raw_units, 0::bigint AS rolled_up_units, false AS emergency, false AS by_rule, 0 AS requested_packs,
    0 AS packs, 0::bigint AS units
  FROM forecast_lines f
  JOIN commodities c ON c.code = f.commodity_code
  JOIN supply_line_levels s ON s.site_code = f.site_code AND s.category = c.category
  LEFT JOIN order_stock_positions(v_today) p ON p.site_code = f.site_code AND p.commodity_code = f.commodity_code
  WHERE f.run_id = p_run AND (p_site IS NULL OR f.site_code = p_site)
    AND NOT EXISTS (SELECT FROM orders o WHERE o.run_id = p_run AND o.site_code = f.site_code
      AND coalesce(o.supplier_code, o.external_supplier) = coalesce(s.supplier_code, s.external_supplier)
      AND o.status <> 'cancelled');

  INSERT INTO order_warnings (run_id, site_code, commodity_code, warning)
  SELECT p_run, site_code, commodity_code, 'unknown need: no order computed' FROM og_lines WHERE need IS NULL;
  DELETE FROM og_lines WHERE need IS NULL;

  UPDATE og_lines SET emergency = 7 * position < eop7,
    raw_units = greatest(0, ceil((max7 - 7 * position) / 7))::bigint;
  -- Only lines the variant orders (or an emergency) ask for max − position.
  UPDATE og_lines SET by_rule = true, requested_packs = order_packs(raw_units, pack_size, pack_rounding_threshold,
    packs_may_round_to_zero)
  WHERE variant = 'forced' OR emergency OR 7 * position <= min7;
  ANALYZE og_lines;

  -- What each supplier (a site) can give of each commodity: usable on hand, less approved orders it has not
  -- dispatched, less its own min for its own dispensing (its own need, not its echelon need).
  CREATE TEMP TABLE og_supply ON COMMIT DROP AS
  WITH suppliers AS (
    SELECT DISTINCT l.supplier_code, l.commodity_code, l.category, l.pack_size FROM og_lines l
    WHERE l.supplier_code IS NOT NULL
  )
  SELECT s.supplier_code, s.commodity_code, s.pack_size, coalesce(d.depth, 0) AS depth,
    greatest(0, coalesce(p.usable_on_hand, 0) - coalesce(p.promised, 0)
      - coalesce(ceil(own.min7 / 7), 0))::bigint AS available,
    0::bigint AS asked
  FROM suppliers s
  LEFT JOIN supply_line_depths d ON d.site_code = s.supplier_code AND d.category = s.category
  LEFT JOIN (
    SELECT f.site_code, f.commodity_code, l.min_days * f.own_need AS min7
    FROM forecast_lines f JOIN commodities c ON c.code = f.commodity_code
    JOIN supply_line_levels l ON l.site_code = f.site_code AND l.category = c.category
    WHERE f.run_id = p_run
  ) own ON own.site_code = s.supplier_code AND own.commodity_code = s.commodity_code
  LEFT JOIN (
    SELECT p.site_code, p.commodity_code, p.usable_on_hand, o.promised
    FROM order_stock_positions(v_today, ARRAY(SELECT DISTINCT supplier_code FROM og_lines
      WHERE supplier_code IS NOT NULL)) p
    LEFT JOIN (
      SELECT o.supplier_code, ol.commodity_code, sum(ol.units) AS promised
      FROM orders o JOIN order_lines ol ON ol.order_id = o.id
      WHERE o.status = 'approved' AND o.supplier_code IS NOT NULL GROUP BY 1, 2
    ) o ON o.supplier_code = p.site_code AND o.commodity_code = p.commodity_code
  ) p ON p.site_code = s.supplier_code AND p.commodity_code = s.commodity_code;
  CREATE INDEX ON pg_temp.og_lines (supplier_code, commodity_code);
  CREATE INDEX ON pg_temp.og_lines (site_code, commodity_code);
  ANALYZE og_lines;
  ANALYZE og_supply;

  -- Suppliers deepest first, a depth at a time: those with enough give every line what it asks, all at once; a
  -- short one shares its whole packs line by line below; then what every supplier of the depth fell short of goes up
  -- with its own order.
  FOR v_depth IN SELECT DISTINCT depth FROM og_supply ORDER BY depth DESC LOOP
    -- What the lines ask of each supplier of this depth (the deeper ones' shortfalls are in by now).
    UPDATE og_supply s SET asked = t.asked
    FROM (SELECT supplier_code, commodity_code, sum(requested_packs::bigint * pack_size) AS asked FROM og_lines
      GROUP BY 1, 2) t
    WHERE s.depth = v_depth AND t.supplier_code = s.supplier_code AND t.commodity_code = s.commodity_code;
    UPDATE og_lines l SET packs = l.requested_packs, units = l.requested_packs::bigint * l.pack_size
    FROM og_supply s
    WHERE s.depth = v_depth AND l.supplier_code = s.supplier_code AND l.commodity_code = s.commodity_code
      AND s.available >= s.asked;

    FOR v_group IN
      SELECT s.supplier_code, s.commodity_code, s.pack_size, s.available FROM og_supply s
      WHERE s.depth = v_depth AND s.available < s.asked
      ORDER BY s.supplier_code, s.commodity_code
    LOOP
      SELECT array_agg(l.site_code ORDER BY l.site_code), array_agg(l.requested_packs ORDER BY l.site_code),
        array_agg(l.position ORDER BY l.site_code), array_agg(l.need ORDER BY l.site_code),
        array_agg(l.emergency ORDER BY l.site_code)
      INTO v_sites, v_requested, v_positions, v_needs, v_emergency
      FROM og_lines l
      WHERE l.supplier_code = v_group.supplier_code AND l.commodity_code = v_group.commodity_code
        AND l.requested_packs > 0;
      v_granted := array_fill(0, ARRAY[cardinality(v_sites)]);
      v_packs_left := v_group.available / v_group.pack_size;
      WHILE v_packs_left > 0 LOOP
        v_best := NULL;
        FOR v_index IN 1..cardinality(v_sites) LOOP
          CONTINUE WHEN v_granted[v_index] >= v_requested[v_index];
          -- Emergency lines first, then the fewest weeks of stock after what is granted so far; a site with no
          -- need has all the weeks it wants. Sites are in code order, so the first of equals wins.
          v_key := CASE WHEN v_needs[v_index] > 0
            THEN (v_positions[v_index] + v_granted[v_index]::bigint * v_group.pack_size)::numeric / v_needs[v_index]
            ELSE 1e9 END + CASE WHEN v_emergency[v_index] THEN 0 ELSE 2e9 END;
          IF v_best IS NULL OR v_key < v_best_key THEN
            v_best := v_index;
            v_best_key := v_key;
          END IF;
        END LOOP;
        EXIT WHEN v_best IS NULL;
        v_granted[v_best] := v_granted[v_best] + 1;
        v_packs_left := v_packs_left - 1;
      END LOOP;
      UPDATE og_lines l SET packs = g.packs, units = g.packs::bigint * l.pack_size
      FROM unnest(v_sites, v_granted) g (site_code, packs)
      WHERE l.site_code = g.site_code AND l.supplier_code = v_group.supplier_code
        AND l.commodity_code = v_group.commodity_code;
    END LOOP;

    -- The shortfall goes up with the supplier's own order (when a line supplies it; else it stays recorded).
    UPDATE og_lines own SET rolled_up_units = own.rolled_up_units + x.shortfall,
      requested_packs = order_packs((CASE WHEN own.by_rule THEN own.raw_units ELSE 0 END + own.rolled_up_units
        + x.shortfall)::bigint, own.pack_size,
        own.pack_rounding_threshold, own.packs_may_round_to_zero)
    FROM (
      SELECT l.supplier_code, l.commodity_code, sum((l.requested_packs - l.packs)::bigint * l.pack_size) AS shortfall
      FROM og_lines l JOIN og_supply s ON s.supplier_code = l.supplier_code AND s.commodity_code = l.commodity_code
      WHERE s.depth = v_depth
      GROUP BY 1, 2
      HAVING sum(l.requested_packs - l.packs) > 0
    ) x
    WHERE own.site_code = x.supplier_code AND own.commodity_code = x.commodity_code;
  END LOOP;

  -- External suppliers give what is asked.
  UPDATE og_lines SET packs = requested_packs, units = requested_packs::bigint * pack_size
  WHERE supplier_code IS NULL;

  WITH made AS (
    INSERT INTO orders (run_id, site_code, supplier_code, external_supplier, made_on)
    SELECT p_run, l.site_code, l.supplier_code, l.external_supplier, v_today
    FROM og_lines l WHERE l.requested_packs > 0
    GROUP BY l.site_code, l.supplier_code, l.external_supplier
    -- Numbered supplier by supplier, as a store works through them.
    ORDER BY l.supplier_code NULLS LAST, l.external_supplier, l.site_code
    RETURNING id, site_code, supplier_code, external_supplier
  ), lines AS (
    INSERT INTO order_lines (order_id, commodity_code, need, variant, min_level, max_level, emergency_point,
      usable_on_hand, unusable_on_hand, in_transit, on_order, position, raw_units, rolled_up_units, requested_packs,
      requested_units, packs, units, shortfall_units, emergency)
    SELECT m.id, l.commodity_code, l.need, l.variant, l.min7 / 7, l.max7 / 7, l.eop7 / 7, l.usable_on_hand,
      l.unusable_on_hand, l.in_transit, l.on_order, l.position, l.raw_units, l.rolled_up_units, l.requested_packs,
      l.requested_packs::bigint * l.pack_size, l.packs, l.units, l.requested_packs::bigint * l.pack_size - l.units,
      l.emergency
    FROM og_lines l JOIN made m ON m.site_code = l.site_code
      AND coalesce(m.supplier_code, m.external_supplier) = coalesce(l.supplier_code, l.external_supplier)
    WHERE l.requested_packs > 0
    RETURNING order_id, commodity_code
  )
  INSERT INTO order_changes (order_id, change, detail)
  SELECT m.id, 'generated', jsonb_build_object('run', p_run,
    'lines', (SELECT count(*) FROM lines x WHERE x.order_id = m.id))
  FROM made m;
  GET DIAGNOSTICS v_orders = ROW_COUNT;

  DROP TABLE og_lines, og_supply;
  RETURN v_orders;
END $$;

-- The order, locked for a change, or a refusal naming it. Two people changing one order take turns: the second sees
-- what the first did.
CREATE OR REPLACE FUNCTION order_for_change(p_order bigint, p_allowed text[], p_action text) RETURNS orders
LANGUAGE plpgsql AS $$
DECLARE
  v_order orders;
  v_last order_changes;
BEGIN
  SELECT * INTO v_order FROM orders WHERE id = p_order FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('order', format('no order %s', p_order));
  END IF;
  -- Logistics officers change orders; the site that receives one records its arrival, as it records any stock.
  PERFORM access_refuse(ARRAY[CASE WHEN p_action = 'dispatched' THEN v_order.supplier_code ELSE v_order.site_code END],
    CASE WHEN p_action = 'received' THEN 'stock' ELSE 'plan' END, 'order');
  IF NOT v_order.status = ANY (p_allowed) THEN
    SELECT * INTO v_last FROM order_changes WHERE order_id = p_order ORDER BY id DESC LIMIT 1;
    RAISE EXCEPTION 'order % is %: only % can be %', p_order,
      v_order.status || coalesce(format(' (%s by %s at %s)', v_last.change, v_last.changed_by,
        to_char(v_last.changed_at, 'YYYY-MM-DD HH24:MI')), ''),
      array_to_string(p_allowed, ' or ') || ' orders', p_action
      USING ERRCODE = 'KP006', COLUMN = 'order';
  END IF;
  RETURN v_order;
END $$;

-- Picks the lots of an order's lines at its supplier, first expiry first out, from what the supplier holds less what
-- other approved orders have picked and not dispatched; never a lot that would expire before the destination could
-- use the shipment up (arrival after the lead time + the weeks of need it covers). A line that cannot be picked in
-- full is cut to the whole packs that can, and the rest is its shortfall. Short-dated: a lot that expires before the
-- destination, at its stock position with this shipment, would reach it.
CREATE OR REPLACE FUNCTION order_pick(p_order bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_order orders;
  v_today date := programme_today();
BEGIN
  SELECT * INTO v_order FROM orders WHERE id = p_order;
  DELETE FROM order_line_lots WHERE order_id = p_order;
  IF v_order.supplier_code IS NULL THEN
    RETURN;
  END IF;
  -- Orders of one supplier are picked one at a time: each sees what the ones before it took.
  PERFORM pg_advisory_xact_lock(hashtext('kpstock.order_pick'), hashtext(v_order.supplier_code));
  CREATE TEMP TABLE op_free ON COMMIT DROP AS
  WITH lines AS (
    SELECT l.commodity_code, l.units, l.need, l.position, c.pack_size,
      v_today + s.lead_time_days + coalesce(ceil(7.0 * l.units / nullif(l.need, 0)), 0)::integer AS used_up_by,
      v_today + s.lead_time_days + coalesce(ceil(7.0 * (l.position + l.units) / nullif(l.need, 0)), 0)::integer
        AS reached_by
    FROM order_lines l
    JOIN commodities c ON c.code = l.commodity_code
    JOIN supply_lines s ON s.site_code = v_order.site_code AND s.category = c.category
    WHERE l.order_id = p_order AND l.units > 0
  ), taken AS (
    SELECT k.commodity_code, k.lot_code, sum(k.units) AS units
    FROM order_line_lots k JOIN orders o ON o.id = k.order_id
    WHERE o.supplier_code = v_order.supplier_code AND o.status = 'approved' AND k.transfer_id IS NULL
    GROUP BY 1, 2
  )
  SELECT l.commodity_code, l.units, l.pack_size, b.lot_code, lo.expires_on,
    b.on_hand - coalesce(t.units, 0) AS free, lo.expires_on < l.reached_by AS short_dated
  FROM lines l
  JOIN stock_balances b ON b.site_code = v_order.supplier_code AND b.commodity_code = l.commodity_code
  LEFT JOIN lots lo ON lo.commodity_code = b.commodity_code AND lo.lot_code = b.lot_code
  LEFT JOIN taken t ON t.commodity_code = b.commodity_code AND t.lot_code = b.lot_code
  WHERE b.on_hand - coalesce(t.units, 0) > 0 AND (lo.expires_on IS NULL OR lo.expires_on >= l.used_up_by);

  -- Lines that cannot be picked in full keep the whole packs that can.
  UPDATE order_lines l SET units = c.pickable, packs = c.pickable / c.pack_size,
    shortfall_units = greatest(0, l.requested_units - c.pickable)
  FROM (
    SELECT x.commodity_code, m.pack_size,
      coalesce((SELECT sum(f.free) FROM op_free f WHERE f.commodity_code = x.commodity_code), 0)::bigint
        / m.pack_size * m.pack_size AS pickable
    FROM order_lines x JOIN commodities m ON m.code = x.commodity_code
    WHERE x.order_id = p_order AND x.units > 0
  ) c
  WHERE l.order_id = p_order AND l.commodity_code = c.commodity_code AND l.units > c.pickable;

  INSERT INTO order_line_lots (order_id, commodity_code, lot_code, expires_on, units, short_dated)
  SELECT p_order, f.commodity_code, f.lot_code, f.expires_on, least(f.free, l.units - f.before), coalesce(f.short_dated,
    false)
  FROM (
    SELECT f.*, coalesce(sum(f.free) OVER (PARTITION BY f.commodity_code ORDER BY f.expires_on NULLS LAST, f.lot_code
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM op_free f
  ) f
  JOIN order_lines l ON l.order_id = p_order AND l.commodity_code = f.commodity_code
  WHERE l.units > f.before;
  DROP TABLE op_free;
END $$;

-- Approves a draft: its lots are picked (order_pick) and it counts as on order for its destination.
CREATE OR REPLACE FUNCTION order_approve(p_order bigint) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_order orders := order_for_change(p_order, ARRAY['draft'], 'approved');
  v_cut jsonb;
BEGIN
  UPDATE orders SET status = 'approved' WHERE id = p_order;
  CREATE TEMP TABLE oa_before ON COMMIT DROP AS SELECT commodity_code, units FROM order_lines WHERE order_id = p_order;
  PERFORM order_pick(p_order);
  SELECT jsonb_object_agg(l.commodity_code, jsonb_build_object('from', b.units, 'to', l.units)) INTO v_cut
  FROM order_lines l JOIN oa_before b USING (commodity_code)
  WHERE l.order_id = p_order AND l.units <> b.units;
  DROP TABLE oa_before;
  INSERT INTO order_changes (order_id, change, detail)
  VALUES (p_order, 'approved', CASE WHEN v_cut IS NOT NULL THEN jsonb_build_object('cut_to_what_can_be_picked', v_cut)
    END);
END $$;

-- Sets a line's quantity, in whole packs, with the reason, on a draft or an approved order (whose lots are picked
-- again).
CREATE OR REPLACE FUNCTION order_set_packs(p_order bigint, p_commodity text, p_packs integer, p_reason text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_order orders := order_for_change(p_order, ARRAY['draft', 'approved'], 'changed');
  v_before bigint;
BEGIN
  SELECT l.units INTO v_before FROM order_lines l WHERE l.order_id = p_order AND l.commodity_code = p_commodity;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('commodity', format('order %s has no line for %s', p_order, p_commodity));
  ELSIF p_packs IS NULL OR p_packs < 0 THEN
    PERFORM ledger_refuse('packs', 'must be a whole number of packs, 0 or more');
  ELSIF nullif(btrim(p_reason), '') IS NULL THEN
    PERFORM ledger_refuse('reason', 'a changed quantity needs a reason');
  END IF;
  UPDATE order_lines l SET packs = p_packs, units = p_packs::bigint * c.pack_size,
    shortfall_units = greatest(0, l.requested_units - p_packs::bigint * c.pack_size), changed_reason = p_reason
  FROM commodities c
  WHERE c.code = l.commodity_code AND l.order_id = p_order AND l.commodity_code = p_commodity;
  IF v_order.status = 'approved' THEN
    PERFORM order_pick(p_order);
  END IF;
  INSERT INTO order_changes (order_id, change, detail)
  SELECT p_order, 'quantity', jsonb_build_object('commodity', p_commodity, 'from', v_before, 'to', l.units,
    'reason', p_reason)
  FROM order_lines l WHERE l.order_id = p_order AND l.commodity_code = p_commodity;
END $$;

-- Dispatches an approved order: each picked lot leaves the supplier as a transfer through the ledger's one booking
-- path (ledger_post), keyed by order, commodity and lot, so a repeat books nothing twice.
CREATE OR REPLACE FUNCTION order_dispatch(p_order bigint, p_day date DEFAULT NULL) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_order orders := order_for_change(p_order, ARRAY['approved'], 'dispatched');
  v_requests jsonb;
BEGIN
  IF v_order.supplier_code IS NULL THEN
    PERFORM ledger_refuse('order', format('order %s is a requisition to %s: record its delivery as a receipt',
      p_order, v_order.external_supplier));
  END IF;
  IF NOT EXISTS (SELECT FROM order_line_lots WHERE order_id = p_order) THEN
    PERFORM ledger_refuse('order', format('order %s has nothing picked to dispatch', p_order));
  END IF;
  CREATE TEMP TABLE od_picks ON COMMIT DROP AS
  SELECT k.commodity_code, k.lot_code, k.units, row_number() OVER (ORDER BY k.commodity_code, k.lot_code)::integer
    AS req
  FROM order_line_lots k WHERE k.order_id = p_order;
  SELECT jsonb_agg(jsonb_build_object('req', k.req, 'kind', 'dispatch',
      'key', format('order-%s-%s-%s', p_order, k.commodity_code, k.lot_code), 'site', v_order.supplier_code,
      'to', v_order.site_code, 'commodity', k.commodity_code, 'lot', nullif(k.lot_code, ''), 'qty', k.units,
      'date', p_day) ORDER BY k.req)
  INTO v_requests FROM od_picks k;
  UPDATE order_line_lots k SET transfer_id = b.transfer_id
  FROM (SELECT DISTINCT b.req, b.transfer_id FROM ledger_post(v_requests) b) b
  JOIN od_picks r ON r.req = b.req
  WHERE k.order_id = p_order AND k.commodity_code = r.commodity_code AND k.lot_code = r.lot_code;
  DROP TABLE od_picks;
  UPDATE orders SET status = 'dispatched' WHERE id = p_order;
  INSERT INTO order_changes (order_id, change, detail)
  VALUES (p_order, 'dispatched', jsonb_build_object('transfers',
    (SELECT jsonb_agg(transfer_id ORDER BY transfer_id) FROM order_line_lots WHERE order_id = p_order)));
END $$;

-- Records the proof of delivery of a dispatched order: per line, what was rejected and why (p_rejections: a JSON array
-- of {commodity, rejected, reason}; a line not named is accepted in full). Each transfer is received through the
-- ledger; a line's rejected units are written off from its lots in the order they were picked. A requisition,
-- approved, is closed as received here (its stock is recorded as a receipt at the store).
CREATE OR REPLACE FUNCTION order_receive(p_order bigint, p_rejections jsonb DEFAULT '[]', p_day date DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_order orders;
  v_problem text[];
  v_requests jsonb;
BEGIN
  SELECT * INTO v_order FROM orders WHERE id = p_order;
  v_order := order_for_change(p_order,
    CASE WHEN v_order.supplier_code IS NULL THEN ARRAY['approved'] ELSE ARRAY['dispatched'] END, 'received');
  SELECT CASE
      WHEN l.commodity_code IS NULL THEN ARRAY['commodity', format('order %s has no line for %s', p_order, r.commodity)]
      WHEN r.rejected IS NULL OR r.rejected < 0 OR r.rejected > l.units THEN
        ARRAY['rejected', format('%s: must be between 0 and the %s dispatched', r.commodity, l.units)]
      WHEN r.rejected > 0 AND nullif(btrim(r.reason), '') IS NULL THEN
        ARRAY['reason', format('%s: a rejection needs a reason', r.commodity)]
      WHEN r.rejected > 0 AND NOT EXISTS (SELECT FROM stock_reasons sr WHERE sr.code = r.reason
          AND sr.direction <> 'in') THEN
        ARRAY['reason', format('%s: %s is not a reason for writing stock off', r.commodity, r.reason)]
      WHEN r.rejected = 0 AND r.reason IS NOT NULL THEN
        ARRAY['reason', format('%s: give a reason only with a rejected quantity', r.commodity)]
      WHEN count(*) OVER (PARTITION BY r.commodity) > 1 THEN ARRAY['commodity', format('%s is named twice', r.commodity)]
    END
  INTO v_problem
  FROM jsonb_to_recordset(p_rejections) r (commodity text, rejected bigint, reason text)
  LEFT JOIN order_lines l ON l.order_id = p_order AND l.commodity_code = r.commodity
  ORDER BY 1 NULLS LAST LIMIT 1;
  IF v_problem IS NOT NULL THEN
    PERFORM ledger_refuse(v_problem[1], v_problem[2]);
  END IF;

  UPDATE order_lines l SET accepted_units = l.units - coalesce(r.rejected, 0), rejected_units = coalesce(r.rejected, 0),
    rejection_reason = CASE WHEN r.rejected > 0 THEN r.reason END
  FROM order_lines x
  LEFT JOIN jsonb_to_recordset(p_rejections) r (commodity text, rejected bigint, reason text)
    ON r.commodity = x.commodity_code
  WHERE x.order_id = p_order AND l.order_id = x.order_id AND l.commodity_code = x.commodity_code;

  IF v_order.supplier_code IS NOT NULL THEN
    SELECT jsonb_agg(jsonb_build_object('req', k.req, 'kind', 'transfer_receipt',
        'key', format('order-%s-%s-%s-received', p_order, k.commodity_code, k.lot_code), 'transfer', k.transfer_id,
        'rejected', k.rejected, 'reason', CASE WHEN k.rejected > 0 THEN k.reason END,
        'lot', CASE WHEN k.rejected > 0 THEN nullif(k.lot_code, '') END, 'date', p_day) ORDER BY k.req)
    INTO v_requests
    FROM (
      SELECT k.commodity_code, k.lot_code, k.transfer_id, l.rejection_reason AS reason,
        row_number() OVER (ORDER BY k.commodity_code, k.expires_on NULLS LAST, k.lot_code)::integer AS req,
        least(k.units, greatest(0, l.rejected_units - coalesce(sum(k.units) OVER (PARTITION BY k.commodity_code
          ORDER BY k.expires_on NULLS LAST, k.lot_code ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)))
          AS rejected
      FROM order_line_lots k JOIN order_lines l ON l.order_id = k.order_id AND l.commodity_code = k.commodity_code
      WHERE k.order_id = p_order
    ) k
    -- A transfer already received by hand (kpstock transfer receive) is not received twice.
    WHERE EXISTS (SELECT FROM transfers t WHERE t.id = k.transfer_id AND t.status = 'in_transit');
    IF v_requests IS NOT NULL THEN
      PERFORM FROM ledger_post(v_requests);
    END IF;
  END IF;
  UPDATE orders SET status = 'received' WHERE id = p_order;
  INSERT INTO order_changes (order_id, change, detail)
  VALUES (p_order, 'received', CASE WHEN jsonb_array_length(p_rejections) > 0 THEN
    jsonb_build_object('rejections', p_rejections) END);
END $$;

-- Cancels a draft or an approved order (its picked lots are freed), with the reason.
CREATE OR REPLACE FUNCTION order_cancel(p_order bigint, p_reason text) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_order orders := order_for_change(p_order, ARRAY['draft', 'approved'], 'cancelled');
BEGIN
  IF nullif(btrim(p_reason), '') IS NULL THEN
    PERFORM ledger_refuse('reason', 'a cancellation needs a reason');
  END IF;
  DELETE FROM order_line_lots WHERE order_id = p_order;
  UPDATE orders SET status = 'cancelled' WHERE id = p_order;
  INSERT INTO order_changes (order_id, change, detail)
  VALUES (p_order, 'cancelled', jsonb_build_object('reason', p_reason));
END $$;
