-- The stock ledger's tables. Append-only events are the truth; balances and daily rollups are booked from them
-- in the same statement family by ledger_book (Schema/functions/20_ledger_book.sql), the one writer of all three,
-- and `ledger verify` recomputes both from events. Every site-scoped table carries site_code (row-level security
-- by site; distribution by site), and idempotency keys are unique per site for the same reason.

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

-- Events carry no foreign keys to sites, commodities or populations: a row-by-row key check costs a lookup and a
-- shared lock on a hot parent row for every event. ledger_book checks them once per batch, balances keep their
-- foreign keys (every event books one), a trigger keeps populations in use, and `ledger verify` lists any event
-- whose parent is missing.
CREATE TABLE stock_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  site_code text NOT NULL,
  commodity_code text NOT NULL,
  -- '' for commodities that are not lot-tracked, so every balance has a plain key.
  lot_code text NOT NULL DEFAULT '',
  kind text NOT NULL CHECK (kind IN ('receipt', 'dispense', 'transfer_out', 'transfer_in', 'adjustment', 'count')),
  -- Signed, in base units: positive adds to on-hand stock.
  quantity bigint NOT NULL,
  reason_code text REFERENCES stock_reasons (code),
  occurred_on date NOT NULL,
  -- The programme's day when the event was booked (its simulated day under `kpstock simulate`): `ledger verify`
  -- checks that no event was booked before it happened. Only ledger_book fills it, so a raw INSERT must name it.
  recorded_on date NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  note text CONSTRAINT stock_events_note CHECK (length(note) <= 500),
  population_code text,
  channel text CHECK (channel IN ('clinic', 'outreach')),
  worker_code text CONSTRAINT stock_events_worker_code CHECK (worker_code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  -- The client's pseudonymous unique identifier code: nothing else about a person is stored. It must hold a
  -- letter, so a phone or national ID number cannot be typed in its place.
  client_uic text CONSTRAINT stock_events_client_uic CHECK (client_uic ~ '^[A-Z0-9-]{6,32}$' AND client_uic ~ '[A-Z]'),
  transfer_id bigint REFERENCES transfers (id),
  count_id bigint REFERENCES stock_counts (id),
  reverses_event_id bigint REFERENCES stock_events (id),
  idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 100),
  -- One request may write several events (a dispense spanning lots): they share the key, numbered from 1.
  key_part smallint NOT NULL DEFAULT 1 CHECK (key_part >= 1),
  -- Digest of the request's normalised content without its day (ledger_fingerprint): a repeat under the same
  -- key must carry the same content, and name the same day or none.
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
  CONSTRAINT stock_events_reason CHECK (kind <> 'adjustment' OR reason_code IS NOT NULL),
  CONSTRAINT stock_events_transfer CHECK (kind NOT IN ('transfer_out', 'transfer_in') OR transfer_id IS NOT NULL)
);
CREATE INDEX stock_events_card ON stock_events (site_code, commodity_code, occurred_on, id);
CREATE INDEX stock_events_transfer_id ON stock_events (transfer_id) WHERE transfer_id IS NOT NULL;
-- Only undo events carry reverses_event_id: the index need not hold a NULL for every other event.
CREATE UNIQUE INDEX stock_events_reverses_event_id_key ON stock_events (reverses_event_id)
  WHERE reverses_event_id IS NOT NULL;

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

-- One movement of stock that ledger_book is asked to book. A request (one command, one register row, one
-- simulated entry) is one or more lines sharing `req`, `key` and `fingerprint`; a line that takes stock out
-- without naming a lot is spread first-expiry-first-out over several events.
CREATE TYPE ledger_line AS (
  req integer,
  -- The line's place in its request: events are numbered (key_part) in this order.
  line smallint,
  key text,
  fingerprint bytea,
  -- The day the request named, NULL when it named none ("today"): a repeat must name the same day or none.
  asked_day date,
  day date,
  site text,
  commodity text,
  lot text,
  -- The expiry of a lot the programme has not seen yet (incoming lines only).
  expiry date,
  kind text,
  -- Signed base units: positive adds stock, negative takes it out.
  quantity bigint,
  -- Which lots a take may use, or an addition may add to: 'usable' (not expired on the day), 'expired' (only
  -- expired ones) or 'any'.
  lots text,
  reason text,
  population text,
  channel text,
  worker text,
  client text,
  note text,
  to_site text,
  transfer_id bigint,
  count_id bigint,
  reverses_event_id bigint
);

-- What a lot at a site can give on a day, while ledger_book allocates takes: its balance now, and its room, the
-- balance less what any later day's closing balance still needs of it (the balance itself for today).
CREATE TYPE ledger_lot_stock AS (
  site text,
  commodity text,
  lot text,
  expires_on date,
  on_hand bigint,
  room bigint
);

-- What ledger_book returns: one row per event a request wrote (or had written before, when `outcome` is
-- 'repeat'), or one row per refused request when the caller asked for refusals to be reported.
CREATE TYPE ledger_booked AS (
  req integer,
  outcome text,
  field text,
  problem text,
  sqlstate text,
  hint text,
  id bigint,
  key_part smallint,
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
