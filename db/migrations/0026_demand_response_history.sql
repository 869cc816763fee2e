-- What a demand-response event asked while it was in force stays on record when the utility
-- changes or withdraws the event: settlement credits the flexibility delivered then.
--
-- demand_response_windows keeps what is in force or scheduled (smart charging plans against
-- it); a window replaced or withdrawn moves here with the part of it that had been in force
-- (from its in_force_from to the withdrawal), and the part that had not is dropped.
ALTER TABLE demand_response_windows ADD COLUMN in_force_from timestamptz;
UPDATE demand_response_windows SET in_force_from = starts_at;
ALTER TABLE demand_response_windows ALTER COLUMN in_force_from SET NOT NULL;
COMMENT ON COLUMN demand_response_windows.in_force_from IS
  'starts_at, or the time its event was changed when that was later: a change never rewrites '
  'what was asked before it';

CREATE TABLE demand_response_windows_withdrawn (
  id                        bigserial PRIMARY KEY,
  event_id                  text NOT NULL,
  program_id                text NOT NULL,
  site_id                   bigint NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
  starts_at                 timestamptz NOT NULL,  -- the part that was in force
  ends_at                   timestamptz NOT NULL,
  import_limit_w            double precision,
  export_limit_w            double precision,
  import_subscription_w     double precision,
  import_price_minor_per_kwh double precision,
  export_price_minor_per_kwh double precision,
  currency                  text,
  withdrawn_at              timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX demand_response_windows_withdrawn_site
  ON demand_response_windows_withdrawn (site_id, ends_at);
