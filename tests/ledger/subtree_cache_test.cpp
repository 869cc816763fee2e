#include "chargegrid/ledger/subtree_cache.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "chargegrid/ledger/merkle.hpp"

using namespace chargegrid::ledger;

namespace {

MemoryMerkleTree tree_of(std::uint64_t size) {
  MemoryMerkleTree tree;
  for (std::uint64_t i = 0; i < size; ++i) tree.append("entry " + std::to_string(i));
  return tree;
}

// Every subtree at level >= lowest that a tree of `to` leaves has and a tree of `from` lacks.
std::vector<Subtree> subtrees_between(const MemoryMerkleTree& tree, unsigned lowest,
                                      std::uint64_t from, std::uint64_t to) {
  std::vector<Subtree> out;
  auto read = tree.reader();
  for (unsigned level = lowest; level < 64; ++level) {
    for (std::uint64_t index = from >> level; index < (to >> level); ++index) {
      out.push_back({level, index, read(level, index)});
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the subtree cache holds exactly the cached levels of the covered size", "[cache]") {
  auto tree = tree_of(1000);
  auto read = tree.reader();
  SubtreeCache cache(3);
  CHECK(cache.size() == 0);
  REQUIRE(cache.extend(0, 700, subtrees_between(tree, 3, 0, 700)));
  CHECK(cache.size() == 700);
  for (unsigned level = 0; level < 12; ++level) {
    for (std::uint64_t index = 0; index <= (1000u >> level); ++index) {
      INFO("level " << level << " index " << index);
      auto found = cache.find(level, index);
      bool held = level >= 3 && index < (700u >> level);
      REQUIRE(found.has_value() == held);
      if (held) REQUIRE(*found == read(level, index));
    }
  }
  // In steps, in any order and with extra subtrees: the same as in one go.
  auto more = subtrees_between(tree, 1, 500, 1000);
  std::reverse(more.begin(), more.end());
  REQUIRE(cache.extend(500, 1000, more));
  CHECK(cache.size() == 1000);
  for (unsigned level = 3; level < 10; ++level) {
    for (std::uint64_t index = 0; index < (1000u >> level); ++index) {
      REQUIRE(cache.find(level, index) == read(level, index));
    }
  }
  // A range already covered changes nothing.
  CHECK(cache.extend(0, 800, {}));
  CHECK(cache.size() == 1000);
}

TEST_CASE("the subtree cache refuses gaps and missing subtrees whole", "[cache]") {
  auto tree = tree_of(600);
  SubtreeCache cache(2);
  REQUIRE(cache.extend(0, 100, subtrees_between(tree, 2, 0, 100)));
  // Subtrees between 100 and 200 were never given: a batch from 200 cannot be placed.
  CHECK_FALSE(cache.extend(200, 300, subtrees_between(tree, 2, 200, 300)));
  CHECK(cache.size() == 100);
  CHECK_FALSE(cache.find(2, 60).has_value());
  // One subtree missing: nothing of the batch is taken.
  auto partial = subtrees_between(tree, 2, 100, 600);
  partial.erase(partial.begin() + 7);
  CHECK_FALSE(cache.extend(100, 600, partial));
  CHECK(cache.size() == 100);
  CHECK_FALSE(cache.find(2, 25).has_value());
  CHECK(cache.extend(100, 600, subtrees_between(tree, 2, 100, 600)));
  CHECK(cache.find(2, 149) == tree.reader()(2, 149));
  CHECK_THROWS_AS(SubtreeCache(0), std::invalid_argument);
  CHECK_THROWS_AS(SubtreeCache(64), std::invalid_argument);
}

TEST_CASE("readers of the subtree cache see only whole, correct extensions", "[cache]") {
  auto tree = tree_of(4096);
  auto read = tree.reader();
  SubtreeCache cache(1);
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  std::atomic<std::uint64_t> lookups{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      // Until the writer is done, and once more after, at the final size.
      for (bool last = false; !last;) {
        last = done;
        std::uint64_t size = cache.size();
        for (unsigned level = 1; level < 12; ++level) {
          for (std::uint64_t index = 0; index < (size >> level); index += 7) {
            auto found = cache.find(level, index);
            if (!found || *found != read(level, index)) ++wrong;
            ++lookups;
          }
        }
      }
    });
  }
  for (std::uint64_t size = 0; size < 4096; size += 37) {
    std::uint64_t next = std::min<std::uint64_t>(4096, size + 37);
    REQUIRE(cache.extend(size, next, subtrees_between(tree, 1, size, next)));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  done = true;
  for (auto& t : readers) t.join();
  CHECK(wrong == 0);
  CHECK(lookups > 0);
  CHECK(cache.size() == 4096);
}
