-- Claims never reach a session that someone else authorised. A token is known when
-- it is in the token table, whoever it belongs to (a driver's card, a fleet card
-- without a driver); a session that started with no token, a NoAuthorization token
-- or a token the table lacks (free vend) started without a known token.

CREATE FUNCTION is_known_token(token text) RETURNS boolean AS $$
  SELECT token IS NOT NULL AND EXISTS (SELECT 1 FROM id_tokens k WHERE k.id_token = token)
$$ LANGUAGE sql STABLE;

-- A new transaction without a driver takes the driver of an open claim on its EVSE
-- (or on the whole station), but only if it started without a known token. Only a
-- new one: an upsert whose row already exists fires this trigger too, and a claim
-- reaches a session already running only through the API (POST /associations),
-- within its time limit.
CREATE OR REPLACE FUNCTION transactions_driver_from_claim() RETURNS trigger AS $$
BEGIN
  IF NEW.driver_id IS NULL AND NOT is_known_token(NEW.id_token)
     AND NOT EXISTS (SELECT 1 FROM transactions t
                      WHERE t.station_id = NEW.station_id
                        AND t.transaction_uid = NEW.transaction_uid) THEN
    SELECT a.driver_id INTO NEW.driver_id
      FROM station_associations a
     WHERE a.station_id = NEW.station_id AND a.ended_at IS NULL AND a.transaction_id IS NULL
       AND a.source = 'claim' AND (a.evse_id IS NULL OR a.evse_id = NEW.evse_id)
     ORDER BY (a.evse_id IS NULL), a.started_at DESC
     LIMIT 1;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
