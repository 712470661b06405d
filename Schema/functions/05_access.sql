-- Who may see and record what (Schema/0020_access.sql, docs/security.md). Everything here asks about the session
-- user, the person who logged in: inside a posting function (SECURITY DEFINER) the current user is the owner, but
-- the session user is still the person, so one rule serves the row-level policies and the posting functions alike.

-- The owner, or someone acting for it (a superuser, the administrator who migrates): may set the simulated clock and
-- needs no grants.
CREATE OR REPLACE FUNCTION access_is_owner() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT pg_has_role(session_user, 'kp_owner', 'MEMBER')
$$;

-- The simulated day (`SET kpstock.today`, programme_day), for the owner only.
CREATE OR REPLACE FUNCTION access_clock() RETURNS date LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT access_is_owner() THEN
    RAISE EXCEPTION '% may not set kpstock.today: only the schema owner may post on a simulated day', session_user
      USING ERRCODE = 'KP007';
  END IF;
  RETURN current_setting('kpstock.today')::date;
END $$;

-- Admins and the owner see and record everywhere.
CREATE OR REPLACE FUNCTION access_unrestricted() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT pg_has_role(session_user, 'kp_admin', 'MEMBER') OR pg_has_role(session_user, 'kp_owner', 'MEMBER')
$$;

-- The sites where the session user may do p_for, or NULL for everywhere:
-- * 'read'    see stock, orders, forecasts and outreach (every daily role, on its grants);
-- * 'stock'   record stock events (pharmacists and logistics officers);
-- * 'clients' see and record client-level rows: methadone clients and doses (pharmacists only);
-- * 'plan'    run forecasts and generate, approve and dispatch orders (logistics officers only).
-- A grant of a county stands for every site in it. SECURITY DEFINER: people may not read each other's grants.
-- Policies call it as `(SELECT access_sites(…))`, so it runs once per statement, not once per row. plpgsql, not sql:
-- a sql function that cannot be inlined (this one runs as the owner) is planned again at every call. It lists every
-- site the person may use, which a county's grant makes long: the posting path asks access_may_record_stock instead.
CREATE OR REPLACE FUNCTION access_sites(p_for text) RETURNS text[] LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
  RETURN CASE WHEN access_unrestricted() THEN NULL
    WHEN CASE p_for
        WHEN 'read' THEN pg_has_role(session_user, 'kp_pharmacist', 'MEMBER')
          OR pg_has_role(session_user, 'kp_logistics', 'MEMBER')
          OR pg_has_role(session_user, 'kp_county_viewer', 'MEMBER')
        WHEN 'stock' THEN pg_has_role(session_user, 'kp_pharmacist', 'MEMBER')
          OR pg_has_role(session_user, 'kp_logistics', 'MEMBER')
        WHEN 'clients' THEN pg_has_role(session_user, 'kp_pharmacist', 'MEMBER')
        WHEN 'plan' THEN pg_has_role(session_user, 'kp_logistics', 'MEMBER')
        ELSE false END
    THEN coalesce((
      SELECT array_agg(DISTINCT s.code ORDER BY s.code)
      FROM access_grants g JOIN sites s ON s.code = g.site_code OR s.county_code = g.county_code
      WHERE g.user_name = session_user), '{}')
    ELSE '{}' END;
END $$;

-- Whether the session user may record stock at every one of p_sites: access_allows(p_sites, 'stock') for the hot
-- path, which every batch of stock a person posts passes. It looks up the sites asked for in the person's grants
-- (by their index) instead of listing every site the person may use, which a county's grant makes long.
CREATE OR REPLACE FUNCTION access_may_record_stock(p_sites text[]) RETURNS boolean LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  RETURN access_unrestricted()
    OR ((pg_has_role(session_user, 'kp_pharmacist', 'MEMBER') OR pg_has_role(session_user, 'kp_logistics', 'MEMBER'))
      AND NOT EXISTS (
        SELECT FROM unnest(p_sites) x
        WHERE NOT EXISTS (
          SELECT FROM access_grants g
          WHERE g.user_name = session_user
            AND (g.site_code = x OR g.county_code = (SELECT s.county_code FROM sites s WHERE s.code = x)))));
END $$;

