-- An ended session's end is fixed by the first event that ended it. For 2.0.1/2.1 that
-- event's seqNo is kept: events numbered before it may still arrive late (an offline queue
-- delivered out of order) and complete what happened before the end; a second Ended, or
-- anything numbered after it, changes nothing.
ALTER TABLE transactions ADD COLUMN ended_seq_no integer;
