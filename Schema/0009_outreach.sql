-- What peer educators report, week by week: people reached and newly enrolled per site, population and (when the
-- report is per peer educator or hotspot) educator and hotspot type; the need peers report from their calendars; and
-- how many people a population counts per area and year. The weekly forecast reads them (roadmap: forecast). Rows are
-- written only through outreach_import_apply (Schema/functions/70_outreach.sql), which a single `outreach record`
-- goes through too; a correction replaces a row and keeps what it replaced, with who replaced it and when.
--
-- A week is stored as its Monday: `2026-W47` is 2026-11-16. An empty worker or hotspot is a report that names
-- none, so every row has a plain key; rows of one site, week and population are summed for the forecast.

CREATE TABLE outreach_reach (
  site_code text NOT NULL REFERENCES sites (code),
  week date NOT NULL CONSTRAINT outreach_reach_week_monday CHECK (extract(isodow FROM week) = 1),
  population_code text NOT NULL REFERENCES populations (code),
  worker_code text NOT NULL DEFAULT ''
    CONSTRAINT outreach_reach_worker CHECK (worker_code = '' OR worker_code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  hotspot text NOT NULL DEFAULT '' CONSTRAINT outreach_reach_hotspot CHECK (hotspot IN ('', 'street', 'bar',
    'brothel', 'home', 'injecting_den', 'beach', 'virtual', 'other')),
  reached integer NOT NULL CONSTRAINT outreach_reach_reached CHECK (reached >= 0),
  new_enrolments integer NOT NULL CONSTRAINT outreach_reach_new CHECK (new_enrolments >= 0),
  -- The `key` of the file row or command it came from, when it named one: where a figure came from, for an auditor.
  source_key text CONSTRAINT outreach_reach_source_key CHECK (length(source_key) BETWEEN 1 AND 100),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  PRIMARY KEY (site_code, week, population_code, worker_code, hotspot)
);
CREATE INDEX outreach_reach_week ON outreach_reach (week);

-- Every version of a reach row that a correction replaced, as it was, and who replaced it when.
CREATE TABLE outreach_reach_replaced (
  site_code text NOT NULL,
  week date NOT NULL,
  population_code text NOT NULL,
  worker_code text NOT NULL,
  hotspot text NOT NULL,
  reached integer NOT NULL,
  new_enrolments integer NOT NULL,
  source_key text,
  recorded_at timestamptz NOT NULL,
  recorded_by text NOT NULL,
  replaced_at timestamptz NOT NULL DEFAULT now(),
  replaced_by text NOT NULL DEFAULT session_user
);
CREATE INDEX outreach_reach_replaced_row ON outreach_reach_replaced (site_code, week, population_code);

-- Need reported by peers from their calendars, per site, week, population and commodity, in base units.
CREATE TABLE peer_need (
  site_code text NOT NULL REFERENCES sites (code),
  week date NOT NULL CONSTRAINT peer_need_week_monday CHECK (extract(isodow FROM week) = 1),
  population_code text NOT NULL REFERENCES populations (code),
  commodity_code text NOT NULL REFERENCES commodities (code),
  quantity bigint NOT NULL CONSTRAINT peer_need_quantity CHECK (quantity >= 0),
  source_key text CONSTRAINT peer_need_source_key CHECK (length(source_key) BETWEEN 1 AND 100),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  PRIMARY KEY (site_code, week, population_code, commodity_code)
);

CREATE TABLE peer_need_replaced (
  site_code text NOT NULL,
  week date NOT NULL,
  population_code text NOT NULL,
  commodity_code text NOT NULL,
  quantity bigint NOT NULL,
  source_key text,
  recorded_at timestamptz NOT NULL,
  recorded_by text NOT NULL,
  replaced_at timestamptz NOT NULL DEFAULT now(),
  replaced_by text NOT NULL DEFAULT session_user
);

-- People in a population in an area and year, and where the figure comes from. The area is a site or a county: a
-- county's estimate is spread over its reporting sites in proportion to their reach.
CREATE TABLE size_estimates (
  site_code text REFERENCES sites (code),
  county_code char(3) REFERENCES counties (code),
  population_code text NOT NULL REFERENCES populations (code),
  year integer NOT NULL CONSTRAINT size_estimates_year CHECK (year BETWEEN 1990 AND 2200),
  size integer NOT NULL CONSTRAINT size_estimates_size CHECK (size >= 0),
  source text NOT NULL CONSTRAINT size_estimates_source CHECK (btrim(source) <> '' AND length(source) <= 200),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  CONSTRAINT size_estimates_one_area CHECK (num_nonnulls(site_code, county_code) = 1),
  CONSTRAINT size_estimates_key UNIQUE NULLS NOT DISTINCT (site_code, county_code, population_code, year)
);

CREATE TABLE size_estimates_replaced (
  site_code text,
  county_code char(3),
  population_code text NOT NULL,
  year integer NOT NULL,
  size integer NOT NULL,
  source text NOT NULL,
  recorded_at timestamptz NOT NULL,
  recorded_by text NOT NULL,
  replaced_at timestamptz NOT NULL DEFAULT now(),
  replaced_by text NOT NULL DEFAULT session_user
);
