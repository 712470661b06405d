-- A balance carries its lot's expiry, so that the everyday dispense picks its lot first-expiry-first-out from the
-- balances alone. Joining lots for it was a plan node and a relation that the server sets up afresh for every
-- dispense: about 5 % of its server time (callgrind: 37 k instructions of 778 k). A lot's expiry never changes once
-- recorded (ledger_book only adds lots), ledger_book copies it when it makes the balance, and `ledger verify` lists
-- any balance whose expiry is not its lot's. NULL for a commodity that is not lot-tracked (lot ''), as the join gave.
ALTER TABLE stock_balances ADD COLUMN expires_on date;

-- The guards (Schema/functions/60_ledger_guards.sql) refuse any write to balances outside ledger_book; this backfill
-- is ledger_book's bookkeeping done once, so it says it books, for this statement only.
SELECT set_config('kpstock.booked', 'on', true);

UPDATE stock_balances b SET expires_on = l.expires_on
FROM lots l WHERE l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code;

SELECT set_config('kpstock.booked', '', true);
