-- Every CALL the server sends a station is in the command log, whoever sent it: an API key,
-- or one of the server's own services (origin). A command routed to a node that stopped
-- before answering is 'lost' (the station may or may not have acted on it).
ALTER TABLE command_log ADD COLUMN origin text NOT NULL DEFAULT 'api';
ALTER TABLE command_log DROP CONSTRAINT command_log_outcome_check;
ALTER TABLE command_log ADD CONSTRAINT command_log_outcome_check
  CHECK (outcome IN ('pending', 'answered', 'call_error', 'timeout', 'offline', 'lost',
                     'refused', 'invalid'));
