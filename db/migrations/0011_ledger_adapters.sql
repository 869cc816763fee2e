-- Ledger adapters (docs/settlement.md): what each adapter has delivered, the checkpoints the
-- server published and where they were anchored, and the log's signing key as the nodes agree
-- on it. The verifiable log's own tables (ledger_log_*) are made by 0009_ledger_log.sql.

-- The log's verifier key (<name>+<id>+<key>): the first node to publish records it; a node
-- holding another key refuses to sign checkpoints for this log.
CREATE TABLE ledger_signer (
  only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  vkey        text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);

-- One row per adapter: every log entry (entry adapters) or checkpoint size (checkpoint
-- adapters) below next_index has been delivered. Advanced in the transaction that marks the
-- delivery's outbox row done, so a restart resumes where the last commit left off.
CREATE TABLE ledger_adapter_state (
  adapter         text PRIMARY KEY,
  next_index      bigint NOT NULL DEFAULT 0 CHECK (next_index >= 0),
  delivered       bigint NOT NULL DEFAULT 0 CHECK (delivered >= 0),
  last_delivered_at timestamptz,
  last_error      text,
  last_error_at   timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A published checkpoint anchored on an EVM chain: the transaction that carried its root and
-- size, and the block that included it.
CREATE TABLE ledger_checkpoint_anchor (
  size         bigint NOT NULL CHECK (size >= 0),
  adapter      text NOT NULL,
  root         bytea NOT NULL CHECK (length(root) = 32),
  chain_id     bigint NOT NULL,
  contract     text NOT NULL,
  tx_hash      text NOT NULL,
  block_number bigint,
  block_hash   text,
  anchored_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (size, adapter)
);

-- The anchoring contract a chain adapter deployed (when not given one), per chain.
CREATE TABLE ledger_evm_contract (
  chain_id    bigint PRIMARY KEY,
  address     text NOT NULL,
  deploy_tx   text NOT NULL,
  deployed_at timestamptz NOT NULL DEFAULT now()
);
