-- The stock ledger: append-only events are the truth; balances and daily rollups are kept from them in the
-- same transaction by one trigger, so they cannot drift. Every site-scoped table carries site_code (row-level
-- security by site later; Citus distribution by site); idempotency keys are unique per site for the same reason.

-- A simulated clock: `SET kpstock.today = '2025-01-06'` lets `kpstock simulate` (and tests) write history as if
-- it were that day, through the same rules as real entries.
CREATE OR REPLACE FUNCTION programme_today() RETURNS date LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('kpstock.today', true), '')::date, (now() AT TIME ZONE time_zone)::date)
  FROM programme_settings
$$;

-- Why stock was adjusted, counted differently or rejected on delivery. `direction` says which way an
-- adjustment with this reason may move stock.
CREATE TABLE stock_reasons (
  code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9-]{1,31}$'),
  description text NOT NULL CHECK (length(description) BETWEEN 1 AND 200),
  direction text NOT NULL CHECK (direction IN ('in', 'out', 'either')),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user
);

INSERT INTO stock_reasons (code, description, direction) VALUES
  ('expired', 'Past its expiry date', 'out'),
  ('damaged', 'Damaged or spoilt', 'out'),
  ('lost', 'Lost', 'out'),
  ('theft', 'Stolen', 'out'),
  ('found', 'Found stock not on the books', 'in'),
  ('returned', 'Returned unused (by a client, an outreach worker or a site)', 'in'),
  ('correction', 'Correction of a recording error', 'either'),
  ('unexplained', 'Count variance with no known cause', 'either');

-- A lot's expiry is the manufacturer's: the same for every site that holds the lot.
CREATE TABLE lots (
  commodity_code text NOT NULL REFERENCES commodities (code),
  lot_code text NOT NULL CHECK (lot_code ~ '^[A-Z0-9][A-Z0-9./-]{0,39}$'),
  expires_on date NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  PRIMARY KEY (commodity_code, lot_code)
);

CREATE TABLE transfers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  from_site_code text NOT NULL REFERENCES sites (code),
  to_site_code text NOT NULL REFERENCES sites (code),
  commodity_code text NOT NULL REFERENCES commodities (code),
  quantity bigint NOT NULL CHECK (quantity > 0),
  dispatched_on date NOT NULL,
  status text NOT NULL DEFAULT 'in_transit' CHECK (status IN ('in_transit', 'received')),
  received_on date,
  accepted bigint,
  rejected bigint,
  rejection_reason text REFERENCES stock_reasons (code),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  CONSTRAINT transfers_not_to_self CHECK (to_site_code <> from_site_code),
  CONSTRAINT transfers_receipt_complete CHECK (
    (status = 'in_transit' AND received_on IS NULL AND accepted IS NULL AND rejected IS NULL)
    OR (status = 'received' AND received_on >= dispatched_on AND accepted >= 0 AND rejected >= 0
      AND accepted + rejected = quantity AND (rejected = 0) = (rejection_reason IS NULL)))
);
CREATE INDEX transfers_in_transit ON transfers (to_site_code) WHERE status = 'in_transit';

-- A physical count session: the balances it starts from are frozen in its lines, so stock that moves while
-- people count is neither counted twice nor lost (the variance is counted − snapshot, added to today's balance).
CREATE TABLE stock_counts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  site_code text NOT NULL REFERENCES sites (code),
  commodity_code text REFERENCES commodities (code),
  counted_on date NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  started_by text NOT NULL DEFAULT session_user
);

CREATE TABLE stock_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  site_code text NOT NULL REFERENCES sites (code),
  commodity_code text NOT NULL REFERENCES commodities (code),
  -- '' for commodities that are not lot-tracked, so every balance has a plain key.
  lot_code text NOT NULL DEFAULT '',
  kind text NOT NULL CHECK (kind IN ('receipt', 'dispense', 'transfer_out', 'transfer_in', 'adjustment', 'count')),
  -- Signed, in base units: positive adds to on-hand stock.
  quantity bigint NOT NULL,
  reason_code text REFERENCES stock_reasons (code),
  occurred_on date NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  note text CONSTRAINT stock_events_note CHECK (length(note) <= 500),
  population_code text REFERENCES populations (code),
  channel text CHECK (channel IN ('clinic', 'outreach')),
  worker_code text CONSTRAINT stock_events_worker_code CHECK (worker_code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  -- The client's pseudonymous unique identifier code: nothing else about a person is stored. It must hold a
  -- letter, so a phone or national ID number cannot be typed in its place.
  client_uic text CONSTRAINT stock_events_client_uic CHECK (client_uic ~ '^[A-Z0-9-]{6,32}$' AND client_uic ~ '[A-Z]'),
  transfer_id bigint REFERENCES transfers (id),
  count_id bigint REFERENCES stock_counts (id),
  reverses_event_id bigint UNIQUE REFERENCES stock_events (id),
  idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 100),
  -- One request may write several events (a dispense spanning lots): they share the key, numbered from 1.
  key_part smallint NOT NULL DEFAULT 1 CHECK (key_part >= 1),
  -- Digest of the request's content: a repeat with the same key must carry the same content.
  fingerprint bytea NOT NULL,
  CONSTRAINT stock_events_key UNIQUE (site_code, idempotency_key, key_part),
  CONSTRAINT stock_events_nonzero CHECK (quantity <> 0 OR kind = 'count'),
  CONSTRAINT stock_events_sign CHECK (
    kind IN ('adjustment', 'count')
    OR (CASE WHEN kind IN ('receipt', 'transfer_in') THEN quantity > 0 ELSE quantity < 0 END)
      = (reverses_event_id IS NULL)),
  CONSTRAINT stock_events_dispense_details CHECK (
    CASE WHEN kind = 'dispense'
      THEN population_code IS NOT NULL AND channel IS NOT NULL AND (channel = 'outreach') = (worker_code IS NOT NULL)
      ELSE population_code IS NULL AND channel IS NULL AND worker_code IS NULL AND client_uic IS NULL END),
  CONSTRAINT stock_events_reason CHECK (
    kind NOT IN ('adjustment') OR reason_code IS NOT NULL),
  CONSTRAINT stock_events_transfer CHECK (kind NOT IN ('transfer_out', 'transfer_in') OR transfer_id IS NOT NULL)
);
CREATE INDEX stock_events_card ON stock_events (site_code, commodity_code, occurred_on, id);
CREATE INDEX stock_events_transfer_id ON stock_events (transfer_id) WHERE transfer_id IS NOT NULL;