-- Whether the session user may do p_for at every one of p_sites.
CREATE OR REPLACE FUNCTION access_allows(p_sites text[], p_for text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT a IS NULL OR p_sites <@ a FROM access_sites(p_for) a
$$;

-- Refuses what the session user may not do at one of p_sites, naming the field the sites came from, what they may do
-- instead, and who they are (so that someone logged in as the wrong person sees it).
CREATE OR REPLACE FUNCTION access_refuse(p_sites text[], p_for text, p_field text) RETURNS void LANGUAGE plpgsql
STABLE AS $$
DECLARE
  v_allowed text[] := access_sites(p_for);
  v_site text;
BEGIN
  IF v_allowed IS NULL THEN
    RETURN;
  END IF;
  SELECT s INTO v_site FROM unnest(p_sites) s WHERE s IS NOT NULL AND s <> ALL (v_allowed) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%', format('%s may not %s at %s%s', session_user,
        CASE p_for WHEN 'stock' THEN 'record stock' WHEN 'clients' THEN 'see or record methadone clients'
          WHEN 'plan' THEN 'forecast or order' ELSE 'see stock' END, v_site,
        CASE WHEN cardinality(v_allowed) = 0 THEN ' (their role does not allow it anywhere)'
          WHEN cardinality(v_allowed) <= 5 THEN format(' (only at %s)', array_to_string(v_allowed, ', '))
          ELSE format(' (only at their %s sites)', cardinality(v_allowed)) END)
      USING ERRCODE = 'KP007', COLUMN = p_field;
  END IF;
END $$;

-- Refuses anyone but an admin (or the owner) p_what.
CREATE OR REPLACE FUNCTION access_refuse_unless_admin(p_what text) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT access_unrestricted() THEN
    RAISE EXCEPTION '%', format('%s may not %s: only an admin may', session_user, p_what) USING ERRCODE = 'KP007';
  END IF;
END $$;

-- Refuses what the session user may not do for a scope: a site, a county (each of its sites) or, with neither, the
-- whole programme. The field named is the one the scope came from.
CREATE OR REPLACE FUNCTION access_refuse_scope(p_county char(3), p_site text, p_for text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF access_unrestricted() THEN
    RETURN;
  END IF;
  PERFORM access_refuse(CASE WHEN p_site IS NOT NULL THEN ARRAY[p_site]
      ELSE ARRAY(SELECT s.code FROM sites s WHERE p_county IS NULL OR s.county_code = p_county ORDER BY s.code) END,
    p_for, CASE WHEN p_site IS NOT NULL THEN 'site' ELSE 'county' END);
END $$;

-- People: PostgreSQL logins, each a member of one daily role, with the places of access_grants. kpstock never sees a
-- password; a hosted server's administrator sets one (`ALTER ROLE … PASSWORD` in psql, or the provider's console).

