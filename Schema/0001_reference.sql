-- Reference data: the places, things, people and rules every stock movement, forecast and report
-- refers to. Codes are upper-case text keys so they read the same in the CLI, in CSV files and in SQL.

CREATE TABLE counties (
  code char(3) PRIMARY KEY CHECK (code ~ '^[0-9]{3}$'),
  name text NOT NULL UNIQUE CHECK (btrim(name) <> '')
);

CREATE TABLE sub_counties (
  county_code char(3) NOT NULL REFERENCES counties (code),
  name text NOT NULL CHECK (btrim(name) <> ''),
  PRIMARY KEY (county_code, name)
);

CREATE TABLE site_kinds (
  kind text PRIMARY KEY,
  description text NOT NULL
);
INSERT INTO site_kinds (kind, description) VALUES
  ('store', 'county or regional store supplying other sites'),
  ('dice', 'drop-in centre: clinic, safe space and dispensing point'),
  ('satellite', 'outreach point attached to a drop-in centre'),
  ('mat_clinic', 'medically assisted therapy (methadone) clinic'),
  ('prison', 'prison where clients are dosed or supplied'),
  ('hospital', 'hospital where admitted clients are dosed');

-- Every site-scoped table that follows carries a site_code column, so row-level security by site and
-- county, and distribution by site, can be added without reshaping tables.
CREATE TABLE sites (
  code text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  name text NOT NULL CHECK (btrim(name) <> ''),
  kind text NOT NULL REFERENCES site_kinds (kind),
  county_code char(3) NOT NULL REFERENCES counties (code),
  sub_county text,
  dhis2_uid text UNIQUE CHECK (dhis2_uid ~ '^[A-Za-z][A-Za-z0-9]{10}$'),
  opened_on date,
  closed_on date,
  FOREIGN KEY (county_code, sub_county) REFERENCES sub_counties (county_code, name),
  CONSTRAINT sites_closed_after_opened CHECK (closed_on IS NULL OR opened_on IS NULL OR closed_on >= opened_on)
);
CREATE INDEX sites_county ON sites (county_code);

CREATE TABLE commodity_categories (
  category text PRIMARY KEY,
  description text NOT NULL
);
INSERT INTO commodity_categories (category, description) VALUES
  ('condom', 'male and female condoms'),
  ('lubricant', 'water-based lubricant'),
  ('injecting_equipment', 'needle-and-syringe sets, swabs and other NSP kit'),
  ('opioid_agonist', 'methadone and other opioid agonist therapy'),
  ('overdose_reversal', 'naloxone');

-- Quantities are integers in the base unit (piece, mg); packs only matter when ordering.
CREATE TABLE commodities (
  code text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  name text NOT NULL CHECK (btrim(name) <> ''),
  category text NOT NULL REFERENCES commodity_categories (category),
  base_unit text NOT NULL CHECK (base_unit IN ('piece', 'mg')),
  pack_size integer NOT NULL CHECK (pack_size > 0),
  pack_rounding_threshold integer NOT NULL CHECK (pack_rounding_threshold >= 0),
  lot_tracked boolean NOT NULL DEFAULT false,
  controlled boolean NOT NULL DEFAULT false,
  CONSTRAINT commodities_threshold_below_pack CHECK (pack_rounding_threshold < pack_size),
  CONSTRAINT commodities_controlled_are_lot_tracked CHECK (NOT controlled OR lot_tracked)
);

CREATE TABLE populations (
  code text PRIMARY KEY CHECK (code ~ '^[A-Z]{2,12}$'),
  name text NOT NULL
);

-- A norm is dated: setting a new one adds a row from its effective date, so a forecast for any past
-- week can be recomputed with the norm that applied then.
CREATE TABLE norms (
  commodity_code text NOT NULL REFERENCES commodities (code),
  population_code text NOT NULL REFERENCES populations (code),
  effective_from date NOT NULL,
  quantity_per_week numeric(12, 4) NOT NULL CHECK (quantity_per_week >= 0),
  source text NOT NULL CHECK (btrim(source) <> ''),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  PRIMARY KEY (commodity_code, population_code, effective_from)
);

-- One supplier per site and commodity category; the max-min parameters of USAID|DELIVER §4.5-4.6.
CREATE TABLE supply_lines (
  site_code text NOT NULL REFERENCES sites (code),
  category text NOT NULL REFERENCES commodity_categories (category),
  supplier_code text NOT NULL REFERENCES sites (code),
  lead_time_days integer NOT NULL CHECK (lead_time_days >= 0 AND lead_time_days <= 365),
  review_period_days integer NOT NULL CHECK (review_period_days > 0 AND review_period_days <= 365),
  safety_stock_weeks numeric(6, 2) NOT NULL CHECK (safety_stock_weeks >= 0),
  variant text NOT NULL CHECK (variant IN ('forced', 'standard', 'continuous')),
  emergency_order_point_weeks numeric(6, 2) NOT NULL DEFAULT 1 CHECK (emergency_order_point_weeks >= 0),
  PRIMARY KEY (site_code, category),
  CONSTRAINT supply_lines_not_self CHECK (supplier_code <> site_code)
);
CREATE INDEX supply_lines_supplier ON supply_lines (supplier_code);

-- Exactly one row: settings every capability reads.
CREATE TABLE programme_settings (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  time_zone text NOT NULL DEFAULT 'Africa/Nairobi',
  wastage_percent numeric(5, 2) NOT NULL DEFAULT 10 CHECK (wastage_percent >= 0 AND wastage_percent <= 100),
  forecast_tolerance_percent numeric(5, 2) NOT NULL DEFAULT 20
    CHECK (forecast_tolerance_percent >= 0 AND forecast_tolerance_percent <= 100),
  backdating_window_days integer NOT NULL DEFAULT 60
    CHECK (backdating_window_days >= 0 AND backdating_window_days <= 3660)
);

INSERT INTO programme_settings DEFAULT VALUES;
