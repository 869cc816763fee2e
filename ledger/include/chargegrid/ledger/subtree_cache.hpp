// Perfect-subtree hashes of a committed Merkle tree, at and above one level, held in memory.
//
// The cache covers a tree size S: for every level l >= lowest_level() it holds the hashes of
// subtrees (l, 0) .. (l, (S >> l) - 1), exactly the perfect subtrees at those levels that a tree
// of S leaves contains. A subtree never changes once its leaves are committed, so what the cache
// holds stays valid for every later size. It is filled only with subtrees of committed tree
// sizes (the log extends it after its transaction commits, or from a committed snapshot), so it
// never serves a hash that a rolled-back batch computed.
//
// One cache may be shared by all the logs of a process that read the same database (a pool of
// reader connections); every member is thread-safe. Memory: at most
// 32 bytes * S / 2^(lowest_level - 1): 4 MB for a million entries from level 4 (the default,
// every subtree the PostgreSQL log stores), 250 KB from level 8.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "chargegrid/ledger/codec.hpp"

namespace chargegrid::ledger {

struct Subtree {
  unsigned level = 0;
  std::uint64_t index = 0;
  Hash hash{};
};

class SubtreeCache {
 public:
  static constexpr unsigned kDefaultLowestLevel = 4;

  // lowest_level: 1 to 63; subtrees below it are never cached.
  explicit SubtreeCache(unsigned lowest_level = kDefaultLowestLevel);

  unsigned lowest_level() const { return lowest_level_; }
  // The committed tree size the cache covers.
  std::uint64_t size() const;
  // The hash of subtree (level, index) when the cache holds it.
  std::optional<Hash> find(unsigned level, std::uint64_t index) const;

  // Moves the covered size up to `to_size`. `subtrees` must hold every subtree at a cached
  // level that a tree of `to_size` leaves has and a tree of `from_size` leaves lacks (others
  // are ignored), all from one committed tree. Returns false and changes nothing when
  // `from_size` is beyond the covered size (the subtrees in between are unknown here) or a
  // needed subtree is missing; a range the cache already covers is a no-op.
  bool extend(std::uint64_t from_size, std::uint64_t to_size, std::vector<Subtree> subtrees);

 private:
  const unsigned lowest_level_;
  mutable std::shared_mutex mutex_;
  std::uint64_t size_ = 0;
  std::vector<std::deque<Hash>> levels_;  // levels_[l - lowest_level_][index]
};

}  // namespace chargegrid::ledger
