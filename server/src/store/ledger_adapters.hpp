#pragma once
// ledger_adapters (migration 0011): each adapter's high-water mark, the log's signing key as
// the nodes agree on it, checkpoint anchors on EVM chains and the anchoring contracts.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::ledger_adapters {

struct State {
  std::string adapter;
  std::uint64_t next_index = 0;  // everything below has been delivered
  std::uint64_t delivered = 0;   // deliveries made, in all
  std::optional<std::string> last_delivered_at;
  std::optional<std::string> last_error;
  std::optional<std::string> last_error_at;
};

// The adapter's row, created at `initial_next` when missing, locked until the transaction
// ends (one delivery at a time per adapter across nodes).
State lock(Tx& tx, const std::string& adapter, std::uint64_t initial_next);
// Everything below `next_index` is delivered; `delivered_now` more deliveries were made.
void advance(Tx& tx, const std::string& adapter, std::uint64_t next_index,
             std::uint64_t delivered_now);
// A failed delivery (kept until the next success).
void record_error(Tx& tx, const std::string& adapter, const std::string& error);
std::vector<State> states(Tx& tx);

// The verifier key recorded for the log: the first caller's, kept for good.
std::string claim_signer(Tx& tx, const std::string& vkey);
std::optional<std::string> signer(Tx& tx);

struct Anchor {
  std::uint64_t size = 0;
  std::string adapter;
  std::string root_hex;
  std::uint64_t chain_id = 0;
  std::string contract;
  std::string tx_hash;
  std::optional<std::uint64_t> block_number;
  std::optional<std::string> block_hash;
  std::string anchored_at;  // filled when read
};
void record_anchor(Tx& tx, const Anchor& anchor);
// The newest anchors first.
std::vector<Anchor> anchors(Tx& tx, int limit);
std::optional<Anchor> anchor_of(Tx& tx, std::uint64_t size);
// The first anchor by `adapter` of a checkpoint that covers log entry `index` (size > index).
std::optional<Anchor> anchor_covering(Tx& tx, const std::string& adapter, std::uint64_t index);

// Checkpoints of size > `after` not yet delivered: how many, and the oldest one's age.
struct Backlog {
  std::int64_t pending = 0;
  double oldest_age_s = 0;
};
Backlog checkpoint_backlog(Tx& tx, std::uint64_t after);

std::optional<std::string> contract(Tx& tx, std::uint64_t chain_id);
void record_contract(Tx& tx, std::uint64_t chain_id, const std::string& address,
                     const std::string& deploy_tx);

}  // namespace chargegrid::server::store::ledger_adapters

namespace chargegrid::server::store::ledger_adapters {

// The error of the consumer's oldest outbox row still pending, if its last attempt failed.
std::optional<std::string> pending_error(Tx& tx, const std::string& consumer);

}  // namespace chargegrid::server::store::ledger_adapters