CREATE TABLE stock_balances (
  site_code text NOT NULL REFERENCES sites (code),
  commodity_code text NOT NULL REFERENCES commodities (code),
  lot_code text NOT NULL,
  on_hand bigint NOT NULL,
  CONSTRAINT stock_balances_not_negative CHECK (on_hand >= 0),
  PRIMARY KEY (site_code, commodity_code, lot_code)
);

-- Per site, commodity and day of occurrence: what moved. Closing balances are derived from today's balance
-- minus later days' net change, so a back-dated event only touches its own day's row.
CREATE TABLE stock_daily (
  site_code text NOT NULL REFERENCES sites (code),
  commodity_code text NOT NULL REFERENCES commodities (code),
  day date NOT NULL,
  net_change bigint NOT NULL,
  received bigint NOT NULL,
  dispensed bigint NOT NULL,
  sent bigint NOT NULL,
  adjusted bigint NOT NULL,
  PRIMARY KEY (site_code, commodity_code, day)
);

CREATE FUNCTION stock_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'stock events are append-only: undo an event with a reversing event (kpstock undo)'
    USING ERRCODE = 'KP005';
END $$;
CREATE TRIGGER stock_events_append_only BEFORE UPDATE OR DELETE ON stock_events
  FOR EACH ROW EXECUTE FUNCTION stock_events_refuse_change();
CREATE TRIGGER stock_events_no_truncate BEFORE TRUNCATE ON stock_events
  FOR EACH STATEMENT EXECUTE FUNCTION stock_events_refuse_change();

-- The only writer of balances and daily rollups. Callers that take stock out lock the balances they read
-- first (ledger_take, in key order), so concurrent writers queue instead of deadlocking.
CREATE FUNCTION stock_events_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Existing balances are updated rather than upserted: PostgreSQL checks an upsert's proposed row against
  -- on_hand >= 0 before it finds the conflict, so a negative change would always be refused.
  WITH delta AS (
    SELECT site_code, commodity_code, lot_code, sum(quantity) AS change FROM added
    GROUP BY site_code, commodity_code, lot_code
  ), updated AS (
    UPDATE stock_balances b SET on_hand = b.on_hand + delta.change FROM delta
    WHERE b.site_code = delta.site_code AND b.commodity_code = delta.commodity_code AND b.lot_code = delta.lot_code
    RETURNING b.site_code, b.commodity_code, b.lot_code
  )
  INSERT INTO stock_balances AS b (site_code, commodity_code, lot_code, on_hand)
  SELECT site_code, commodity_code, lot_code, change FROM delta
  WHERE NOT EXISTS (SELECT 1 FROM updated u WHERE u.site_code = delta.site_code
    AND u.commodity_code = delta.commodity_code AND u.lot_code = delta.lot_code)
  ORDER BY site_code, commodity_code, lot_code
  ON CONFLICT (site_code, commodity_code, lot_code) DO UPDATE SET on_hand = b.on_hand + excluded.on_hand;

  INSERT INTO stock_daily AS d (site_code, commodity_code, day, net_change, received, dispensed, sent, adjusted)
  SELECT site_code, commodity_code, occurred_on, sum(quantity),
    coalesce(sum(quantity) FILTER (WHERE kind IN ('receipt', 'transfer_in')), 0),
    coalesce(-sum(quantity) FILTER (WHERE kind = 'dispense'), 0),
    coalesce(-sum(quantity) FILTER (WHERE kind = 'transfer_out'), 0),
    coalesce(sum(quantity) FILTER (WHERE kind IN ('adjustment', 'count')), 0)
  FROM added
  GROUP BY site_code, commodity_code, occurred_on ORDER BY site_code, commodity_code, occurred_on
  ON CONFLICT (site_code, commodity_code, day) DO UPDATE SET
    net_change = d.net_change + excluded.net_change, received = d.received + excluded.received,
    dispensed = d.dispensed + excluded.dispensed, sent = d.sent + excluded.sent,
    adjusted = d.adjusted + excluded.adjusted;
  RETURN NULL;
END $$;
CREATE TRIGGER stock_events_apply AFTER INSERT ON stock_events
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION stock_events_apply();

CREATE FUNCTION stock_derived_refuse_direct_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF pg_trigger_depth() < 2 THEN
    RAISE EXCEPTION '% is kept from stock_events: record an event instead', TG_TABLE_NAME USING ERRCODE = 'KP005';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER stock_balances_derived BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON stock_balances
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_direct_change();
CREATE TRIGGER stock_daily_derived BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON stock_daily
  FOR EACH STATEMENT EXECUTE FUNCTION stock_derived_refuse_direct_change();

-- Once events refer to a commodity, what its quantities mean is fixed.
CREATE FUNCTION commodities_freeze_meaning() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.base_unit, NEW.lot_tracked, NEW.controlled) IS DISTINCT FROM (OLD.base_unit, OLD.lot_tracked, OLD.controlled)
    AND EXISTS (SELECT 1 FROM stock_balances WHERE commodity_code = OLD.code) THEN
    RAISE EXCEPTION 'commodity % has stock events', OLD.code
      USING ERRCODE = 'check_violation', CONSTRAINT = 'commodities_frozen_by_ledger';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER commodities_freeze_meaning BEFORE UPDATE ON commodities
  FOR EACH ROW EXECUTE FUNCTION commodities_freeze_meaning();

-- Every event's day was "today" in the programme's time zone: changing the zone would move history.
CREATE FUNCTION programme_settings_freeze_time_zone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.time_zone IS DISTINCT FROM OLD.time_zone AND EXISTS (SELECT 1 FROM stock_balances) THEN
    RAISE EXCEPTION 'stock events exist' USING ERRCODE = 'check_violation',
      CONSTRAINT = 'programme_settings_time_zone_frozen';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER programme_settings_freeze_time_zone BEFORE UPDATE ON programme_settings
  FOR EACH ROW EXECUTE FUNCTION programme_settings_freeze_time_zone();

-- Errors raised below use SQLSTATE class KP: KP001 not enough stock, KP002 a bad value (COLUMN names the
-- field), KP003 an idempotency key reused for other content, KP004 a back-dated event that would break history,
-- KP005 a change the ledger never allows.

