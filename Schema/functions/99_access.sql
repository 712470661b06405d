-- What each daily role may touch (docs/security.md), applied last, after every table and function exists. Re-applied
-- whenever this file changes; a table added by a later migration is added here (SchemaLayoutTests checks that every
-- table is named below).
--
-- Nobody but the owner writes the ledger, the methadone register, forecasts or orders: the functions that do
-- (SECURITY DEFINER, owned by kp_owner) check who is asking. Admins write reference data, settings and norms
-- directly. Row-level security keeps every other read to the sites of the person's grants (access_sites).

-- Reference data and settings: everyone reads, admins change.
GRANT SELECT ON counties, sub_counties, site_kinds, sites, commodity_categories, commodities, populations, norms,
  supply_lines, programme_settings, stock_reasons, lots, coverage_targets, forecast_methods, mat_settings,
  schema_migrations, schema_repeatables, site_norms, supply_line_depths, supply_line_levels,
  forecast_commodity_methods
  TO kp_admin, kp_pharmacist, kp_logistics, kp_county_viewer;
GRANT INSERT, UPDATE, DELETE ON counties, sub_counties, site_kinds, sites, commodity_categories, commodities,
  populations, norms, supply_lines, programme_settings, stock_reasons, coverage_targets, forecast_methods,
  mat_settings, size_estimates, size_estimates_replaced
  TO kp_admin;

-- Stock, forecasts and orders: every daily role reads those of its sites. A dispense's client code is client-level:
-- logistics officers and county viewers read every column of stock_events but that one.
GRANT SELECT ON stock_balances, stock_lot_daily, stock_cards, stock_weeks, stock_weeks_changed, stock_counts,
  stock_count_lines, transfers, stock_daily, stock_weeks_valid, forecast_runs, forecast_lines,
  forecast_line_populations, orders, order_lines, order_line_lots, order_warnings, order_changes
  TO kp_admin, kp_pharmacist, kp_logistics, kp_county_viewer;
GRANT SELECT ON stock_events TO kp_admin, kp_pharmacist;
DO $$
BEGIN
  EXECUTE format('GRANT SELECT (%s) ON stock_events TO kp_logistics, kp_county_viewer', (
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
    WHERE a.attrelid = 'stock_events'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'client_uic'));
END $$;

-- Outreach counts and size estimates are counts of people, often small: those who record and plan with them read
-- them; a county viewer sees them only through the reports, with small numbers withheld.
GRANT SELECT ON outreach_reach, outreach_reach_replaced, peer_need, peer_need_replaced, size_estimates,
  size_estimates_replaced, outreach_weekly
  TO kp_admin, kp_pharmacist, kp_logistics;

-- The methadone register is client-level: pharmacists of the client's sites and admins only.
GRANT SELECT ON mat_clients, mat_episodes, mat_exits, mat_prescriptions, mat_dosing_sites, mat_doses,
  mat_dose_returns, mat_deliveries, mat_delivery_doses, mat_day_closes
  TO kp_admin, kp_pharmacist;

-- Grants are read through access_users and access_sites; every change to them is in the audit trail.
GRANT SELECT ON access_grants TO kp_admin;
SELECT audit_track('access_grants', p_key => ARRAY['user_name', 'site_code', 'county_code']);

