-- Interim settlements: a session still running after 24 h is settled by the day, each day its
-- own record (schema version 3) referring to the previous one; the final settlement at the
-- session's end covers what is left. A session has any number of interims and at most one final.

ALTER TABLE settlements ADD COLUMN kind text NOT NULL DEFAULT 'final'
  CHECK (kind IN ('interim', 'final'));
-- 1 for the session's first day, 2 for its second, ...; NULL for a final settlement.
ALTER TABLE settlements ADD COLUMN interim_number integer
  CHECK (interim_number >= 1 AND interim_number <= 100000);
ALTER TABLE settlements ADD CONSTRAINT settlements_interim_numbered
  CHECK ((kind = 'interim') = (interim_number IS NOT NULL));
ALTER TABLE settlements ADD COLUMN previous_settlement_id text REFERENCES settlements (id);

-- One settlement per day of a session and one final: a race or a replay cannot settle twice.
ALTER TABLE settlements DROP CONSTRAINT settlements_session_id_key;
CREATE UNIQUE INDEX settlements_session_interim ON settlements (session_id, interim_number)
  WHERE kind = 'interim';
CREATE UNIQUE INDEX settlements_session_final ON settlements (session_id) WHERE kind = 'final';
CREATE UNIQUE INDEX settlements_previous ON settlements (previous_settlement_id);
