-- Per lot and day of occurrence, the net change of a lot at a site. A back-dated take may use only what the days
-- after it do not need of a lot (ledger_book's "room"); reading that from these rows costs one row a later day, where
-- reading it from events cost one row a later event, so a register back-filled into a busy month stayed slow.
-- Booked by ledger_book with stock_daily, and like events it carries no foreign keys (every row has a balance row,
-- which has them); `ledger verify` recomputes it from events.
CREATE TABLE stock_lot_daily (
  site_code text NOT NULL,
  commodity_code text NOT NULL,
  lot_code text NOT NULL,
  day date NOT NULL,
  net_change bigint NOT NULL,
  PRIMARY KEY (site_code, commodity_code, lot_code, day)
);

INSERT INTO stock_lot_daily (site_code, commodity_code, lot_code, day, net_change)
SELECT site_code, commodity_code, lot_code, occurred_on, sum(quantity) FROM stock_events GROUP BY 1, 2, 3, 4;