-- The audit trail (written by audit_record, with the owner's rights): admins read all of it, pharmacists what
-- happened at their sites and to reference data. Logistics officers and viewers do not read it, since it shows who
-- dosed methadone clients.
GRANT SELECT ON audit_log TO kp_admin, kp_pharmacist;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS access_read ON audit_log;
CREATE POLICY access_read ON audit_log FOR SELECT USING ((SELECT access_sites('read')) IS NULL
  OR site_code = ANY ((SELECT access_sites('read'))::text[])
  OR (site_code IS NULL AND county_code IS NULL AND table_name <> 'access_grants'));

-- Views read with the rights of whoever reads them, so their rows pass the same policies as the tables'.
ALTER VIEW stock_daily SET (security_invoker = true);
ALTER VIEW stock_weeks_valid SET (security_invoker = true);
ALTER VIEW outreach_weekly SET (security_invoker = true);
ALTER VIEW site_norms SET (security_invoker = true);
ALTER VIEW supply_line_depths SET (security_invoker = true);
ALTER VIEW supply_line_levels SET (security_invoker = true);
ALTER VIEW forecast_commodity_methods SET (security_invoker = true);

-- One read policy per table: its rows are those of a site (either site column named) the person may do the
-- capability at, or of a county (its county column) where they may at one site or more.
-- Policies evaluate access_sites once per statement (an InitPlan), not once per row.
DO $$
DECLARE
  v_table record;
BEGIN
  FOR v_table IN
    SELECT * FROM (VALUES
      ('stock_events', 'site_code', NULL::text, 'read', NULL::text),
      ('stock_balances', 'site_code', NULL, 'read', NULL),
      ('stock_lot_daily', 'site_code', NULL, 'read', NULL), ('stock_cards', 'site_code', NULL, 'read', NULL),
      ('stock_weeks', 'site_code', NULL, 'read', NULL), ('stock_weeks_changed', 'site_code', NULL, 'read', NULL),
      ('stock_counts', 'site_code', NULL, 'read', NULL), ('stock_count_lines', 'site_code', NULL, 'read', NULL),
      ('transfers', 'from_site_code', 'to_site_code', 'read', NULL),
      ('forecast_lines', 'site_code', NULL, 'read', NULL),
      ('forecast_line_populations', 'site_code', NULL, 'read', NULL),
      ('orders', 'site_code', 'supplier_code', 'read', NULL), ('order_warnings', 'site_code', NULL, 'read', NULL),
      ('outreach_reach', 'site_code', NULL, 'read', NULL),
      ('outreach_reach_replaced', 'site_code', NULL, 'read', NULL),
      ('peer_need', 'site_code', NULL, 'read', NULL), ('peer_need_replaced', 'site_code', NULL, 'read', NULL),
      ('mat_doses', 'site_code', NULL, 'clients', NULL), ('mat_dose_returns', 'site_code', NULL, 'clients', NULL),
      ('mat_day_closes', 'site_code', NULL, 'clients', NULL),
      ('mat_dosing_sites', 'site_code', NULL, 'clients', NULL),
      ('mat_deliveries', 'from_site', 'to_site', 'clients', NULL),
      ('forecast_runs', 'site_code', NULL, 'read', 'county_code'),
      ('size_estimates', 'site_code', NULL, 'read', 'county_code'),
      ('size_estimates_replaced', 'site_code', NULL, 'read', 'county_code')
    ) t (name, site, other_site, capability, county)
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', v_table.name);
    EXECUTE format('DROP POLICY IF EXISTS access_read ON %I', v_table.name);
    EXECUTE format('CREATE POLICY access_read ON %I FOR SELECT USING ((SELECT access_sites(%L)) IS NULL '
      'OR %I = ANY ((SELECT access_sites(%L))::text[])%s%s)', v_table.name, v_table.capability, v_table.site,
      v_table.capability, CASE WHEN v_table.other_site IS NOT NULL THEN
        format(' OR %I = ANY ((SELECT access_sites(%L))::text[])', v_table.other_site, v_table.capability) ELSE '' END,
      CASE WHEN v_table.county IS NOT NULL THEN format(' OR %I IN (SELECT s.county_code FROM sites s '
        'WHERE s.code = ANY ((SELECT access_sites(%L))::text[]))', v_table.county, v_table.capability) ELSE '' END);
  END LOOP;
END $$;

-- A methadone episode is its clinic's, and that of the sites the client doses at (mat_dosing_sites has its own policy
-- above, so this one does not read itself through it).
ALTER TABLE mat_episodes ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS access_read ON mat_episodes;
CREATE POLICY access_read ON mat_episodes FOR SELECT USING ((SELECT access_sites('clients')) IS NULL
  OR clinic_code = ANY ((SELECT access_sites('clients'))::text[]) OR id IN (SELECT d.episode_id FROM mat_dosing_sites d));

-- Tables whose place is another row's: an order's lines, a delivery's doses, an episode's client, exit and
-- prescriptions. Their policies read the parent table, whose own policy applies.
DO $$
DECLARE
  v_table record;
BEGIN
  FOR v_table IN
    SELECT * FROM (VALUES
      ('order_lines', 'order_id', 'orders', 'id'), ('order_line_lots', 'order_id', 'orders', 'id'),
      ('order_changes', 'order_id', 'orders', 'id'), ('mat_delivery_doses', 'delivery_id', 'mat_deliveries', 'id'),
      ('mat_clients', 'uic', 'mat_episodes', 'uic'), ('mat_exits', 'episode_id', 'mat_episodes', 'id'),
      ('mat_prescriptions', 'episode_id', 'mat_episodes', 'id')
    ) t (name, parent_column, parent, parent_key)
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', v_table.name);
    EXECUTE format('DROP POLICY IF EXISTS access_read ON %I', v_table.name);
    EXECUTE format('CREATE POLICY access_read ON %I FOR SELECT USING (%I IN (SELECT p.%I FROM %I p))', v_table.name,
      v_table.parent_column, v_table.parent_key, v_table.parent);
  END LOOP;
END $$;

-- Norms and supply lines are the programme's settings, but a site's or a county's own rows are that place's: people
-- read the national norms and those of their places, and the supply lines their sites are on, either end.
ALTER TABLE norms ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS access_read ON norms;
CREATE POLICY access_read ON norms FOR SELECT USING ((SELECT access_sites('read')) IS NULL
  OR (site_code IS NULL AND county_code IS NULL) OR site_code = ANY ((SELECT access_sites('read'))::text[])
  OR county_code IN (SELECT s.county_code FROM sites s WHERE s.code = ANY ((SELECT access_sites('read'))::text[])));
ALTER TABLE supply_lines ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS access_read ON supply_lines;
CREATE POLICY access_read ON supply_lines FOR SELECT USING ((SELECT access_sites('read')) IS NULL
  OR site_code = ANY ((SELECT access_sites('read'))::text[])
  OR supplier_code = ANY ((SELECT access_sites('read'))::text[]));

-- Admins write these directly (reference data, seeds); the read policies let them read, these write.
DO $$
DECLARE
  v_table text;
BEGIN
  FOREACH v_table IN ARRAY ARRAY['size_estimates', 'size_estimates_replaced', 'norms', 'supply_lines'] LOOP
    EXECUTE format('DROP POLICY IF EXISTS access_admin ON %I', v_table);
    EXECUTE format('CREATE POLICY access_admin ON %I FOR ALL TO kp_admin USING (true) WITH CHECK (true)', v_table);
  END LOOP;
END $$;
