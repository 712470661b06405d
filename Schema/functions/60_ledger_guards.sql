-- Guards of the ledger's tables: events are append-only, and balances and the daily rollup per lot
-- change only while ledger_book books (it sets kpstock.booked for its own statements and resets it before
-- returning). The setting is a guard against accidents, not a permission: roles that may write directly are closed
-- off by REVOKE, and `ledger verify` recomputes the derived tables from events and checks every event against
-- ledger_book's rules.

CREATE OR REPLACE FUNCTION stock_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'stock events are append-only: undo an event with a reversing event' USING ERRCODE = 'KP005';
END $$;
CREATE OR REPLACE TRIGGER stock_events_append_only BEFORE UPDATE OR DELETE ON stock_events
  FOR EACH ROW EXECUTE FUNCTION stock_events_refuse_change();
CREATE OR REPLACE TRIGGER stock_events_no_truncate BEFORE TRUNCATE ON stock_events
  FOR EACH STATEMENT EXECUTE FUNCTION stock_events_refuse_change();

CREATE OR REPLACE FUNCTION stock_derived_refuse_direct_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is kept from stock_events: record an event instead', TG_TABLE_NAME USING ERRCODE = 'KP005';
END $$;
-- The guards decide in their WHEN clause, so a permitted write costs no function call.
CREATE OR REPLACE TRIGGER stock_balances_derived BEFORE INSERT OR UPDATE OR DELETE ON stock_balances FOR EACH STATEMENT
  WHEN (current_setting('kpstock.booked', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE OR REPLACE TRIGGER stock_balances_no_truncate BEFORE TRUNCATE ON stock_balances
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE OR REPLACE TRIGGER stock_lot_daily_derived BEFORE INSERT OR UPDATE OR DELETE ON stock_lot_daily
  FOR EACH STATEMENT WHEN (current_setting('kpstock.booked', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE OR REPLACE TRIGGER stock_lot_daily_no_truncate BEFORE TRUNCATE ON stock_lot_daily
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_direct_change();
