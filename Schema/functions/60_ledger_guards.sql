-- Guards of the ledger's tables: events are append-only, and balances, the daily rollup per lot and stock cards
-- change only while ledger_book books (it sets kpstock.booked for its own statements and resets it before
-- returning). The setting is a guard against accidents, not a permission: any session may set it, so it keeps out
-- a mistaken UPDATE, not a determined one. Until daily roles lose their write privileges on these tables (the access
-- issue), `ledger verify` is what shows a change made around the ledger: it recomputes the derived tables from
-- events and checks every event against ledger_book's rules.

CREATE OR REPLACE FUNCTION stock_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'stock events are append-only: undo an event with a reversing event' USING ERRCODE = 'KP005';
END $$;
CREATE OR REPLACE TRIGGER stock_events_append_only BEFORE UPDATE OR DELETE ON stock_events
  FOR EACH ROW EXECUTE FUNCTION stock_events_refuse_change();
CREATE OR REPLACE TRIGGER stock_events_no_truncate BEFORE TRUNCATE ON stock_events
  FOR EACH STATEMENT EXECUTE FUNCTION stock_events_refuse_change();

-- The guards decide inside their function, not in a WHEN clause: PostgreSQL reads and compiles a trigger's WHEN
-- clause from its text at every statement, which cost the everyday dispense more than a call of this function does
-- (callgrind: about 19 k against 12 k instructions a statement, three statements a dispense). TRUNCATE is refused
-- even while ledger_book books, by a function of its own: the test of TG_OP in the one every posting calls cost the
-- everyday dispense 4 k instructions (of 790 k).
CREATE OR REPLACE FUNCTION stock_derived_refuse_direct_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('kpstock.booked', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION '% is kept from stock_events: record an event instead', TG_TABLE_NAME USING ERRCODE = 'KP005';
END $$;
CREATE OR REPLACE FUNCTION stock_derived_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is kept from stock_events: record an event instead', TG_TABLE_NAME USING ERRCODE = 'KP005';
END $$;
CREATE OR REPLACE TRIGGER stock_balances_derived BEFORE INSERT OR UPDATE OR DELETE ON stock_balances
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE OR REPLACE TRIGGER stock_balances_no_truncate BEFORE TRUNCATE ON stock_balances
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_truncate();
CREATE OR REPLACE TRIGGER stock_lot_daily_derived BEFORE INSERT OR UPDATE OR DELETE ON stock_lot_daily
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE OR REPLACE TRIGGER stock_lot_daily_no_truncate BEFORE TRUNCATE ON stock_lot_daily
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_truncate();
CREATE OR REPLACE TRIGGER stock_cards_derived BEFORE INSERT OR UPDATE OR DELETE ON stock_cards
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE OR REPLACE TRIGGER stock_cards_no_truncate BEFORE TRUNCATE ON stock_cards
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_truncate();
