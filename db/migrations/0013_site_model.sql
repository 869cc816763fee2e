-- The site model smart charging and settlement share: each site's tariff (at most one), the
-- targets demand-response events name a site by, and the power each EVSE can take.

-- The tariff as the REST API stored it (server/src/tariff: checked before it is written).
CREATE TABLE site_tariffs (
  site_id     bigint PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
  tariff      jsonb NOT NULL CHECK (jsonb_typeof(tariff) = 'object'),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- OpenADR targets: the VEN that acts for the site and its power service location (the grid
-- connection point's EAN-18; the GS1 check digit is checked by the API).
ALTER TABLE sites
  ADD COLUMN ven_name text CHECK (length(ven_name) BETWEEN 1 AND 200),
  ADD COLUMN power_service_location text CHECK (power_service_location ~ '^[0-9]{18}$');

-- The operator's description of each EVSE's power. OCPP 1.6 connector n is EVSE n.
CREATE TABLE evses (
  station_id     text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
  evse_id        integer NOT NULL CHECK (evse_id > 0),
  max_power_w    double precision CHECK (max_power_w > 0),
  phases         smallint CHECK (phases IN (1, 3)),
  bidirectional  boolean NOT NULL DEFAULT false,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_id, evse_id)
);
