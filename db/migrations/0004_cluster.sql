-- Cluster mode: several chargegridd nodes on one database. Each node has a row that it
-- heartbeats; each station is held by at most one node at a time, recorded as a lease.
-- Commands for a station held by another node travel through command_log, woken by
-- LISTEN/NOTIFY (docs/cluster.md).

CREATE TABLE cluster_nodes (
  id             text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._:-]{1,48}$'),
  -- Random per process: a node that restarts under the same id is a new incarnation.
  incarnation    bigint NOT NULL,
  host           text NOT NULL,
  pid            integer NOT NULL,
  ocpp_port      integer,
  http_port      integer,
  -- How long the node may go without a heartbeat before any node may declare it dead.
  lease_timeout  interval NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  heartbeat_at   timestamptz NOT NULL DEFAULT now()
);

-- The lease is two columns on stations rather than a table of its own: a station's connect
-- already updates its row (connected_since, last_seen_at, protocol), so taking the lease
-- over costs no second row write, no second index update and no join on every read of
-- `online`; and a row lock on the station serialises two nodes taking the same station
-- at once. lease_epoch grows by one with every take-over and is never reused, so a node
-- can tell a newer holder from itself, and a late disconnect of an old connection (whose
-- epoch is lower) never clears the lease of the new one. held_by has no foreign key: every
-- connect would lock the one hot node row (FOR KEY SHARE) next to its heartbeat; a node is
-- deleted together with its leases instead (one transaction), and a lease counts only
-- while its node is in cluster_live_nodes.
ALTER TABLE stations
  ADD COLUMN held_by text,
  ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0,
  ADD COLUMN lease_acquired_at timestamptz;
CREATE INDEX stations_held_by ON stations (held_by) WHERE held_by IS NOT NULL;

-- Nodes whose heartbeat is recent enough: their leases are live.
CREATE VIEW cluster_live_nodes AS
  SELECT * FROM cluster_nodes WHERE heartbeat_at > now() - lease_timeout;

-- A command routed to the node holding its station: routed_to is that node, routed_from the
-- node that waits for the outcome, dispatch the payload to send (kept out of `request`,
-- which the audit log shows with secrets removed, and cleared once the command ends),
-- dispatched_at when the holding node took it on (once: a command is never sent twice),
-- lease_epoch the lease it was routed under.
ALTER TABLE command_log
  ADD COLUMN routed_from text,
  ADD COLUMN routed_to text,
  ADD COLUMN dispatch jsonb,
  ADD COLUMN dispatched_at timestamptz,
  ADD COLUMN lease_epoch bigint;
CREATE INDEX command_log_routed_pending ON command_log (routed_to, id)
  WHERE outcome = 'pending' AND routed_to IS NOT NULL;
