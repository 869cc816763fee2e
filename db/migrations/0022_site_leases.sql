-- Cluster mode: each site is planned by one node at a time (docs/smart-charging.md). A site
-- lease counts while its expiry is ahead and its node is in cluster_live_nodes; the holder
-- renews it, any node takes it once it is free or expired.
CREATE TABLE site_leases (
  site_id          bigint PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
  held_by          text,  -- a cluster node id; no foreign key, as for stations.held_by
  -- Grows by one with every take-over and is never reused.
  lease_epoch      bigint NOT NULL DEFAULT 0,
  acquired_at      timestamptz,
  expires_at       timestamptz,
  -- Other nodes ask the holder for a replan (a trigger that happened on their side): the
  -- holder replans when the count grows.
  replan_requests  bigint NOT NULL DEFAULT 0,
  replan_reason    text,
  CHECK ((held_by IS NULL) = (expires_at IS NULL))
);
CREATE INDEX site_leases_held_by ON site_leases (held_by) WHERE held_by IS NOT NULL;

-- Which node made a site's latest plan, under which lease epoch; which node sent a profile.
ALTER TABLE site_plans
  ADD COLUMN planned_by text,
  ADD COLUMN lease_epoch bigint;
ALTER TABLE charging_profiles ADD COLUMN sent_by text;
