#include "chargegrid/ledger/merkle.hpp"

#include <bit>
#include <stdexcept>

namespace chargegrid::ledger {
namespace {

// Largest power of two strictly less than n (n >= 2).
std::uint64_t split_point(std::uint64_t n) {
  return std::bit_floor(n - 1);
}

void path(const NodeReader& read, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
          std::vector<Hash>& out) {
  std::uint64_t n = end - begin;
  if (n == 1) return;
  std::uint64_t k = split_point(n);
  if (m < k) {
    path(read, m, begin, begin + k, out);
    out.push_back(range_hash(read, begin + k, end));
  } else {
    path(read, m - k, begin + k, end, out);
    out.push_back(range_hash(read, begin, begin + k));
  }
}

void subproof(const NodeReader& read, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
              bool complete, std::vector<Hash>& out) {
  std::uint64_t n = end - begin;
  if (m == n) {
    if (!complete) out.push_back(range_hash(read, begin, end));
    return;
  }
  std::uint64_t k = split_point(n);
  if (m <= k) {
    subproof(read, m, begin, begin + k, complete, out);
    out.push_back(range_hash(read, begin + k, end));
  } else {
    subproof(read, m - k, begin + k, end, false, out);
    out.push_back(range_hash(read, begin, begin + k));
  }
}

ProofResult fail(std::string reason) {
  return ProofResult{false, std::move(reason)};
}

// The proof verifiers of RFC 9162 (2.1.3.2, 2.1.4.2) walk two node indices up the tree.
void climb(std::uint64_t& fn, std::uint64_t& sn) {
  fn >>= 1;
  sn >>= 1;
}
// Up past the levels where fn is a left child (the proof has no hash for them).
void climb_past_left_children(std::uint64_t& fn, std::uint64_t& sn) {
  while ((fn & 1) == 0 && fn != 0) climb(fn, sn);
}
// One step of a proof's walk to the root (RFC 9162 2.1.3.2 and 2.1.4.2): whether the proof's
// next hash is the left sibling of the path; moves fn and sn up past it.
bool walk_up(std::uint64_t& fn, std::uint64_t& sn) {
  const bool left = (fn & 1) == 1 || fn == sn;
  if (left) climb_past_left_children(fn, sn);
  climb(fn, sn);
  return left;
}

}  // namespace

Hash leaf_hash(const std::uint8_t* data, std::size_t size) {
  Bytes buffer;
  buffer.reserve(size + 1);
  buffer.push_back(0x00);
  buffer.insert(buffer.end(), data, data + size);
  return sha256(buffer.data(), buffer.size());
}

Hash node_hash(const Hash& left, const Hash& right) {
  std::uint8_t buffer[65];
  buffer[0] = 0x01;
  std::copy(left.begin(), left.end(), buffer + 1);
  std::copy(right.begin(), right.end(), buffer + 33);
  return sha256(buffer, sizeof buffer);
}

Hash empty_root() {
  return sha256(std::string_view{});
}

Hash range_hash(const NodeReader& read, std::uint64_t begin, std::uint64_t end) {
  if (end <= begin) throw std::invalid_argument("range_hash: empty range");
  std::uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    return read(static_cast<unsigned>(std::countr_zero(n)), begin / n);
  }
  std::uint64_t k = split_point(n);
  return node_hash(range_hash(read, begin, begin + k), range_hash(read, begin + k, end));
}

Hash root_hash(const NodeReader& read, std::uint64_t size) {
  return size == 0 ? empty_root() : range_hash(read, 0, size);
}

std::vector<Hash> inclusion_proof(const NodeReader& read, std::uint64_t index, std::uint64_t size) {
  if (index >= size) throw std::out_of_range("inclusion proof: index is not below the tree size");
  std::vector<Hash> out;
  path(read, index, 0, size, out);
  return out;
}

std::vector<Hash> consistency_proof(const NodeReader& read, std::uint64_t old_size,
                                    std::uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    throw std::out_of_range("consistency proof: sizes must satisfy 0 < old <= new");
  }
  std::vector<Hash> out;
  if (old_size < new_size) subproof(read, old_size, 0, new_size, true, out);
  return out;
}

ProofResult verify_inclusion(const Hash& leaf, std::uint64_t index, std::uint64_t size,
                             const std::vector<Hash>& proof, const Hash& root) {
  if (index >= size) return fail("leaf index is not below the tree size");
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return fail("inclusion proof is longer than the tree allows");
    r = walk_up(fn, sn) ? node_hash(p, r) : node_hash(r, p);
  }
  if (sn != 0) return fail("inclusion proof is shorter than the tree requires");
  if (r != root) return fail("inclusion proof does not lead to the tree's root hash");
  return ProofResult{true, {}};
}