CREATE FUNCTION ledger_refuse(p_field text, p_message text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', p_message USING ERRCODE = 'KP002', COLUMN = p_field;
END $$;

-- The day an event happened: not in the future, not before the back-dating window.
CREATE FUNCTION ledger_check_day(p_day date, p_field text DEFAULT 'date') RETURNS void LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_today date := programme_today();
  v_window integer;
BEGIN
  SELECT backdating_window_days INTO v_window FROM programme_settings;
  IF p_day > v_today THEN
    PERFORM ledger_refuse(p_field, format('%s is in the future (today is %s)', p_day, v_today));
  ELSIF p_day < v_today - v_window THEN
    PERFORM ledger_refuse(p_field, format(
      '%s is more than %s days ago, outside the back-dating window (kpstock settings set --backdating-window-days)',
      p_day, v_window));
  END IF;
END $$;

CREATE FUNCTION ledger_check_site(p_site text, p_day date, p_field text DEFAULT 'site') RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_closed date;
BEGIN
  SELECT closed_on INTO v_closed FROM sites WHERE code = p_site;
  IF NOT FOUND THEN
    PERFORM ledger_refuse(p_field, format('unknown site %s', p_site));
  ELSIF v_closed IS NOT NULL AND p_day > v_closed THEN
    PERFORM ledger_refuse(p_field, format('site %s closed on %s', p_site, v_closed));
  END IF;
END $$;

-- Whether the commodity is lot-tracked; refuses an unknown code.
CREATE FUNCTION ledger_lot_tracked(p_commodity text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_tracked boolean;
BEGIN
  SELECT lot_tracked INTO v_tracked FROM commodities WHERE code = p_commodity;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('commodity', format('unknown commodity %s', p_commodity));
  END IF;
  RETURN v_tracked;
END $$;

-- The lot an incoming movement adds to: creates it with its expiry, or checks the expiry it already has.
CREATE FUNCTION ledger_incoming_lot(p_commodity text, p_lot text, p_expiry date, p_day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_expiry date;
BEGIN
  IF NOT ledger_lot_tracked(p_commodity) THEN
    IF coalesce(p_lot, '') <> '' OR p_expiry IS NOT NULL THEN
      PERFORM ledger_refuse(CASE WHEN coalesce(p_lot, '') <> '' THEN 'lot' ELSE 'expiry' END,
        format('%s is not lot-tracked: give no lot or expiry', p_commodity));
    END IF;
    RETURN '';
  END IF;
  IF coalesce(p_lot, '') = '' THEN
    PERFORM ledger_refuse('lot', format('%s is lot-tracked: give its lot', p_commodity));
  END IF;
  IF p_lot !~ '^[A-Z0-9][A-Z0-9./-]{0,39}$' THEN
    PERFORM ledger_refuse('lot', format(
      '''%s'' is not a lot code (1–40 letters, digits, dots, slashes or dashes)', p_lot));
  END IF;
  SELECT expires_on INTO v_expiry FROM lots WHERE commodity_code = p_commodity AND lot_code = p_lot;
  IF NOT FOUND THEN
    IF p_expiry IS NULL THEN
      PERFORM ledger_refuse('expiry', format('lot %s of %s is new: give its expiry date', p_lot, p_commodity));
    END IF;
    INSERT INTO lots (commodity_code, lot_code, expires_on) VALUES (p_commodity, p_lot, p_expiry)
      ON CONFLICT DO NOTHING;
    SELECT expires_on INTO v_expiry FROM lots WHERE commodity_code = p_commodity AND lot_code = p_lot;
  END IF;
  IF p_expiry IS NOT NULL AND p_expiry <> v_expiry THEN
    PERFORM ledger_refuse('expiry', format('lot %s of %s expires on %s, not %s', p_lot, p_commodity, v_expiry, p_expiry));
  END IF;
  IF v_expiry < p_day THEN
    PERFORM ledger_refuse('expiry', format('lot %s of %s expired on %s, before %s', p_lot, p_commodity, v_expiry, p_day));
  END IF;
  RETURN p_lot;
END $$;

-- How much of a commodity a site can give out on a past day without making any later closing balance
-- negative, and the day that limits it. Reads the daily rollup after that day only.
CREATE FUNCTION ledger_history_room(p_site text, p_commodity text, p_day date, OUT room bigint, OUT limiting_day date)
LANGUAGE sql STABLE AS $$
  WITH later AS (
    SELECT day, sum(net_change) OVER (ORDER BY day DESC) - net_change AS after_day
    FROM stock_daily WHERE site_code = p_site AND commodity_code = p_commodity AND day > p_day
  ), candidates AS (
    SELECT p_day AS day, coalesce((SELECT sum(net_change) FROM stock_daily
      WHERE site_code = p_site AND commodity_code = p_commodity AND day > p_day), 0) AS after_day
    UNION ALL SELECT day, after_day FROM later
  )
  SELECT (SELECT coalesce(sum(on_hand), 0) FROM stock_balances WHERE site_code = p_site AND commodity_code = p_commodity)
      - after_day, day
  FROM candidates ORDER BY after_day DESC, day LIMIT 1
$$;

-- Takes stock out of a site: locks the commodity's balances there (in lot order), picks lots first-expiry-
-- first-out unless one is named, and refuses what the stock (today, and on every day since a back-dated
-- p_day) cannot cover. `p_expired` is 'skip' (dispense, send), 'only' (write off as expired) or 'allow'.
CREATE FUNCTION ledger_take(
  p_site text, p_commodity text, p_lot text, p_quantity bigint, p_day date, p_expired text
) RETURNS TABLE (taken_lot text, taken bigint) LANGUAGE plpgsql AS $$
DECLARE
  v_left bigint := p_quantity;
  v_expired_stock bigint := 0;
  v_lot_expiry date;
  v_history record;
  v_lot text := nullif(p_lot, '');
  v_what text;
  r record;
BEGIN
  IF p_quantity <= 0 THEN
    PERFORM ledger_refuse('qty', format('must be a positive whole number, not %s', p_quantity));
  END IF;
  IF NOT ledger_lot_tracked(p_commodity) THEN
    IF v_lot IS NOT NULL THEN
      PERFORM ledger_refuse('lot', format('%s is not lot-tracked: give no lot', p_commodity));
    END IF;
    v_lot := '';
  ELSIF v_lot IS NOT NULL THEN
    SELECT expires_on INTO v_lot_expiry FROM lots WHERE commodity_code = p_commodity AND lot_code = v_lot;
    IF NOT FOUND THEN
      PERFORM ledger_refuse('lot', format('unknown lot %s of %s', v_lot, p_commodity));
    ELSIF p_expired = 'skip' AND v_lot_expiry < p_day THEN
      PERFORM ledger_refuse('lot', format(
        'lot %s of %s expired on %s: it can only be adjusted out as expired', v_lot, p_commodity, v_lot_expiry));
    ELSIF p_expired = 'only' AND v_lot_expiry >= p_day THEN
      PERFORM ledger_refuse('lot', format('lot %s of %s expires on %s: it has not expired', v_lot, p_commodity, v_lot_expiry));
    END IF;
  END IF;

  PERFORM 1 FROM stock_balances b WHERE b.site_code = p_site AND b.commodity_code = p_commodity
    ORDER BY b.lot_code FOR UPDATE;

  FOR r IN
    SELECT b.lot_code, b.on_hand, l.expires_on
    FROM stock_balances b LEFT JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
    WHERE b.site_code = p_site AND b.commodity_code = p_commodity AND b.on_hand > 0
      AND (v_lot IS NULL OR b.lot_code = v_lot)
    ORDER BY l.expires_on NULLS LAST, b.lot_code
  LOOP
    IF v_lot IS NULL AND r.expires_on IS NOT NULL
      AND ((p_expired = 'skip' AND r.expires_on < p_day) OR (p_expired = 'only' AND r.expires_on >= p_day)) THEN
      v_expired_stock := v_expired_stock + CASE WHEN r.expires_on < p_day THEN r.on_hand ELSE 0 END;
      CONTINUE;
    END IF;
    EXIT WHEN v_left = 0;
    taken_lot := r.lot_code;
    taken := least(v_left, r.on_hand);
    v_left := v_left - taken;
    RETURN NEXT;
  END LOOP;

  v_what := p_commodity || CASE WHEN coalesce(p_lot, '') <> '' THEN ' lot ' || p_lot ELSE '' END;
  IF v_left > 0 THEN
    RAISE EXCEPTION '%', format('insufficient %sstock of %s at %s: on hand %s, asked %s%s',
        CASE WHEN p_expired = 'only' THEN 'expired ' ELSE '' END, v_what, p_site, p_quantity - v_left, p_quantity,
        CASE WHEN p_expired = 'skip' AND v_expired_stock > 0
          THEN format(' (another %s are in expired lots)', v_expired_stock) ELSE '' END)
      USING ERRCODE = 'KP001';
  END IF;

  IF p_day < programme_today() THEN
    SELECT * INTO v_history FROM ledger_history_room(p_site, p_commodity, p_day);
    IF v_history.room < p_quantity THEN
      RAISE EXCEPTION '%', format(
          'back-dated to %s, this would make the stock of %s at %s negative on %s: balance then %s, asked %s',
          p_day, p_commodity, p_site, v_history.limiting_day, v_history.room, p_quantity)
        USING ERRCODE = 'KP004';
    END IF;
  END IF;
END $$;

-- What a posting function returns: the request's events, and whether they were recorded by an earlier
-- call with the same key (a repeat is a no-op).
CREATE TYPE ledger_posted AS (
  replayed boolean,
  id bigint,
  site_code text,
  commodity_code text,
  lot_code text,
  expires_on date,
  kind text,
  quantity bigint,
  reason_code text,
  occurred_on date,
  transfer_id bigint,
  count_id bigint,
  reverses_event_id bigint
);

CREATE FUNCTION ledger_posted_for(p_site text, p_key text, p_replayed boolean) RETURNS SETOF ledger_posted
LANGUAGE sql STABLE AS $$
  SELECT p_replayed, e.id, e.site_code, e.commodity_code, e.lot_code, l.expires_on, e.kind, e.quantity, e.reason_code,
    e.occurred_on, e.transfer_id, e.count_id, e.reverses_event_id
  FROM stock_events e LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
  WHERE e.site_code = p_site AND e.idempotency_key = p_key ORDER BY e.key_part
$$;

-- True when the key is new at this site. A repeat with the same content returns false; a repeat with other
-- content is refused. The advisory lock makes two concurrent requests with one key take turns.
CREATE FUNCTION ledger_claim_key(p_site text, p_key text, p_fingerprint bytea) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  v_fingerprint bytea;
  v_event bigint;
BEGIN
  IF p_key IS NULL OR length(p_key) NOT BETWEEN 1 AND 100 OR p_key ~ '[[:cntrl:]]' THEN
    PERFORM ledger_refuse('key', 'must be 1–100 characters without control characters');
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended(p_site || E'\n' || p_key, 0));
  SELECT fingerprint, id INTO v_fingerprint, v_event FROM stock_events
  WHERE site_code = p_site AND idempotency_key = p_key AND key_part = 1;
  IF NOT FOUND THEN
    RETURN true;
  ELSIF v_fingerprint = p_fingerprint THEN
    RETURN false;
  END IF;
  RAISE EXCEPTION '%', format('key %s was already used at %s for a different entry (event %s)', p_key, p_site, v_event)
    USING ERRCODE = 'KP003', COLUMN = 'key';
END $$;

-- The start of every posting at one site: claim the key (false: a repeat, nothing more to do), then check
-- the day and the site.
CREATE FUNCTION ledger_open_request(p_site text, p_key text, p_fingerprint bytea, p_day date) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ledger_claim_key(p_site, p_key, p_fingerprint) THEN
    RETURN false;
  END IF;
  PERFORM ledger_check_day(p_day);
  PERFORM ledger_check_site(p_site, p_day);
  RETURN true;
END $$;

CREATE FUNCTION ledger_receive(
  p_key text, p_fingerprint bytea, p_site text, p_commodity text, p_lot text, p_expiry date, p_quantity bigint,
  p_day date, p_note text
) RETURNS SETOF ledger_posted LANGUAGE plpgsql AS $$
DECLARE
  v_lot text;
BEGIN
  p_day := coalesce(p_day, programme_today());
  IF NOT ledger_open_request(p_site, p_key, p_fingerprint, p_day) THEN
    RETURN QUERY SELECT * FROM ledger_posted_for(p_site, p_key, true);
    RETURN;
  END IF;
  IF p_quantity IS NULL OR p_quantity <= 0 THEN
    PERFORM ledger_refuse('qty', format('must be a positive whole number, not %s', p_quantity));
  END IF;
  v_lot := ledger_incoming_lot(p_commodity, p_lot, p_expiry, p_day);
  INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, note, idempotency_key,
    fingerprint)
  VALUES (p_site, p_commodity, v_lot, 'receipt', p_quantity, p_day, p_note, p_key, p_fingerprint);
  RETURN QUERY SELECT * FROM ledger_posted_for(p_site, p_key, false);
END $$;

CREATE FUNCTION ledger_dispense(
  p_key text, p_fingerprint bytea, p_site text, p_commodity text, p_lot text, p_quantity bigint, p_day date,
  p_population text, p_channel text, p_worker text, p_client text, p_note text
) RETURNS SETOF ledger_posted LANGUAGE plpgsql AS $$
BEGIN
  p_day := coalesce(p_day, programme_today());
  IF NOT ledger_open_request(p_site, p_key, p_fingerprint, p_day) THEN
    RETURN QUERY SELECT * FROM ledger_posted_for(p_site, p_key, true);
    RETURN;
  END IF;
  IF p_channel = 'outreach' AND p_worker IS NULL THEN
    PERFORM ledger_refuse('worker', 'outreach dispensing needs the peer educator''s code');
  ELSIF p_channel = 'clinic' AND p_worker IS NOT NULL THEN
    PERFORM ledger_refuse('worker', 'only outreach dispensing names a peer educator');
  END IF;
  INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, note, population_code,
    channel, worker_code, client_uic, idempotency_key, key_part, fingerprint)
  SELECT p_site, p_commodity, taken_lot, 'dispense', -taken, p_day, p_note, p_population, p_channel, p_worker,
    p_client, p_key, row_number() OVER (), p_fingerprint
  FROM ledger_take(p_site, p_commodity, p_lot, p_quantity, p_day, 'skip');
  RETURN QUERY SELECT * FROM ledger_posted_for(p_site, p_key, false);
END $$;

-- p_quantity is signed: positive adds stock, negative removes it; the reason's direction must agree.
CREATE FUNCTION ledger_adjust(
  p_key text, p_fingerprint bytea, p_site text, p_commodity text, p_lot text, p_expiry date, p_quantity bigint,
  p_reason text, p_day date, p_note text
) RETURNS SETOF ledger_posted LANGUAGE plpgsql AS $$
DECLARE
  v_direction text;
BEGIN
  p_day := coalesce(p_day, programme_today());
  IF NOT ledger_open_request(p_site, p_key, p_fingerprint, p_day) THEN
    RETURN QUERY SELECT * FROM ledger_posted_for(p_site, p_key, true);
    RETURN;
  END IF;
  SELECT direction INTO v_direction FROM stock_reasons WHERE code = p_reason;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('reason', format('unknown reason %s (see kpstock reason list)', p_reason));
  END IF;
  IF p_quantity IS NULL OR p_quantity = 0 THEN
    PERFORM ledger_refuse('qty', 'must not be zero');
  ELSIF p_quantity > 0 AND v_direction = 'out' THEN
    PERFORM ledger_refuse('qty', format('reason %s removes stock', p_reason));
  ELSIF p_quantity < 0 AND v_direction = 'in' THEN
    PERFORM ledger_refuse('qty', format('reason %s adds stock', p_reason));
  END IF;
  IF p_quantity > 0 THEN
    INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, reason_code, occurred_on, note,
      idempotency_key, fingerprint)
    VALUES (p_site, p_commodity, ledger_incoming_lot(p_commodity, p_lot, p_expiry, p_day), 'adjustment', p_quantity,
      p_reason, p_day, p_note, p_key, p_fingerprint);
  ELSE
    IF p_expiry IS NOT NULL THEN
      PERFORM ledger_refuse('expiry', 'give an expiry only when adding stock of a new lot');
    END IF;
    INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, reason_code, occurred_on, note,
      idempotency_key, key_part, fingerprint)
    SELECT p_site, p_commodity, taken_lot, 'adjustment', -taken, p_reason, p_day, p_note, p_key,
      row_number() OVER (), p_fingerprint
    FROM ledger_take(p_site, p_commodity, p_lot, -p_quantity, p_day,
      CASE WHEN p_reason = 'expired' THEN 'only' WHEN coalesce(p_lot, '') <> '' THEN 'allow' ELSE 'skip' END);
  END IF;
  RETURN QUERY SELECT * FROM ledger_posted_for(p_site, p_key, false);
END $$;

CREATE TABLE stock_count_lines (
  count_id bigint NOT NULL REFERENCES stock_counts (id),
  site_code text NOT NULL REFERENCES sites (code),
  commodity_code text NOT NULL REFERENCES commodities (code),
  lot_code text NOT NULL,
  snapshot_on_hand bigint NOT NULL CHECK (snapshot_on_hand >= 0),
  counted bigint CHECK (counted >= 0),
  event_id bigint REFERENCES stock_events (id),
  PRIMARY KEY (count_id, commodity_code, lot_code)
);

CREATE FUNCTION count_start(p_site text, p_commodity text, p_day date) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_count bigint;
BEGIN
  p_day := coalesce(p_day, programme_today());
  PERFORM ledger_check_day(p_day);
  PERFORM ledger_check_site(p_site, p_day);
  INSERT INTO stock_counts (site_code, commodity_code, counted_on) VALUES (p_site, p_commodity, p_day)
    RETURNING id INTO v_count;
  INSERT INTO stock_count_lines (count_id, site_code, commodity_code, lot_code, snapshot_on_hand)
  SELECT v_count, site_code, commodity_code, lot_code, on_hand FROM stock_balances
  WHERE site_code = p_site AND (p_commodity IS NULL OR commodity_code = p_commodity) AND on_hand > 0;
  RETURN v_count;
END $$;


-- Sets the counted quantity of one lot. With p_count the variance is against the count's snapshot (stock
-- that moved since is kept); without, against the balance at the end of p_day.
CREATE FUNCTION ledger_count(
  p_key text, p_fingerprint bytea, p_site text, p_commodity text, p_lot text, p_expiry date, p_counted bigint,
  p_reason text, p_day date, p_count bigint, p_note text
) RETURNS SETOF ledger_posted LANGUAGE plpgsql AS $$
DECLARE
  v_lot text;
  v_snapshot bigint;
  v_variance bigint;
  v_direction text;
  v_reason text := p_reason;
  v_day date := p_day;
  v_count record;
  v_line record;
BEGIN
  IF NOT ledger_claim_key(p_site, p_key, p_fingerprint) THEN
    RETURN QUERY SELECT * FROM ledger_posted_for(p_site, p_key, true);
    RETURN;
  END IF;
  IF p_counted IS NULL OR p_counted < 0 THEN
    PERFORM ledger_refuse('qty', format('must be zero or a positive whole number, not %s', p_counted));
  END IF;
  IF p_count IS NOT NULL THEN
    SELECT * INTO v_count FROM stock_counts WHERE id = p_count;
    IF NOT FOUND OR v_count.site_code <> p_site THEN
      PERFORM ledger_refuse('count', format('no count %s at %s', p_count, p_site));
    ELSIF v_count.commodity_code IS DISTINCT FROM NULL AND v_count.commodity_code <> p_commodity THEN
      PERFORM ledger_refuse('commodity', format('count %s is of %s only', p_count, v_count.commodity_code));
    ELSIF p_day IS NOT NULL AND p_day <> v_count.counted_on THEN
      PERFORM ledger_refuse('date', format('count %s was taken on %s', p_count, v_count.counted_on));
    END IF;
    v_day := v_count.counted_on;
  END IF;
  v_day := coalesce(v_day, programme_today());
  PERFORM ledger_check_day(v_day);
  PERFORM ledger_check_site(p_site, v_day);
  IF ledger_lot_tracked(p_commodity) AND coalesce(p_lot, '') <> ''
    AND NOT EXISTS (SELECT 1 FROM lots WHERE commodity_code = p_commodity AND lot_code = p_lot) AND p_counted = 0 THEN
    PERFORM ledger_refuse('lot', format('unknown lot %s of %s', p_lot, p_commodity));
  END IF;
  IF p_counted > 0 OR NOT ledger_lot_tracked(p_commodity) THEN
    v_lot := ledger_incoming_lot(p_commodity, p_lot, p_expiry, '-infinity');
  ELSE
    v_lot := coalesce(p_lot, '');
    IF v_lot = '' THEN
      PERFORM ledger_refuse('lot', format('%s is lot-tracked: count each lot', p_commodity));
    END IF;
  END IF;

  PERFORM 1 FROM stock_balances WHERE site_code = p_site AND commodity_code = p_commodity ORDER BY lot_code FOR UPDATE;
  IF p_count IS NOT NULL THEN
    SELECT * INTO v_line FROM stock_count_lines WHERE count_id = p_count AND commodity_code = p_commodity
      AND lot_code = v_lot FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO stock_count_lines (count_id, site_code, commodity_code, lot_code, snapshot_on_hand)
      VALUES (p_count, p_site, p_commodity, v_lot, 0);
      v_snapshot := 0;
    ELSIF v_line.event_id IS NOT NULL THEN
      PERFORM ledger_refuse('count', format('%s%s was already counted in count %s (event %s)', p_commodity,
        CASE WHEN v_lot <> '' THEN ' lot ' || v_lot ELSE '' END, p_count, v_line.event_id));
    ELSE
      v_snapshot := v_line.snapshot_on_hand;
    END IF;
  ELSE
    SELECT coalesce(sum(on_hand), 0) INTO v_snapshot FROM stock_balances
    WHERE site_code = p_site AND commodity_code = p_commodity AND lot_code = v_lot;
    v_snapshot := v_snapshot - coalesce((SELECT sum(quantity) FROM stock_events WHERE site_code = p_site
      AND commodity_code = p_commodity AND lot_code = v_lot AND occurred_on > v_day), 0);
  END IF;

  v_variance := p_counted - v_snapshot;
  IF v_variance <> 0 THEN
    v_reason := coalesce(v_reason, 'unexplained');
    SELECT direction INTO v_direction FROM stock_reasons WHERE code = v_reason;
    IF NOT FOUND THEN
      PERFORM ledger_refuse('reason', format('unknown reason %s (see kpstock reason list)', v_reason));
    ELSIF (v_variance > 0 AND v_direction = 'out') OR (v_variance < 0 AND v_direction = 'in') THEN
      PERFORM ledger_refuse('reason', format('reason %s %s stock, but the count %s %s', v_reason,
        CASE WHEN v_direction = 'out' THEN 'removes' ELSE 'adds' END,
        CASE WHEN v_variance > 0 THEN 'finds' ELSE 'is short by' END, abs(v_variance)));
    END IF;
  END IF;
  IF v_variance < 0 THEN
    PERFORM ledger_take(p_site, p_commodity, v_lot, -v_variance, v_day, 'allow');
  END IF;
  INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, reason_code, occurred_on, note,
    count_id, idempotency_key, fingerprint)
  VALUES (p_site, p_commodity, v_lot, 'count', v_variance, CASE WHEN v_variance <> 0 THEN v_reason END, v_day, p_note,
    p_count, p_key, p_fingerprint);
  IF p_count IS NOT NULL THEN
    UPDATE stock_count_lines SET counted = p_counted,
      event_id = (SELECT id FROM stock_events WHERE site_code = p_site AND idempotency_key = p_key AND key_part = 1)
    WHERE count_id = p_count AND commodity_code = p_commodity AND lot_code = v_lot;
  END IF;
  RETURN QUERY SELECT * FROM ledger_posted_for(p_site, p_key, false);
END $$;

CREATE FUNCTION ledger_dispatch(
  p_key text, p_fingerprint bytea, p_from text, p_to text, p_commodity text, p_lot text, p_quantity bigint,
  p_day date, p_note text
) RETURNS SETOF ledger_posted LANGUAGE plpgsql AS $$
DECLARE
  v_transfer bigint;
BEGIN
  p_day := coalesce(p_day, programme_today());
  IF NOT ledger_open_request(p_from, p_key, p_fingerprint, p_day) THEN
    RETURN QUERY SELECT * FROM ledger_posted_for(p_from, p_key, true);
    RETURN;
  END IF;
  PERFORM ledger_check_site(p_to, p_day, 'to');
  IF p_from = p_to THEN
    PERFORM ledger_refuse('to', 'a site cannot send stock to itself');
  END IF;
  IF p_quantity IS NULL OR p_quantity <= 0 THEN
    PERFORM ledger_refuse('qty', format('must be a positive whole number, not %s', p_quantity));
  END IF;
  PERFORM ledger_lot_tracked(p_commodity);
  INSERT INTO transfers (from_site_code, to_site_code, commodity_code, quantity, dispatched_on)
  VALUES (p_from, p_to, p_commodity, p_quantity, p_day) RETURNING id INTO v_transfer;
  INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, occurred_on, note, transfer_id,
    idempotency_key, key_part, fingerprint)
  SELECT p_from, p_commodity, taken_lot, 'transfer_out', -taken, p_day, p_note, v_transfer, p_key,
    row_number() OVER (), p_fingerprint
  FROM ledger_take(p_from, p_commodity, p_lot, p_quantity, p_day, 'skip');
  RETURN QUERY SELECT * FROM ledger_posted_for(p_from, p_key, false);
END $$;

-- Receives a transfer at its destination. Everything dispatched comes in; a rejected part is written off at
-- once as an adjustment with the rejection's reason, linked to the transfer (it does not travel back).
CREATE FUNCTION ledger_receive_transfer(
  p_key text, p_fingerprint bytea, p_transfer bigint, p_rejected bigint, p_reason text, p_lot text, p_day date,
  p_note text
) RETURNS SETOF ledger_posted LANGUAGE plpgsql AS $$
DECLARE
  t record;
  v_lots text[];
  v_reject_lot text;
  v_lot_sent bigint;
  v_direction text;
  v_day date;
BEGIN
  SELECT * INTO t FROM transfers WHERE id = p_transfer FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('transfer', format('no transfer %s', p_transfer));
  END IF;
  IF NOT ledger_claim_key(t.to_site_code, p_key, p_fingerprint) THEN
    RETURN QUERY SELECT * FROM ledger_posted_for(t.to_site_code, p_key, true);
    RETURN;
  END IF;
  IF t.status <> 'in_transit' THEN
    PERFORM ledger_refuse('transfer', format('transfer %s was already received on %s', p_transfer, t.received_on));
  END IF;
  v_day := coalesce(p_day, programme_today());
  PERFORM ledger_check_day(v_day);
  PERFORM ledger_check_site(t.to_site_code, v_day);
  IF v_day < t.dispatched_on THEN
    PERFORM ledger_refuse('date', format('transfer %s was dispatched on %s', p_transfer, t.dispatched_on));
  END IF;
  IF p_rejected < 0 OR p_rejected > t.quantity THEN
    PERFORM ledger_refuse('rejected', format('must be between 0 and the %s dispatched', t.quantity));
  END IF;
  SELECT array_agg(lot_code ORDER BY key_part) INTO v_lots FROM stock_events
  WHERE transfer_id = p_transfer AND kind = 'transfer_out';
  IF p_rejected > 0 THEN
    SELECT direction INTO v_direction FROM stock_reasons WHERE code = p_reason;
    IF p_reason IS NULL THEN
      PERFORM ledger_refuse('reason', 'a rejection needs a reason (see kpstock reason list)');
    ELSIF NOT FOUND THEN
      PERFORM ledger_refuse('reason', format('unknown reason %s (see kpstock reason list)', p_reason));
    ELSIF v_direction = 'in' THEN
      PERFORM ledger_refuse('reason', format('reason %s adds stock; a rejection writes stock off', p_reason));
    END IF;
    IF coalesce(p_lot, '') <> '' THEN
      v_reject_lot := p_lot;
    ELSIF cardinality(v_lots) = 1 THEN
      v_reject_lot := v_lots[1];
    ELSE
      PERFORM ledger_refuse('lot', format('transfer %s carries lots %s: name the rejected one', p_transfer,
        array_to_string(v_lots, ', ')));
    END IF;
    SELECT -sum(quantity) INTO v_lot_sent FROM stock_events
    WHERE transfer_id = p_transfer AND kind = 'transfer_out' AND lot_code = v_reject_lot;
    IF v_lot_sent IS NULL THEN
      PERFORM ledger_refuse('lot', format('transfer %s carries no lot %s', p_transfer, v_reject_lot));
    ELSIF v_lot_sent < p_rejected THEN
      PERFORM ledger_refuse('rejected', format('transfer %s carries only %s of lot %s', p_transfer, v_lot_sent,
        v_reject_lot));
    END IF;
  ELSIF p_reason IS NOT NULL OR coalesce(p_lot, '') <> '' THEN
    PERFORM ledger_refuse(CASE WHEN p_reason IS NOT NULL THEN 'reason' ELSE 'lot' END,
      'give a reason and lot only with --rejected');
  END IF;

  UPDATE transfers SET status = 'received', received_on = v_day, accepted = quantity - p_rejected,
    rejected = p_rejected, rejection_reason = CASE WHEN p_rejected > 0 THEN p_reason END
  WHERE id = p_transfer;
  INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, reason_code, occurred_on, note,
    transfer_id, idempotency_key, key_part, fingerprint)
  SELECT t.to_site_code, commodity_code, lot_code, kind, quantity, reason, v_day, p_note, p_transfer, p_key,
    row_number() OVER (ORDER BY position), p_fingerprint
  FROM (
    SELECT commodity_code, lot_code, 'transfer_in' AS kind, -quantity AS quantity, NULL::text AS reason,
      key_part AS position
    FROM stock_events WHERE transfer_id = p_transfer AND kind = 'transfer_out'
    UNION ALL
    SELECT t.commodity_code, v_reject_lot, 'adjustment', -p_rejected, p_reason, 32767 WHERE p_rejected > 0
  ) moves;
  RETURN QUERY SELECT * FROM ledger_posted_for(t.to_site_code, p_key, false);
END $$;

-- Reverses one event on the day it happened. Transfers are corrected by receiving with a rejection instead,
-- since a reversed dispatch would leave the transfer's lots in two places.
CREATE FUNCTION ledger_undo(p_key text, p_fingerprint bytea, p_event bigint, p_reason text, p_note text)
RETURNS SETOF ledger_posted LANGUAGE plpgsql AS $$
DECLARE
  e stock_events;
  v_reversal bigint;
BEGIN
  SELECT * INTO e FROM stock_events WHERE id = p_event;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('event', format('no event %s', p_event));
  END IF;
  IF NOT ledger_claim_key(e.site_code, p_key, p_fingerprint) THEN
    RETURN QUERY SELECT * FROM ledger_posted_for(e.site_code, p_key, true);
    RETURN;
  END IF;
  IF e.reverses_event_id IS NOT NULL THEN
    PERFORM ledger_refuse('event', format('event %s already reverses event %s', p_event, e.reverses_event_id));
  END IF;
  SELECT id INTO v_reversal FROM stock_events WHERE reverses_event_id = p_event;
  IF FOUND THEN
    PERFORM ledger_refuse('event', format('event %s was already undone by event %s', p_event, v_reversal));
  END IF;
  IF e.kind IN ('transfer_out', 'transfer_in') OR e.transfer_id IS NOT NULL THEN
    PERFORM ledger_refuse('event', format(
      'event %s belongs to transfer %s: correct it when receiving (--rejected) or with an adjustment', p_event,
      e.transfer_id));
  END IF;
  IF e.quantity = 0 THEN
    PERFORM ledger_refuse('event', format('event %s changed no stock', p_event));
  END IF;
  IF NOT EXISTS (SELECT 1 FROM stock_reasons WHERE code = p_reason) THEN
    PERFORM ledger_refuse('reason', format('unknown reason %s (see kpstock reason list)', p_reason));
  END IF;
  PERFORM ledger_check_day(e.occurred_on, 'event');
  IF e.quantity > 0 THEN
    PERFORM ledger_take(e.site_code, e.commodity_code, e.lot_code, e.quantity, e.occurred_on, 'allow');
  END IF;
  INSERT INTO stock_events (site_code, commodity_code, lot_code, kind, quantity, reason_code, occurred_on, note,
    population_code, channel, worker_code, client_uic, count_id, reverses_event_id, idempotency_key, fingerprint)
  VALUES (e.site_code, e.commodity_code, e.lot_code, e.kind, -e.quantity,
    p_reason, e.occurred_on, p_note, e.population_code,
    e.channel, e.worker_code, e.client_uic, e.count_id, p_event, p_key, p_fingerprint);
  RETURN QUERY SELECT * FROM ledger_posted_for(e.site_code, p_key, false);
END $$;

-- Closing on-hand per site, commodity and day, and what was dispensed that day, read from the daily rollup
-- and today's balances. Days without movement carry the previous closing balance.
CREATE FUNCTION stock_daily_history(p_from date, p_to date, p_site text DEFAULT NULL, p_commodity text DEFAULT NULL)
RETURNS TABLE (site_code text, commodity_code text, day date, closing_on_hand bigint, dispensed bigint)
LANGUAGE sql STABLE AS $$
  WITH keys AS (
    SELECT b.site_code, b.commodity_code, sum(b.on_hand) AS on_hand FROM stock_balances b
    WHERE (p_site IS NULL OR b.site_code = p_site) AND (p_commodity IS NULL OR b.commodity_code = p_commodity)
    GROUP BY b.site_code, b.commodity_code
  ), grid AS (
    SELECT k.site_code, k.commodity_code, k.on_hand, g.day,
      coalesce(d.net_change, 0) AS net_change, coalesce(d.dispensed, 0) AS dispensed
    FROM keys k
    CROSS JOIN LATERAL (SELECT p_from + i AS day FROM generate_series(0, greatest(p_to, programme_today()) - p_from) i) g
    LEFT JOIN stock_daily d ON d.site_code = k.site_code AND d.commodity_code = k.commodity_code AND d.day = g.day
  ), closing AS (
    SELECT site_code, commodity_code, day, dispensed,
      on_hand - coalesce(sum(net_change) OVER (PARTITION BY site_code, commodity_code ORDER BY day DESC
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS closing_on_hand
    FROM grid
  )
  SELECT site_code, commodity_code, day, closing_on_hand, dispensed FROM closing
  WHERE day BETWEEN p_from AND p_to ORDER BY site_code, commodity_code, day
$$;

-- Per ISO week: units dispensed and days that closed with no stock. The forecast skips weeks stocked out
-- all seven days (they carry no information about use).
CREATE FUNCTION stock_weekly_history(
  p_from date, p_to date, p_site text DEFAULT NULL, p_commodity text DEFAULT NULL
) RETURNS TABLE (
  site_code text, commodity_code text, week_start date, iso_week text, dispensed bigint, stocked_out_days integer,
  days integer
) LANGUAGE sql STABLE AS $$
  SELECT site_code, commodity_code, day - (extract(isodow FROM day)::integer - 1) AS week_start,
    to_char(min(day), 'IYYY') || 'W' || to_char(min(day), 'FMIW'),
    sum(dispensed)::bigint, (count(*) FILTER (WHERE closing_on_hand <= 0))::integer, count(*)::integer
  FROM stock_daily_history(p_from - (extract(isodow FROM p_from)::integer - 1), p_to, p_site, p_commodity)
  GROUP BY site_code, commodity_code, week_start
  ORDER BY site_code, commodity_code, week_start
$$;

-- Recomputes what the ledger keeps from events and lists every difference; no rows means all is consistent.
CREATE FUNCTION ledger_verify() RETURNS TABLE (
  check_name text, site_code text, commodity_code text, lot_code text, day date, expected bigint, recorded bigint
) LANGUAGE sql STABLE AS $$
  WITH from_events AS (
    SELECT site_code, commodity_code, lot_code, sum(quantity) AS on_hand FROM stock_events GROUP BY 1, 2, 3
  )
  SELECT 'balance', coalesce(e.site_code, b.site_code), coalesce(e.commodity_code, b.commodity_code),
    coalesce(e.lot_code, b.lot_code), NULL::date, coalesce(e.on_hand, 0), coalesce(b.on_hand, 0)
  FROM from_events e FULL JOIN stock_balances b USING (site_code, commodity_code, lot_code)
  WHERE coalesce(e.on_hand, 0) IS DISTINCT FROM coalesce(b.on_hand, 0) OR b.on_hand IS NULL
  UNION ALL
  SELECT 'daily', coalesce(e.site_code, d.site_code), coalesce(e.commodity_code, d.commodity_code), NULL,
    coalesce(e.day, d.day), coalesce(e.net, 0), coalesce(d.net_change, 0)
  FROM (SELECT site_code, commodity_code, occurred_on AS day, sum(quantity) AS net,
      coalesce(-sum(quantity) FILTER (WHERE kind = 'dispense'), 0) AS dispensed
    FROM stock_events GROUP BY 1, 2, 3) e
  FULL JOIN stock_daily d USING (site_code, commodity_code, day)
  WHERE coalesce(e.net, 0) <> coalesce(d.net_change, 0) OR coalesce(e.dispensed, 0) <> coalesce(d.dispensed, 0)
    OR d.day IS NULL
  UNION ALL
  SELECT 'transfer ' || t.id, t.from_site_code, t.commodity_code, NULL, t.dispatched_on, t.quantity,
    coalesce(-(SELECT sum(quantity) FROM stock_events e WHERE e.transfer_id = t.id AND e.kind = 'transfer_out'), 0)
  FROM transfers t
  WHERE t.quantity <> coalesce(-(SELECT sum(quantity) FROM stock_events e
      WHERE e.transfer_id = t.id AND e.kind = 'transfer_out'), 0)
    OR (t.status = 'received') <> EXISTS (SELECT 1 FROM stock_events e WHERE e.transfer_id = t.id
      AND e.kind = 'transfer_in')
  ORDER BY 1, 2, 3, 4, 5
$$;
