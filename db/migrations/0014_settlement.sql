-- Settlement: one record per ended session, appended to the verifiable log in the transaction
-- that writes the row here (and the "settlement.recorded" outbox event), and the meters' public
-- keys per EVSE that signed meter data is verified with.

-- A meter's key, registered by an operator or learnt from the first signed reading and then
-- pinned: a later reading signed with another key is a key mismatch.
CREATE TABLE meter_keys (
  station_id  text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
  evse_id     integer NOT NULL CHECK (evse_id >= 0),
  public_key  text NOT NULL CHECK (public_key ~ '^[0-9a-f]+$'),  -- hex DER SubjectPublicKeyInfo
  source      text NOT NULL CHECK (source IN ('registered', 'learnt')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_id, evse_id)
);

CREATE TABLE settlements (
  id                  text PRIMARY KEY,  -- the record's settlement_id
  session_id          integer NOT NULL UNIQUE,  -- transactions.id; kept when a station goes
  station_id          text NOT NULL,
  site_id             bigint REFERENCES sites (id) ON DELETE SET NULL,
  status              text NOT NULL CHECK (status IN ('verified', 'unsigned', 'invalid')),
  reason              text,
  log_index           bigint NOT NULL UNIQUE,
  record              text NOT NULL,  -- canonical, byte for byte the log's entry
  currency            text,
  total_minor         bigint NOT NULL,
  energy_imported_wh  bigint NOT NULL,
  energy_exported_wh  bigint NOT NULL,
  started_at          timestamptz NOT NULL,
  ended_at            timestamptz NOT NULL,
  settled_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (status <> 'invalid' OR reason IS NOT NULL)
);
CREATE INDEX settlements_site ON settlements (site_id, ended_at);
CREATE INDEX settlements_ended ON settlements (ended_at);

-- A settlement is written once and never changed.
CREATE FUNCTION settlements_immutable() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'settlements are append-only';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER settlements_immutable BEFORE UPDATE OR DELETE ON settlements
  FOR EACH ROW EXECUTE FUNCTION settlements_immutable();
