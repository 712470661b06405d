-- Functions and triggers of the reference tables (Schema/0001_reference.sql). Files in Schema/functions/ are
-- applied in name order, with CREATE OR REPLACE, whenever one of them changes: each function is defined here once.

-- The programme's "today" in its time zone, so back-dating windows and history agree on where a day ends. `SET
-- kpstock.today = '2025-01-06'` moves it, so `kpstock simulate` (and tests) write history as if it were that day,
-- through the same rules as real entries. An expression without a query, so the planner inlines it into the
-- statement that reads programme_settings anyway (ledger_book's first): no call of its own on the hot path.
--
-- Only the owner may move it (access_clock): anyone else who sets it is refused rather than let post outside the
-- back-dating window.
CREATE OR REPLACE FUNCTION programme_day(p_time_zone text) RETURNS date LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN current_setting('kpstock.today', true) > '' THEN access_clock()
    ELSE (now() AT TIME ZONE p_time_zone)::date END
$$;


-- programme_day for callers that have not read the settings. plpgsql keeps a cached plan; a SQL function with a
-- query in it would be planned at every call.
CREATE OR REPLACE FUNCTION programme_today() RETURNS date LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT programme_day(time_zone) FROM programme_settings);
END $$;

-- A time zone PostgreSQL does not know would break every "today" the programme computes; once stock is recorded,
-- every event's day was decided in the current zone, so it can no longer change.
CREATE OR REPLACE FUNCTION programme_settings_check_time_zone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = NEW.time_zone) THEN
    RAISE EXCEPTION 'unknown time zone %', NEW.time_zone USING ERRCODE = 'check_violation',
      CONSTRAINT = 'programme_settings_time_zone';
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.time_zone IS DISTINCT FROM OLD.time_zone AND EXISTS (SELECT 1 FROM stock_balances) THEN
    RAISE EXCEPTION 'stock events exist' USING ERRCODE = 'check_violation',
      CONSTRAINT = 'programme_settings_time_zone_frozen';
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER programme_settings_time_zone BEFORE INSERT OR UPDATE ON programme_settings
  FOR EACH ROW EXECUTE FUNCTION programme_settings_check_time_zone();

-- A supply line that leads back to its own site would make replenishment and echelon need loop forever.
-- The transaction-level lock makes concurrent changes take turns, so two of them cannot each pass the
-- check and together close a loop.
CREATE OR REPLACE FUNCTION supply_lines_check_loop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('kpstock.supply_lines'));
  IF EXISTS (
    WITH RECURSIVE upstream (site_code) AS (
      SELECT NEW.supplier_code
      UNION
      SELECT s.supplier_code FROM supply_lines s JOIN upstream u ON s.site_code = u.site_code
      WHERE s.category = NEW.category
    )
    SELECT 1 FROM upstream WHERE site_code = NEW.site_code
  ) THEN
    RAISE EXCEPTION 'supply line % -> % for % would make a loop', NEW.supplier_code, NEW.site_code, NEW.category
      USING ERRCODE = 'check_violation', CONSTRAINT = 'supply_lines_no_loop';
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER supply_lines_no_loop BEFORE INSERT OR UPDATE ON supply_lines
  FOR EACH ROW EXECUTE FUNCTION supply_lines_check_loop();

-- A site's dates bound its ledger: it cannot close while it holds stock (the stock would be stranded) or before
-- its last recorded movement, nor open after its first. ledger_book refuses movements outside them.
CREATE OR REPLACE FUNCTION sites_check_dates() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_held bigint;
BEGIN
  IF NEW.closed_on IS NOT NULL AND NEW.closed_on IS DISTINCT FROM OLD.closed_on THEN
    SELECT sum(on_hand) INTO v_held FROM stock_balances WHERE site_code = NEW.code AND on_hand > 0;
    IF v_held > 0 THEN
      RAISE EXCEPTION 'site % still holds % units of stock', NEW.code, v_held
        USING ERRCODE = 'check_violation', CONSTRAINT = 'sites_closed_with_stock';
    END IF;
    IF EXISTS (SELECT 1 FROM stock_lot_daily WHERE site_code = NEW.code AND day > NEW.closed_on) THEN
      RAISE EXCEPTION 'site % has stock movements after %', NEW.code, NEW.closed_on
        USING ERRCODE = 'check_violation', CONSTRAINT = 'sites_closed_before_movements';
    END IF;
  END IF;
  IF NEW.opened_on IS NOT NULL AND NEW.opened_on IS DISTINCT FROM OLD.opened_on
    AND EXISTS (SELECT 1 FROM stock_lot_daily WHERE site_code = NEW.code AND day < NEW.opened_on) THEN
    RAISE EXCEPTION 'site % has stock movements before %', NEW.code, NEW.opened_on
      USING ERRCODE = 'check_violation', CONSTRAINT = 'sites_opened_after_movements';
  END IF;
  -- Outreach reports (Schema/0009_outreach.sql) are bound the same way: a week in which the site was open, at a DICE
  -- or a satellite.
  IF (NEW.opened_on, NEW.closed_on, NEW.kind) IS DISTINCT FROM (OLD.opened_on, OLD.closed_on, OLD.kind) AND EXISTS (
      SELECT 1 FROM outreach_reach r WHERE r.site_code = NEW.code
        AND (r.week + 6 < NEW.opened_on OR r.week > NEW.closed_on OR NEW.kind NOT IN ('dice', 'satellite'))
      UNION ALL
      SELECT 1 FROM peer_need r WHERE r.site_code = NEW.code
        AND (r.week + 6 < NEW.opened_on OR r.week > NEW.closed_on OR NEW.kind NOT IN ('dice', 'satellite'))) THEN
    RAISE EXCEPTION 'site % has outreach reports that its new dates or kind would leave outside it', NEW.code
      USING ERRCODE = 'check_violation', CONSTRAINT = 'sites_outreach_outside';
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER sites_check_dates BEFORE UPDATE OF opened_on, closed_on, kind ON sites
  FOR EACH ROW EXECUTE FUNCTION sites_check_dates();

-- Once events refer to a commodity, what its quantities mean is fixed.
CREATE OR REPLACE FUNCTION commodities_freeze_meaning() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.base_unit, NEW.lot_tracked, NEW.controlled) IS DISTINCT FROM (OLD.base_unit, OLD.lot_tracked, OLD.controlled)
    AND EXISTS (SELECT 1 FROM stock_balances WHERE commodity_code = OLD.code) THEN
    RAISE EXCEPTION 'commodity % has stock events', OLD.code
      USING ERRCODE = 'check_violation', CONSTRAINT = 'commodities_frozen_by_ledger';
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER commodities_freeze_meaning BEFORE UPDATE ON commodities
  FOR EACH ROW EXECUTE FUNCTION commodities_freeze_meaning();

-- Events have no foreign key to populations (see stock_events): a population dispensed to stays.
CREATE OR REPLACE FUNCTION populations_keep_used() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (TG_OP = 'DELETE' OR NEW.code IS DISTINCT FROM OLD.code)
    AND EXISTS (SELECT 1 FROM stock_events WHERE population_code = OLD.code) THEN
    RAISE EXCEPTION 'population % has stock events', OLD.code
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'populations_used_by_ledger';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE OR REPLACE TRIGGER populations_keep_used BEFORE DELETE OR UPDATE OF code ON populations
  FOR EACH ROW EXECUTE FUNCTION populations_keep_used();

-- What a kpstock process needs to know before its first command, in one round trip: the checksums of what has been
-- applied (the process compares them with the files it carries), whether reference data is loaded, and the session
-- moved to the programme's time zone, so any `now()::date` in SQL is the programme's day.
-- And whether the session acts for the schema owner (a superuser, or a member of kp_owner), which daily work refuses.
DROP FUNCTION IF EXISTS kpstock_session_start();
CREATE OR REPLACE FUNCTION kpstock_session_start() RETURNS TABLE (
  migrations text, repeatables text, reference_loaded boolean, acts_as_owner boolean
) LANGUAGE sql AS $$
  SELECT (SELECT string_agg(name || '=' || checksum, E'\n' ORDER BY name COLLATE "C") FROM schema_migrations),
    (SELECT string_agg(name || '=' || checksum, E'\n' ORDER BY name COLLATE "C") FROM schema_repeatables),
    EXISTS (SELECT 1 FROM counties) AND set_config('TimeZone', (SELECT time_zone FROM programme_settings), false) <> '',
    access_is_owner()
$$;

-- The scope a forecast or a report is asked for: a county, a site, or neither (everything). Refuses both at once and
-- an unknown county or site, naming the field. The one wording of these refusals.
CREATE OR REPLACE FUNCTION scope_check(p_county char(3), p_site text) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_county IS NOT NULL AND p_site IS NOT NULL THEN
    PERFORM ledger_refuse('county', 'give a county or a site, not both');
  ELSIF p_county IS NOT NULL AND NOT EXISTS (SELECT FROM counties c WHERE c.code = p_county) THEN
    PERFORM ledger_refuse('county', format('no county %s', p_county));
  ELSIF p_site IS NOT NULL AND NOT EXISTS (SELECT FROM sites s WHERE s.code = p_site) THEN
    PERFORM ledger_refuse('site', format('no site %s', p_site));
  END IF;
END $$;
