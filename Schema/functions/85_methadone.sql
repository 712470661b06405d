-- Methadone (MAT): enrolment, prescriptions, dosing sites, observed doses, take-homes and the controlled-drug
-- register (tables: Schema/0019_methadone.sql; figures and rules: ../shared/domain.md, "Methadone is a controlled
-- drug"). Every dose and every return books its stock through ledger_post, the ledger's one booking path: nothing
-- here writes stock. A client's row is locked by every change that judges their history (enrol, prescribe, move,
-- exit, dose, return), so two dispensers dosing one client at the same moment take turns and the second sees the first
-- dose. Refusals: KP002 a bad value, KP006 a client not in the state the change needs; COLUMN names the field and HINT
-- what the caller may point the person to ('mat_override', 'mat_prescribe', 'mat_settings', 'mat_batch').

-- The ledger commodity that MAT doses draw on.
CREATE OR REPLACE FUNCTION mat_commodity() RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'METHADONE'
$$;

CREATE OR REPLACE FUNCTION mat_refuse_state(p_field text, p_message text, p_hint text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', p_message USING ERRCODE = 'KP006', COLUMN = p_field, HINT = coalesce(p_hint, '');
END $$;

-- A client's standing on a day, one row per client who was ever enrolled by then: their latest episode, where they
-- dose, the prescription in force, the last day a dose was taken (a take-home counts on its day unless it came back)
-- and what follows from it. Status is derived, never typed: exited (with the exit's reason), else active, defaulting
-- or lost to follow-up by days since the last dose taken (since enrolment before any). `missed_days` counts the
-- consecutive days without a dose before p_day; `flag` asks for a review or a re-induction when they reach the
-- settings' thresholds and no prescription was made since the last dose.
-- One client's (p_uic) or every client's. plpgsql with JIT off: as a SQL function inlined into its callers, the
-- planner's guesses for its lateral lookups crossed the JIT threshold and compiling took 0.3 s of a 10 ms query.
DROP FUNCTION IF EXISTS mat_client_states(date);
CREATE OR REPLACE FUNCTION mat_client_states(p_day date, p_uic text DEFAULT NULL) RETURNS SETOF mat_client_state
LANGUAGE plpgsql STABLE SET jit = off AS $$
BEGIN
  RETURN QUERY
  SELECT c.uic, c.population_code, e.id, e.clinic_code, e.enrolled_on, x.exited_on, x.reason, d.site_code, p.mg,
    p.split, p.starts_on, t.last_taken, w.days_since, w.missed,
    CASE WHEN x.exited_on IS NOT NULL THEN 'exited'
      WHEN w.days_since <= s.active_days THEN 'active'
      WHEN w.days_since <= s.lost_after_days THEN 'defaulting'
      ELSE 'lost to follow-up' END,
    CASE WHEN x.exited_on IS NOT NULL OR t.last_taken IS NULL OR t.last_taken = p_day OR p.starts_on > t.last_taken
      THEN NULL
      WHEN w.missed >= s.reinduction_missed_days THEN 're-induction needed'
      WHEN w.missed >= s.review_missed_days THEN 'review dose before dosing' END
  FROM mat_clients c
  CROSS JOIN mat_settings s
  JOIN LATERAL (SELECT * FROM mat_episodes e WHERE e.uic = c.uic AND e.enrolled_on <= p_day
    ORDER BY e.enrolled_on DESC, e.id DESC LIMIT 1) e ON true
  LEFT JOIN mat_exits x ON x.episode_id = e.id AND x.exited_on <= p_day
  LEFT JOIN LATERAL (SELECT d.site_code FROM mat_dosing_sites d WHERE d.episode_id = e.id AND d.from_on <= p_day
    ORDER BY d.from_on DESC, d.id DESC LIMIT 1) d ON true
  LEFT JOIN LATERAL (SELECT p.mg, p.split, p.starts_on FROM mat_prescriptions p WHERE p.episode_id = e.id
    AND p.starts_on <= p_day ORDER BY p.starts_on DESC, p.id DESC LIMIT 1) p ON true
  -- By UIC as well as episode: mat_doses is indexed by (uic, take_on).
  -- The latest first, one row: a max() would read every dose of the client.
  LEFT JOIN LATERAL (SELECT o.take_on AS last_taken FROM mat_doses o WHERE o.uic = c.uic AND o.episode_id = e.id
    AND o.take_on <= p_day AND NOT EXISTS (SELECT FROM mat_dose_returns r WHERE r.dose_id = o.id)
    ORDER BY o.take_on DESC LIMIT 1) t ON true
  CROSS JOIN LATERAL (SELECT (p_day - coalesce(t.last_taken, e.enrolled_on))::integer AS days_since,
    greatest(coalesce(p_day - t.last_taken - 1, 0), 0)::integer AS missed) w
  WHERE p_uic IS NULL OR c.uic = p_uic;
END $$;

-- The client's row, locked, or a refusal naming the UIC.
CREATE OR REPLACE FUNCTION mat_client_locked(p_uic text) RETURNS mat_clients LANGUAGE plpgsql AS $$
DECLARE
  v_client mat_clients;
BEGIN
  SELECT * INTO v_client FROM mat_clients WHERE uic = p_uic FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('client', format('no MAT client %s', p_uic));
  END IF;
  RETURN v_client;
END $$;

-- The day a MAT change is for: today when none is named, never in the future nor before the back-dating window, as
-- the ledger judges its entries' days (ledger_when_where, the one wording of that rule).
CREATE OR REPLACE FUNCTION mat_day(p_day date) RETURNS date LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_today date;
  v_window integer;
  v_refusal ledger_booked;
BEGIN
  SELECT programme_day(ps.time_zone), ps.backdating_window_days INTO v_today, v_window FROM programme_settings ps;
  -- A site that passes, so only the day is judged here; each change judges its own sites.
  v_refusal := ledger_when_where(1, coalesce(p_day, v_today), v_today, v_window, '', '', NULL, NULL);
  IF v_refusal.problem IS NOT NULL THEN
    PERFORM ledger_refuse(v_refusal.field, v_refusal.problem, v_refusal.hint);
  END IF;
  RETURN coalesce(p_day, v_today);
END $$;

-- Why a client has no open episode on a day ([field, problem]), or NULL when they have one: the one wording, for a
-- single change (mat_open_state) and for a batch of doses (mat_doses_post). p_enrolled: the day has an episode.
CREATE OR REPLACE FUNCTION mat_standing_refusal(
  p_uic text, p_day date, p_enrolled boolean, p_exited_on date, p_exit_reason text
) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN NOT p_enrolled THEN ARRAY['client', format('client %s is not enrolled on %s', p_uic, p_day)]
    WHEN p_exited_on IS NOT NULL THEN
      ARRAY['client', format('client %s exited on %s (%s)', p_uic, p_exited_on, p_exit_reason)] END
$$;

-- The client's open episode on a day (their standing then), or a refusal saying why there is none.
CREATE OR REPLACE FUNCTION mat_open_state(p_uic text, p_day date) RETURNS mat_client_state LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v_state mat_client_state;
  v_refusal text[];
BEGIN
  SELECT * INTO v_state FROM mat_client_states(p_day, p_uic) s;
  -- A client is theirs who work at the client's clinic or where the client doses now.
  IF FOUND AND NOT access_allows(ARRAY[v_state.dosing_site], 'clients') THEN
    PERFORM access_refuse(ARRAY[v_state.clinic_code], 'clients', 'uic');
  END IF;
  v_refusal := mat_standing_refusal(p_uic, p_day, FOUND, v_state.exited_on, v_state.exit_reason);
  IF v_refusal IS NOT NULL THEN
    PERFORM mat_refuse_state(v_refusal[1], v_refusal[2]);
  END IF;
  RETURN v_state;
END $$;

-- Enrols a client at a MAT clinic with an induction dose, which is their first prescription; the clinic is where they
-- dose. A client who exited may be enrolled again: a new episode. An induction above the settings' ceiling needs an
-- override reason, which is kept.
CREATE OR REPLACE FUNCTION mat_enrol(
  p_clinic text, p_uic text, p_population text, p_mg integer, p_prescriber text, p_day date, p_override text
) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_day date := mat_day(p_day);
  v_site sites;
  v_settings mat_settings;
  v_state mat_client_state;
  v_episode bigint;
BEGIN
  SELECT * INTO v_settings FROM mat_settings;
  PERFORM access_refuse(ARRAY[p_clinic], 'clients', 'site');
  SELECT * INTO v_site FROM sites WHERE code = p_clinic;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('site', format('unknown site %s', p_clinic));
  ELSIF v_site.kind <> 'mat_clinic' THEN
    PERFORM ledger_refuse('site', format('%s is a %s, not a MAT clinic: clients are enrolled at a clinic and moved to '
      'a prison or hospital', p_clinic, v_site.kind));
  ELSIF v_day < v_site.opened_on OR v_day > v_site.closed_on THEN
    PERFORM ledger_refuse('site', format('site %s is not open on %s', p_clinic, v_day));
  END IF;
  IF NOT EXISTS (SELECT FROM populations WHERE code = p_population) THEN
    PERFORM ledger_refuse('population', format('unknown population %s', p_population));
  END IF;
  IF p_mg IS NULL OR p_mg <= 0 THEN
    PERFORM ledger_refuse('mg', 'must be a whole number of mg above 0');
  ELSIF p_mg > v_settings.max_induction_mg AND p_override IS NULL THEN
    PERFORM ledger_refuse('mg', format('an induction dose above %s mg needs an override reason',
      v_settings.max_induction_mg), 'mat_override');
  END IF;

  INSERT INTO mat_clients (uic, population_code) VALUES (p_uic, p_population) ON CONFLICT DO NOTHING;
  PERFORM mat_client_locked(p_uic);
  SELECT * INTO v_state FROM mat_client_states(v_day, p_uic) s;
  IF FOUND AND v_state.exited_on IS NULL THEN
    PERFORM mat_refuse_state('client', format('client %s is already enrolled at %s since %s', p_uic,
      v_state.clinic_code, v_state.enrolled_on));
  END IF;
  IF EXISTS (SELECT FROM mat_episodes e WHERE e.uic = p_uic AND e.enrolled_on > v_day) THEN
    PERFORM mat_refuse_state('date', format('client %s has a later enrolment; enrol on or after it', p_uic));
  END IF;

  INSERT INTO mat_episodes (uic, clinic_code, enrolled_on, induction_mg)
  VALUES (p_uic, p_clinic, v_day, p_mg) RETURNING id INTO v_episode;
  INSERT INTO mat_prescriptions (episode_id, starts_on, mg, prescriber_code, reason, override_reason)
  VALUES (v_episode, v_day, p_mg, p_prescriber, 'induction', p_override);
  INSERT INTO mat_dosing_sites (episode_id, site_code, from_on) VALUES (v_episode, p_clinic, v_day);
  RETURN v_episode;
END $$;

-- A dose change from a day on. Guard rails (settings): a dose above the ceiling, an increase larger than the
-- largest step, or an increase too soon after the last one is refused unless an override reason is given, and kept.
CREATE OR REPLACE FUNCTION mat_prescribe(
  p_uic text, p_mg integer, p_prescriber text, p_reason text, p_split integer, p_override text, p_day date
) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_day date := mat_day(p_day);
  v_settings mat_settings;
  v_state mat_client_state;
  v_last_increase date;
  v_id bigint;
BEGIN
  PERFORM mat_client_locked(p_uic);
  v_state := mat_open_state(p_uic, v_day);
  SELECT * INTO v_settings FROM mat_settings;
  IF p_mg IS NULL OR p_mg <= 0 THEN
    PERFORM ledger_refuse('mg', 'must be a whole number of mg above 0');
  ELSIF coalesce(btrim(p_reason), '') = '' THEN
    PERFORM ledger_refuse('reason', 'a dose change needs a reason');
  END IF;
  IF p_override IS NULL THEN
    IF p_mg > v_settings.max_dose_mg THEN
      PERFORM ledger_refuse('mg', format('%s mg is above the %s mg ceiling', p_mg, v_settings.max_dose_mg),
        'mat_override');
    ELSIF p_mg - v_state.mg > v_settings.max_increase_mg THEN
      PERFORM ledger_refuse('mg', format('an increase of %s mg (from %s) is more than %s mg in one change',
        p_mg - v_state.mg, v_state.mg, v_settings.max_increase_mg), 'mat_override');
    END IF;
    IF p_mg > v_state.mg THEN
      -- The last increase: a prescription above the one before it, in this episode.
      SELECT max(p.starts_on) INTO v_last_increase FROM (
        SELECT p.starts_on, p.mg, lag(p.mg) OVER (ORDER BY p.starts_on, p.id) AS before
        FROM mat_prescriptions p WHERE p.episode_id = v_state.episode_id AND p.starts_on <= v_day) p
      WHERE p.mg > p.before;
      IF v_day - v_last_increase < v_settings.min_days_between_increases THEN
        PERFORM ledger_refuse('mg', format('the last increase was on %s: increases are at least %s days apart',
          v_last_increase, v_settings.min_days_between_increases), 'mat_override');
      END IF;
    END IF;
  END IF;
  INSERT INTO mat_prescriptions (episode_id, starts_on, mg, split, prescriber_code, reason, override_reason,
    after_missed_days)
  VALUES (v_state.episode_id, v_day, p_mg, p_split, p_prescriber, btrim(p_reason), p_override,
    CASE WHEN v_state.last_taken IS NOT NULL THEN v_state.missed_days END)
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;

-- Moves a client's dosing to a prison or a hospital, or back to their clinic: the same episode and history. A move to
-- another MAT clinic is a transfer (an exit there, an enrolment here), not a move.
CREATE OR REPLACE FUNCTION mat_move(p_uic text, p_site text, p_day date) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_day date := mat_day(p_day);
  v_state mat_client_state;
  v_site sites;
BEGIN
  PERFORM mat_client_locked(p_uic);
  v_state := mat_open_state(p_uic, v_day);
  SELECT * INTO v_site FROM sites WHERE code = p_site;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('to', format('unknown site %s', p_site));
  ELSIF v_site.kind = 'mat_clinic' AND p_site <> v_state.clinic_code THEN
    PERFORM ledger_refuse('to', format('%s is another MAT clinic: a transfer is an exit (reason transferred-out) '
      'and an enrolment there', p_site));
  ELSIF v_site.kind NOT IN ('mat_clinic', 'prison', 'hospital') THEN
    PERFORM ledger_refuse('to', format('%s is a %s: clients dose at their MAT clinic, a prison or a hospital', p_site,
      v_site.kind));
  ELSIF v_day < v_site.opened_on OR v_day > v_site.closed_on THEN
    PERFORM ledger_refuse('to', format('site %s is not open on %s', p_site, v_day));
  ELSIF p_site = v_state.dosing_site THEN
    PERFORM mat_refuse_state('to', format('client %s already doses at %s', p_uic, p_site));
  ELSIF EXISTS (SELECT FROM mat_doses o WHERE o.uic = p_uic AND o.episode_id = v_state.episode_id AND o.take_on >= v_day
      AND NOT EXISTS (SELECT FROM mat_dose_returns r WHERE r.dose_id = o.id)) THEN
    PERFORM mat_refuse_state('date', format('client %s has a dose on or after %s at %s: move from the next day',
      p_uic, v_day, v_state.dosing_site));
  END IF;
  INSERT INTO mat_dosing_sites (episode_id, site_code, from_on) VALUES (v_state.episode_id, p_site, v_day);
END $$;

-- Ends an episode: completed, transferred out, died, or other (explained in the note). Take-homes meant for after the
-- exit must come back first.
CREATE OR REPLACE FUNCTION mat_exit(p_uic text, p_reason text, p_note text, p_day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_day date := mat_day(p_day);
  v_state mat_client_state;
BEGIN
  PERFORM mat_client_locked(p_uic);
  v_state := mat_open_state(p_uic, v_day);
  IF p_reason IS NULL OR p_reason NOT IN ('completed', 'transferred-out', 'died', 'other') THEN
    PERFORM ledger_refuse('reason', 'is completed, transferred-out, died or other');
  ELSIF p_reason = 'other' AND nullif(btrim(p_note), '') IS NULL THEN
    PERFORM ledger_refuse('note', 'an exit for another reason needs a note saying which');
  ELSIF EXISTS (SELECT FROM mat_doses o WHERE o.uic = p_uic AND o.episode_id = v_state.episode_id AND o.take_on > v_day
      AND NOT EXISTS (SELECT FROM mat_dose_returns r WHERE r.dose_id = o.id)) THEN
    PERFORM mat_refuse_state('date', format('client %s holds take-home doses for after %s: record their return first',
      p_uic, v_day));
  ELSIF EXISTS (SELECT FROM mat_episodes e WHERE e.id = v_state.episode_id AND e.enrolled_on > v_day) THEN
    PERFORM ledger_refuse('date', format('client %s was enrolled after %s', p_uic, v_day));
  END IF;
  INSERT INTO mat_exits (episode_id, exited_on, reason, note)
  VALUES (v_state.episode_id, v_day, p_reason, nullif(btrim(p_note), ''));
END $$;

-- Records a batch's concentration, once: doses are measured in ml from it, so it never changes after it is set.
CREATE OR REPLACE FUNCTION mat_batch(p_lot text, p_mg_per_ml numeric) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_lot lots;
BEGIN
  IF access_sites('clients') = '{}' THEN
    RAISE EXCEPTION '% may not record methadone batches', session_user USING ERRCODE = 'KP007', COLUMN = 'lot';
  END IF;
  SELECT * INTO v_lot FROM lots WHERE commodity_code = mat_commodity() AND lot_code = p_lot FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('lot', format('no %s batch %s has been received', mat_commodity(), p_lot));
  ELSIF v_lot.mg_per_ml IS NOT NULL AND v_lot.mg_per_ml <> p_mg_per_ml THEN
    PERFORM mat_refuse_state('mg_per_ml', format('batch %s is %s mg/ml already; a concentration never changes',
      p_lot, v_lot.mg_per_ml));
  END IF;
  UPDATE lots SET mg_per_ml = p_mg_per_ml WHERE commodity_code = mat_commodity() AND lot_code = p_lot;
END $$;

-- A dose's row as mat_dose returns it: its batches (with each one's mg) from the ledger events booked under its key.
CREATE OR REPLACE FUNCTION mat_dose_row(p_outcome text, p_dose mat_doses, p_flag text) RETURNS mat_dosed
LANGUAGE sql STABLE AS $$
  SELECT ROW(p_outcome, p_dose.id, p_dose.uic, p_dose.site_code, p_dose.dispensed_on, p_dose.take_on, p_dose.mg,
    p_dose.ml, (SELECT string_agg(format('%s %s mg', e.lot_code, -e.quantity), ', ' ORDER BY e.key_part)
      FROM stock_events e WHERE e.site_code = p_dose.site_code AND e.idempotency_key = p_dose.idempotency_key),
    p_flag)::mat_dosed
$$;

-- Records a batch of doses, all or nothing: a JSON array of {req, site, client, mg, witness, take_home, date, key,
-- override, note}. Each is an observed dose at the client's dosing site (mg NULL: the prescribed dose, or its part
-- when split) and, with take_home > 0, that many further days' doses, each for its own day. Their stock is dispensed
-- through ledger_post, first expiry first out, and measured in ml from each batch's concentration. `key` is the
-- request's idempotency key: a repeat with the same content answers with the doses already written. The batch is
-- judged a day at a time, in day order (a later day sees the earlier days' doses) and within a day in req order (a
-- second part sees the first). The first refusal is raised, with a sentence saying which: a client not enrolled or
-- exited, a site that is not their dosing site, no witness, a dose above the prescription or a day already dosed in
-- full, a batch without a concentration, take-homes beyond the programme's limit or before the settings' days on
-- treatment, and a dose at the old level after missed days (review or re-induction) unless a new prescription was
-- made since or an override reason is given. mat_dose is a batch of one; the simulator posts a site's day at once.
-- No JIT: its temporary tables have no statistics, so the planner's guesses for them cross the JIT threshold, and
-- compiling the statements cost a site's day of 250 doses more than half a second.
CREATE OR REPLACE FUNCTION mat_doses_post(p_requests jsonb) RETURNS SETOF mat_dosed LANGUAGE plpgsql SET jit = off
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_today date;
  v_window integer;
  v_settings mat_settings;
  v_day date;
  v_refusal record;
  v_requests jsonb;
  v_missing text;
BEGIN
  SELECT programme_day(ps.time_zone), ps.backdating_window_days INTO v_today, v_window FROM programme_settings ps;
  SELECT * INTO v_settings FROM mat_settings;
  DROP TABLE IF EXISTS md_requests;
  CREATE TEMP TABLE md_requests ON COMMIT DROP AS
  SELECT r.req, upper(btrim(r.site)) AS site, upper(btrim(r.client)) AS client, r.mg, upper(btrim(r.witness))
    AS witness, coalesce(r.take_home, 0) AS take_home, r.date AS asked_day, coalesce(r.date, v_today) AS day, r.key,
    r.override, r.note,
    EXISTS (SELECT FROM mat_doses o WHERE o.site_code = upper(btrim(r.site)) AND o.idempotency_key = r.key) AS repeat
  FROM jsonb_to_recordset(p_requests) AS r (req integer, site text, client text, mg integer, witness text,
    take_home integer, date date, key text, override text, note text);
  PERFORM access_refuse(ARRAY(SELECT DISTINCT r.site FROM md_requests r), 'clients', 'site');

  SELECT r.req INTO v_refusal FROM md_requests r WHERE r.key IS NULL OR length(r.key) NOT BETWEEN 1 AND 90
  ORDER BY r.req LIMIT 1;
  IF FOUND THEN
    PERFORM ledger_refuse('key', 'must be 1 to 90 characters');
  END IF;
  PERFORM 1 FROM mat_clients c WHERE c.uic IN (SELECT r.client FROM md_requests r) ORDER BY c.uic FOR UPDATE;

  -- A repeat: the same key at the site answers with what it wrote, if it was this client's dose.
  SELECT r.key, r.site INTO v_refusal FROM md_requests r WHERE r.repeat AND (
    EXISTS (SELECT FROM mat_doses o WHERE o.site_code = r.site AND o.idempotency_key = r.key
      AND (o.uic <> r.client OR o.mg <> coalesce(r.mg, o.mg) OR o.dispensed_on <> r.day))
    OR (SELECT count(*) FROM mat_doses o WHERE o.site_code = r.site AND o.idempotency_key LIKE r.key || '/%')
      <> r.take_home)
  ORDER BY r.req LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'key % was already used for another dose at %', v_refusal.key, v_refusal.site
      USING ERRCODE = 'KP003', COLUMN = 'key';
  END IF;
  RETURN QUERY SELECT (mat_dose_row('repeat', o, NULL)).* FROM md_requests r
    JOIN mat_doses o ON o.site_code = r.site AND (o.idempotency_key = r.key OR o.idempotency_key LIKE r.key || '/%')
    WHERE r.repeat ORDER BY r.req, o.take_on;

  SELECT r.day INTO v_refusal FROM md_requests r WHERE NOT r.repeat AND (r.day > v_today OR r.day < v_today - v_window)
  ORDER BY r.req LIMIT 1;
  IF FOUND THEN
    PERFORM mat_day(v_refusal.day);
  END IF;

  FOR v_day IN SELECT DISTINCT r.day FROM md_requests r WHERE NOT r.repeat ORDER BY 1 LOOP
    DROP TABLE IF EXISTS md_judged;
    CREATE TEMP TABLE md_judged ON COMMIT DROP AS
    SELECT j.*, coalesce(j.mg, j.part_mg) AS dose_mg,
      j.given_before + coalesce(sum(coalesce(j.mg, j.part_mg)) OVER w, 0) AS given,
      j.parts_before + (row_number() OVER (PARTITION BY j.client ORDER BY j.req) - 1)::integer AS parts
    FROM (
      SELECT r.*, s.uic AS known, s.episode_id, s.exited_on, s.exit_reason, s.dosing_site, s.mg AS prescribed,
        s.split, s.mg / s.split AS part_mg, s.flag, s.missed_days, s.last_taken, s.enrolled_on, s.population_code,
        coalesce((SELECT sum(o.mg) FROM mat_doses o WHERE o.uic = s.uic AND o.episode_id = s.episode_id
          AND o.take_on = v_day
          AND NOT EXISTS (SELECT FROM mat_dose_returns x WHERE x.dose_id = o.id)), 0)::integer AS given_before,
        (SELECT count(*) FROM mat_doses o WHERE o.uic = s.uic AND o.episode_id = s.episode_id AND o.take_on = v_day
          AND NOT EXISTS (SELECT FROM mat_dose_returns x WHERE x.dose_id = o.id))::integer AS parts_before
      FROM md_requests r LEFT JOIN mat_client_states(v_day) s ON s.uic = r.client
      WHERE r.day = v_day AND NOT r.repeat
    ) j
    WINDOW w AS (PARTITION BY j.client ORDER BY j.req ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING);

    SELECT x.* INTO v_refusal FROM (
      SELECT j.req, CASE
        WHEN NOT EXISTS (SELECT FROM mat_clients c WHERE c.uic = j.client) THEN
          ARRAY['KP002', 'client', format('no MAT client %s', j.client), NULL]
        WHEN mat_standing_refusal(j.client, v_day, j.known IS NOT NULL, j.exited_on, j.exit_reason) IS NOT NULL THEN
          ARRAY['KP006'] || mat_standing_refusal(j.client, v_day, j.known IS NOT NULL, j.exited_on, j.exit_reason)
            || NULL::text
        WHEN j.dosing_site IS DISTINCT FROM j.site THEN ARRAY['KP006', 'site',
          format('client %s doses at %s, not at %s', j.client, j.dosing_site, j.site), NULL]
        WHEN j.witness IS NULL THEN
          ARRAY['KP002', 'witness', 'every dose needs the code of the person who saw it taken', NULL]
        WHEN j.dose_mg <= 0 THEN ARRAY['KP002', 'mg', 'must be a whole number of mg above 0', NULL]
        WHEN j.dose_mg > j.part_mg THEN ARRAY['KP002', 'mg', format('%s mg is above the prescription (%s mg%s)',
          j.dose_mg, j.part_mg,
          CASE WHEN j.split > 1 THEN format(' a part, %s parts a day', j.split) ELSE ' a day' END),
          NULL]
        WHEN j.given + j.dose_mg > j.prescribed OR j.parts >= j.split THEN ARRAY['KP006', 'client',
          format('client %s has had %s mg of the day''s %s mg on %s', j.client, j.given, j.prescribed, v_day), NULL]
        WHEN j.flag IS NOT NULL AND j.override IS NULL AND j.parts = 0 THEN ARRAY['KP006', 'client',
          format('client %s has missed %s days in a row (last dose %s): %s', j.client, j.missed_days, j.last_taken,
            j.flag), CASE WHEN j.flag = 're-induction needed' THEN 'mat_prescribe' ELSE 'mat_override' END]
        WHEN j.take_home < 0 THEN ARRAY['KP002', 'take_home', 'must be 0 or more days', NULL]
        WHEN j.take_home > 0 AND v_settings.take_home_max_days = 0 THEN ARRAY['KP002', 'take_home',
          'take-home doses are not allowed: the programme''s limit is 0 days', 'mat_settings']
        WHEN j.take_home > v_settings.take_home_max_days THEN ARRAY['KP002', 'take_home',
          format('at most %s take-home days at a time', v_settings.take_home_max_days), 'mat_settings']
        WHEN j.take_home > 0 AND v_day - j.enrolled_on < v_settings.take_home_after_days THEN ARRAY['KP002',
          'take_home', format('no take-home doses in the first %s days on treatment (enrolled %s)',
            v_settings.take_home_after_days, j.enrolled_on), NULL]
        WHEN j.take_home > 0 AND j.dose_mg <> j.prescribed THEN ARRAY['KP002', 'take_home',
          'take-home doses go with a full day''s dose, not a split or reduced one', NULL]
        WHEN j.take_home > 0 AND EXISTS (SELECT FROM mat_doses o WHERE o.uic = j.client AND o.episode_id = j.episode_id
            AND o.take_on > v_day
            AND o.take_on <= v_day + j.take_home AND NOT EXISTS (SELECT FROM mat_dose_returns x WHERE x.dose_id = o.id))
          THEN ARRAY['KP006', 'take_home', format('client %s already holds a dose for one of the next %s days',
            j.client, j.take_home), NULL]
        END AS refusal
      FROM md_judged j
    ) x WHERE x.refusal IS NOT NULL ORDER BY x.req LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%', v_refusal.refusal[3] USING ERRCODE = v_refusal.refusal[1], COLUMN = v_refusal.refusal[2],
        HINT = coalesce(v_refusal.refusal[4], '');
    END IF;

    SELECT jsonb_agg(jsonb_build_object('req', row_number, 'kind', 'dispense', 'key', d.ledger_key, 'site', d.site,
        'commodity', mat_commodity(), 'qty', d.ledger_mg, 'date', d.asked_day, 'population', d.population_code,
        'channel', 'clinic', 'client', d.client, 'note', d.note) ORDER BY row_number)
    INTO v_requests
    FROM (SELECT j.*, CASE WHEN n = 0 THEN j.key ELSE j.key || '/' || n END AS ledger_key,
        CASE WHEN n = 0 THEN j.dose_mg ELSE j.prescribed END AS ledger_mg, row_number() OVER (ORDER BY j.req, n)
      FROM md_judged j CROSS JOIN LATERAL generate_series(0, j.take_home) n) d;
    -- The batches the ledger took are read from what it booked, not looked up again.
    SELECT string_agg(DISTINCT b.lot_code, ', ') INTO v_missing
    FROM ledger_post(v_requests) b JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
    WHERE l.mg_per_ml IS NULL;
    IF v_missing IS NOT NULL THEN
      PERFORM ledger_refuse('site', format('batch %s has no concentration recorded (mg/ml)', v_missing), 'mat_batch');
    END IF;

    RETURN QUERY
    WITH added AS (
      INSERT INTO mat_doses (episode_id, uic, site_code, dispensed_on, take_on, mg, ml, witness_code, override_reason,
        idempotency_key)
      SELECT j.episode_id, j.client, j.site, v_day, v_day + n, CASE WHEN n = 0 THEN j.dose_mg ELSE j.prescribed END,
        (SELECT sum(-e.quantity / l.mg_per_ml) FROM stock_events e
          JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
          WHERE e.site_code = j.site AND e.idempotency_key = CASE WHEN n = 0 THEN j.key ELSE j.key || '/' || n END),
        j.witness, j.override, CASE WHEN n = 0 THEN j.key ELSE j.key || '/' || n END
      FROM md_judged j CROSS JOIN LATERAL generate_series(0, j.take_home) n
      ORDER BY j.req, n
      RETURNING *
    )
    SELECT (mat_dose_row('dosed', a, CASE WHEN a.take_on = v_day THEN j.flag END)).*
    FROM added a JOIN md_judged j ON j.site = a.site_code AND j.client = a.uic
      AND (a.idempotency_key = j.key OR left(a.idempotency_key, length(j.key) + 1) = j.key || '/')
    ORDER BY j.req, a.take_on;
    DROP TABLE md_judged;
  END LOOP;
  DROP TABLE md_requests;
END $$;

-- One dose (and its take-homes) as the dose command records it: a batch of one for mat_doses_post.
CREATE OR REPLACE FUNCTION mat_dose(
  p_site text, p_uic text, p_mg integer, p_witness text, p_take_home integer, p_day date, p_key text,
  p_override text, p_note text
) RETURNS SETOF mat_dosed LANGUAGE sql AS $$
  SELECT * FROM mat_doses_post(jsonb_build_array(jsonb_build_object('req', 1, 'site', p_site, 'client', p_uic,
    'mg', p_mg, 'witness', p_witness, 'take_home', p_take_home, 'date', p_day, 'key', p_key, 'override', p_override,
    'note', p_note)))
$$;

-- A take-home brought back unused: its mg go back to the batches they left (adjustments, reason 'returned'), and the
-- day counts as not dosed. The adjustments' note never names the client or the person's reason: notes reach the
-- F-CDRR's explanations, which are aggregate; mat_dose_returns keeps both, for the register.
CREATE OR REPLACE FUNCTION mat_return(
  p_site text, p_uic text, p_take_on date, p_reason text, p_day date, p_key text
) RETURNS SETOF mat_dosed LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_day date := mat_day(p_day);
  v_dose mat_doses;
  v_requests jsonb;
BEGIN
  PERFORM mat_client_locked(p_uic);
  PERFORM access_refuse(ARRAY[p_site], 'clients', 'site');
  IF EXISTS (SELECT FROM mat_dose_returns r WHERE r.site_code = p_site AND r.idempotency_key = p_key) THEN
    RETURN QUERY SELECT (mat_dose_row('repeat', o, NULL)).* FROM mat_dose_returns r JOIN mat_doses o ON o.id = r.dose_id
      WHERE r.site_code = p_site AND r.idempotency_key = p_key AND o.uic = p_uic AND o.take_on = p_take_on;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'key % was already used for another return at %', p_key, p_site USING ERRCODE = 'KP003',
        COLUMN = 'key';
    END IF;
    RETURN;
  END IF;
  SELECT o.* INTO v_dose FROM mat_doses o
  WHERE o.uic = p_uic AND o.site_code = p_site AND o.take_on = p_take_on AND o.take_on > o.dispensed_on
    AND NOT EXISTS (SELECT FROM mat_dose_returns r WHERE r.dose_id = o.id)
  FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM mat_refuse_state('take_on', format('client %s holds no take-home dose from %s for %s', p_uic, p_site,
      p_take_on));
  ELSIF v_day < v_dose.dispensed_on THEN
    PERFORM ledger_refuse('date', format('the dose was dispensed on %s', v_dose.dispensed_on));
  ELSIF coalesce(btrim(p_reason), '') = '' THEN
    PERFORM ledger_refuse('reason', 'a return needs a reason');
  END IF;
  SELECT jsonb_agg(jsonb_build_object('req', e.key_part, 'kind', 'adjustment', 'key', p_key || '/' || e.key_part,
      'site', p_site, 'commodity', e.commodity_code, 'lot', e.lot_code, 'qty', -e.quantity, 'date', v_day,
      'reason', 'returned', 'note', 'take-home dose returned unused')
    ORDER BY e.key_part)
  INTO v_requests
  FROM stock_events e WHERE e.site_code = p_site AND e.idempotency_key = v_dose.idempotency_key;
  PERFORM FROM ledger_post(v_requests);
  INSERT INTO mat_dose_returns (dose_id, site_code, returned_on, reason, idempotency_key)
  VALUES (v_dose.id, p_site, v_day, btrim(p_reason), p_key);
  RETURN NEXT mat_dose_row('returned', v_dose, NULL);
END $$;

-- The controlled-drug register of a site: every movement of methadone, in the order it happened, with the running
-- balance in mg and in ml (each batch's mg at its concentration), opening with the balance the day before p_from.
-- Doses name the client (UIC), who dispensed and who witnessed: the register is the page an inspector asks to see,
-- for clinic staff only, never a report.
CREATE OR REPLACE FUNCTION mat_register(p_site text, p_from date, p_to date) RETURNS TABLE (
  day date, event_id bigint, entry text, uic text, batch text, mg_per_ml numeric, mg bigint, ml numeric,
  balance_mg bigint, balance_ml numeric, recorded_by text, witness text, detail text
) LANGUAGE sql STABLE SET jit = off AS $$
  WITH moves AS (
    SELECT e.occurred_on, e.id, e.kind, e.quantity, e.lot_code, l.mg_per_ml, e.reason_code, e.recorded_by, e.note,
      e.transfer_id, o.uic AS dose_uic, o.take_on, o.dispensed_on, o.witness_code, r.dose_id AS returned_dose,
      ro.uic AS return_uic, ro.take_on AS return_take_on
    FROM stock_events e
    LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
    LEFT JOIN mat_doses o ON o.site_code = e.site_code AND o.idempotency_key = e.idempotency_key
    LEFT JOIN mat_dose_returns r ON r.site_code = e.site_code
      AND e.idempotency_key LIKE r.idempotency_key || '/%' AND e.kind = 'adjustment'
    LEFT JOIN mat_doses ro ON ro.id = r.dose_id
    WHERE e.site_code = p_site AND e.commodity_code = mat_commodity() AND e.occurred_on <= p_to
  ), balanced AS (
    SELECT m.*, sum(m.quantity) OVER w AS balance_mg, sum(m.quantity / m.mg_per_ml) OVER w AS balance_ml
    FROM moves m WINDOW w AS (ORDER BY m.occurred_on, m.id)
  )
  SELECT * FROM (
    SELECT p_from - 1 AS day, NULL::bigint AS event_id, 'opening balance' AS entry, NULL AS uic, NULL AS batch,
      NULL::numeric AS mg_per_ml, NULL::bigint AS mg, NULL::numeric AS ml,
      coalesce((SELECT b.balance_mg FROM balanced b WHERE b.occurred_on < p_from
        ORDER BY b.occurred_on DESC, b.id DESC LIMIT 1), 0)::bigint AS balance_mg,
      round(coalesce((SELECT b.balance_ml FROM balanced b WHERE b.occurred_on < p_from
        ORDER BY b.occurred_on DESC, b.id DESC LIMIT 1), 0), 2) AS balance_ml,
      NULL AS recorded_by, NULL AS witness, NULL AS detail
    UNION ALL
    SELECT b.occurred_on, b.id,
      CASE WHEN b.dose_uic IS NOT NULL AND b.take_on > b.dispensed_on THEN 'take-home'
        WHEN b.dose_uic IS NOT NULL THEN 'dose'
        WHEN b.returned_dose IS NOT NULL THEN 'take-home returned'
        ELSE replace(b.kind, '_', ' ') END,
      coalesce(b.dose_uic, b.return_uic), nullif(b.lot_code, ''), b.mg_per_ml, b.quantity,
      round(b.quantity / b.mg_per_ml, 2), b.balance_mg::bigint, round(b.balance_ml, 2), b.recorded_by,
      b.witness_code,
      nullif(concat_ws('; ', CASE WHEN b.take_on > b.dispensed_on THEN 'to take on ' || b.take_on END,
        CASE WHEN b.return_take_on IS NOT NULL THEN 'for ' || b.return_take_on END,
        CASE WHEN b.transfer_id IS NOT NULL THEN 'transfer ' || b.transfer_id END,
        CASE WHEN b.reason_code IS NOT NULL AND b.returned_dose IS NULL THEN 'reason ' || b.reason_code END,
        CASE WHEN b.returned_dose IS NULL THEN b.note END), '')
    FROM balanced b WHERE b.occurred_on >= p_from
  ) entries
  ORDER BY entries.day, entries.event_id NULLS FIRST
$$;

-- Everything recorded about a client, oldest first: enrolments, dose changes, moves, doses, returns and exits. It
-- names the UIC, so it is for clinic staff, never a report.
CREATE OR REPLACE FUNCTION mat_client_history(p_uic text) RETURNS TABLE (
  day date, what text, site_code text, detail text, recorded_by text
) LANGUAGE sql STABLE AS $$
  SELECT h.day, h.what, h.site_code, h.detail, h.recorded_by FROM (
    SELECT e.enrolled_on AS day, 'enrolled' AS what, e.clinic_code AS site_code,
      format('induction %s mg', e.induction_mg) AS detail, e.recorded_by, e.recorded_at, 1 AS rank
    FROM mat_episodes e WHERE e.uic = p_uic
    UNION ALL
    SELECT p.starts_on, 'prescribed', NULL,
      format('%s mg a day%s by %s: %s', p.mg, CASE WHEN p.split > 1 THEN format(' in %s parts', p.split) ELSE '' END,
        p.prescriber_code, p.reason) || coalesce('; override: ' || p.override_reason, ''),
      p.recorded_by, p.recorded_at, 2
    FROM mat_prescriptions p JOIN mat_episodes e ON e.id = p.episode_id
    WHERE e.uic = p_uic AND p.id <> (SELECT min(f.id) FROM mat_prescriptions f WHERE f.episode_id = p.episode_id)
    UNION ALL
    SELECT d.from_on, 'moved', d.site_code, 'doses at ' || d.site_code, d.recorded_by, d.recorded_at, 3
    FROM mat_dosing_sites d JOIN mat_episodes e ON e.id = d.episode_id
    WHERE e.uic = p_uic AND d.id <> (SELECT min(f.id) FROM mat_dosing_sites f WHERE f.episode_id = d.episode_id)
    UNION ALL
    SELECT o.dispensed_on, CASE WHEN o.take_on > o.dispensed_on THEN 'take-home' ELSE 'dose' END, o.site_code,
      format('%s mg (%s ml), witness %s', o.mg, o.ml, o.witness_code)
        || CASE WHEN o.take_on > o.dispensed_on THEN ', to take on ' || o.take_on ELSE '' END
        || coalesce('; override: ' || o.override_reason, ''),
      o.dispensed_by, o.recorded_at, 4
    FROM mat_doses o WHERE o.uic = p_uic
    UNION ALL
    SELECT r.returned_on, 'take-home returned', r.site_code, format('dose for %s: %s', o.take_on, r.reason),
      r.recorded_by, r.recorded_at, 5
    FROM mat_dose_returns r JOIN mat_doses o ON o.id = r.dose_id WHERE o.uic = p_uic
    UNION ALL
    SELECT x.exited_on, 'exited', NULL, x.reason || coalesce(': ' || x.note, ''), x.recorded_by, x.recorded_at, 6
    FROM mat_exits x JOIN mat_episodes e ON e.id = x.episode_id WHERE e.uic = p_uic
  ) h
  -- Within a day, in the order things happen to a client: rows written in one transaction share its timestamp.
  ORDER BY h.day, h.recorded_at, h.rank
$$;

-- The doses a delivery carries, each with the batches its mg came from: the transfer's lots (in the order they left,
-- first expiry first) laid end to end, and each client's mg cut from them in UIC order.
CREATE OR REPLACE FUNCTION mat_delivery_list(p_delivery bigint) RETURNS TABLE (
  delivery_id bigint, transfer_id bigint, uic text, mg integer, ml numeric, batches text, outcome text
) LANGUAGE sql STABLE AS $$
  WITH d AS (SELECT * FROM mat_deliveries WHERE id = p_delivery),
  lots_sent AS (
    SELECT e.lot_code, -e.quantity AS mg, l.mg_per_ml,
      sum(-e.quantity) OVER (ORDER BY e.key_part) + e.quantity AS starts_at, sum(-e.quantity) OVER (ORDER BY e.key_part)
        AS ends_at
    FROM d JOIN stock_events e ON e.transfer_id = d.transfer_id AND e.kind = 'transfer_out'
    LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
  ),
  doses AS (
    SELECT x.*, sum(x.mg) OVER (ORDER BY x.uic) - x.mg AS starts_at, sum(x.mg) OVER (ORDER BY x.uic) AS ends_at
    FROM mat_delivery_doses x WHERE x.delivery_id = p_delivery
  )
  SELECT p_delivery, (SELECT d.transfer_id FROM d), o.uic, o.mg,
    round(sum((least(o.ends_at, s.ends_at) - greatest(o.starts_at, s.starts_at)) / s.mg_per_ml), 2),
    string_agg(format('%s %s mg', s.lot_code, least(o.ends_at, s.ends_at) - greatest(o.starts_at, s.starts_at)), ', '
      ORDER BY s.starts_at),
    CASE WHEN o.dose_id IS NOT NULL THEN 'given' WHEN o.not_given IS NOT NULL THEN 'not given: ' || o.not_given
      ELSE 'to give' END
  FROM doses o JOIN lots_sent s ON s.starts_at < o.ends_at AND s.ends_at > o.starts_at
  GROUP BY o.uic, o.mg, o.dose_id, o.not_given
  ORDER BY o.uic
$$;

-- Prepares a day's doses for a prison or hospital: every client of the clinic who doses there that day and is not
-- dosed yet, at their prescribed dose; their mg leave the clinic as one transfer through the ledger (first expiry
-- first out). A client whose missed days call for a review is left out (named in the refusal when no one is left):
-- the clinician decides their dose first. Once a day per destination; a repeat answers with the same delivery.
CREATE OR REPLACE FUNCTION mat_deliver(p_from text, p_to text, p_day date) RETURNS bigint LANGUAGE plpgsql
SET jit = off SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_day date := mat_day(p_day);
  v_delivery mat_deliveries;
  v_to sites;
  v_total bigint;
  v_transfer bigint;
  v_held text;
BEGIN
  PERFORM access_refuse(ARRAY[p_from], 'clients', 'from');
  SELECT * INTO v_to FROM sites WHERE code = p_to;
  IF NOT FOUND OR v_to.kind NOT IN ('prison', 'hospital') THEN
    PERFORM ledger_refuse('to', format('%s is not a prison or hospital', p_to));
  ELSIF NOT EXISTS (SELECT FROM sites WHERE code = p_from AND kind = 'mat_clinic') THEN
    PERFORM ledger_refuse('from', format('%s is not a MAT clinic', p_from));
  END IF;
  -- Deliveries to one destination take turns, so a day's delivery is made once.
  PERFORM pg_advisory_xact_lock(hashtextextended('mat_deliver ' || p_to, 0));
  SELECT * INTO v_delivery FROM mat_deliveries WHERE to_site = p_to AND day = v_day;
  IF FOUND THEN
    IF v_delivery.from_site <> p_from THEN
      PERFORM mat_refuse_state('to', format('%s''s doses for %s came from %s (delivery %s)', p_to, v_day,
        v_delivery.from_site, v_delivery.id));
    END IF;
    RETURN v_delivery.id;
  END IF;

  CREATE TEMP TABLE md_clients ON COMMIT DROP AS
  SELECT s.uic, s.episode_id, s.mg, s.flag FROM mat_client_states(v_day) s
  WHERE s.dosing_site = p_to AND s.clinic_code = p_from AND s.exited_on IS NULL
    AND NOT EXISTS (SELECT FROM mat_doses o WHERE o.uic = s.uic AND o.episode_id = s.episode_id AND o.take_on = v_day
      AND NOT EXISTS (SELECT FROM mat_dose_returns r WHERE r.dose_id = o.id));
  SELECT sum(c.mg) FILTER (WHERE c.flag IS NULL), string_agg(c.uic || ' (' || c.flag || ')', ', ' ORDER BY c.uic)
  INTO v_total, v_held FROM md_clients c;
  IF v_total IS NULL THEN
    DROP TABLE md_clients;
    PERFORM mat_refuse_state('to', format('no client of %s is to be dosed at %s on %s%s', p_from, p_to, v_day,
      coalesce('; held back for the clinician: ' || v_held, '')));
  END IF;
  SELECT DISTINCT b.transfer_id INTO v_transfer FROM ledger_post(jsonb_build_array(jsonb_build_object('req', 1,
    'kind', 'dispatch', 'key', format('mat-delivery-%s-%s', p_to, v_day), 'site', p_from, 'to', p_to,
    'commodity', mat_commodity(), 'qty', v_total, 'date', p_day, 'note', 'MAT doses for ' || p_to))) b;
  INSERT INTO mat_deliveries (from_site, to_site, day, transfer_id)
  VALUES (p_from, p_to, v_day, v_transfer) RETURNING * INTO v_delivery;
  INSERT INTO mat_delivery_doses (delivery_id, uic, episode_id, mg)
  SELECT v_delivery.id, c.uic, c.episode_id, c.mg FROM md_clients c WHERE c.flag IS NULL;
  DROP TABLE md_clients;
  RETURN v_delivery.id;
END $$;

-- Confirms a delivery at its destination: the transfer is received there, each client's dose is recorded as given
-- (a dose at the destination, witnessed there, on the delivery's day), and the doses not given go back to the clinic
-- as a return transfer, received at once, so both registers balance. p_not_given: {"UIC": "released" | "refused" |
-- "discharged" | "absent" | "other", …}.
CREATE OR REPLACE FUNCTION mat_confirm_delivery(p_delivery bigint, p_witness text, p_not_given jsonb, p_day date)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_day date := mat_day(p_day);
  v_delivery mat_deliveries;
  v_unknown text;
  v_back bigint;
  v_return bigint;
  v_client mat_delivery_doses;
  v_split integer;
  v_part integer;
  v_dose bigint;
BEGIN
  SELECT * INTO v_delivery FROM mat_deliveries WHERE id = p_delivery FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM ledger_refuse('delivery', format('no delivery %s', p_delivery));
  ELSIF NOT access_allows(ARRAY[v_delivery.to_site], 'clients') THEN
    PERFORM access_refuse(ARRAY[v_delivery.to_site], 'clients', 'delivery');
  ELSIF v_delivery.confirmed_on IS NOT NULL THEN
    PERFORM mat_refuse_state('delivery', format('delivery %s was confirmed on %s by %s', p_delivery,
      v_delivery.confirmed_on, v_delivery.confirmed_by));
  ELSIF v_day < v_delivery.day THEN
    PERFORM ledger_refuse('date', format('delivery %s left on %s', p_delivery, v_delivery.day));
  END IF;
  SELECT string_agg(k, ', ') INTO v_unknown FROM jsonb_object_keys(coalesce(p_not_given, '{}')) k
  WHERE NOT EXISTS (SELECT FROM mat_delivery_doses x WHERE x.delivery_id = p_delivery AND x.uic = k);
  IF v_unknown IS NOT NULL THEN
    PERFORM ledger_refuse('not_given', format('delivery %s carries no dose for %s', p_delivery, v_unknown));
  END IF;
  UPDATE mat_delivery_doses x SET not_given = p_not_given ->> x.uic
  WHERE x.delivery_id = p_delivery AND p_not_given ? x.uic;

  PERFORM FROM ledger_post(jsonb_build_array(jsonb_build_object('req', 1, 'kind', 'transfer_receipt',
    'key', format('mat-delivery-%s-in', p_delivery), 'transfer', v_delivery.transfer_id, 'date', v_delivery.day)));
  FOR v_client IN SELECT * FROM mat_delivery_doses x WHERE x.delivery_id = p_delivery AND x.not_given IS NULL
    ORDER BY x.uic
  LOOP
    -- A split dose is given in its parts, each a dose of its own.
    SELECT s.split INTO v_split FROM mat_client_states(v_delivery.day, v_client.uic) s;
    FOR v_part IN 1 .. coalesce(v_split, 1) LOOP
      SELECT d.dose_id INTO v_dose FROM mat_dose(v_delivery.to_site, v_client.uic, v_client.mg / coalesce(v_split, 1),
        p_witness, 0, v_delivery.day, format('mat-delivery-%s-%s-%s', p_delivery, v_client.uic, v_part), NULL,
        NULL) d;
      IF v_part = 1 THEN
        UPDATE mat_delivery_doses x SET dose_id = v_dose WHERE x.delivery_id = p_delivery AND x.uic = v_client.uic;
      END IF;
    END LOOP;
  END LOOP;

  SELECT sum(x.mg) INTO v_back FROM mat_delivery_doses x WHERE x.delivery_id = p_delivery AND x.not_given IS NOT NULL;
  IF v_back > 0 THEN
    SELECT DISTINCT b.transfer_id INTO v_return FROM ledger_post(jsonb_build_array(jsonb_build_object('req', 1,
      'kind', 'dispatch', 'key', format('mat-delivery-%s-back', p_delivery), 'site', v_delivery.to_site,
      'to', v_delivery.from_site, 'commodity', mat_commodity(), 'qty', v_back, 'date', v_day,
      'note', 'MAT doses not given, back to the clinic'))) b;
    PERFORM FROM ledger_post(jsonb_build_array(jsonb_build_object('req', 1, 'kind', 'transfer_receipt',
      'key', format('mat-delivery-%s-back-in', p_delivery), 'transfer', v_return, 'date', v_day)));
  END IF;
  UPDATE mat_deliveries SET confirmed_on = v_day, confirmed_by = session_user, return_transfer_id = v_return
  WHERE id = p_delivery;
END $$;

-- A site's register balance at the end of a day, in mg and in ml (each batch at its concentration; ml is NULL while a
-- batch with stock has none recorded).
CREATE OR REPLACE FUNCTION mat_balance(p_site text, p_day date) RETURNS TABLE (mg bigint, ml numeric)
LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum(b.mg), 0)::bigint,
    CASE WHEN bool_and(b.mg = 0 OR b.mg_per_ml IS NOT NULL) IS NOT FALSE
      THEN round(coalesce(sum(b.mg / b.mg_per_ml) FILTER (WHERE b.mg <> 0), 0), 2) END
  FROM (
    SELECT e.lot_code, sum(e.quantity) AS mg, l.mg_per_ml
    FROM stock_events e LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
    WHERE e.site_code = p_site AND e.commodity_code = mat_commodity() AND e.occurred_on <= p_day
    GROUP BY e.lot_code, l.mg_per_ml
  ) b
