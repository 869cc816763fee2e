-- The verifiable log (ledger/, docs/ledger.md): an append-only RFC 9162 Merkle tree over
-- canonical settlement records. Entries, stored subtrees and checkpoints refuse UPDATE, DELETE
-- and TRUNCATE; the head only grows. Written with IF NOT EXISTS / OR REPLACE: databases whose
-- log tables an earlier version created on first use take this migration unchanged.
CREATE TABLE IF NOT EXISTS ledger_log_entry (
  idx bigint PRIMARY KEY CHECK (idx >= 0),
  leaf_hash bytea NOT NULL UNIQUE CHECK (length(leaf_hash) = 32),
  record text NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_log_node (
  level smallint NOT NULL CHECK (level >= 1 AND level < 64),
  idx bigint NOT NULL CHECK (idx >= 0),
  hash bytea NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx));
CREATE TABLE IF NOT EXISTS ledger_log_head (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  origin text NOT NULL,
  size bigint NOT NULL CHECK (size >= 0));
CREATE TABLE IF NOT EXISTS ledger_log_checkpoint (
  size bigint PRIMARY KEY,
  root bytea NOT NULL CHECK (length(root) = 32),
  note text NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now());
CREATE OR REPLACE FUNCTION ledger_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'the ledger log is append-only'; END$$;
CREATE OR REPLACE TRIGGER ledger_log_entry_append_only BEFORE UPDATE OR DELETE ON ledger_log_entry
  FOR EACH ROW EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE TRIGGER ledger_log_node_append_only BEFORE UPDATE OR DELETE ON ledger_log_node
  FOR EACH ROW EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE TRIGGER ledger_log_checkpoint_append_only BEFORE UPDATE OR DELETE
  ON ledger_log_checkpoint FOR EACH ROW EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE TRIGGER ledger_log_head_kept BEFORE DELETE ON ledger_log_head
  FOR EACH ROW EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE TRIGGER ledger_log_entry_no_truncate BEFORE TRUNCATE ON ledger_log_entry
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE TRIGGER ledger_log_node_no_truncate BEFORE TRUNCATE ON ledger_log_node
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE TRIGGER ledger_log_checkpoint_no_truncate BEFORE TRUNCATE
  ON ledger_log_checkpoint FOR EACH STATEMENT EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE TRIGGER ledger_log_head_no_truncate BEFORE TRUNCATE ON ledger_log_head
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE FUNCTION ledger_log_subtrees(leaves bigint[], levels smallint[], indices bigint[])
  RETURNS TABLE (sub_level int, sub_idx bigint, sub_hash text)
  LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS
  $$BEGIN
    RETURN QUERY
      SELECT 0, e.idx, encode(e.leaf_hash, 'hex')
      FROM ledger_log_entry e WHERE e.idx = ANY(leaves)
      UNION ALL
      SELECT n.level::int, n.idx, encode(n.hash, 'hex')
      FROM unnest(levels, indices) AS k(k_level, k_idx)
      JOIN ledger_log_node n ON n.level = k.k_level AND n.idx = k.k_idx;
  END$$;
-- Created last: the log checks for it to know whether the schema is current.
CREATE OR REPLACE FUNCTION ledger_log_head_grows() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN
    IF NEW.size < OLD.size OR NEW.origin <> OLD.origin THEN
      RAISE EXCEPTION 'the ledger log only grows';
    END IF;
    RETURN NEW;
  END$$;
CREATE OR REPLACE TRIGGER ledger_log_head_grows BEFORE UPDATE ON ledger_log_head
  FOR EACH ROW EXECUTE FUNCTION ledger_log_head_grows();
