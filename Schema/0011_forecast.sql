-- The weekly forecast's runs and lines (../shared/domain.md, "Forecast of weekly need"). A run is written once, by
-- forecast_run (Schema/functions/81_forecast_run.sql), and never changed: it keeps every setting and norm it used and
-- the weekly inputs it read, so `forecast explain` shows a past run as it was computed even after back-dated entries
-- or new norms. Re-running a week makes a new run; the latest run of a week is the one orders use.

-- Holt's smoothing constants for the outreach projection.
ALTER TABLE programme_settings
  ADD COLUMN forecast_alpha numeric(4, 3) NOT NULL DEFAULT 0.5
    CONSTRAINT programme_settings_forecast_alpha CHECK (forecast_alpha > 0 AND forecast_alpha <= 1),
  ADD COLUMN forecast_beta numeric(4, 3) NOT NULL DEFAULT 0.2
    CONSTRAINT programme_settings_forecast_beta CHECK (forecast_beta >= 0 AND forecast_beta <= 1);

-- The method a commodity's need is taken from, where it is not its category's default (forecast_method_of).
CREATE TABLE forecast_methods (
  commodity_code text PRIMARY KEY REFERENCES commodities (code),
  method text NOT NULL
    CONSTRAINT forecast_methods_method CHECK (method IN ('outreach', 'consumption', 'max', 'clients', 'auto')),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user
);

CREATE TABLE forecast_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The target week, as its Monday.
  week date NOT NULL CONSTRAINT forecast_runs_week_monday CHECK (extract(isodow FROM week) = 1),
  -- The scope: a county, a site, or neither (national).
  county_code char(3) REFERENCES counties (code),
  site_code text REFERENCES sites (code),
  -- α, β, wastage, tolerance, the windows and the method of each commodity, as the run used them.
  settings jsonb NOT NULL,
  -- The programme's day the run was made on: the data it read were those entered up to then.
  made_on date NOT NULL,
  made_at timestamptz NOT NULL DEFAULT now(),
  made_by text NOT NULL DEFAULT session_user,
  CONSTRAINT forecast_runs_one_scope CHECK (county_code IS NULL OR site_code IS NULL)
);
CREATE INDEX forecast_runs_week ON forecast_runs (week, id);

-- One line per site and commodity: the need of week W by each method, the one used, and the inputs behind them.
-- Quantities are base units; NULL is unknown, never zero.
CREATE TABLE forecast_lines (
  run_id bigint NOT NULL REFERENCES forecast_runs (id),
  site_code text NOT NULL REFERENCES sites (code),
  commodity_code text NOT NULL REFERENCES commodities (code),
  -- The commodity's method setting, and the method whose figure is the own need (for max and auto, the one chosen).
  method text NOT NULL,
  chosen_method text CONSTRAINT forecast_lines_chosen CHECK (chosen_method IN ('outreach', 'consumption', 'clients',
    'naive', 'none')),
  -- need = own_need + supplied_need (the echelon need of the sites this one supplies).
  need bigint,
  own_need bigint,
  supplied_need bigint NOT NULL,
  outreach_need bigint,
  consumption_need bigint,
  client_need bigint,
  naive_need bigint,
  wape_outreach numeric,
  wape_consumption numeric,
  wape_naive numeric,
  flags text[] NOT NULL,
  -- Where the site gets this commodity from (its supply line at the time of the run).
  supplier_code text REFERENCES sites (code),
  -- Weeks W−16 … W−1: units dispensed, days closed without usable stock, days not closed yet when the run was made
  -- (in the week that was running), and the adjusted N (NULL: no information).
  dispensed bigint[] NOT NULL,
  stocked_out_days integer[] NOT NULL,
  unclosed_days integer[] NOT NULL,
  adjusted bigint[] NOT NULL,
  -- The back-test, origins W−8 … W−1: each method's forecast from the data before the origin.
  backtest_outreach bigint[] NOT NULL,
  backtest_consumption bigint[] NOT NULL,
  backtest_naive bigint[] NOT NULL,
  PRIMARY KEY (run_id, site_code, commodity_code)
);

-- Each population's part of a line's outreach-based need: the weekly series projected (people reached, or the need
-- peers reported, which replaces reach × norm), the size cap, and the norm in force with where it came from.
CREATE TABLE forecast_line_populations (
  run_id bigint NOT NULL,
  site_code text NOT NULL,
  commodity_code text NOT NULL,
  population_code text NOT NULL REFERENCES populations (code),
  basis text NOT NULL CONSTRAINT forecast_line_populations_basis CHECK (basis IN ('reach', 'peer_need')),
  -- Weeks W−12 … W−1, NULL where nothing was reported.
  series numeric[] NOT NULL,
  projection numeric NOT NULL,
  -- The cap a size estimate put on the projection (reach only), and whose estimate it was: 'site' or 'county'.
  size_cap numeric,
  cap_source text CONSTRAINT forecast_line_populations_cap_source CHECK (cap_source IN ('site', 'county')),
  norm numeric,
  norm_scope text CONSTRAINT forecast_line_populations_norm_scope CHECK (norm_scope IN ('site', 'county',
    'national')),
  norm_effective_from date,
  norm_source text,
  -- The population's weekly need before wastage: capped projection × norm, or the projected peer need.
  need numeric NOT NULL,
  PRIMARY KEY (run_id, site_code, commodity_code, population_code),
  FOREIGN KEY (run_id, site_code, commodity_code) REFERENCES forecast_lines (run_id, site_code, commodity_code)
);
