-- Core CSMS schema: stations, their connectors, tokens, transactions, meter data
-- and what stations report. Times are timestamptz (UTC on the wire); energy in Wh.

CREATE TABLE drivers (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  email       text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A station is known by the identity in its connection URL.
CREATE TABLE stations (
  id                  text PRIMARY KEY,
  registration        text NOT NULL DEFAULT 'accepted'
                        CHECK (registration IN ('pending', 'accepted', 'rejected')),
  protocol            text,
  vendor              text,
  model               text,
  serial_number       text,
  firmware_version    text,
  iccid               text,
  imsi                text,
  meter_type          text,
  meter_serial_number text,
  boot_reason         text,
  security_profile    smallint NOT NULL DEFAULT 0 CHECK (security_profile BETWEEN 0 AND 3),
  password_hash       text,
  registered_at       timestamptz NOT NULL DEFAULT now(),
  last_boot_at        timestamptz,
  last_seen_at        timestamptz,
  connected_since     timestamptz
);

-- Live state per connector. OCPP 1.6 connector n is stored as EVSE n, connector 1;
-- connector 0 (the whole station) as EVSE 0, connector 0.
CREATE TABLE connector_status (
  station_id     text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
  evse_id        integer NOT NULL,
  connector_id   integer NOT NULL,
  status         text NOT NULL,
  error_code     text,
  info           text,
  vendor_error   text,
  reported_at    timestamptz NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_id, evse_id, connector_id)
);

CREATE TABLE status_history (
  id             bigserial PRIMARY KEY,
  station_id     text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
  evse_id        integer NOT NULL,
  connector_id   integer NOT NULL,
  status         text NOT NULL,
  error_code     text,
  info           text,
  reported_at    timestamptz NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_history_station ON status_history (station_id, reported_at);

-- Authorization tokens (RFID, app, ISO 15118 eMAID). OCPP 1.6 idTags carry no type.
CREATE TABLE id_tokens (
  id_token       text PRIMARY KEY,
  token_type     text,
  status         text NOT NULL DEFAULT 'Accepted'
                   CHECK (status IN ('Accepted', 'Blocked', 'Expired', 'Invalid')),
  valid_from     timestamptz,
  valid_until    timestamptz,
  parent_id_tag  text,
  driver_id      bigint REFERENCES drivers (id) ON DELETE SET NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- One charging session. `id` is what OCPP 1.6 stations receive as transactionId;
-- `transaction_uid` is the station's own id in 2.0.1 (and id::text for 1.6).
CREATE TABLE transactions (
  id                  serial PRIMARY KEY,
  station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
  transaction_uid     text NOT NULL,
  protocol            text NOT NULL,
  evse_id             integer,
  connector_id        integer,
  id_token            text,
  driver_id           bigint REFERENCES drivers (id) ON DELETE SET NULL,
  state               text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'ended')),
  charging_state      text,
  started_at          timestamptz,
  ended_at            timestamptz,
  meter_start_wh      bigint,
  meter_stop_wh       bigint,
  -- Register span seen for the session: energy = last - first, never a sum of power.
  import_first_wh     double precision,
  import_last_wh      double precision,
  export_first_wh     double precision,
  export_last_wh      double precision,
  stop_reason         text,
  last_seq_no         integer,
  start_key           text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (station_id, transaction_uid)
);
-- A replayed 1.6 StartTransaction must find the transaction it created.
CREATE UNIQUE INDEX transactions_start_key ON transactions (station_id, start_key)
  WHERE start_key IS NOT NULL;
CREATE INDEX transactions_active ON transactions (station_id) WHERE state = 'active';

-- 2.0.1 TransactionEvent messages, once each (replays are ignored by seqNo).
CREATE TABLE transaction_events (
  station_id       text NOT NULL,
  transaction_uid  text NOT NULL,
  seq_no           integer NOT NULL,
  event_type       text NOT NULL,
  trigger_reason   text NOT NULL,
  occurred_at      timestamptz NOT NULL,
  offline          boolean NOT NULL DEFAULT false,
  payload          jsonb NOT NULL,
  received_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_id, transaction_uid, seq_no)
);

-- Sampled values with units normalised (Wh, W, A, V, %, varh, var, Hz, K, ...).
-- The key makes a replayed sample a no-op.
CREATE TABLE meter_values (
  station_id      text NOT NULL,
  evse_id         integer NOT NULL,
  sampled_at      timestamptz NOT NULL,
  measurand       text NOT NULL,
  phase           text NOT NULL DEFAULT '',
  location        text NOT NULL DEFAULT '',
  context         text NOT NULL DEFAULT '',
  format          text NOT NULL DEFAULT 'Raw',
  value           double precision,          -- NULL for a signed sample's blob
  unit            text NOT NULL,
  transaction_id  integer,
  signed_data     text,
  received_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_id, evse_id, sampled_at, measurand, phase, location, context, format)
);
CREATE INDEX meter_values_transaction ON meter_values (transaction_id) WHERE transaction_id IS NOT NULL;

CREATE TABLE security_events (
  id            bigserial PRIMARY KEY,
  station_id    text NOT NULL,
  event_type    text NOT NULL,
  occurred_at   timestamptz NOT NULL,
  tech_info     text,
  received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_station ON security_events (station_id, occurred_at);

-- What else stations report: firmware, diagnostics and log status, NotifyEvent,
-- NotifyReport parts and DataTransfer, kept as sent.
CREATE TABLE station_notifications (
  id            bigserial PRIMARY KEY,
  station_id    text NOT NULL,
  kind          text NOT NULL,
  status        text,
  request_id    integer,
  payload       jsonb NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX station_notifications_station ON station_notifications (station_id, kind, received_at);
