-- One row per site and commodity that the ledger has booked: the row every writer locks, in key order, before it
-- reads or changes that stock (see ledger_book in Schema/functions/20_ledger_book.sql). Writers used to lock the
-- balances themselves, but a site keeps a balance for every lot it ever held, so each posting locked a number of rows
-- that grew with the site's history: two years into a national history, about fifteen lots of a commodity at a site,
-- nearly all of them used up.
CREATE TABLE stock_cards (
  site_code text NOT NULL REFERENCES sites (code),
  commodity_code text NOT NULL REFERENCES commodities (code),
  PRIMARY KEY (site_code, commodity_code)
);

INSERT INTO stock_cards (site_code, commodity_code)
SELECT DISTINCT site_code, commodity_code FROM stock_balances;
