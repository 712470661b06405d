-- The coverage report's yardsticks: per commodity, the population it is counted against and the units per person
-- per year that are the minimum and the target (WHO: 200 needle-syringe sets per person who injects drugs per year
-- by 2020, 300 by 2030). Reference data, seeded from Seeds/reference/coverage_targets.csv and editable.
CREATE TABLE coverage_targets (
  commodity_code text PRIMARY KEY REFERENCES commodities (code),
  population_code text NOT NULL REFERENCES populations (code),
  minimum_per_year numeric NOT NULL CONSTRAINT coverage_targets_minimum CHECK (minimum_per_year > 0),
  target_per_year numeric NOT NULL CONSTRAINT coverage_targets_target CHECK (target_per_year >= minimum_per_year),
  source text NOT NULL CONSTRAINT coverage_targets_source CHECK (btrim(source) <> '' AND length(source) <= 200),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user
);
