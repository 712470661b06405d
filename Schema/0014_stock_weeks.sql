-- Closed weeks of each stock card, kept: units dispensed and the days that closed with no usable stock, per site,
-- commodity and ISO week (week is its Monday). Computing them reads every rollup row of the weeks and sorts them lot
-- by lot, about half of a national forecast's time; a closed week seldom changes, so each is computed once and kept
-- until a back-dated entry changes it (Schema/functions/45_stock_weeks.sql has the rules). Derived, like the
-- balances: `ledger verify` recomputes every week kept.
CREATE TABLE stock_weeks (
  site_code text NOT NULL,
  commodity_code text NOT NULL,
  week date NOT NULL CHECK (extract(isodow FROM week) = 1),
  dispensed bigint NOT NULL CHECK (dispensed >= 0),
  stocked_out_days integer NOT NULL CHECK (stocked_out_days BETWEEN 0 AND 7),
  -- No foreign key to stock_cards: its check would share-lock the card of every week kept, and a writer, which
  -- locks its card for update, would wait for the keeping transaction (a forecast run) to end.
  PRIMARY KEY (site_code, commodity_code, week)
);

-- Days changed by a back-dated entry while weeks were being kept: the weeks of that card from that day's on are not
-- to be trusted until they are computed again. Written only when the keeping and the entry overlap; the next
-- keeping clears them.
CREATE TABLE stock_weeks_changed (
  site_code text NOT NULL,
  commodity_code text NOT NULL,
  day date NOT NULL
);
CREATE INDEX stock_weeks_changed_card ON stock_weeks_changed (site_code, commodity_code, day);
