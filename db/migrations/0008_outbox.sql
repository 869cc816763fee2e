-- Durable events: what a consumer must not miss (a session ended, charging needs received)
-- is written here in the same transaction as the change itself, one row per consumer that
-- subscribed to its topic. A consumer claims its rows with FOR UPDATE SKIP LOCKED and marks
-- them done in the transaction that does its work, so a kill -9 or a database outage in the
-- middle leaves the row to be processed again, and each is processed exactly once.
CREATE TABLE outbox_consumers (
  consumer  text NOT NULL,
  topic     text NOT NULL,
  PRIMARY KEY (consumer, topic)
);

CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  consumer      text NOT NULL,
  topic         text NOT NULL,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- A failed attempt waits until then before the next (backoff).
  available_at  timestamptz NOT NULL DEFAULT now(),
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text,
  done_at       timestamptz
);
CREATE INDEX outbox_pending ON outbox (consumer, id) WHERE done_at IS NULL;
