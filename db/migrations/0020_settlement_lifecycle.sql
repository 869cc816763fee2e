-- The settlement lifecycle: a consumer may take a topic's events only some time after they
-- were written (settlement waits for the closing readings a stop carries), and the server
-- closes sessions on its own (a station silent about a session past --session-timeout, or an
-- EVSE that started another while the old one was still open).

-- An event becomes due for this consumer this long after it is written (outbox.available_at).
ALTER TABLE outbox_consumers ADD COLUMN deliver_after_ms integer NOT NULL DEFAULT 0
  CHECK (deliver_after_ms >= 0);

-- Why the server, not the station, ended a session: 'timeout' or 'replaced'; NULL for a
-- session the station ended.
ALTER TABLE transactions ADD COLUMN closed_by_server text
  CHECK (closed_by_server IN ('timeout', 'replaced'));
-- The sweep looks for open sessions by how long they have been silent.
CREATE INDEX transactions_active_silent ON transactions (updated_at) WHERE state = 'active';
