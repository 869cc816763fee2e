// The verifiable log kept in PostgreSQL: an append-only RFC 9162 Merkle tree over canonical
// settlement records, with signed C2SP checkpoints and proofs served from storage.
//
// Storage: one row per entry (index, leaf hash, canonical record) and one row per interior
// perfect subtree hash (level >= 1, index). An append reads the O(log n) right-edge subtrees and
// writes the new leaves and subtrees; a proof reads its O(log n) subtrees in one query. A batch of
// records is one transaction, so a crash leaves either the whole batch or none of it. Entries and
// subtrees refuse UPDATE and DELETE.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <vector>

#include "chargegrid/ledger/merkle.hpp"
#include "chargegrid/ledger/note.hpp"

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
  // Creates the log's tables when missing. The connection stays owned by the caller and
  // must outlive the log; use one PostgresLog per connection.
  PostgresLog(pqxx::connection& connection, NoteSigner signer);

  // Appends canonical records in one transaction. A record whose canonical bytes are already
  // in the log is not appended again; its existing index is returned.
  AppendResult append(const std::vector<std::string>& canonical_records);
  std::uint64_t size();

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

 private:
  pqxx::connection& connection_;
  NoteSigner signer_;
};

}  // namespace chargegrid::ledger
