-- Cluster mode: a node relays its live events to the others only while some live node
-- streams them (GET /api/v1/events). A node with a stream open sets events_wanted_until a
-- few minutes ahead before the stream's head goes out, and its heartbeat keeps it ahead
-- while a stream stays open; a client that reconnects within that time resumes with every
-- node's events. NULL: never wanted.
ALTER TABLE cluster_nodes ADD COLUMN events_wanted_until timestamptz;
