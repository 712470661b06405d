-- Methadone (MAT): the client register by UIC, prescriptions, dosing sites and observed doses. Methadone is a
-- lot-tracked ledger commodity in mg; every dose is a dispense booked through ledger_post (the one booking path), and
-- these tables say whose dose it was, who witnessed it and which day it is for. The rules that judge a dose live in
-- Schema/functions/85_methadone.sql. ../shared/domain.md, "Methadone is a controlled drug".

-- A batch's concentration (mg per ml): 5 and 10 both occur, and the register shows every dose in ml as measured.
-- Only methadone batches carry one.
ALTER TABLE lots ADD COLUMN mg_per_ml numeric(6, 2) CONSTRAINT lots_mg_per_ml CHECK (mg_per_ml > 0 AND mg_per_ml <= 100);

-- Exactly one row: the MAT programme's thresholds and guard rails (WHO-based defaults; domain.md).
CREATE TABLE mat_settings (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  -- Days since the last dose taken: active up to active_days, defaulting up to lost_after_days, then lost to
  -- follow-up.
  active_days integer NOT NULL DEFAULT 5 CHECK (active_days >= 1),
  lost_after_days integer NOT NULL DEFAULT 30,
  -- Consecutive days missed before a dose at the old level needs an override: review, then re-induction.
  review_missed_days integer NOT NULL DEFAULT 3 CHECK (review_missed_days >= 1),
  reinduction_missed_days integer NOT NULL DEFAULT 5,
  max_induction_mg integer NOT NULL DEFAULT 30 CHECK (max_induction_mg > 0),
  max_increase_mg integer NOT NULL DEFAULT 10 CHECK (max_increase_mg > 0),
  min_days_between_increases integer NOT NULL DEFAULT 3 CHECK (min_days_between_increases >= 0),
  max_dose_mg integer NOT NULL DEFAULT 300 CHECK (max_dose_mg > 0),
  -- Take-home days one visit may dispense: 0 means none until the programme sets a limit.
  take_home_max_days integer NOT NULL DEFAULT 0 CHECK (take_home_max_days BETWEEN 0 AND 31),
  take_home_after_days integer NOT NULL DEFAULT 90 CHECK (take_home_after_days >= 0),
  CONSTRAINT mat_settings_status_order CHECK (lost_after_days > active_days),
  CONSTRAINT mat_settings_missed_order CHECK (reinduction_missed_days > review_missed_days)
);
INSERT INTO mat_settings DEFAULT VALUES;

-- A client is a UIC and the key population the programme counts them under: never a name, phone, photo or
-- fingerprint. A UIC holds a letter and no run of seven digits, so a phone or ID number cannot stand in for it.
CREATE TABLE mat_clients (
  uic text PRIMARY KEY CONSTRAINT mat_clients_uic CHECK (uic ~ '^[A-Z0-9-]{6,32}$' AND uic ~ '[A-Z]' AND uic !~ '[0-9]{7}'),
  population_code text NOT NULL REFERENCES populations (code),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user
);

-- A stay on treatment, from enrolment at a MAT clinic to an exit. A client who comes back after an exit is
-- enrolled again: a new episode, the old one kept whole.
CREATE TABLE mat_episodes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uic text NOT NULL REFERENCES mat_clients (uic),
  clinic_code text NOT NULL REFERENCES sites (code),
  enrolled_on date NOT NULL,
  induction_mg integer NOT NULL CHECK (induction_mg > 0),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user
);
CREATE INDEX mat_episodes_uic ON mat_episodes (uic, enrolled_on);
CREATE INDEX mat_episodes_clinic ON mat_episodes (clinic_code);

CREATE TABLE mat_exits (
  episode_id bigint PRIMARY KEY REFERENCES mat_episodes (id),
  exited_on date NOT NULL,
  reason text NOT NULL CONSTRAINT mat_exits_reason CHECK (reason IN ('completed', 'transferred-out', 'died', 'other')),
  note text CHECK (length(note) BETWEEN 1 AND 500),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  CONSTRAINT mat_exits_other_explained CHECK (reason <> 'other' OR note IS NOT NULL)
);

-- Dated dose changes; the one in force on a day is the latest that started on or before it. The first is the
-- induction dose, written at enrolment. A guard rail passed with an override keeps its reason.
CREATE TABLE mat_prescriptions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  episode_id bigint NOT NULL REFERENCES mat_episodes (id),
  starts_on date NOT NULL,
  mg integer NOT NULL CONSTRAINT mat_prescriptions_mg CHECK (mg > 0 AND mg <= 1000),
  -- Parts a day's dose is taken in, each observed and recorded.
  split smallint NOT NULL DEFAULT 1 CONSTRAINT mat_prescriptions_split CHECK (split BETWEEN 1 AND 4),
  prescriber_code text NOT NULL
    CONSTRAINT mat_prescriptions_prescriber CHECK (prescriber_code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  override_reason text CHECK (length(override_reason) BETWEEN 1 AND 200),
  -- Consecutive days the client had missed when this was prescribed (NULL before a first dose): one made at or past
  -- the settings' re-induction threshold is a re-induction, which the monthly report counts.
  after_missed_days integer CHECK (after_missed_days >= 0),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  CONSTRAINT mat_prescriptions_whole_parts CHECK (mg % split = 0)
);
CREATE INDEX mat_prescriptions_episode ON mat_prescriptions (episode_id, starts_on, id);

-- Where a client doses, from a day on: the MAT clinic, a prison or a hospital. A move is a change of dosing site, not
-- an exit; the latest row on or before a day is in force.
CREATE TABLE mat_dosing_sites (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  episode_id bigint NOT NULL REFERENCES mat_episodes (id),
  site_code text NOT NULL REFERENCES sites (code),
  from_on date NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user
);
CREATE INDEX mat_dosing_sites_episode ON mat_dosing_sites (episode_id, from_on, id);
CREATE INDEX mat_dosing_sites_site ON mat_dosing_sites (site_code);

