-- Phone numbers and ID numbers typed into free text (issue 14). kpstock stores no personal identifiers, but a note or
-- a reason is whatever a person typed, and "called client on 0712 345 678" is typed in good faith. These are the
-- patterns migration 0022 refuses in a new ledger note or UIC, held together with it by a test.

-- A Kenyan mobile number as people write it: 07XXXXXXXX or 01XXXXXXXX, +254 or 254 and the nine digits, with single
-- spaces, dots or dashes between digits, not inside a longer number.
CREATE OR REPLACE FUNCTION privacy_phone_pattern() RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '(?:^|[^0-9])((?:\+?254[ .-]?|0)[17](?:[ .-]?[0-9]){8})'
$$;

-- Whether a text holds what looks like a phone number or an ID number (a run of seven or more digits: a national ID,
-- a passport's digits, an NHIF or Huduma number).
CREATE OR REPLACE FUNCTION privacy_identifier_found(p_text text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_text ~ '[0-9]{7}' OR p_text ~ privacy_phone_pattern()
$$;

-- Each phone number, then each ID-like run of digits left once the phone numbers are taken out, as found.
CREATE OR REPLACE FUNCTION privacy_identifiers(p_text text) RETURNS TABLE (kind text, found text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 'phone number', m[1] FROM regexp_matches(p_text, privacy_phone_pattern(), 'g') m
  UNION ALL
  SELECT 'ID number', m[1]
  FROM regexp_matches(regexp_replace(p_text, privacy_phone_pattern(), ' ', 'g'), '([0-9]{7,})', 'g') m
$$;

-- What was found, with its digits hidden but enough left to find it in the row: a phone number keeps its prefix
-- (07, 01, +254 7) and its last three digits, an ID number its last two.
CREATE OR REPLACE FUNCTION privacy_mask(p_kind text, p_found text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_kind = 'phone number'
    THEN substring(p_found FROM '^(?:\+?254[ .-]?|0)[17]')
      || regexp_replace(substring(p_found FROM '^(?:\+?254[ .-]?|0)[17](.*)...$'), '[0-9]', '•', 'g')
      || right(p_found, 3)
    ELSE regexp_replace(left(p_found, -2), '[0-9]', '•', 'g') || right(p_found, 2) END
$$;

-- Every stored row whose free text (notes, reasons, sources) or client UIC holds a phone or ID number, one row per
-- number found, with the number masked: the list to fix, which must not itself leak what it lists. Rows written
-- before migration 0022 may hold one in a ledger note or a UIC; reasons, exit notes and sources are checked only here.
-- It reads every site's notes and client codes with the owner's rights, so only admins may run it.
CREATE OR REPLACE FUNCTION privacy_findings()
RETURNS TABLE (table_name text, row_key text, site_code text, column_name text, kind text, masked text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT access_refuse_unless_admin('run the privacy check');
  WITH texts (table_name, row_key, site_code, column_name, value) AS (
    SELECT 'stock_events', e.id::text, e.site_code, 'note', e.note::text
    FROM stock_events e WHERE e.note IS NOT NULL AND privacy_identifier_found(e.note)
    UNION ALL
    SELECT 'stock_events', e.id::text, e.site_code, 'client_uic', e.client_uic::text
    FROM stock_events e WHERE e.client_uic IS NOT NULL AND e.client_uic ~ '[0-9]{7}'
    UNION ALL
    SELECT 'mat_exits', x.episode_id::text, p.clinic_code, 'note', x.note
    FROM mat_exits x JOIN mat_episodes p ON p.id = x.episode_id WHERE privacy_identifier_found(x.note)
    UNION ALL
    SELECT 'mat_prescriptions', r.id::text, p.clinic_code, c.column_name, c.value
    FROM mat_prescriptions r JOIN mat_episodes p ON p.id = r.episode_id
    CROSS JOIN LATERAL (VALUES ('reason', r.reason), ('override_reason', r.override_reason)) c (column_name, value)
    WHERE privacy_identifier_found(c.value)
    UNION ALL
    SELECT 'mat_doses', d.id::text, d.site_code, 'override_reason', d.override_reason
    FROM mat_doses d WHERE d.override_reason IS NOT NULL AND privacy_identifier_found(d.override_reason)
    UNION ALL
    SELECT 'mat_dose_returns', r.dose_id::text, r.site_code, 'reason', r.reason
    FROM mat_dose_returns r WHERE privacy_identifier_found(r.reason)
    UNION ALL
    SELECT 'order_lines', l.order_id || ' ' || l.commodity_code, o.site_code, 'changed_reason', l.changed_reason
    FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE privacy_identifier_found(l.changed_reason)
    UNION ALL
    SELECT 'norms', concat_ws(' ', n.commodity_code, n.population_code, n.county_code, n.site_code, n.effective_from),
      n.site_code, 'source', n.source
    FROM norms n WHERE privacy_identifier_found(n.source)
    UNION ALL
    SELECT 'size_estimates', concat_ws(' ', coalesce(s.site_code, s.county_code), s.population_code, s.year),
      s.site_code, 'source', s.source
    FROM size_estimates s WHERE privacy_identifier_found(s.source)
    UNION ALL
    SELECT 'coverage_targets', t.commodity_code, NULL, 'source', t.source
    FROM coverage_targets t WHERE privacy_identifier_found(t.source)
    UNION ALL
    SELECT 'stock_reasons', r.code, NULL, 'description', r.description
    FROM stock_reasons r WHERE privacy_identifier_found(r.description)
  )
  SELECT t.table_name, t.row_key, t.site_code, t.column_name, i.kind, privacy_mask(i.kind, i.found)
  FROM texts t CROSS JOIN LATERAL privacy_identifiers(t.value) i
  ORDER BY t.table_name, t.site_code, t.row_key, t.column_name, i.kind
$$;
