#include "connections/tls_buffers.hpp"

#include <malloc.h>
#include <openssl/crypto.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace chargegrid::server::tls_buffers {

namespace {

// 4 GiB of address space, reserved but not committed: 131,072 blocks, two per connection in
// the middle of a handshake or record at 65,000 connections.
constexpr std::size_t kBlocks = 128 * 1024;

class Pool {
 public:
  Pool() {
    void* base = ::mmap(nullptr, kBlocks * kBlockBytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base != MAP_FAILED) base_ = static_cast<unsigned char*>(base);
  }

  bool owns(const void* p) const {
    const auto* b = static_cast<const unsigned char*>(p);
    return base_ && b >= base_ && b < base_ + kBlocks * kBlockBytes;
  }

  void* take() {
    if (!base_) return nullptr;
    handed_out_.fetch_add(1, std::memory_order_relaxed);
    auto& kept = Kept::of_this_thread();
    if (kept.count > 0) return block(kept.index[--kept.count]);
    {
      std::lock_guard lock(mutex_);
      if (!returned_.empty()) {
        const auto index = returned_.back();
        returned_.pop_back();
        return block(index);
      }
    }
    const auto index = next_.fetch_add(1, std::memory_order_relaxed);
    if (index >= kBlocks) return nullptr;
    return block(index);
  }

  std::size_t handed_out() const { return handed_out_.load(std::memory_order_relaxed); }

  void give_back(void* p) {
    const auto index =
        static_cast<std::uint32_t>((static_cast<unsigned char*>(p) - base_) / kBlockBytes);
    auto& kept = Kept::of_this_thread();
    if (kept.count < kKeptPerThread) {
      kept.index[kept.count++] = index;
      return;
    }
    return_to_system(index);
  }

  void return_to_system(std::uint32_t index) {
    ::madvise(block(index), kBlockBytes, MADV_DONTNEED);
    std::lock_guard lock(mutex_);
    returned_.push_back(index);
  }

 private:
  // The blocks a thread keeps. Trivially destructible, so a block freed while a thread ends
  // still finds it; the daemon's threads live as long as the process.
  struct Kept {
    std::uint32_t index[kKeptPerThread];
    std::size_t count = 0;
    static Kept& of_this_thread() {
      thread_local Kept kept;
      return kept;
    }
  };

  void* block(std::uint32_t index) const { return base_ + std::size_t{index} * kBlockBytes; }

  unsigned char* base_ = nullptr;
  std::atomic<std::uint32_t> next_{0};
  std::atomic<std::size_t> handed_out_{0};
  std::mutex mutex_;
  std::vector<std::uint32_t> returned_;  // blocks whose pages went back to the system
};

// Never destroyed: OpenSSL may free a block during the process's exit.
Pool& pool() {
  static Pool* const instance = new Pool;
  return *instance;
}

void* hook_malloc(std::size_t size, const char*, int) {
  if (void* p = allocate(size)) return p;
  return std::malloc(size);
}

void* hook_realloc(void* p, std::size_t size, const char* file, int line) {
  if (!p) return hook_malloc(size, file, line);
  if (owns(p)) {
    if (size == 0) {
      release(p);
      return nullptr;
    }
    if (size <= kBlockBytes) return p;  // the block has room
    void* moved = std::malloc(size);
    if (!moved) return nullptr;
    std::memcpy(moved, p, kBlockBytes);
    release(p);
    return moved;
  }
  // A heap allocation growing into the pool's range moves into a block (a handshake's
  // message buffer grows this way).
  if (size >= kSmallestPooled && size <= kBlockBytes) {
    if (void* block = allocate(size)) {
      std::memcpy(block, p, std::min(::malloc_usable_size(p), size));
      std::free(p);
      return block;
    }
  }
  return std::realloc(p, size);
}

void hook_free(void* p, const char*, int) {
  if (owns(p))
    release(p);
  else
    std::free(p);
}

}  // namespace

void* allocate(std::size_t size) {
  if (size < kSmallestPooled || size > kBlockBytes) return nullptr;
  return pool().take();
}

bool owns(const void* p) {
  return p && pool().owns(p);
}

void release(void* p) {
  pool().give_back(p);
}

std::size_t blocks_handed_out() {
  return pool().handed_out();
}

bool install() {
  pool();  // reserve the range before OpenSSL's first allocation
  return CRYPTO_set_mem_functions(&hook_malloc, &hook_realloc, &hook_free) == 1;
}

}  // namespace chargegrid::server::tls_buffers
