-- Each stock card's weeks: units dispensed and the days that closed with no usable stock, per ISO week. The forecast
-- reads them (its consumption-based need and back-test); closed weeks are kept in stock_weeks (0014) so that a run
-- computes only the weeks that closed since the last one, and the ones a back-dated entry changed.
--
-- Keeping is safe against concurrent writers without making either wait:
-- * a week is kept only once it has been closed for a whole day (stock_weeks_last_keepable), so an entry booked on
--   the week's last day is in it even if its transaction ran past midnight;
-- * every back-dated booking (ledger_book, through stock_weeks_forget) drops the kept weeks of its cards from its
--   day's week on. It holds the shared advisory lock 'kpstock.stock_weeks' while it does, unless a keeper holds it
--   exclusively: then the keeper may be computing from a snapshot without the entry, and the entry leaves a row in
--   stock_weeks_changed, which marks the card's weeks from that day on as untrusted until the next keeping;
-- * a keeper (stock_weeks_keep) takes that lock exclusively without waiting, and skips keeping when it cannot.
-- This leans on days moving forward: a session that sets kpstock.today (tests) back before a week already kept and
-- books on it may leave that week wrong, and `ledger verify` says so.

-- The latest week that may be kept: the last one that has been closed for a whole day.
CREATE OR REPLACE FUNCTION stock_weeks_last_keepable() RETURNS date LANGUAGE sql STABLE AS $$
  SELECT d - (extract(isodow FROM d)::integer - 1) FROM (SELECT programme_today() - 8 AS d) t
$$;

-- The kept weeks that can be trusted: closed for a whole day, and not marked by an entry that changed them while
-- they were being kept.
CREATE OR REPLACE VIEW stock_weeks_valid AS
SELECT w.site_code, w.commodity_code, w.week, w.dispensed, w.stocked_out_days
FROM stock_weeks w
WHERE w.week <= stock_weeks_last_keepable()
  AND NOT EXISTS (SELECT FROM stock_weeks_changed c WHERE c.site_code = w.site_code
    AND c.commodity_code = w.commodity_code AND c.day <= w.week + 6);

