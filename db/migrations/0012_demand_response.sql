-- Demand-response windows in force per site: what an OpenADR 3 event (from the built-in VTN
-- or a utility's VTN polled in VEN mode) asks of each site it targets, one row per interval.
-- The OpenADR module is the one writer; smart charging and settlement read them.
CREATE TABLE demand_response_windows (
  id                        bigserial PRIMARY KEY,
  event_id                  text NOT NULL,   -- the OpenADR eventID
  program_id                text NOT NULL,
  site_id                   bigint NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
  starts_at                 timestamptz NOT NULL,
  ends_at                   timestamptz NOT NULL,
  import_limit_w            double precision,  -- IMPORT_CAPACITY_LIMIT
  export_limit_w            double precision,  -- EXPORT_CAPACITY_LIMIT
  import_subscription_w     double precision,  -- IMPORT_CAPACITY_SUBSCRIPTION
  import_price_minor_per_kwh double precision, -- PRICE
  export_price_minor_per_kwh double precision, -- EXPORT_PRICE
  currency                  text,
  CHECK (ends_at > starts_at)
);
CREATE INDEX demand_response_windows_site ON demand_response_windows (site_id, ends_at);
CREATE INDEX demand_response_windows_event ON demand_response_windows (event_id);
