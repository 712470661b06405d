-- The weekly forecast reads the daily rollup of its last 16 weeks (forecast_weekly_consumption in
-- Schema/functions/80_forecast.sql), by day, for every site: without an index on the day that read is a scan of the
-- whole history, and the forecast's time would grow with it. Rows arrive nearly in day order (a back-dated entry
-- adds to a day already there, or to one a few weeks old), so a block-range index holds a few bytes per 128 pages
-- and costs a posting almost nothing, where a B-tree on the day would add an index entry to every new rollup row.
CREATE INDEX stock_lot_daily_day ON stock_lot_daily USING brin (day);