-- The days each card spent with no usable stock: per card (p_sites[i], p_commodities[i]) from p_firsts[i] through
-- p_last, the runs of days that closed with none of an unexpired lot (a lot is usable through its expiry day), one
-- row a run. Days not closed yet (today and after) are not in any run; days before a site opened are. The one
-- definition of a stocked-out day: stock_weeks counts them per week (the forecast), and the reports count them per
-- period and take the longest run. Computed from the per-lot daily rollup from the earliest p_firsts on and the
-- current balances, never from events: each lot holds its closing balance from one movement day to the next, so the
-- days with usable stock are a union of date ranges.
CREATE OR REPLACE FUNCTION stock_out_spells(p_sites text[], p_commodities text[], p_firsts date[], p_last date)
RETURNS TABLE (site_code text, commodity_code text, spell daterange)
LANGUAGE sql STABLE
-- The rollup rows are sorted once per lot; in the default 4 MB a national quarter spills to disk.
SET work_mem = '64MB'
-- The plan's cost, inflated by enable_nestloop = off, would have it compiled: a second of compiling for a query
-- that runs in less.
SET jit = off
-- The plan is made without the arguments, so it guesses a few dozen cards; a nested loop probing the rollup's key
-- card by card, which that guess picks, costs a national run several times the scan by day and hash join.
SET enable_nestloop = off AS $$
  WITH cards AS MATERIALIZED (
    SELECT c.site_code, c.commodity_code, c.first_day
    FROM unnest(p_sites, p_commodities, p_firsts) c (site_code, commodity_code, first_day)
    WHERE c.first_day <= p_last
  ), window_rows AS MATERIALIZED (
    -- The rollup rows from each card's first day to today, each with what its lot changed from the card's first day
    -- through that day, and the lot's next movement day. Read once: for many cards (a national run) by day, as a
    -- probe of the rollup per card would visit every lot a site ever held, nearly all used up long ago; for a few
    -- (a county's report) by site, as a scan by day would read every site's rows of those days. The branch not
    -- taken is skipped when the statement starts.
    SELECT d.site_code, d.commodity_code, d.lot_code, d.day, d.net_change,
      sum(d.net_change) OVER through_day AS changed_through_day, lead(d.day) OVER through_day AS next_day
    FROM (
      SELECT d.site_code, d.commodity_code, d.lot_code, d.day, d.net_change
      FROM stock_lot_daily d
      WHERE cardinality(p_sites) > 1500 AND d.day >= (SELECT min(first_day) FROM cards)
      UNION ALL
      SELECT d.site_code, d.commodity_code, d.lot_code, d.day, d.net_change
      FROM stock_lot_daily d
      WHERE cardinality(p_sites) <= 1500 AND d.site_code = ANY (p_sites)
        AND d.day >= (SELECT min(first_day) FROM cards)
    ) d
    JOIN cards c ON c.site_code = d.site_code AND c.commodity_code = d.commodity_code AND d.day >= c.first_day
    WINDOW through_day AS (PARTITION BY d.site_code, d.commodity_code, d.lot_code ORDER BY d.day)
  ), opening AS (
    -- Each lot's balance at the close of the day before its card's first day (today's less what changed since), held
    -- until its first movement from then on, and the days the lot is usable (through its expiry day).
    SELECT b.site_code, b.commodity_code, b.lot_code, c.first_day, b.on_hand - coalesce(r.changed, 0) AS closing,
      r.first_movement, daterange(NULL, l.expires_on, '[]') AS usable
    FROM stock_balances b
    JOIN cards c ON c.site_code = b.site_code AND c.commodity_code = b.commodity_code
    LEFT JOIN (
      SELECT r.site_code, r.commodity_code, r.lot_code, sum(r.net_change) AS changed, min(r.day) AS first_movement
      FROM window_rows r GROUP BY 1, 2, 3
    ) r ON r.site_code = b.site_code AND r.commodity_code = b.commodity_code AND r.lot_code = b.lot_code
    LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
  ), held AS (
    -- The days each lot held stock: from the card's first day to its first movement, and from each movement day to
    -- the next, at the balance it closed with.
    SELECT o.site_code, o.commodity_code, daterange(o.first_day, o.first_movement) * o.usable AS days
    FROM opening o WHERE o.closing > 0
    UNION ALL
    SELECT r.site_code, r.commodity_code, daterange(r.day, r.next_day) * o.usable
    FROM window_rows r JOIN opening o ON o.site_code = r.site_code AND o.commodity_code = r.commodity_code
      AND o.lot_code = r.lot_code
    WHERE o.closing + r.changed_through_day > 0
  ), usable AS (
    SELECT c.site_code, c.commodity_code, c.first_day, range_agg(h.days) AS days
    FROM cards c
    LEFT JOIN held h ON h.site_code = c.site_code AND h.commodity_code = c.commodity_code
    GROUP BY c.site_code, c.commodity_code, c.first_day
  )
  SELECT u.site_code, u.commodity_code, r.spell
  FROM usable u
  CROSS JOIN LATERAL (
    SELECT datemultirange(daterange(u.first_day, least(p_last + 1, (SELECT programme_today())))) AS days
  ) c
  CROSS JOIN LATERAL unnest(coalesce(c.days - u.days, c.days)) r (spell)
  WHERE NOT isempty(r.spell)
$$;

-- Per site, commodity and ISO week from p_first_week to p_last_week (both Mondays): units dispensed (both channels,
-- net of undone dispenses; not transfers or adjustments) and the days that closed with no usable stock
-- (stock_out_spells). In the week that is running, the days not closed yet (today and after) are neither: they are
-- counted apart, as unclosed_days, and what was dispensed today waits for the day to close. A site and commodity
-- that never held stock has no rows. p_sites limits the sites read (NULL: all).
--
-- Each card's weeks are the kept ones (kept = true) up to its first week not validly kept, and computed from there on
-- (p_recompute: all computed, as ledger verify does) from the per-lot daily rollup, never from events.
CREATE OR REPLACE FUNCTION stock_weeks(p_first_week date, p_last_week date, p_sites text[] DEFAULT NULL,
  p_recompute boolean DEFAULT false)
RETURNS TABLE (site_code text, commodity_code text, week date, dispensed bigint, stocked_out_days integer,
  unclosed_days integer, kept boolean)
LANGUAGE sql STABLE
-- As in stock_out_spells: a nested loop over the rollup's key, which the plan's guess of a few dozen cards picks,
-- costs a national run several times a scan by day and a hash join; and no compiling of the plan.
SET enable_nestloop = off
SET jit = off AS $$
  WITH kept AS MATERIALIZED (
    -- The kept weeks of the range, each with its place in its card's run of kept weeks from p_first_week.
    SELECT v.site_code, v.commodity_code, v.week, v.dispensed, v.stocked_out_days,
      v.week = p_first_week + 7 * (row_number() OVER (PARTITION BY v.site_code, v.commodity_code ORDER BY v.week)
        - 1)::integer AS in_prefix
    FROM stock_weeks_valid v
    WHERE NOT p_recompute AND v.week BETWEEN p_first_week AND p_last_week
      AND (p_sites IS NULL OR v.site_code = ANY (p_sites))
  ), cards AS MATERIALIZED (
    -- Each card in scope with weeks to compute, and the week its computing starts from: the first after its
    -- unbroken run of kept weeks.
    SELECT c.site_code, c.commodity_code, p_first_week + 7 * coalesce(k.weeks, 0)::integer AS first_week
    FROM stock_cards c
    LEFT JOIN (
      SELECT k.site_code, k.commodity_code, count(*) FILTER (WHERE k.in_prefix) AS weeks FROM kept k GROUP BY 1, 2
    ) k ON k.site_code = c.site_code AND k.commodity_code = c.commodity_code
    WHERE (p_sites IS NULL OR c.site_code = ANY (p_sites))
      AND p_first_week + 7 * coalesce(k.weeks, 0)::integer <= p_last_week
  ), given AS (
    -- Read by day for a national run, by site for a few sites, as stock_out_spells reads the rollup.
    SELECT d.site_code, d.commodity_code, d.day - (extract(isodow FROM d.day)::integer - 1) AS week,
      sum(d.dispensed)::bigint AS dispensed
    FROM (
      SELECT d.site_code, d.commodity_code, d.day, d.dispensed FROM stock_lot_daily d
      WHERE (p_sites IS NULL OR cardinality(p_sites) > 300) AND d.day >= (SELECT min(first_week) FROM cards)
        AND d.day <= p_last_week + 6
      UNION ALL
      SELECT d.site_code, d.commodity_code, d.day, d.dispensed FROM stock_lot_daily d
      WHERE cardinality(p_sites) <= 300 AND d.site_code = ANY (p_sites)
        AND d.day >= (SELECT min(first_week) FROM cards) AND d.day <= p_last_week + 6
    ) d
    JOIN cards c ON c.site_code = d.site_code AND c.commodity_code = d.commodity_code AND d.day >= c.first_week
    WHERE d.day < (SELECT programme_today())
    GROUP BY 1, 2, 3
  ), out_weeks AS (
    -- Each stocked-out day of the computed weeks, a row a day: few, where a row per site, commodity and week
    -- intersected with the runs would be many.
    SELECT o.site_code, o.commodity_code, d.day::date - (extract(isodow FROM d.day)::integer - 1) AS week,
      count(*)::integer AS days
    FROM stock_out_spells(
      ARRAY(SELECT site_code FROM cards ORDER BY site_code, commodity_code),
      ARRAY(SELECT commodity_code FROM cards ORDER BY site_code, commodity_code),
      ARRAY(SELECT first_week FROM cards ORDER BY site_code, commodity_code), p_last_week + 6) o
    CROSS JOIN LATERAL generate_series(lower(o.spell), upper(o.spell) - 1, interval '1 day') d (day)
    GROUP BY 1, 2, 3
  )
  SELECT k.site_code, k.commodity_code, k.week, k.dispensed, k.stocked_out_days, 0, true
  FROM kept k WHERE k.in_prefix
  UNION ALL
  SELECT c.site_code, c.commodity_code, w.week, coalesce(g.dispensed, 0), coalesce(o.days, 0), 7 - w.closed, false
  FROM cards c
  CROSS JOIN LATERAL (
    SELECT c.first_week + 7 * i AS week,
      greatest(0, least(7, (SELECT programme_today()) - (c.first_week + 7 * i))) AS closed
    FROM generate_series(0, (p_last_week - c.first_week) / 7) i
  ) w
  LEFT JOIN given g ON g.site_code = c.site_code AND g.commodity_code = c.commodity_code AND g.week = w.week
  LEFT JOIN out_weeks o ON o.site_code = c.site_code AND o.commodity_code = c.commodity_code AND o.week = w.week
  ORDER BY 1, 2, 3
$$;

-- Keeps the weeks from p_first_week to p_last_week (or the last keepable) of the cards of p_sites (NULL: all) that
-- are not kept yet, and returns how many it wrote; 0 without writing when another keeper is at work (or a back-dated
-- entry is being booked), so a caller never waits: it computes what is not kept.
CREATE OR REPLACE FUNCTION stock_weeks_keep(p_first_week date, p_last_week date, p_sites text[] DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_written bigint;
BEGIN
  p_last_week := least(p_last_week, stock_weeks_last_keepable());
  -- Under a snapshot taken before the lock (repeatable read, serializable), an entry committed just before could be
  -- missed without a mark: keep only in read committed, where the statements below see it.
  IF p_last_week < p_first_week OR current_setting('transaction_isolation') <> 'read committed'
    OR NOT pg_try_advisory_xact_lock(hashtext('kpstock.stock_weeks')) THEN
    RETURN 0;
  END IF;
  -- The marks left while an earlier keeper worked, and the weeks they mark, go together (one statement, one
  -- snapshot): what is computed below sees those entries.
  WITH cleared AS (
    DELETE FROM stock_weeks_changed RETURNING site_code, commodity_code, day
  )
  DELETE FROM stock_weeks w
  USING (SELECT site_code, commodity_code, min(day) AS day FROM cleared GROUP BY 1, 2) c
  WHERE w.site_code = c.site_code AND w.commodity_code = c.commodity_code
    AND w.week >= c.day - (extract(isodow FROM c.day)::integer - 1);

  INSERT INTO stock_weeks (site_code, commodity_code, week, dispensed, stocked_out_days)
  SELECT w.site_code, w.commodity_code, w.week, w.dispensed, w.stocked_out_days
  FROM stock_weeks(p_first_week, p_last_week, p_sites) w
  WHERE NOT w.kept
  -- A week kept after a gap is still right (an entry that changed it dropped it), and updating it would lock it
  -- against a writer for the rest of this transaction.
  ON CONFLICT (site_code, commodity_code, week) DO NOTHING;
  GET DIAGNOSTICS v_written = ROW_COUNT;
  RETURN v_written;
END $$;

-- Called by ledger_book for every batch it books (but the everyday dispense, which is today's), with each card it
-- books and the earliest day it books there: the kept weeks of a card booked before today, from that day's week on,
-- are no longer right. A card booked today only is left alone: its week is kept at the earliest a day after it
-- closes, by which time this entry has committed (unless its transaction outlived a whole day).
CREATE OR REPLACE FUNCTION stock_weeks_forget(p_sites text[], p_commodities text[], p_days date[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_today date := programme_today();
BEGIN
  IF NOT EXISTS (SELECT FROM unnest(p_days) d WHERE d < v_today) THEN
    RETURN;
  END IF;
  IF NOT pg_try_advisory_xact_lock_shared(hashtext('kpstock.stock_weeks')) THEN
    -- A keeper is at work, perhaps from a snapshot without this entry: mark the days it may keep wrong.
    INSERT INTO stock_weeks_changed (site_code, commodity_code, day)
    SELECT c.site, c.commodity, c.day FROM unnest(p_sites, p_commodities, p_days) c (site, commodity, day)
    WHERE c.day < v_today;
  END IF;
  DELETE FROM stock_weeks w
  USING unnest(p_sites, p_commodities, p_days) c (site, commodity, day)
  WHERE c.day < v_today AND w.site_code = c.site AND w.commodity_code = c.commodity
    AND w.week >= c.day - (extract(isodow FROM c.day)::integer - 1);
END $$;
