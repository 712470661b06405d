-- What each kind of request books. Every function here turns a request into ledger lines and hands them to
-- ledger_book (20_ledger_book.sql); none writes stock itself. A request whose key is already recorded goes straight
-- to ledger_book, which replays or refuses it, so the rules below apply only to new requests.

-- The ledger line of a receipt, dispense, adjustment or dispatch, with its fingerprint: the one place where such a
-- request, from a command, a register row or the simulator, is normalised and digested. `p_quantity` is the amount
-- asked (signed only for adjustments, where the sign says which way); `p_day` NULL means today.
CREATE OR REPLACE FUNCTION ledger_request_line(
  p_req integer, p_kind text, p_key text, p_site text, p_commodity text, p_lot text, p_expiry date, p_quantity bigint,
  p_day date, p_population text, p_channel text, p_worker text, p_client text, p_reason text, p_note text,
  p_to text, p_today date
) RETURNS ledger_line LANGUAGE sql STABLE AS $$
  -- One expression and no FROM, so the planner inlines it into a batch's query instead of calling it per row. Codes
  -- are ASCII by their patterns, so their case is changed byte by byte (COLLATE "C"): under the database's collation
  -- every value would be converted to wide characters and back, a third of what normalising a register row costs.
  SELECT ROW(p_req, 1, p_key,
    ledger_fingerprint(p_kind, upper(btrim(p_site) COLLATE "C"), upper(btrim(p_commodity) COLLATE "C"),
      nullif(upper(btrim(p_lot) COLLATE "C"), ''), p_expiry::text, p_quantity::text,
      nullif(upper(btrim(p_population) COLLATE "C"), ''), nullif(lower(btrim(p_channel) COLLATE "C"), ''),
      nullif(upper(btrim(p_worker) COLLATE "C"), ''), nullif(upper(btrim(p_client) COLLATE "C"), ''),
      nullif(lower(btrim(p_reason) COLLATE "C"), ''), nullif(btrim(p_note), ''),
      nullif(upper(btrim(p_to) COLLATE "C"), '')),
    p_day, coalesce(p_day, p_today), upper(btrim(p_site) COLLATE "C"), upper(btrim(p_commodity) COLLATE "C"),
    nullif(upper(btrim(p_lot) COLLATE "C"), ''), p_expiry,
    CASE p_kind WHEN 'dispatch' THEN 'transfer_out' ELSE p_kind END,
    CASE WHEN p_kind IN ('dispense', 'dispatch') THEN -p_quantity ELSE p_quantity END,
    CASE WHEN p_kind = 'adjustment' AND p_quantity < 0 AND lower(btrim(p_reason) COLLATE "C") = 'expired' THEN 'expired'
      WHEN p_kind = 'adjustment' AND p_quantity < 0 AND nullif(btrim(p_lot), '') IS NOT NULL THEN 'any'
      ELSE 'usable' END,
    nullif(lower(btrim(p_reason) COLLATE "C"), ''), nullif(upper(btrim(p_population) COLLATE "C"), ''),
    nullif(lower(btrim(p_channel) COLLATE "C"), ''), nullif(upper(btrim(p_worker) COLLATE "C"), ''),
    nullif(upper(btrim(p_client) COLLATE "C"), ''), nullif(btrim(p_note), ''),
    nullif(upper(btrim(p_to) COLLATE "C"), ''), NULL, NULL, NULL)::ledger_line
$$;

