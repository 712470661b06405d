-- Since 0004, events carry no foreign keys to sites, commodities or populations (the posting functions check
-- them, and balances and a trigger keep the parents). `ledger verify` therefore also lists events whose site,
-- commodity or population is missing, so a bypassed guard is reported like any other drift.

ALTER FUNCTION ledger_verify() RENAME TO ledger_verify_amounts;

CREATE FUNCTION ledger_verify() RETURNS TABLE (
  check_name text, site_code text, commodity_code text, lot_code text, day date, expected bigint, recorded bigint
) LANGUAGE sql STABLE AS $$
  SELECT * FROM ledger_verify_amounts()
  UNION ALL
  -- expected: how many events refer to the missing code; recorded: 0, since nothing holds it.
  SELECT CASE WHEN s.code IS NULL THEN 'unknown site'
      WHEN c.code IS NULL THEN 'unknown commodity'
      ELSE 'unknown population ' || e.population_code END,
    e.site_code, e.commodity_code, NULL, NULL::date, count(*), 0
  FROM stock_events e
  LEFT JOIN sites s ON s.code = e.site_code
  LEFT JOIN commodities c ON c.code = e.commodity_code
  LEFT JOIN populations p ON p.code = e.population_code
  WHERE s.code IS NULL OR c.code IS NULL OR (e.population_code IS NOT NULL AND p.code IS NULL)
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3, 4, 5
$$;
