-- Replenishment orders (../shared/domain.md, "Replenishment"): a forecast run turned into orders per destination and
-- supplier, with one line per commodity that says how its quantity came out, the lots to pick, and the order's way
-- from draft to proof of delivery. Written by the functions of Schema/functions/90_orders.sql.

-- A county store's supplier is outside the programme (the national medical store, KEMSA in Kenya): its line names
-- that supplier instead of a site, and its orders are requisitions.
ALTER TABLE supply_lines
  ALTER COLUMN supplier_code DROP NOT NULL,
  ADD COLUMN external_supplier text CHECK (btrim(external_supplier) <> ''),
  ADD CONSTRAINT supply_lines_one_supplier CHECK ((supplier_code IS NULL) <> (external_supplier IS NULL));

-- Whether an order of a few units may round down to no pack at all (OpenLMIS roundToZero); by default it rounds up
-- to one pack.
ALTER TABLE commodities ADD COLUMN packs_may_round_to_zero boolean NOT NULL DEFAULT false;

CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The forecast run whose need the order is computed from.
  run_id bigint NOT NULL REFERENCES forecast_runs (id),
  site_code text NOT NULL REFERENCES sites (code),
  -- The supplying site, or for a requisition the external supplier's name.
  supplier_code text REFERENCES sites (code),
  external_supplier text,
  status text NOT NULL DEFAULT 'draft'
    CONSTRAINT orders_status CHECK (status IN ('draft', 'approved', 'dispatched', 'received', 'cancelled')),
  made_on date NOT NULL,
  made_at timestamptz NOT NULL DEFAULT now(),
  made_by text NOT NULL DEFAULT session_user,
  CONSTRAINT orders_one_supplier CHECK ((supplier_code IS NULL) <> (external_supplier IS NULL)),
  -- A requisition goes to a supplier outside the ledger: it is approved and then closed as received by hand.
  CONSTRAINT orders_requisitions_not_dispatched CHECK (supplier_code IS NOT NULL OR status <> 'dispatched')
);
-- One order per run, destination and supplier, whatever generates it and however often: re-generating replaces
-- drafts and leaves the rest alone; a cancelled order frees its place.
CREATE UNIQUE INDEX orders_one_per_run ON orders (run_id, site_code, coalesce(supplier_code, external_supplier))
  WHERE status <> 'cancelled';
CREATE INDEX orders_site_status ON orders (site_code, status);

-- One line per commodity: the figures of the max–min rule as they were when the line was computed, in base units
-- (weekly need and levels may be fractional: they are weeks × need).
CREATE TABLE order_lines (
  order_id bigint NOT NULL REFERENCES orders (id),
  commodity_code text NOT NULL REFERENCES commodities (code),
  -- The echelon weekly need of the destination in the run, and the supply line's rule.
  need bigint NOT NULL CHECK (need >= 0),
  variant text NOT NULL,
  min_level numeric NOT NULL,
  max_level numeric NOT NULL,
  emergency_point numeric NOT NULL,
  -- Stock position = usable on hand + in transit + on order (approved, not yet dispatched).
  usable_on_hand bigint NOT NULL,
  -- On hand in lots that expire before the end of the next cover period: left out of the position.
  unusable_on_hand bigint NOT NULL,
  in_transit bigint NOT NULL,
  on_order bigint NOT NULL,
  position bigint NOT NULL,
  -- max − position, in whole units, before packs, and what rationing and the sites below added.
  raw_units bigint NOT NULL,
  rolled_up_units bigint NOT NULL DEFAULT 0,
  -- Asked for, in whole packs (units = packs × pack size).
  requested_packs integer NOT NULL CHECK (requested_packs >= 0),
  requested_units bigint NOT NULL CHECK (requested_units >= 0),
  -- Granted after the supplier's limits; the difference is the shortfall.
  packs integer NOT NULL CHECK (packs >= 0),
  units bigint NOT NULL CHECK (units >= 0),
  shortfall_units bigint NOT NULL CHECK (shortfall_units >= 0),
  emergency boolean NOT NULL,
  -- Set when a person changes the quantity of an approved line.
  changed_reason text,
  -- Proof of delivery.
  accepted_units bigint,
  rejected_units bigint,
  rejection_reason text REFERENCES stock_reasons (code),
  PRIMARY KEY (order_id, commodity_code),
  CONSTRAINT order_lines_delivery CHECK ((accepted_units IS NULL) = (rejected_units IS NULL)
    AND (coalesce(rejected_units, 0) = 0) = (rejection_reason IS NULL))
);

-- The lots to pick at the supplier, first expiry first out, and once dispatched the transfer each left as.
CREATE TABLE order_line_lots (
  order_id bigint NOT NULL,
  commodity_code text NOT NULL,
  lot_code text NOT NULL,
  expires_on date,
  units bigint NOT NULL CHECK (units > 0),
  -- Expires before the destination would have used it up at its max level.
  short_dated boolean NOT NULL,
  transfer_id bigint REFERENCES transfers (id),
  PRIMARY KEY (order_id, commodity_code, lot_code),
  FOREIGN KEY (order_id, commodity_code) REFERENCES order_lines (order_id, commodity_code)
);

-- Lines that got no order for a reason a logistics officer must see: a need that is unknown is never a silent zero.
CREATE TABLE order_warnings (
  run_id bigint NOT NULL REFERENCES forecast_runs (id),
  site_code text NOT NULL REFERENCES sites (code),
  commodity_code text NOT NULL REFERENCES commodities (code),
  warning text NOT NULL,
  PRIMARY KEY (run_id, site_code, commodity_code, warning)
);

-- Every change of an order: who, when, what.
CREATE TABLE order_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id bigint NOT NULL REFERENCES orders (id),
  change text NOT NULL,
  detail jsonb,
  changed_at timestamptz NOT NULL DEFAULT now(),
  changed_by text NOT NULL DEFAULT session_user
);
CREATE INDEX order_changes_order ON order_changes (order_id, id);
