-- ISO 15118 Plug & Charge: the SECC (V2G) certificates the CSMS signed for its stations, kept
-- for audits and to ask each station for a new one before its certificate expires.
CREATE TABLE v2g_certificates (
  serial                 text PRIMARY KEY,
  station_id             text NOT NULL,
  certificate_type       text NOT NULL
                           CHECK (certificate_type IN ('V2GCertificate', 'V2G20Certificate')),
  subject                text NOT NULL,
  fingerprint            text NOT NULL,
  not_before             timestamptz NOT NULL,
  not_after              timestamptz NOT NULL,
  certificate            text NOT NULL,
  issued_at              timestamptz NOT NULL DEFAULT now(),
  -- When the station was last asked (TriggerMessage) for a successor; null: not yet.
  renewal_requested_at   timestamptz
);
CREATE INDEX v2g_certificates_station ON v2g_certificates (station_id, certificate_type, not_after);