ProofResult verify_consistency(std::uint64_t old_size, std::uint64_t new_size,
                               const std::vector<Hash>& proof, const Hash& old_root,
                               const Hash& new_root) {
  if (old_size > new_size) return fail("old tree size is larger than the new tree size");
  if (old_size == 0) return fail("consistency from the empty tree proves nothing");
  if (old_size == new_size) {
    if (!proof.empty()) return fail("consistency proof between equal sizes must be empty");
    if (old_root != new_root) return fail("equal tree sizes with different root hashes");
    return ProofResult{true, {}};
  }
  if (proof.empty()) return fail("consistency proof is empty");

  std::vector<Hash> path;
  if (std::has_single_bit(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());

  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while ((fn & 1) == 1) climb(fn, sn);
  Hash fr = path[0];
  Hash sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return fail("consistency proof is longer than the trees allow");
    if (walk_up(fn, sn)) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
    } else {
      sr = node_hash(sr, c);
    }
  }
  if (sn != 0) return fail("consistency proof is shorter than the trees require");
  if (fr != old_root) return fail("consistency proof does not lead to the old root hash");
  if (sr != new_root) return fail("consistency proof does not lead to the new root hash");
  return ProofResult{true, {}};
}

namespace {

std::optional<std::vector<Hash>> to_hashes(const std::vector<Bytes>& items) {
  std::vector<Hash> out;
  for (const auto& item : items) {
    auto hash = to_hash(item);
    if (!hash) return std::nullopt;
    out.push_back(*hash);
  }
  return out;
}

}  // namespace

ProofResult verify_inclusion(const Bytes& leaf, std::uint64_t index, std::uint64_t size,
                             const std::vector<Bytes>& proof, const Bytes& root) {
  if (index >= size) return fail("leaf index is not below the tree size");
  auto leaf_hash = to_hash(leaf);
  auto root_hash = to_hash(root);
  auto path = to_hashes(proof);
  if (!leaf_hash) return fail("leaf hash is not 32 bytes long");
  if (!root_hash) return fail("root hash is not 32 bytes long");
  if (!path) return fail("a proof hash is not 32 bytes long");
  return verify_inclusion(*leaf_hash, index, size, *path, *root_hash);
}

ProofResult verify_consistency(std::uint64_t old_size, std::uint64_t new_size,
                               const std::vector<Bytes>& proof, const Bytes& old_root,
                               const Bytes& new_root) {
  // Equal sizes compare the roots as given, whatever their length (the reference vectors
  // accept such a pair).
  if (old_size > new_size) return fail("old tree size is larger than the new tree size");
  if (old_size == 0) return fail("consistency from the empty tree proves nothing");
  if (old_size == new_size) {
    if (!proof.empty()) return fail("consistency proof between equal sizes must be empty");
    if (old_root != new_root) return fail("equal tree sizes with different root hashes");
    return ProofResult{true, {}};
  }
  auto old_hash = to_hash(old_root);
  auto new_hash = to_hash(new_root);
  auto path = to_hashes(proof);
  if (!old_hash || !new_hash) return fail("a root hash is not 32 bytes long");
  if (!path) return fail("a proof hash is not 32 bytes long");
  return verify_consistency(old_size, new_size, *path, *old_hash, *new_hash);
}

std::uint64_t MemoryMerkleTree::append(std::string_view data) {
  return append_leaf_hash(leaf_hash(data));
}

std::uint64_t MemoryMerkleTree::append_leaf_hash(const Hash& leaf) {
  if (levels_.empty()) levels_.emplace_back();
  std::uint64_t index = levels_[0].size();
  levels_[0].push_back(leaf);
  // Every level whose last two nodes now form a complete pair gains their parent.
  for (std::size_t level = 0; levels_[level].size() % 2 == 0; ++level) {
    if (level + 1 == levels_.size()) levels_.emplace_back();
    const auto& row = levels_[level];
    levels_[level + 1].push_back(node_hash(row[row.size() - 2], row[row.size() - 1]));
  }
  return index;
}

NodeReader MemoryMerkleTree::reader() const {
  return [this](unsigned level, std::uint64_t index) -> Hash {
    if (level >= levels_.size() || index >= levels_[level].size()) {
      throw std::out_of_range("Merkle node outside the tree");
    }
    return levels_[level][index];
  };
}

}  // namespace chargegrid::ledger
