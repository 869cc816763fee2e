// The verifiable log kept in PostgreSQL: an append-only RFC 9162 Merkle tree over canonical
// settlement records, with signed C2SP checkpoints and proofs served from storage.
//
// Storage: one row per entry (index, leaf hash, canonical record) and one row per perfect
// subtree of 16 leaves or more (level >= 4, index): about one row in eight per entry. Smaller
// subtrees are recomputed from their (at most 15) leaves when a proof needs them. A batch of
// records is one transaction of four statements (lock the head, look up the batch's leaves, write
// entries, subtrees and the new size in one statement, commit), so a crash leaves either the whole
// batch or none of it; the new subtrees are computed in memory from the right edge of the tree,
// which the log keeps after each commit. Proofs take the upper subtrees from a SubtreeCache and
// read the few lower ones in one statement. Entries, subtrees and checkpoints refuse UPDATE, DELETE
// and TRUNCATE; the head refuses to shrink.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <pqxx/connection>
#include <pqxx/transaction_base>
#include <string>
#include <vector>

#include "chargegrid/ledger/merkle.hpp"
#include "chargegrid/ledger/note.hpp"
#include "chargegrid/ledger/subtree_cache.hpp"

namespace chargegrid::ledger {

struct AppendResult {
  std::vector<std::uint64_t> indices;  // one per record, in order
  std::uint64_t tree_size = 0;         // after the batch
  std::size_t duplicates = 0;          // records already in the log (their old index returned)
};

struct StoredCheckpoint {
  std::uint64_t size = 0;
  Hash root{};
  std::string note;  // the signed checkpoint note
};

struct InclusionProof {
  std::uint64_t index = 0;
  std::uint64_t size = 0;
  std::vector<Hash> hashes;
  std::string to_json() const;  // {"index": N, "size": N, "hashes": [base64, ...]}
};

struct ConsistencyProof {
  std::uint64_t old_size = 0;
  std::uint64_t new_size = 0;
  std::vector<Hash> hashes;
  std::string to_json() const;  // {"old_size": N, "new_size": N, "hashes": [base64, ...]}
};

class PostgresLog {
 public:
  // The log's tables come from ChargeGrid's migrations (db/migrations/0009_ledger_log.sql);
  // throws std::runtime_error on a database without them. The connection stays owned by the caller
  // and must outlive the log; use one PostgresLog per connection. Logs of one process over the same
  // database (say a pool of reader connections and a writer) may share one `cache`, whose lowest
  // level must be 4 or above; without one the log keeps its own, at
  // SubtreeCache::kDefaultLowestLevel.
  PostgresLog(pqxx::connection& connection, NoteSigner signer,
              std::shared_ptr<SubtreeCache> cache = nullptr);

  // Appends canonical records in one transaction. A record whose canonical bytes are already
  // in the log is not appended again; its existing index is returned.
  AppendResult append(const std::vector<std::string>& canonical_records);
  std::uint64_t size();
  // Appends inside the caller's transaction (on any connection to the log's database), so that
  // the entries commit or roll back with the caller's own writes: a settlement and its entry are
  // one commit. The head row stays locked until that transaction ends. Readers' caches catch up
  // from storage once it has committed.
  static AppendResult append_in(pqxx::transaction_base& tx,
                                const std::vector<std::string>& canonical_records);

  // Signs and stores a checkpoint of the current tree (or returns the stored one for that size).
  StoredCheckpoint publish_checkpoint();
  // Publishes when the newest checkpoint is older than `interval` and the tree has grown.
  std::optional<StoredCheckpoint> publish_if_due(std::chrono::seconds interval);
  std::optional<StoredCheckpoint> latest_checkpoint();
  std::vector<StoredCheckpoint> checkpoints();

  InclusionProof inclusion(std::uint64_t index, std::uint64_t tree_size);
  // Throws std::out_of_range when no entry has that leaf hash within the tree size.
  InclusionProof inclusion_by_leaf(const Hash& leaf, std::uint64_t tree_size);
  ConsistencyProof consistency(std::uint64_t old_size, std::uint64_t new_size);

  std::string record(std::uint64_t index);
  Hash root(std::uint64_t tree_size);

  const NoteSigner& signer() const { return signer_; }
  const std::shared_ptr<SubtreeCache>& cache() const { return cache_; }

 private:
  using ProofMaker = std::function<std::vector<Hash>(const NodeReader&)>;
  // Runs a proof or root computation over the tree of `tree_size` leaves: subtrees at cached
  // levels come from the cache, the others from one statement. Throws std::out_of_range when
  // the log is smaller than `tree_size`.
  std::vector<Hash> with_nodes(pqxx::transaction_base& tx, std::uint64_t tree_size,
                               const ProofMaker& make);
  // Brings the cache up to the committed size when it covers less than `tree_size`.
  void cover(pqxx::transaction_base& tx, std::uint64_t tree_size);
  Hash root_in(pqxx::transaction_base& tx, std::uint64_t tree_size);
  static void prepare_statements(pqxx::connection_base& connection);
  // Writes a batch in `tx`: `edge` is the right edge of a tree of `edge_size` leaves (read
  // again when the tree has another size), `frontier` receives the new edge; new subtrees at
  // `cached_level` and above are collected for the cache.
  static AppendResult append_batch(pqxx::transaction_base& tx,
                                   const std::vector<std::string>& canonical_records,
                                   std::uint64_t& edge_size, std::array<Hash, 64>& edge,
                                   std::array<Hash, 64>& frontier, std::uint64_t& old_size,
                                   unsigned cached_level, std::vector<Subtree>& cached_subtrees);

  pqxx::connection& connection_;
  NoteSigner signer_;
  std::shared_ptr<SubtreeCache> cache_;
  // The right edge of the committed tree (the subtree at each set bit of its size) as this
  // log last wrote or read it; kUnknownSize when it must be read again.
  static constexpr std::uint64_t kUnknownSize = ~std::uint64_t{0};
  std::uint64_t frontier_size_ = kUnknownSize;
  std::array<Hash, 64> frontier_{};
};

}  // namespace chargegrid::ledger
