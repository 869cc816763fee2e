-- Station security: security events the CSMS itself detects (refused handshakes, certificate
-- signing) next to those stations report, and the certificates issued to stations.

ALTER TABLE security_events
  ADD COLUMN source text NOT NULL DEFAULT 'station' CHECK (source IN ('station', 'csms')),
  ADD COLUMN remote_address text;
CREATE INDEX security_events_csms ON security_events (occurred_at) WHERE source = 'csms';

-- Every ChargingStationCertificate signed for a station (SignCertificate), for audits and
-- for revoking by serial number.
CREATE TABLE station_certificates (
  serial       text PRIMARY KEY,
  station_id   text NOT NULL,
  subject      text NOT NULL,
  fingerprint  text NOT NULL,
  not_before   timestamptz NOT NULL,
  not_after    timestamptz NOT NULL,
  certificate  text NOT NULL,
  issued_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX station_certificates_station ON station_certificates (station_id, issued_at);
