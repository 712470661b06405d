-- Access: who may see and record what, enforced by PostgreSQL itself (docs/security.md).
--
-- kp_owner owns the schema and nobody logs in as it: migrations run as it, and the posting functions run with its
-- rights (SECURITY DEFINER), so the ledger is written only through them. People log in as their own roles, each a
-- member of one of the four daily roles, and access_grants says which sites and counties each of them works on.
-- Roles belong to the whole server, not to one database: creating them tolerates a second kpstock database (or a
-- second migrator racing this one) having made them first.
DO $$
DECLARE
  v_role text;
BEGIN
  FOREACH v_role IN ARRAY ARRAY['kp_owner', 'kp_admin', 'kp_pharmacist', 'kp_logistics', 'kp_county_viewer'] LOOP
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END LOOP;
END $$;

-- The owner creates people's logins (`kpstock user add`, through a function an admin calls) and hands them a daily
-- role; ADMIN OPTION on those roles is what PostgreSQL 16 and later ask of a role that grants them.
-- Each step writes only when needed, so databases migrated one after another on one server do not rewrite the roles.
DO $$
DECLARE
  v_role text;
BEGIN
  IF NOT (SELECT rolcreaterole FROM pg_roles WHERE rolname = 'kp_owner') THEN
    ALTER ROLE kp_owner CREATEROLE;
  END IF;
  FOREACH v_role IN ARRAY ARRAY['kp_admin', 'kp_pharmacist', 'kp_logistics', 'kp_county_viewer'] LOOP
    IF NOT EXISTS (
      SELECT FROM pg_auth_members m
      WHERE m.roleid = v_role::regrole AND m.member = 'kp_owner'::regrole AND m.admin_option)
    THEN
      EXECUTE format('GRANT %I TO kp_owner WITH ADMIN OPTION', v_role);
    END IF;
  END LOOP;
END $$;
-- Whoever migrates (the embedded cluster's superuser, or a hosted server's administrator) must be able to act as the
-- owner for the migrations that follow this one.
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AND NOT pg_has_role('kp_owner', 'MEMBER') THEN
    EXECUTE format('GRANT kp_owner TO %I', current_user);
  END IF;
END $$;

GRANT USAGE, CREATE ON SCHEMA public TO kp_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO kp_admin, kp_pharmacist, kp_logistics, kp_county_viewer;

-- Which sites and counties each person works on; a county stands for all of its sites. Admins need no rows here.
CREATE TABLE access_grants (
  user_name text NOT NULL,
  site_code text REFERENCES sites (code),
  county_code char(3) REFERENCES counties (code),
  granted_at timestamptz NOT NULL DEFAULT now(),
  granted_by text NOT NULL DEFAULT session_user,
  CONSTRAINT access_grants_one_place CHECK (num_nonnulls(site_code, county_code) = 1),
  CONSTRAINT access_grants_once UNIQUE NULLS NOT DISTINCT (user_name, site_code, county_code)
);
CREATE INDEX access_grants_user ON access_grants (user_name);

-- Everything made so far passes to the owner; what migrations make from now on is made by it.
DO $$
DECLARE
  v_object record;
BEGIN
  FOR v_object IN
    SELECT format('ALTER %s %s OWNER TO kp_owner',
      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
      c.oid::regclass) AS command
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      -- A sequence that belongs to a table's column follows its table.
      AND NOT EXISTS (
        SELECT FROM pg_depend d
        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
    UNION ALL
    SELECT format('ALTER ROUTINE %s OWNER TO kp_owner', p.oid::regprocedure)
    FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
    UNION ALL
    SELECT format('ALTER %s %s OWNER TO kp_owner', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
      t.oid::regtype)
    FROM pg_type t
    WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('c', 'd', 'e')
      AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
  LOOP
    EXECUTE v_object.command;
  END LOOP;
END $$;
