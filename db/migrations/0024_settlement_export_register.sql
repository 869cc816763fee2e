-- The export register (V2G, Wh) a settlement closed with, so that the next record of a session
-- settled by the day starts its export there, as it starts its import at the previous record's
-- meter_stop. NULL for a record without export, and for records settled before this migration.
ALTER TABLE settlements ADD COLUMN export_stop_wh bigint CHECK (export_stop_wh >= 0);
