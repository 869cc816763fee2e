-- What the session had delivered when its latest charging needs arrived: an ISO 15118
-- energy amount is what the vehicle asks for from that moment, so the planner counts what was
-- delivered since against it (rows from before this column count from the session's start).
ALTER TABLE ev_charging_needs ADD COLUMN delivered_wh bigint NOT NULL DEFAULT 0;
