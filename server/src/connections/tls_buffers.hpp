#pragma once
// TLS record buffers shared per thread.
//
// With SSL_MODE_RELEASE_BUFFERS OpenSSL allocates a connection's 17-19 KB read and write
// record buffers for each record and frees them after it; during a boot storm thousands of
// them are alive at once, and in glibc's heap the small long-lived objects allocated between
// them keep the freed space from going back to the system (25 KB per idle wss station
// measured, docs/benchmarks.md). Here every OpenSSL allocation of 16-32 KB gets a 32 KB block
// of its own from a reserved address range instead: a thread keeps its last few freed blocks
// for its next records (no system call while messages flow), and returns the pages of any
// other freed block to the system at once.

#include <cstddef>

namespace chargegrid::server::tls_buffers {

// Blocks: what they hold and how many a thread keeps for reuse.
inline constexpr std::size_t kBlockBytes = 32 * 1024;
inline constexpr std::size_t kSmallestPooled = 16 * 1024;
inline constexpr std::size_t kKeptPerThread = 8;

// Routes OpenSSL's allocations through the pool. Must run before OpenSSL allocates anything
// (first thing in main); returns false, and changes nothing, when it is too late.
bool install();

// The pool itself, for OpenSSL's hooks and the tests.
// A block of at least `size` bytes (kSmallestPooled..kBlockBytes), or nullptr when the size is
// outside that range or the reserved range is used up (the caller then uses malloc).
void* allocate(std::size_t size);
// Whether `p` is a block of the pool.
bool owns(const void* p);
// Gives a block back: kept by this thread, or its pages returned to the system.
void release(void* p);
// Blocks handed out since the process started.
std::size_t blocks_handed_out();

}  // namespace chargegrid::server::tls_buffers
