#include "chargegrid/ledger/subtree_cache.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace chargegrid::ledger {

SubtreeCache::SubtreeCache(unsigned lowest_level)
    : lowest_level_(lowest_level), levels_(64 - std::min(lowest_level, 63u)) {
  if (lowest_level < 1 || lowest_level > 63) {
    throw std::invalid_argument("subtree cache: the lowest level must be 1 to 63");
  }
}

std::uint64_t SubtreeCache::size() const {
  std::shared_lock lock(mutex_);
  return size_;
}

std::optional<Hash> SubtreeCache::find(unsigned level, std::uint64_t index) const {
  if (level < lowest_level_ || level > 63) return std::nullopt;
  std::shared_lock lock(mutex_);
  const auto& row = levels_[level - lowest_level_];
  if (index >= row.size()) return std::nullopt;
  return row[index];
}

bool SubtreeCache::extend(std::uint64_t from_size, std::uint64_t to_size,
                          std::vector<Subtree> subtrees) {
  auto by_position = [](const Subtree& a, const Subtree& b) {
    return a.level != b.level ? a.level < b.level : a.index < b.index;
  };
  auto same_position = [](const Subtree& a, const Subtree& b) {
    return a.level == b.level && a.index == b.index;
  };
  std::sort(subtrees.begin(), subtrees.end(), by_position);
  subtrees.erase(std::unique(subtrees.begin(), subtrees.end(), same_position), subtrees.end());

  std::unique_lock lock(mutex_);
  if (from_size > size_) return false;
  if (to_size <= size_) return true;
  // First check that every subtree between the covered size and `to_size` is there, then
  // append them: the cache never covers a size it holds only part of.
  std::vector<std::pair<std::vector<Subtree>::const_iterator, std::uint64_t>> runs;
  for (unsigned level = lowest_level_; level < 64; ++level) {
    std::uint64_t first = size_ >> level;
    std::uint64_t end = to_size >> level;
    if (first == end) continue;
    auto it = std::lower_bound(subtrees.cbegin(), subtrees.cend(), Subtree{level, first, {}},
                               by_position);
    for (std::uint64_t index = first; index < end; ++index) {
      auto at = it + static_cast<std::ptrdiff_t>(index - first);
      if (at >= subtrees.cend() || at->level != level || at->index != index) return false;
    }
    runs.emplace_back(it, end - first);
  }
  for (const auto& [it, count] : runs) {
    auto& row = levels_[it->level - lowest_level_];
    for (std::uint64_t k = 0; k < count; ++k)
      row.push_back(it[static_cast<std::ptrdiff_t>(k)].hash);
  }
  size_ = to_size;
  return true;
}

}  // namespace chargegrid::ledger
