#pragma once
// Waiting for state that settles asynchronously (a server, a child process, a cluster).

#include <chrono>
#include <thread>

namespace chargegrid::testing {

// Polls `predicate` every `poll` until it holds or `limit` passes; its last answer.
template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = std::chrono::seconds(10),
                std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(poll);
  }
  return predicate();
}

}  // namespace chargegrid::testing
