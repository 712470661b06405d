-- One daily rollup instead of two. stock_lot_daily (per site, commodity, lot and day) now carries what moved by kind,
-- as stock_daily (per site, commodity and day) did, and stock_daily becomes a view that sums it over lots
-- (Schema/functions/50_ledger_history.sql). Every event is booked into one rollup row instead of two: the everyday
-- dispense wrote four rows, and each upsert is a statement part that the server sets up afresh for every dispense
-- (a tenth of its time there). A commodity that is not lot-tracked has one lot, '', so its rows are the same rows;
-- a lot-tracked one has a row per lot that moved that day.
ALTER TABLE stock_lot_daily
  ADD COLUMN received bigint NOT NULL DEFAULT 0,
  ADD COLUMN dispensed bigint NOT NULL DEFAULT 0,
  ADD COLUMN sent bigint NOT NULL DEFAULT 0,
  ADD COLUMN adjusted bigint NOT NULL DEFAULT 0;

-- The guards (Schema/functions/60_ledger_guards.sql) refuse any write to the rollup outside ledger_book; this backfill
-- is ledger_book's bookkeeping done once, so it says it books, for this migration's transaction only.
SELECT set_config('kpstock.booked', 'on', true);

UPDATE stock_lot_daily d SET received = e.received, dispensed = e.dispensed, sent = e.sent, adjusted = e.adjusted
FROM (
  SELECT site_code, commodity_code, lot_code, occurred_on AS day,
    coalesce(sum(quantity) FILTER (WHERE kind IN ('receipt', 'transfer_in')), 0) AS received,
    coalesce(-sum(quantity) FILTER (WHERE kind = 'dispense'), 0) AS dispensed,
    coalesce(-sum(quantity) FILTER (WHERE kind = 'transfer_out'), 0) AS sent,
    coalesce(sum(quantity) FILTER (WHERE kind IN ('adjustment', 'count')), 0) AS adjusted
  FROM stock_events GROUP BY 1, 2, 3, 4
) e
WHERE d.site_code = e.site_code AND d.commodity_code = e.commodity_code AND d.lot_code = e.lot_code AND d.day = e.day;

-- Every writer names them (ledger_book).
ALTER TABLE stock_lot_daily
  ALTER COLUMN received DROP DEFAULT,
  ALTER COLUMN dispensed DROP DEFAULT,
  ALTER COLUMN sent DROP DEFAULT,
  ALTER COLUMN adjusted DROP DEFAULT;

DROP TABLE stock_daily;
