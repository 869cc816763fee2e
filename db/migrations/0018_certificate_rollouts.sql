-- Trust-anchor rollouts (docs/iso15118.md): a root certificate installed on every station of a
-- site, with each station's outcome. A rollout is running while a station has no outcome yet.
CREATE TABLE certificate_rollouts (
  id                bigserial PRIMARY KEY,
  site_id           bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  certificate_type  text NOT NULL,
  certificate       text NOT NULL,
  certificate_id    text NOT NULL,  -- type and CertificateHashData, as the API names it
  subject           text NOT NULL,
  api_key_id        bigint REFERENCES api_keys (id) ON DELETE SET NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_rollouts_site ON certificate_rollouts (site_id, id);

CREATE TABLE certificate_rollout_stations (
  rollout_id    bigint NOT NULL REFERENCES certificate_rollouts (id) ON DELETE CASCADE,
  station_id    text NOT NULL,
  -- NULL while pending; else the command's outcome (answered, offline, timeout, call_error,
  -- lost, refused, invalid), not_available (the station's OCPP version has no such root) or
  -- error (the command could not be logged, so it was not sent).
  outcome       text,
  status        text,    -- the station's answer (Accepted, Rejected, Failed) when answered
  detail        text,
  command_id    bigint,
  completed_at  timestamptz,
  PRIMARY KEY (rollout_id, station_id)
);
