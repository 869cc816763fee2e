// RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing, proofs and their verification.
//
// Leaves are hashed as SHA-256(0x00 || data) and interior nodes as SHA-256(0x01 || left || right).
// A tree is addressed through its perfect subtrees: node (level, index) covers leaves
// [index * 2^level, (index + 1) * 2^level). Any source of those nodes (memory, PostgreSQL)
// yields roots and proofs with O(log n) node reads.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chargegrid/ledger/codec.hpp"

namespace chargegrid::ledger {

Hash leaf_hash(const std::uint8_t* data, std::size_t size);
inline Hash leaf_hash(std::string_view data) {
  return leaf_hash(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
}
Hash node_hash(const Hash& left, const Hash& right);
// The root of the empty tree: SHA-256 of the empty string.
Hash empty_root();

// Reads the hash of the perfect subtree (level, index); it must exist in the tree being read.
using NodeReader = std::function<Hash(unsigned level, std::uint64_t index)>;

// Merkle tree hash of leaves [begin, end), end > begin, from perfect-subtree nodes.
Hash range_hash(const NodeReader& read, std::uint64_t begin, std::uint64_t end);
// Root of a tree of `size` leaves (empty_root() for size 0).
Hash root_hash(const NodeReader& read, std::uint64_t size);
// RFC 9162 section 2.1.3.1 inclusion path of leaf `index` in a tree of `size` leaves, bottom-up.
std::vector<Hash> inclusion_proof(const NodeReader& read, std::uint64_t index, std::uint64_t size);
// RFC 9162 section 2.1.4.1 consistency path between sizes 0 < old_size <= new_size.
std::vector<Hash> consistency_proof(const NodeReader& read, std::uint64_t old_size,
                                    std::uint64_t new_size);

// Outcome of a proof check; `reason` says which check failed.
struct ProofResult {
  bool ok = false;
  std::string reason;
  explicit operator bool() const { return ok; }
};

// RFC 9162 section 2.1.3.2.
ProofResult verify_inclusion(const Hash& leaf, std::uint64_t index, std::uint64_t size,
                             const std::vector<Hash>& proof, const Hash& root);
// RFC 9162 section 2.1.4.2. Equal sizes need an empty proof and equal roots; a proof from
// size 0 is refused (it proves nothing).
ProofResult verify_consistency(std::uint64_t old_size, std::uint64_t new_size,
                               const std::vector<Hash>& proof, const Hash& old_root,
                               const Hash& new_root);

// The same checks on hashes of any length, as they arrive from outside: a hash that is not
// 32 bytes long fails (except that equal sizes only compare the two roots).
ProofResult verify_inclusion(const Bytes& leaf, std::uint64_t index, std::uint64_t size,
                             const std::vector<Bytes>& proof, const Bytes& root);
ProofResult verify_consistency(std::uint64_t old_size, std::uint64_t new_size,
                               const std::vector<Bytes>& proof, const Bytes& old_root,
                               const Bytes& new_root);

// A tree held in memory: every perfect subtree is kept, so appends cost O(1) amortised and
// proofs O(log n). Used by tools, tests and as the reference for the stored log.
class MemoryMerkleTree {
 public:
  // Appends the leaf hash of `data`; returns the new leaf's index.
  std::uint64_t append(std::string_view data);
  std::uint64_t append_leaf_hash(const Hash& leaf);
  std::uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Hash root() const { return root_hash(reader(), size()); }
  Hash root(std::uint64_t size) const { return root_hash(reader(), size); }
  std::vector<Hash> inclusion(std::uint64_t index, std::uint64_t tree_size) const {
    return inclusion_proof(reader(), index, tree_size);
  }
  std::vector<Hash> consistency(std::uint64_t old_size, std::uint64_t new_size) const {
    return consistency_proof(reader(), old_size, new_size);
  }
  NodeReader reader() const;

 private:
  std::vector<std::vector<Hash>> levels_;
};

}  // namespace chargegrid::ledger