-- The daily role a person's role name stands for, or NULL.
CREATE OR REPLACE FUNCTION access_role(p_role text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE replace(lower(btrim(p_role)), '-', '_')
    WHEN 'pharmacist' THEN 'kp_pharmacist' WHEN 'logistics' THEN 'kp_logistics'
    WHEN 'county_viewer' THEN 'kp_county_viewer' WHEN 'admin' THEN 'kp_admin' END
$$;

-- The daily role a login belongs to, or NULL for a login that is not a kpstock user.
CREATE OR REPLACE FUNCTION access_user_role(p_name text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT g.rolname::text FROM pg_auth_members m
  JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
  WHERE u.rolname = p_name AND g.rolname IN ('kp_admin', 'kp_pharmacist', 'kp_logistics', 'kp_county_viewer')
  ORDER BY g.rolname LIMIT 1
$$;

-- The places named by `--site` (codes) and `--county` (codes or names), as access_grants keeps them; an unknown one
-- is refused by its field. The one reading of a place that adding, granting and revoking share.
CREATE OR REPLACE FUNCTION access_places(p_sites text[], p_counties text[])
RETURNS TABLE (site_code text, county_code char(3)) LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_unknown text;
BEGIN
  SELECT s INTO v_unknown FROM unnest(p_sites) s
  WHERE NOT EXISTS (SELECT FROM sites x WHERE x.code = upper(btrim(s))) LIMIT 1;
  IF FOUND THEN
    PERFORM ledger_refuse('site', format('no site %s', v_unknown));
  END IF;
  SELECT c INTO v_unknown FROM unnest(p_counties) c
  WHERE NOT EXISTS (SELECT FROM counties x WHERE x.code = btrim(c) OR lower(x.name) = lower(btrim(c))) LIMIT 1;
  IF FOUND THEN
    PERFORM ledger_refuse('county', format('no county %s', v_unknown));
  END IF;
  RETURN QUERY
  SELECT upper(btrim(s)), NULL::char(3) FROM unnest(p_sites) s
  UNION
  SELECT NULL, x.code FROM unnest(p_counties) c
  JOIN counties x ON x.code = btrim(c) OR lower(x.name) = lower(btrim(c));
END $$;

-- Adds places to a user's grants.
CREATE OR REPLACE FUNCTION access_grant_places(p_name text, p_sites text[], p_counties text[]) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO access_grants (user_name, site_code, county_code)
  SELECT p_name, p.site_code, p.county_code FROM access_places(p_sites, p_counties) p
  ON CONFLICT DO NOTHING
$$;

-- `kpstock user add`: a new login with a daily role and its places. Adding a user again with the same role adds any
-- new places (a repeat changes nothing); a name taken by another role, or by a login that is not a kpstock user, is
-- refused. Names are checked before they reach CREATE ROLE, which cannot take a bound value.
CREATE OR REPLACE FUNCTION access_user_add(p_name text, p_role text, p_sites text[], p_counties text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_group text := access_role(p_role);
  v_places integer := coalesce(cardinality(p_sites), 0) + coalesce(cardinality(p_counties), 0);
  v_existing text;
BEGIN
  PERFORM access_refuse_unless_admin('add users');
  IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_]{2,62}$' THEN
    PERFORM ledger_refuse('name', format('''%s'' is not a user name: 3 to 63 lower-case letters, digits and _, '
      'starting with a letter', p_name));
  ELSIF p_name ~ '^(pg_|kp_)' OR p_name IN ('kpstock', 'postgres') THEN
    PERFORM ledger_refuse('name', format('%s is reserved: choose another name', p_name));
  ELSIF v_group IS NULL THEN
    PERFORM ledger_refuse('role', format('''%s'' is not a role: pharmacist, logistics, county-viewer or admin',
      p_role));
  ELSIF v_group = 'kp_admin' AND v_places > 0 THEN
    PERFORM ledger_refuse('site', 'an admin works everywhere: name no site or county');
  ELSIF v_group <> 'kp_admin' AND v_places = 0 THEN
    PERFORM ledger_refuse('site', format('a %s works somewhere: name a site or a county', p_role));
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = p_name) THEN
    v_existing := access_user_role(p_name);
    IF v_existing IS NULL THEN
      PERFORM ledger_refuse('name', format(
        '%s is a login of this server that is not a kpstock user: choose another name', p_name));
    ELSIF v_existing <> v_group THEN
      PERFORM ledger_refuse('role', format('%s is already a %s; a person has one role', p_name,
        replace(substr(v_existing, 4), '_', '-')));
    END IF;
    -- Only when it changes anything: logins are the server's, and databases on it may add the same user at once.
    IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = p_name) THEN
      EXECUTE format('ALTER ROLE %I LOGIN', p_name);
    END IF;
  ELSE
    BEGIN
      EXECUTE format('CREATE ROLE %I LOGIN IN ROLE %I', p_name, v_group);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      -- Another database of this server made it at the same moment (roles are the server's): a repeat.
      NULL;
    END;
    PERFORM access_audit_user(p_name, 'insert', v_group);
  END IF;
  PERFORM access_grant_places(p_name, p_sites, p_counties);
END $$;

-- `kpstock user grant`: more places for a user.
CREATE OR REPLACE FUNCTION access_user_grant(p_name text, p_sites text[], p_counties text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_group text := access_role_of_user(p_name);
BEGIN
  IF v_group = 'kp_admin' THEN
    PERFORM ledger_refuse('name', format('%s is an admin and works everywhere already', p_name));
  ELSIF coalesce(cardinality(p_sites), 0) + coalesce(cardinality(p_counties), 0) = 0 THEN
    PERFORM ledger_refuse('site', 'name a site or a county');
  END IF;
  PERFORM access_grant_places(p_name, p_sites, p_counties);
END $$;

-- `kpstock user revoke`: places taken from a user; with none named, the user's role and places, and their login (the
-- name stays, since the audit trail names them).
CREATE OR REPLACE FUNCTION access_user_revoke(p_name text, p_sites text[], p_counties text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_group text := access_role_of_user(p_name);
  v_place record;
BEGIN
  IF coalesce(cardinality(p_sites), 0) + coalesce(cardinality(p_counties), 0) = 0 THEN
    DELETE FROM access_grants WHERE user_name = p_name;
    EXECUTE format('REVOKE %I FROM %I', v_group, p_name);
    EXECUTE format('ALTER ROLE %I NOLOGIN', p_name);
    PERFORM access_audit_user(p_name, 'delete', v_group);
    RETURN;
  END IF;
  -- A place the user does not work at is refused, not passed over: the admin may have meant another.
  SELECT p.site_code, p.county_code INTO v_place FROM access_places(p_sites, p_counties) p
  WHERE NOT EXISTS (SELECT FROM access_grants g WHERE g.user_name = p_name
    AND g.site_code IS NOT DISTINCT FROM p.site_code AND g.county_code IS NOT DISTINCT FROM p.county_code)
  LIMIT 1;
  IF FOUND THEN
    PERFORM ledger_refuse(CASE WHEN v_place.site_code IS NULL THEN 'county' ELSE 'site' END,
      format('%s does not work %s', p_name, coalesce('at ' || v_place.site_code,
        'in ' || (SELECT c.name FROM counties c WHERE c.code = v_place.county_code))));
  END IF;
  DELETE FROM access_grants g USING access_places(p_sites, p_counties) p
  WHERE g.user_name = p_name AND g.site_code IS NOT DISTINCT FROM p.site_code
    AND g.county_code IS NOT DISTINCT FROM p.county_code;
END $$;

-- The daily role of an existing kpstock user, for a change an admin makes; refuses anyone else and any other name.
CREATE OR REPLACE FUNCTION access_role_of_user(p_name text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_group text;
BEGIN
  PERFORM access_refuse_unless_admin('change users');
  v_group := access_user_role(p_name);
  IF v_group IS NULL THEN
    PERFORM ledger_refuse('name', format('no kpstock user %s', p_name));
  END IF;
  RETURN v_group;
END $$;

-- `kpstock user list`: every kpstock user, their role, whether they may log in, and their places.
CREATE OR REPLACE FUNCTION access_users() RETURNS TABLE (user_name text, role text, can_login boolean, sites text[],
  counties text[]) LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM access_refuse_unless_admin('list users');
  RETURN QUERY
  SELECT u.rolname::text, replace(substr(g.rolname, 4), '_', '-'), u.rolcanlogin,
    coalesce((SELECT array_agg(a.site_code ORDER BY a.site_code) FROM access_grants a
      WHERE a.user_name = u.rolname AND a.site_code IS NOT NULL), '{}'),
    coalesce((SELECT array_agg(c.name ORDER BY c.name) FROM access_grants a JOIN counties c ON c.code = a.county_code
      WHERE a.user_name = u.rolname), '{}')
  FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
  WHERE g.rolname IN ('kp_admin', 'kp_pharmacist', 'kp_logistics', 'kp_county_viewer') AND u.rolname <> 'kp_owner'
  ORDER BY u.rolname;
END $$;

-- A person's role given or taken, in the audit trail beside their places (access_grants, tracked by audit_track): a
-- login is not a row of any table, so the functions that change one say so themselves.
CREATE OR REPLACE FUNCTION access_audit_user(p_name text, p_action text, p_group text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO audit_log (table_name, action, row_key, before, after)
  VALUES ('users', p_action, jsonb_build_object('user_name', p_name),
    CASE WHEN p_action = 'delete' THEN jsonb_build_object('role', replace(substr(p_group, 4), '_', '-')) END,
    CASE WHEN p_action = 'insert' THEN jsonb_build_object('role', replace(substr(p_group, 4), '_', '-')) END)
$$;
