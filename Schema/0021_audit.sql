-- The audit trail of changes to reference data, settings, norms, forecasts and (once they exist) users: who (the
-- session user) changed which row of which table, when, and from what to what. Written by one trigger function,
-- audit_record (Schema/functions/97_audit.sql), that audit_track attaches to each tracked table. Stock events, doses
-- and order changes keep their own who and when in their own rows, and `kpstock audit` reads them there: the ledger's
-- hot path writes nothing more. Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  who text NOT NULL DEFAULT session_user,
  table_name text NOT NULL,
  action text NOT NULL CONSTRAINT audit_log_action CHECK (action IN ('insert', 'update', 'delete')),
  -- The site and county the row belongs to, where it has one, so the trail can be read by site or county.
  site_code text,
  county_code text,
  -- The row's key, and the row before and after the change: the whole row for an insert or a delete, only the
  -- columns that changed for an update.
  row_key jsonb NOT NULL,
  before jsonb,
  after jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_site ON audit_log (site_code, at) WHERE site_code IS NOT NULL;
