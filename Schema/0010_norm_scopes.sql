-- A norm can be set for a county or for a site, beside the national one: the forecast uses a site's own norm in
-- force, else its county's, else the national one (norm_in_force in Schema/functions/80_forecast.sql), and
-- `forecast explain` says which. A norm has at most one scope; NULL in both is the national norm.
ALTER TABLE norms
  ADD COLUMN county_code char(3) REFERENCES counties (code),
  ADD COLUMN site_code text REFERENCES sites (code),
  ADD CONSTRAINT norms_one_scope CHECK (county_code IS NULL OR site_code IS NULL),
  DROP CONSTRAINT norms_pkey,
  ADD CONSTRAINT norms_key UNIQUE NULLS NOT DISTINCT (commodity_code, population_code, county_code, site_code,
    effective_from);