$$;

-- Closes a site's day: the volume measured against the register's balance in ml. A variance is booked in whole mg to
-- the batch in use (the first usable batch with stock, at its concentration) as an adjustment with the reason given
-- (spillage, measurement, …), through the ledger. A day closes once; a correction later is a new dated entry.
CREATE OR REPLACE FUNCTION mat_close_day(
  p_site text, p_counted_ml numeric, p_witness text, p_reason text, p_day date, p_key text
) RETURNS mat_day_closes LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_day date := mat_day(p_day);
  v_close mat_day_closes;
  v_expected numeric;
  v_lot text;
  v_mg_per_ml numeric;
  v_variance integer;
  v_direction text;
BEGIN
  IF NOT EXISTS (SELECT FROM sites WHERE code = p_site) THEN
    PERFORM ledger_refuse('site', format('unknown site %s', p_site));
  END IF;
  PERFORM access_refuse(ARRAY[p_site], 'clients', 'site');
  PERFORM pg_advisory_xact_lock(hashtextextended('mat_close_day ' || p_site, 0));
  SELECT * INTO v_close FROM mat_day_closes WHERE site_code = p_site AND day = v_day;
  IF FOUND THEN
    PERFORM mat_refuse_state('date', format('%s was closed at %s by %s (counted %s ml): a correction is a new '
      'adjustment, dated when it is found', v_day, p_site, v_close.recorded_by, v_close.counted_ml));
  ELSIF p_counted_ml IS NULL OR p_counted_ml < 0 THEN
    PERFORM ledger_refuse('counted_ml', 'must be 0 or more ml');
  ELSIF p_witness IS NULL THEN
    PERFORM ledger_refuse('witness', 'a close of day needs the code of the person who saw the volume measured');
  END IF;
  SELECT b.ml INTO v_expected FROM mat_balance(p_site, v_day) b;
  IF v_expected IS NULL THEN
    PERFORM ledger_refuse('site', format('a batch at %s has no concentration recorded (mg/ml)', p_site), 'mat_batch');
  END IF;
  SELECT b.lot_code, l.mg_per_ml INTO v_lot, v_mg_per_ml
  FROM stock_balances b JOIN lots l ON l.commodity_code = b.commodity_code AND l.lot_code = b.lot_code
  WHERE b.site_code = p_site AND b.commodity_code = mat_commodity() AND b.on_hand > 0 AND l.expires_on >= v_day
  ORDER BY l.expires_on, b.lot_code LIMIT 1;
  v_variance := round((p_counted_ml - v_expected) * coalesce(v_mg_per_ml, 0));
  IF v_variance <> 0 THEN
    SELECT direction INTO v_direction FROM stock_reasons WHERE code = p_reason;
    IF p_reason IS NULL THEN
      PERFORM ledger_refuse('reason', format('counted %s ml against %s ml in the register: a variance needs a reason',
        p_counted_ml, v_expected), 'reasons');
    ELSIF v_direction IS NULL THEN
      PERFORM ledger_refuse('reason', format('unknown reason %s', p_reason), 'reasons');
    ELSIF v_direction = (CASE WHEN v_variance < 0 THEN 'in' ELSE 'out' END) THEN
      PERFORM ledger_refuse('reason', format('reason %s moves stock the other way', p_reason), 'reasons');
    END IF;
    PERFORM FROM ledger_post(jsonb_build_array(jsonb_build_object('req', 1, 'kind', 'adjustment', 'key', p_key,
      'site', p_site, 'commodity', mat_commodity(), 'lot', v_lot, 'qty', v_variance, 'reason', p_reason,
      'date', p_day, 'note', format('close of day: counted %s ml, register %s ml', p_counted_ml, v_expected))));
  END IF;
  INSERT INTO mat_day_closes (site_code, day, expected_ml, counted_ml, variance_mg, lot_code, reason_code,
    witness_code, idempotency_key)
  VALUES (p_site, v_day, v_expected, p_counted_ml, v_variance, CASE WHEN v_variance <> 0 THEN v_lot END,
    CASE WHEN v_variance <> 0 THEN p_reason END, p_witness, CASE WHEN v_variance <> 0 THEN p_key END)
  RETURNING * INTO v_close;
  RETURN v_close;
