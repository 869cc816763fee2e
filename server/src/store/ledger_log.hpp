#pragma once
// ledger_log: reads of the verifiable log's tables (the ledger library's PostgresLog writes
// them): entries, leaf hashes, stored subtrees and checkpoints, inside the caller's transaction
// so that one answer (a tile, a proof, a delivery) comes from one snapshot.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chargegrid/ledger/codec.hpp"
#include "store/transaction.hpp"

namespace chargegrid::server::store::ledger_log {

// The log's tables exist (the log has been opened once).
bool exists(Tx& tx);
// Committed tree size (0 before the first append).
std::uint64_t size(Tx& tx);
// The canonical record at `index`, nullopt past the end.
std::optional<std::string> entry(Tx& tx, std::uint64_t index);
// Records [begin, end) in order; shorter when the log ends before `end`.
std::vector<std::string> entries(Tx& tx, std::uint64_t begin, std::uint64_t end);

// Perfect subtrees by (level, index): level 0 are leaf hashes; the log stores levels 4 and up;
// levels 1-3 are computed from their leaves. Throws std::out_of_range when one is missing.
using NodeKey = std::pair<unsigned, std::uint64_t>;
std::map<NodeKey, ledger::Hash> nodes(Tx& tx, const std::vector<NodeKey>& keys);
// The subtrees (level, begin) .. (level, end - 1), in order; shorter when the tree lacks some.
std::vector<ledger::Hash> level_range(Tx& tx, unsigned level, std::uint64_t begin,
                                      std::uint64_t end);

struct Checkpoint {
  std::uint64_t size = 0;
  ledger::Hash root{};
  std::string note;
  std::string published_at;  // ISO 8601, UTC
  double age_s = 0;
};
std::optional<Checkpoint> latest_checkpoint(Tx& tx);
std::optional<Checkpoint> checkpoint(Tx& tx, std::uint64_t size);
// Checkpoints of size > `after`, smallest first.
std::vector<Checkpoint> checkpoints_after(Tx& tx, std::uint64_t after, int limit);

}  // namespace chargegrid::server::store::ledger_log
