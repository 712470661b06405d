-- A transfer receipt of a ledger_post batch, with what its checks need (see ledger_receipt_requests in
-- Schema/functions/30_ledger_requests.sql). ledger_post reads a batch's receipts once into an array of these: read
-- by a function returning an anonymous row, they were read again, JSON and lookups, at each of the four statements
-- that use them.
CREATE TYPE ledger_receipt AS (
  req integer,
  key text,
  fingerprint bytea,
  transfer bigint,
  rejected bigint,
  reason text,
  lot text,
  date date,
  note text,
  to_site text,
  commodity text,
  quantity bigint,
  status text,
  received_on date,
  -- Whether the receipt's key is already recorded at the destination (a repeat, or another entry's key).
  used boolean,
  lots text[],
  reject_lot text,
  lot_sent bigint,
  direction text,
  reason_known boolean
);
