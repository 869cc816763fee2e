-- What the REST API manages on top of the core schema: sites and their grid
-- connection, API keys with roles and site scopes, driver-station associations,
-- and the audit log of remote commands.

CREATE TABLE sites (
  id              bigserial PRIMARY KEY,
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  address         text,
  -- WGS84 geodetic reference; altitude in metres above the ellipsoid.
  latitude        double precision CHECK (latitude BETWEEN -90 AND 90),
  longitude       double precision CHECK (longitude BETWEEN -180 AND 180),
  altitude_m      double precision,
  time_zone       text NOT NULL DEFAULT 'UTC',
  -- Grid connection limits in W; NULL means not limited.
  import_limit_w  bigint CHECK (import_limit_w >= 0),
  export_limit_w  bigint CHECK (export_limit_w >= 0),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE stations
  ADD COLUMN site_id bigint REFERENCES sites (id) ON DELETE RESTRICT,
  ADD COLUMN name text,
  ADD COLUMN password_set_at timestamptz;
CREATE INDEX stations_site ON stations (site_id);

-- A driver's home site decides which facility managers see them.
ALTER TABLE drivers
  ADD COLUMN site_id bigint REFERENCES sites (id) ON DELETE SET NULL,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX drivers_site ON drivers (site_id);
CREATE INDEX id_tokens_driver ON id_tokens (driver_id);
CREATE INDEX transactions_started ON transactions (started_at);
CREATE INDEX transactions_driver ON transactions (driver_id, started_at);

-- Bearer keys. Only a SHA-256 of the secret is kept: the secret is 256 random
-- bits, so a slow hash adds nothing.
CREATE TABLE api_keys (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL,
  role          text NOT NULL CHECK (role IN ('admin', 'facility_manager', 'utility', 'driver')),
  driver_id     bigint REFERENCES drivers (id) ON DELETE CASCADE,
  secret_sha256 bytea NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  CHECK ((role = 'driver') = (driver_id IS NOT NULL))
);

CREATE TABLE api_key_sites (
  api_key_id  bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  site_id     bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  PRIMARY KEY (api_key_id, site_id)
);

-- Which driver is at which station (and EVSE). Made by a claim ("I am plugged in
-- at EVSE 2"), by a token authorizing at the station, or by a transaction whose
-- token belongs to a driver. The triggers below link claims to transactions.
CREATE TABLE station_associations (
  id              bigserial PRIMARY KEY,
  station_id      text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
  evse_id         integer,
  driver_id       bigint NOT NULL REFERENCES drivers (id) ON DELETE CASCADE,
  id_token        text,
  source          text NOT NULL CHECK (source IN ('claim', 'authorize', 'transaction')),
  transaction_id  integer REFERENCES transactions (id) ON DELETE SET NULL,
  created_by_key  bigint REFERENCES api_keys (id) ON DELETE SET NULL,
  started_at      timestamptz NOT NULL DEFAULT now(),
  ended_at        timestamptz,
  end_reason      text
);
CREATE INDEX station_associations_open ON station_associations (station_id) WHERE ended_at IS NULL;
CREATE INDEX station_associations_driver ON station_associations (driver_id, started_at);
CREATE INDEX station_associations_transaction ON station_associations (transaction_id);

-- Every remote command sent through the API, with the station's answer.
CREATE TABLE command_log (
  id            bigserial PRIMARY KEY,
  station_id    text NOT NULL,
  site_id       bigint,
  api_key_id    bigint REFERENCES api_keys (id) ON DELETE SET NULL,
  command       text NOT NULL,
  ocpp_action   text,
  request       jsonb NOT NULL,
  outcome       text NOT NULL DEFAULT 'pending'
                  CHECK (outcome IN ('pending', 'answered', 'call_error', 'timeout', 'offline',
                                     'refused', 'invalid')),
  response      jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz
);
CREATE INDEX command_log_station ON command_log (station_id, created_at);
CREATE INDEX command_log_site ON command_log (site_id, created_at);

-- A transaction without a driver takes the driver of an open claim on its EVSE
-- (or on the whole station).
CREATE FUNCTION transactions_driver_from_claim() RETURNS trigger AS $$
BEGIN
  IF NEW.driver_id IS NULL THEN
    SELECT a.driver_id INTO NEW.driver_id
      FROM station_associations a
     WHERE a.station_id = NEW.station_id AND a.ended_at IS NULL AND a.transaction_id IS NULL
       AND a.source = 'claim' AND (a.evse_id IS NULL OR a.evse_id = NEW.evse_id)
     ORDER BY (a.evse_id IS NULL), a.started_at DESC
     LIMIT 1;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER transactions_driver_from_claim BEFORE INSERT ON transactions
  FOR EACH ROW EXECUTE FUNCTION transactions_driver_from_claim();

-- Once a transaction has a driver, the driver's open association at the station
-- points at it (or one is made); when the transaction ends, so does the association.
CREATE FUNCTION transactions_link_association() RETURNS trigger AS $$
DECLARE
  linked bigint;
BEGIN
  IF NEW.driver_id IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.driver_id IS NULL) THEN
    SELECT a.id INTO linked
      FROM station_associations a
     WHERE a.transaction_id = NEW.id;
    IF linked IS NULL THEN
      UPDATE station_associations
         SET transaction_id = NEW.id, evse_id = COALESCE(evse_id, NEW.evse_id)
       WHERE id = (SELECT a.id FROM station_associations a
                    WHERE a.station_id = NEW.station_id AND a.ended_at IS NULL
                      AND a.transaction_id IS NULL AND a.driver_id = NEW.driver_id
                      AND (a.evse_id IS NULL OR NEW.evse_id IS NULL OR a.evse_id = NEW.evse_id)
                    ORDER BY a.started_at DESC LIMIT 1)
      RETURNING id INTO linked;
      IF linked IS NULL THEN
        INSERT INTO station_associations (station_id, evse_id, driver_id, id_token, source,
                                          transaction_id, started_at)
        VALUES (NEW.station_id, NEW.evse_id, NEW.driver_id, NEW.id_token, 'transaction', NEW.id,
                COALESCE(NEW.started_at, now()));
      END IF;
    END IF;
  END IF;
  IF NEW.state = 'ended' AND (TG_OP = 'INSERT' OR OLD.state <> 'ended') THEN
    UPDATE station_associations
       SET ended_at = COALESCE(NEW.ended_at, now()), end_reason = 'session_ended'
     WHERE transaction_id = NEW.id AND ended_at IS NULL;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER transactions_link_association AFTER INSERT OR UPDATE ON transactions
  FOR EACH ROW EXECUTE FUNCTION transactions_link_association();
