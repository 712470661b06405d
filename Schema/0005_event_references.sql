-- Events name their reason, transfer, count and reversed event without foreign keys, as they already name their
-- site, commodity and population (see stock_events in 0002): a foreign key queues a check for every event written,
-- four per event, even when the column is empty. ledger_book names only parents that exist (it checks a reason, and
-- makes or locks the transfer, count or event it refers to); none of those rows is ever deleted (reasons are only
-- added, transfers and counts only change status, events are append-only); and `ledger verify` lists any event whose
-- parent is missing.
ALTER TABLE stock_events
  DROP CONSTRAINT stock_events_reason_code_fkey,
  DROP CONSTRAINT stock_events_transfer_id_fkey,
  DROP CONSTRAINT stock_events_count_id_fkey,
  DROP CONSTRAINT stock_events_reverses_event_id_fkey;