-- A line that only carries a request's key, for a request whose key is already recorded: ledger_book answers it
-- with the recorded events (a repeat) or refuses it (another entry's key), before looking at anything else.
CREATE OR REPLACE FUNCTION ledger_key_line(p_key text, p_fingerprint bytea, p_site text, p_day date)
RETURNS ledger_line LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(1, 1, p_key, p_fingerprint, p_day, p_day, p_site, NULL, NULL, NULL, 'receipt', 0, 'any', NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::ledger_line
$$;

CREATE OR REPLACE FUNCTION ledger_key_used(p_site text, p_key text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM stock_events WHERE site_code = p_site AND idempotency_key = p_key AND key_part = 1)
$$;

-- The transfer receipts of a ledger_post batch, with what their checks need: the transfer, whether the key is
-- already recorded at its destination, the lots it carries and, for a rejection, which lot and how much of it left.
-- What only a receipt can get wrong is judged in ledger_post; dates and site dates in ledger_book.
DROP FUNCTION IF EXISTS ledger_receipt_requests(jsonb);
CREATE OR REPLACE FUNCTION ledger_receipt_requests(p_requests jsonb) RETURNS SETOF ledger_receipt
LANGUAGE sql STABLE AS $$
  SELECT r.req, r.key,
    ledger_fingerprint('transfer_receipt', r.transfer::text, coalesce(r.rejected, 0)::text, r.reason, r.lot, r.note),
    r.transfer, coalesce(r.rejected, 0), r.reason, r.lot, r.date, r.note, t.to_site_code, t.commodity_code, t.quantity,
    t.status, t.received_on, ledger_key_used(t.to_site_code, r.key), sent.lots, rejection.lot,
    (SELECT -sum(e.quantity) FROM stock_events e
      WHERE e.transfer_id = r.transfer AND e.kind = 'transfer_out' AND e.lot_code = rejection.lot),
    sr.direction, sr.code IS NOT NULL
  FROM jsonb_to_recordset(p_requests) AS r (req integer, kind text, key text, transfer bigint, rejected bigint,
    reason text, lot text, date date, note text)
  LEFT JOIN transfers t ON t.id = r.transfer
  LEFT JOIN LATERAL (SELECT array_agg(e.lot_code ORDER BY e.key_part) AS lots FROM stock_events e
    WHERE e.transfer_id = r.transfer AND e.kind = 'transfer_out') sent ON true
  CROSS JOIN LATERAL (SELECT coalesce(nullif(r.lot, ''), CASE WHEN cardinality(sent.lots) = 1 THEN sent.lots[1] END)
    AS lot) rejection
  LEFT JOIN stock_reasons sr ON sr.code = r.reason
  WHERE r.kind = 'transfer_receipt'
$$;

-- Posts a batch of requests, in order, all or nothing: a JSON array of objects {req, kind, key, …}. A single entry is
-- a batch of one. Kinds and their fields:
--   receipt, dispense, adjustment, dispatch: site, commodity, lot, expiry, qty, date, population, channel, worker,
--     client, reason, note, to (see ledger_request_line);
--   transfer_receipt: transfer, rejected, reason, lot (of the rejected stock), date, note. The transfer's lots arrive
--     at its destination as they left; a rejected quantity is written off there with its reason.
CREATE OR REPLACE FUNCTION ledger_post(p_requests jsonb) RETURNS SETOF ledger_booked LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_today date;
  v_refusal record;
  v_transfers bigint[];
  v_rejected bigint[];
  v_reasons text[];
  v_days date[];
  v_kind text;
  v_receipts boolean;
  v_receipt_rows ledger_receipt[];
BEGIN
  -- One pass over the batch: the first element of a kind this function does not know (refused, not passed over: a
  -- batch is all or nothing), and whether any element is a transfer receipt.
  SELECT (array_agg(coalesce(e.value ->> 'kind', '') ORDER BY e.position) FILTER (WHERE coalesce(e.value ->> 'kind', '')
      NOT IN ('receipt', 'dispense', 'adjustment', 'dispatch', 'transfer_receipt')))[1],
    coalesce(bool_or(e.value ->> 'kind' = 'transfer_receipt'), false)
  INTO v_kind, v_receipts
  FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS e (value, position);
  IF v_kind IS NOT NULL THEN
    PERFORM ledger_refuse('kind', CASE WHEN v_kind = '' THEN 'is required' ELSE format(
      '''%s'' is not a kind of request (receipt, dispense, adjustment, dispatch, transfer_receipt)', v_kind) END);
  END IF;

  -- plpgsql, not sql: its statements are planned once per session, not at every call.
  IF NOT v_receipts THEN
    RETURN QUERY SELECT * FROM ledger_book(ARRAY(
      SELECT ledger_request_line(r.req, r.kind, r.key, r.site, r.commodity, r.lot, r.expiry, r.qty, r.date,
        r.population, r.channel, r.worker, r.client, r.reason, r.note, r.to, d.today)
      FROM jsonb_to_recordset(p_requests) AS r (req integer, kind text, key text, site text, commodity text, lot text,
        expiry date, qty bigint, date date, population text, channel text, worker text, client text, reason text,
        note text, "to" text),
        (SELECT programme_day(time_zone) AS today FROM programme_settings) d
      ORDER BY r.req));
    RETURN;
  END IF;

  v_today := programme_today();
  -- The transfers are locked in id order, so two receipts of one transfer queue instead of both finding it in transit.
  PERFORM 1 FROM transfers
  WHERE id IN (SELECT (e ->> 'transfer')::bigint FROM jsonb_array_elements(p_requests) e
    WHERE e ->> 'kind' = 'transfer_receipt')
  ORDER BY id FOR UPDATE;
  -- Read once, after the lock: the checks, the transfers' new state and the ledger lines below all use these rows.
  v_receipt_rows := ARRAY(SELECT p FROM ledger_receipt_requests(p_requests) p);

  SELECT x.* INTO v_refusal FROM (
    SELECT p.req, CASE
      WHEN p.transfer IS NULL THEN ARRAY['transfer', 'is required', NULL]
      WHEN p.to_site IS NULL THEN ARRAY['transfer', format('no transfer %s', p.transfer), NULL]
      WHEN p.used THEN NULL
      WHEN p.status <> 'in_transit' THEN ARRAY['transfer',
        format('transfer %s was already received on %s', p.transfer, p.received_on), NULL]
      -- The same receipt twice under one key is a repeat, which ledger_book answers; under another key, a second receipt.
      WHEN first_value(p.key) OVER (PARTITION BY p.transfer ORDER BY p.req) <> p.key THEN ARRAY['transfer',
        format('transfer %s is received twice in this batch', p.transfer), NULL]
      WHEN p.rejected < 0 OR p.rejected > p.quantity THEN ARRAY['rejected',
        format('must be between 0 and the %s dispatched', p.quantity), NULL]
      WHEN p.rejected > 0 AND p.reason IS NULL THEN ARRAY['reason', 'a rejection needs a reason', 'reasons']
      WHEN p.rejected > 0 AND NOT p.reason_known THEN ARRAY['reason', format('unknown reason %s', p.reason), 'reasons']
      WHEN p.rejected > 0 AND p.direction = 'in' THEN ARRAY['reason',
        format('reason %s adds stock; a rejection writes stock off', p.reason), NULL]
      WHEN p.rejected > 0 AND p.reject_lot IS NULL THEN ARRAY['lot',
        format('transfer %s carries lots %s: name the rejected one', p.transfer, array_to_string(p.lots, ', ')), NULL]
      WHEN p.rejected > 0 AND p.lot_sent IS NULL THEN ARRAY['lot',
        format('transfer %s carries no lot %s', p.transfer, p.reject_lot), NULL]
      WHEN p.rejected > 0 AND p.lot_sent < p.rejected THEN ARRAY['rejected',
        format('transfer %s carries only %s of lot %s', p.transfer, p.lot_sent, p.reject_lot), NULL]
      WHEN p.rejected = 0 AND (p.reason IS NOT NULL OR coalesce(p.lot, '') <> '') THEN
        ARRAY[CASE WHEN p.reason IS NOT NULL THEN 'reason' ELSE 'lot' END,
          'give a reason and lot only with a rejected quantity', NULL]
      END::text[] AS refusal
    FROM unnest(v_receipt_rows) p
  ) x WHERE x.refusal IS NOT NULL ORDER BY x.req LIMIT 1;
  IF FOUND THEN
    PERFORM ledger_refuse(v_refusal.refusal[1], v_refusal.refusal[2], v_refusal.refusal[3]);
  END IF;

  -- What the transfers will say once received (read now: once booked, every receipt's key is recorded).
  SELECT array_agg(p.transfer), array_agg(p.rejected), array_agg(p.reason), array_agg(coalesce(p.date, v_today))
  INTO v_transfers, v_rejected, v_reasons, v_days
  FROM unnest(v_receipt_rows) p WHERE NOT p.used;

  -- Returned as booked: RETURN QUERY adds the rows to the result and carries on, and a refusal raised inside
  -- ledger_book ends the function before the transfers below are touched.
  RETURN QUERY SELECT * FROM ledger_book(ARRAY(
    SELECT l FROM (
      SELECT r.req, 1 AS line, ledger_request_line(r.req, r.kind, r.key, r.site, r.commodity, r.lot, r.expiry, r.qty,
        r.date, r.population, r.channel, r.worker, r.client, r.reason, r.note, r.to, v_today) AS l
      FROM jsonb_to_recordset(p_requests) AS r (req integer, kind text, key text, site text, commodity text, lot text,
        expiry date, qty bigint, date date, population text, channel text, worker text, client text, reason text,
        note text, "to" text)
      WHERE r.kind IN ('receipt', 'dispense', 'adjustment', 'dispatch')
      UNION ALL
      -- A receipt whose key is recorded: ledger_book replays it (or refuses another entry's key).
      SELECT p.req, 1, ROW(p.req, 1, p.key, p.fingerprint, p.date, p.date, p.to_site, NULL, NULL, NULL, 'receipt', 0,
        'any', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::ledger_line
      FROM unnest(v_receipt_rows) p WHERE p.used
      UNION ALL
      SELECT p.req, m.position, ROW(p.req, row_number() OVER (PARTITION BY p.req ORDER BY m.position), p.key,
        p.fingerprint, p.date, coalesce(p.date, v_today), p.to_site, p.commodity, m.lot_code, NULL, m.kind,
        m.quantity, 'any', m.reason, NULL, NULL, NULL, NULL, p.note, NULL, p.transfer, NULL, NULL)::ledger_line
      FROM unnest(v_receipt_rows) p
      CROSS JOIN LATERAL (
        SELECT e.lot_code, 'transfer_in' AS kind, -e.quantity AS quantity, NULL::text AS reason, e.key_part AS position
        FROM stock_events e WHERE e.transfer_id = p.transfer AND e.kind = 'transfer_out'
        UNION ALL
        SELECT p.reject_lot, 'adjustment', -p.rejected, p.reason, 32767 WHERE p.rejected > 0
      ) m
      WHERE NOT p.used
    ) lines ORDER BY lines.req, lines.line));

  -- Only once the stock is booked: a refused receipt leaves its transfer in transit.
  UPDATE transfers t SET status = 'received', received_on = r.day, accepted = t.quantity - r.rejected,
    rejected = r.rejected, rejection_reason = CASE WHEN r.rejected > 0 THEN r.reason END
  FROM unnest(v_transfers, v_rejected, v_reasons, v_days) AS r (transfer, rejected, reason, day)
  WHERE t.id = r.transfer;
END $$;

-- The everyday command's entry (LedgerRequests.posting): one receipt, dispense, adjustment or dispatch, the same two
-- steps a ledger_post batch takes, without a JSON document to unpack. Runs with the owner's rights, as every writer
-- of stock does; today is read here, never taken from the caller.
CREATE OR REPLACE FUNCTION ledger_post_request(
  p_kind text, p_key text, p_site text, p_commodity text, p_lot text, p_expiry date, p_quantity bigint, p_day date,
  p_population text, p_channel text, p_worker text, p_client text, p_reason text, p_note text, p_to text
) RETURNS SETOF ledger_booked LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  -- The everyday dispense (today, first expiry first), the request sent most, with its kind and the fields it lacks
  -- written as constants: the planner folds ledger_request_line's work on those once, where as parameters they are
  -- normalised, digested and compiled again at every call (a twentieth of a dispense's server time,
  -- docs/benchmarks.md, twelfth round). The line is the one the general call below makes of the same request.
  IF p_kind = 'dispense' AND p_lot IS NULL AND p_expiry IS NULL AND p_day IS NULL AND p_reason IS NULL
    AND p_to IS NULL THEN
    RETURN QUERY SELECT * FROM ledger_book(ARRAY[ledger_request_line(1, 'dispense', p_key, p_site, p_commodity, NULL,
      NULL, p_quantity, NULL, p_population, p_channel, p_worker, p_client, NULL, p_note, NULL,
      (SELECT programme_day(s.time_zone) FROM programme_settings s))]);
    RETURN;
  END IF;
  IF p_kind NOT IN ('receipt', 'dispense', 'adjustment', 'dispatch') THEN
    PERFORM ledger_refuse('kind', format('''%s'' is not a kind of request (receipt, dispense, adjustment, dispatch)',
      p_kind));
  END IF;
  RETURN QUERY SELECT * FROM ledger_book(ARRAY[ledger_request_line(1, p_kind, p_key, p_site, p_commodity, p_lot,
    p_expiry, p_quantity, p_day, p_population, p_channel, p_worker, p_client, p_reason, p_note, p_to,
    (SELECT programme_day(s.time_zone) FROM programme_settings s))]);
END $$;

CREATE OR REPLACE FUNCTION count_start(p_site text, p_commodity text, p_day date) RETURNS bigint LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_count bigint;
  v_refusal ledger_booked;
BEGIN
  PERFORM access_refuse(ARRAY[p_site], 'stock', 'site');
  p_day := coalesce(p_day, programme_today());
  v_refusal := (SELECT ledger_when_where(1, p_day, programme_day(ps.time_zone), ps.backdating_window_days, p_site,
      s.code, s.opened_on, s.closed_on)
    FROM programme_settings ps LEFT JOIN sites s ON s.code = p_site);
  IF v_refusal.req IS NOT NULL THEN
    PERFORM ledger_refuse(v_refusal.field, v_refusal.problem, v_refusal.hint);
  END IF;
  INSERT INTO stock_counts (site_code, commodity_code, counted_on) VALUES (p_site, p_commodity, p_day)
    RETURNING id INTO v_count;
  INSERT INTO stock_count_lines (count_id, site_code, commodity_code, lot_code, snapshot_on_hand)
  SELECT v_count, site_code, commodity_code, lot_code, on_hand FROM stock_balances
  WHERE site_code = p_site AND (p_commodity IS NULL OR commodity_code = p_commodity) AND on_hand > 0;
  RETURN v_count;
END $$;

-- Sets the counted quantity of one lot. With p_count the variance is against the count's snapshot (stock that moved
-- since is kept); without, against the balance at the end of p_day.
CREATE OR REPLACE FUNCTION ledger_count(
  p_key text, p_site text, p_commodity text, p_lot text, p_expiry date, p_counted bigint, p_reason text, p_day date,
  p_count bigint, p_note text
) RETURNS SETOF ledger_booked LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_fingerprint bytea := ledger_fingerprint('count', p_site, p_commodity, p_lot, p_expiry::text, p_counted::text,
    p_reason, p_count::text, p_note);
  v_lot text := coalesce(p_lot, '');
  v_tracked boolean;
  v_snapshot bigint;
  v_variance bigint;
  v_direction text;
  v_reason text := p_reason;
  v_day date := p_day;
  v_count stock_counts;
  v_line stock_count_lines;
  v_booked ledger_booked;
BEGIN
  IF ledger_key_used(p_site, p_key) THEN
    RETURN QUERY SELECT * FROM ledger_book(ARRAY[ledger_key_line(p_key, v_fingerprint, p_site, p_day)]);
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
  SELECT lot_tracked INTO v_tracked FROM commodities WHERE code = p_commodity;
  IF v_tracked AND v_lot = '' THEN
    PERFORM ledger_refuse('lot', format('%s is lot-tracked: %s', p_commodity,
      CASE WHEN p_counted > 0 THEN 'give its lot' ELSE 'count each lot' END));
  ELSIF NOT v_tracked AND (v_lot <> '' OR p_expiry IS NOT NULL) THEN
    PERFORM ledger_refuse(CASE WHEN v_lot <> '' THEN 'lot' ELSE 'expiry' END,
      format('%s is not lot-tracked: give no lot or expiry', p_commodity));
  ELSIF v_tracked AND p_counted = 0 AND NOT EXISTS (SELECT 1 FROM lots WHERE commodity_code = p_commodity
      AND lot_code = v_lot) THEN
    PERFORM ledger_refuse('lot', format('unknown lot %s of %s', v_lot, p_commodity));
  ELSIF NOT v_tracked THEN
    v_lot := '';
  END IF;

  -- The stock card is locked as every writer locks it, so the snapshot cannot move before the variance is booked.
  PERFORM stock_cards_lock(ARRAY[p_site], ARRAY[p_commodity]);
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
      PERFORM ledger_refuse('reason', format('unknown reason %s', v_reason), 'reasons');
    ELSIF (v_variance > 0 AND v_direction = 'out') OR (v_variance < 0 AND v_direction = 'in') THEN
      PERFORM ledger_refuse('reason', format('reason %s %s stock, but the count %s %s', v_reason,
        CASE WHEN v_direction = 'out' THEN 'removes' ELSE 'adds' END,
        CASE WHEN v_variance > 0 THEN 'finds' ELSE 'is short by' END, abs(v_variance)));
    END IF;
  ELSE
    v_reason := NULL;
  END IF;

  FOR v_booked IN
    SELECT * FROM ledger_book(ARRAY[ROW(1, 1, p_key, v_fingerprint, p_day, v_day, p_site, p_commodity, v_lot, p_expiry,
      'count', v_variance, 'any', v_reason, NULL, NULL, NULL, NULL, p_note, NULL, NULL, p_count, NULL)::ledger_line])
  LOOP
    IF p_count IS NOT NULL AND v_booked.outcome = 'posted' THEN
      UPDATE stock_count_lines SET counted = p_counted, event_id = v_booked.id
      WHERE count_id = p_count AND commodity_code = p_commodity AND lot_code = v_lot;
    END IF;
    RETURN NEXT v_booked;
  END LOOP;
END $$;

DROP FUNCTION IF EXISTS ledger_receive_transfer(text, bigint, bigint, text, text, date, text);

-- Reverses one event on the day it happened. Transfers are corrected by receiving with a rejection instead, since a
-- reversed dispatch would leave the transfer's lots in two places.
CREATE OR REPLACE FUNCTION ledger_undo(p_key text, p_event bigint, p_reason text, p_note text)
RETURNS SETOF ledger_booked LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_fingerprint bytea := ledger_fingerprint('undo', p_event::text, p_reason, p_note);
  e stock_events;
  v_reversal bigint;
BEGIN
  SELECT * INTO e FROM stock_events WHERE id = p_event;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('event', format('no event %s', p_event));
  END IF;
  PERFORM access_refuse(ARRAY[e.site_code], 'stock', 'event');
  IF ledger_key_used(e.site_code, p_key) THEN
    RETURN QUERY SELECT * FROM ledger_book(ARRAY[ledger_key_line(p_key, v_fingerprint, e.site_code, NULL)]);
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
      'event %s belongs to transfer %s: correct it when receiving (with a rejected quantity) or with an adjustment',
      p_event, e.transfer_id));
  END IF;
  IF e.quantity = 0 THEN
    PERFORM ledger_refuse('event', format('event %s changed no stock', p_event));
  END IF;
  RETURN QUERY SELECT * FROM ledger_book(ARRAY[ROW(1, 1, p_key, v_fingerprint, NULL, e.occurred_on, e.site_code,
    e.commodity_code, e.lot_code, NULL, e.kind, -e.quantity, 'any', p_reason, e.population_code, e.channel,
    e.worker_code, e.client_uic, p_note, NULL, NULL, e.count_id, p_event)::ledger_line]);
END $$;