-- One dose (or one part of a split dose) handed over on dispensed_on, to be taken on take_on: the same day when
-- observed, a later day for a take-home. Its stock left through the ledger under (site_code, idempotency_key): the
-- events say which batches, the dose says whose it was and who saw it taken.
CREATE TABLE mat_doses (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  episode_id bigint NOT NULL REFERENCES mat_episodes (id),
  uic text NOT NULL REFERENCES mat_clients (uic),
  site_code text NOT NULL REFERENCES sites (code),
  dispensed_on date NOT NULL,
  take_on date NOT NULL,
  mg integer NOT NULL CHECK (mg > 0),
  ml numeric(10, 2) NOT NULL CHECK (ml > 0),
  witness_code text NOT NULL CONSTRAINT mat_doses_witness CHECK (witness_code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  override_reason text CHECK (length(override_reason) BETWEEN 1 AND 200),
  idempotency_key text NOT NULL,
  dispensed_by text NOT NULL DEFAULT session_user,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT mat_doses_take_on CHECK (take_on >= dispensed_on),
  CONSTRAINT mat_doses_key UNIQUE (site_code, idempotency_key)
);
CREATE INDEX mat_doses_client ON mat_doses (uic, take_on);
CREATE INDEX mat_doses_site ON mat_doses (site_code, dispensed_on);

-- A take-home brought back unused: its stock returns to the batches it left (ledger adjustments, reason 'returned').
CREATE TABLE mat_dose_returns (
  dose_id bigint PRIMARY KEY REFERENCES mat_doses (id),
  site_code text NOT NULL REFERENCES sites (code),
  returned_on date NOT NULL,
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  idempotency_key text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  CONSTRAINT mat_dose_returns_key UNIQUE (site_code, idempotency_key)
);

-- Reasons a methadone register uses for a close-of-day variance.
INSERT INTO stock_reasons (code, description, direction) VALUES
  ('spillage', 'Spilt while measuring or dosing', 'out'),
  ('measurement', 'Measured volume differs from the register at close of day', 'either');

-- A day's doses taken from a MAT clinic to a prison or a hospital: their mg leave the clinic as one transfer through
-- the ledger; once confirmed, each is given at the destination (a dose there) or comes back (a return transfer).
CREATE TABLE mat_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  from_site text NOT NULL REFERENCES sites (code),
  to_site text NOT NULL REFERENCES sites (code),
  day date NOT NULL,
  transfer_id bigint NOT NULL REFERENCES transfers (id),
  return_transfer_id bigint REFERENCES transfers (id),
  confirmed_on date,
  confirmed_by text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  CONSTRAINT mat_deliveries_once UNIQUE (to_site, day),
  CONSTRAINT mat_deliveries_confirmed CHECK ((confirmed_on IS NULL) = (confirmed_by IS NULL))
);

-- One client's dose in a delivery: given (the dose it became) or not given, and why.
CREATE TABLE mat_delivery_doses (
  delivery_id bigint NOT NULL REFERENCES mat_deliveries (id),
  uic text NOT NULL REFERENCES mat_clients (uic),
  episode_id bigint NOT NULL REFERENCES mat_episodes (id),
  mg integer NOT NULL CHECK (mg > 0),
  dose_id bigint REFERENCES mat_doses (id),
  not_given text CONSTRAINT mat_delivery_doses_not_given
    CHECK (not_given IN ('released', 'refused', 'discharged', 'absent', 'other')),
  PRIMARY KEY (delivery_id, uic),
  CONSTRAINT mat_delivery_doses_one_outcome CHECK (dose_id IS NULL OR not_given IS NULL)
);

-- A site's close of day: the register's balance in ml against the volume measured, witnessed. A variance is booked to
-- the batch in use as an adjustment with its reason (ledger key `idempotency_key`). A day closes once: a later
-- correction is a new dated entry, never an edit.
CREATE TABLE mat_day_closes (
  site_code text NOT NULL REFERENCES sites (code),
  day date NOT NULL,
  expected_ml numeric(12, 2) NOT NULL,
  counted_ml numeric(12, 2) NOT NULL CONSTRAINT mat_day_closes_counted CHECK (counted_ml >= 0),
  variance_mg integer NOT NULL,
  lot_code text,
  reason_code text REFERENCES stock_reasons (code),
  witness_code text NOT NULL CONSTRAINT mat_day_closes_witness CHECK (witness_code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  idempotency_key text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL DEFAULT session_user,
  PRIMARY KEY (site_code, day),
  CONSTRAINT mat_day_closes_variance_explained CHECK (variance_mg = 0 OR reason_code IS NOT NULL)
);

-- A client's standing on a day, as mat_client_states (Schema/functions/85_methadone.sql) derives it.
CREATE TYPE mat_client_state AS (
  uic text,
  population_code text,
  episode_id bigint,
  clinic_code text,
  enrolled_on date,
  exited_on date,
  exit_reason text,
  dosing_site text,
  mg integer,
  split smallint,
  prescribed_on date,
  last_taken date,
  days_since integer,
  missed_days integer,
  status text,
  flag text
);

-- A dose (or part of one) as mat_dose and mat_return answer: 'dosed', 'returned' or 'repeat' (written earlier under
-- the same key), with the batches its stock came from.
CREATE TYPE mat_dosed AS (
  outcome text,
  dose_id bigint,
  uic text,
  site_code text,
  dispensed_on date,
  take_on date,
  mg integer,
  ml numeric,
  batches text,
  flag text
);
