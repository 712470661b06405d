-- The block ranges of the rollup's day index (0012) are summarised as they fill, not only at the next VACUUM: an
-- unsummarised range is scanned by every read of the forecast's weeks, and a history written in bulk (an import of
-- registers, a simulation) leaves every range it wrote unsummarised until autovacuum comes round.
ALTER INDEX stock_lot_daily_day SET (autosummarize = on);
