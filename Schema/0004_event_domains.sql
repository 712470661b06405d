-- The shape of a single stock_events column is a domain; the rules between columns are ledger_book's.
--
-- PostgreSQL keeps a table's CHECK constraints as text and reads, plans and compiles them again each time a statement
-- starts writing the table: for the everyday dispense, an eighth of the server's time went there. A domain's checks
-- are read once per session (the type cache) and compiled into the statement's plan. The rules between columns (a
-- movement is not zero, its sign fits its kind, a dispense and only a dispense names population and channel, an
-- adjustment names its reason, a transfer's events name the transfer) are checked by ledger_book, the one writer of
-- events, before it writes; `ledger verify` checks every event against them, so an event written around
-- ledger_book still shows. The domains keep the constraint names that callers word.
CREATE DOMAIN stock_event_kind AS text
  CONSTRAINT stock_event_kind_known
  CHECK (VALUE IN ('receipt', 'dispense', 'transfer_out', 'transfer_in', 'adjustment', 'count'));
CREATE DOMAIN stock_event_note AS text CONSTRAINT stock_events_note CHECK (length(VALUE) <= 500);
CREATE DOMAIN dispensing_channel AS text CONSTRAINT dispensing_channel_known CHECK (VALUE IN ('clinic', 'outreach'));
CREATE DOMAIN peer_educator_code AS text
  CONSTRAINT stock_events_worker_code CHECK (VALUE ~ '^[A-Z0-9][A-Z0-9-]{1,31}$');
-- A client's pseudonymous unique identifier code: it must hold a letter, so a phone or national ID number cannot be
-- typed in its place.
CREATE DOMAIN client_uic AS text
  CONSTRAINT stock_events_client_uic CHECK (VALUE ~ '^[A-Z0-9-]{6,32}$' AND VALUE ~ '[A-Z]');
CREATE DOMAIN idempotency_key AS text CONSTRAINT idempotency_key_length CHECK (length(VALUE) BETWEEN 1 AND 100);
CREATE DOMAIN key_part AS smallint CONSTRAINT key_part_positive CHECK (VALUE >= 1);

ALTER TABLE stock_events
  DROP CONSTRAINT stock_events_kind_check,
  DROP CONSTRAINT stock_events_note,
  DROP CONSTRAINT stock_events_channel_check,
  DROP CONSTRAINT stock_events_worker_code,
  DROP CONSTRAINT stock_events_client_uic,
  DROP CONSTRAINT stock_events_idempotency_key_check,
  DROP CONSTRAINT stock_events_key_part_check,
  DROP CONSTRAINT stock_events_nonzero,
  DROP CONSTRAINT stock_events_sign,
  DROP CONSTRAINT stock_events_dispense_details,
  DROP CONSTRAINT stock_events_reason,
  DROP CONSTRAINT stock_events_transfer,
  ALTER COLUMN kind TYPE stock_event_kind,
  ALTER COLUMN note TYPE stock_event_note,
  ALTER COLUMN channel TYPE dispensing_channel,
  ALTER COLUMN worker_code TYPE peer_educator_code,
  ALTER COLUMN client_uic TYPE client_uic,
  ALTER COLUMN idempotency_key TYPE idempotency_key,
  ALTER COLUMN key_part TYPE key_part;
