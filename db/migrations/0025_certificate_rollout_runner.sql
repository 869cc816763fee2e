-- The process running a trust-anchor rollout (docs/iso15118.md): a node (id and incarnation,
-- as in cluster_nodes). A rollout whose runner stopped before every station had an outcome is
-- taken over by a live node, or by the server itself when it starts again, which sends the
-- pending stations their install again. NULL: a rollout from before this column, taken over
-- like one whose runner stopped.
ALTER TABLE certificate_rollouts
  ADD COLUMN runner_node text,
  ADD COLUMN runner_incarnation bigint;
CREATE INDEX certificate_rollout_stations_pending ON certificate_rollout_stations (rollout_id)
  WHERE outcome IS NULL;