END $$;

-- A clinic's month (or any period) as the national monthly methadone report asks for it (clients of episodes
-- enrolled at p_site, wherever they dose; stock at p_site). "Missed more than 5 consecutive doses" counts clients on
-- treatment during the month with a run of more than the settings' active days without a dose inside it; they are
-- not "currently on methadone" (currently_on: the clients at the end who are), so KP_MAT (on MAT for 6 months or
-- more at the month's end), the mean dose and the share at 60 mg or more leave them out. The county reports'
-- coverage reads it too (report_coverage). Resupply: 3 × the month's
-- dispensed ml − the closing physical count (the last close of day in the month, else the register's balance), in
-- 1,000 ml bottles.
DROP FUNCTION IF EXISTS mat_monthly(text, date, date);
CREATE OR REPLACE FUNCTION mat_monthly(p_site text, p_first date, p_last date) RETURNS TABLE (
  clients_at_start integer, new_clients integer, reinducted integer, exited_completed integer,
  exited_transferred_out integer, exited_died integer, exited_other integer, clients_at_end integer,
  on_mat_six_months integer, missed_over_five integer, currently_on integer, mean_dose_mg numeric,
  share_at_least_60_mg numeric,
  dispensed_mg bigint, dispensed_ml numeric, opening_mg bigint, closing_mg bigint, losses_mg bigint,
  closing_count_ml numeric, closing_count_is_balance boolean, resupply_ml numeric, resupply_bottles integer
) LANGUAGE sql STABLE SET jit = off AS $$
  WITH s AS (SELECT * FROM mat_settings),
  episodes AS (
    SELECT e.*, x.exited_on, x.reason AS exit_reason FROM mat_episodes e LEFT JOIN mat_exits x ON x.episode_id = e.id
    WHERE e.clinic_code = p_site
  ),
  -- Each episode's longest run of days without a dose inside the month, over the days it was on treatment.
  gaps AS (
    SELECT e.id, max(run.length) AS longest
    FROM episodes e
    CROSS JOIN LATERAL (
      SELECT count(*) AS length FROM (
        SELECT d.day, d.day - (row_number() OVER (ORDER BY d.day))::integer AS grp
        FROM (SELECT g::date AS day FROM generate_series(greatest(p_first, e.enrolled_on),
          least(p_last, coalesce(e.exited_on, p_last)), '1 day') g) d
        WHERE NOT EXISTS (SELECT FROM mat_doses o WHERE o.uic = e.uic AND o.episode_id = e.id AND o.take_on = d.day
          AND NOT EXISTS (SELECT FROM mat_dose_returns r WHERE r.dose_id = o.id))
      ) g GROUP BY g.grp
    ) run
    WHERE e.enrolled_on <= p_last AND coalesce(e.exited_on, p_last) >= p_first
    GROUP BY e.id
  ),
  at_end AS (
    SELECT e.*, p.mg, coalesce(g.longest, 0) AS longest FROM episodes e
    LEFT JOIN gaps g ON g.id = e.id
    LEFT JOIN LATERAL (SELECT p.mg FROM mat_prescriptions p WHERE p.episode_id = e.id AND p.starts_on <= p_last
      ORDER BY p.starts_on DESC, p.id DESC LIMIT 1) p ON true
    WHERE e.enrolled_on <= p_last AND (e.exited_on IS NULL OR e.exited_on > p_last)
  ),
  events AS (
    SELECT e.*, l.mg_per_ml FROM stock_events e
    LEFT JOIN lots l ON l.commodity_code = e.commodity_code AND l.lot_code = e.lot_code
    WHERE e.site_code = p_site AND e.commodity_code = mat_commodity() AND e.occurred_on <= p_last
  ),
  closing_count AS (
    SELECT c.counted_ml FROM mat_day_closes c WHERE c.site_code = p_site AND c.day BETWEEN p_first AND p_last
    ORDER BY c.day DESC LIMIT 1
  ),
  stock AS (
    SELECT
      coalesce(-sum(e.quantity) FILTER (WHERE e.kind = 'dispense' AND e.occurred_on >= p_first), 0)::bigint
        AS dispensed_mg,
      round(coalesce(-sum(e.quantity / e.mg_per_ml) FILTER (WHERE e.kind = 'dispense' AND e.occurred_on >= p_first),
        0), 2) AS dispensed_ml,
      coalesce(sum(e.quantity) FILTER (WHERE e.occurred_on < p_first), 0)::bigint AS opening_mg,
      coalesce(sum(e.quantity), 0)::bigint AS closing_mg,
      coalesce(-sum(e.quantity) FILTER (WHERE e.kind IN ('adjustment', 'count') AND e.quantity < 0
        AND e.occurred_on >= p_first), 0)::bigint AS losses_mg
    FROM events e
  ),
  closing AS (
    SELECT coalesce((SELECT counted_ml FROM closing_count), (SELECT b.ml FROM mat_balance(p_site, p_last) b))
      AS count_ml, NOT EXISTS (SELECT FROM closing_count) AS is_balance
  )
  SELECT
    (SELECT count(*) FROM episodes e WHERE e.enrolled_on < p_first AND (e.exited_on IS NULL OR e.exited_on >= p_first))
      ::integer,
    (SELECT count(*) FROM episodes e WHERE e.enrolled_on BETWEEN p_first AND p_last)::integer,
    (SELECT count(*) FROM mat_prescriptions p JOIN episodes e ON e.id = p.episode_id, s
      WHERE p.starts_on BETWEEN p_first AND p_last AND p.after_missed_days >= s.reinduction_missed_days)::integer,
    (SELECT count(*) FROM episodes e WHERE e.exited_on BETWEEN p_first AND p_last AND e.exit_reason = 'completed')
      ::integer,
    (SELECT count(*) FROM episodes e WHERE e.exited_on BETWEEN p_first AND p_last
      AND e.exit_reason = 'transferred-out')::integer,
    (SELECT count(*) FROM episodes e WHERE e.exited_on BETWEEN p_first AND p_last AND e.exit_reason = 'died')::integer,
    (SELECT count(*) FROM episodes e WHERE e.exited_on BETWEEN p_first AND p_last AND e.exit_reason = 'other')::integer,
    (SELECT count(*) FROM at_end)::integer,
    (SELECT count(*) FROM at_end a, s WHERE a.enrolled_on <= (p_last - interval '6 months')::date
      AND a.longest <= s.active_days)::integer,
    (SELECT count(*) FROM gaps g, s WHERE g.longest > s.active_days)::integer,
    (SELECT count(*) FROM at_end a, s WHERE a.longest <= s.active_days)::integer,
    (SELECT round(avg(a.mg), 1) FROM at_end a, s WHERE a.longest <= s.active_days),
    (SELECT round(100.0 * count(*) FILTER (WHERE a.mg >= 60) / nullif(count(*), 0), 1) FROM at_end a, s
      WHERE a.longest <= s.active_days),
    st.dispensed_mg, st.dispensed_ml, st.opening_mg, st.closing_mg, st.losses_mg, c.count_ml, c.is_balance,
    greatest(3 * st.dispensed_ml - c.count_ml, 0),
    ceil(greatest(3 * st.dispensed_ml - c.count_ml, 0) / 1000)::integer
  FROM stock st, closing c
$$;

-- A site's methadone need for the week starting p_week (mg): each client dosing there and active today (or on the
-- day before the week, for a past week), at their dose × 7, plus at a clinic the inductions to expect: mean weekly
-- enrolments over the 8 weeks before × their mean induction dose × 7 (domain.md, "Forecast of weekly need", client
-- based). NULL (unknown) for a site that has never dosed a client in the register: its methadone is not recorded
-- through it.
CREATE OR REPLACE FUNCTION mat_weekly_need(p_site text, p_week date) RETURNS bigint LANGUAGE sql STABLE
SET jit = off AS $$
  SELECT CASE WHEN EXISTS (SELECT FROM mat_dosing_sites d WHERE d.site_code = p_site) THEN (
    coalesce((SELECT sum(s.mg) * 7 FROM mat_client_states(least(p_week - 1, programme_today())) s
      WHERE s.dosing_site = p_site AND s.status = 'active'), 0)
    + coalesce((SELECT ceil(count(*) / 8.0 * avg(e.induction_mg) * 7) FROM mat_episodes e
      WHERE e.clinic_code = p_site AND e.enrolled_on >= p_week - 56 AND e.enrolled_on < p_week), 0)
  )::bigint END
$$;

-- mat_monthly as the report prints it: one row per figure, counts of people from 1 to 4 as '<5' (and one more count
-- 'suppressed' when a single one would otherwise be recomputable), the mean dose and the share at 60 mg or more
-- withheld when they describe 1 to 4 people. p_suppress false only for those report_may_show_small_numbers allows.
CREATE OR REPLACE FUNCTION mat_monthly_report(p_site text, p_first date, p_last date, p_suppress boolean)
RETURNS TABLE (figure text, value text) LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  m record;
  v_marks text[];
BEGIN
  PERFORM report_check_suppression(p_suppress);
  PERFORM access_refuse(ARRAY[p_site], 'read', 'site');
  SELECT * INTO m FROM mat_monthly(p_site, p_first, p_last);
  v_marks := CASE WHEN p_suppress THEN report_suppress(ARRAY[m.clients_at_start, m.new_clients, m.reinducted,
      m.exited_completed, m.exited_transferred_out, m.exited_died, m.exited_other, m.clients_at_end,
      m.on_mat_six_months, m.missed_over_five, 0]::bigint[])
    ELSE array_fill(NULL::text, ARRAY[11]) END;
  RETURN QUERY
  SELECT f.figure, coalesce(v_marks[f.i], f.value) FROM (VALUES
    (1, 'clients at start of month', m.clients_at_start::text),
    (2, 'new clients', m.new_clients::text),
    (3, 're-inducted', m.reinducted::text),
    (4, 'exited: completed', m.exited_completed::text),
    (5, 'exited: transferred out', m.exited_transferred_out::text),
    (6, 'exited: died', m.exited_died::text),
    (7, 'exited: other', m.exited_other::text),
    (8, 'clients at end of month', m.clients_at_end::text),
    (9, 'on MAT 6 months or more (KP_MAT)', m.on_mat_six_months::text),
    (10, 'missed more than 5 consecutive doses', m.missed_over_five::text),
    (12, 'mean dose, mg', CASE WHEN p_suppress AND m.currently_on BETWEEN 1 AND 4 THEN '<5'
      ELSE m.mean_dose_mg::text END),
    (13, 'share at 60 mg or more, %', CASE WHEN p_suppress AND m.currently_on BETWEEN 1 AND 4
      THEN '<5' ELSE m.share_at_least_60_mg::text END),
    (14, 'dispensed, mg', m.dispensed_mg::text),
    (15, 'dispensed, ml', m.dispensed_ml::text),
    (16, 'opening stock, mg', m.opening_mg::text),
    (17, 'closing stock, mg', m.closing_mg::text),
    (18, 'losses, mg', m.losses_mg::text),
    (19, 'closing physical count, ml', m.closing_count_ml::text
      || CASE WHEN m.closing_count_is_balance THEN ' *' ELSE '' END),
    (20, 'resupply requested, ml', m.resupply_ml::text),
    (21, 'resupply requested, 1,000 ml bottles', m.resupply_bottles::text)
  ) f (i, figure, value)
  ORDER BY f.i;
END $$;
