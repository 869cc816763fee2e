#pragma once
// Runs co_await fn(i) for every i in [0, count), at most `width` at once, on the calling
// coroutine's executor (a strand keeps them from running in parallel between suspensions),
// and returns when all have finished. For a batch of station commands, where each waits for
// its station's answer: one slow or offline station no longer holds up the others.
// `fn` should handle its own errors; the first exception it lets out is rethrown at the end,
// after every other item has run. On a multi-threaded executor `fn` must guard what it shares.

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <exception>
#include <mutex>
#include <vector>

namespace chargegrid::server {

template <class Fn>
boost::asio::awaitable<void> concurrently(std::size_t count, std::size_t width, Fn fn) {
  namespace asio = boost::asio;
  if (count == 0) co_return;
  auto executor = co_await asio::this_coro::executor;
  std::atomic<std::size_t> next{0};
  // Each worker takes the next item until none is left. `next` and `fn` live in this frame,
  // which outlives the workers: it waits for them all.
  std::mutex error_mutex;
  std::exception_ptr first_error;
  auto worker = [&]() -> asio::awaitable<void> {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        co_await fn(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
      }
    }
  };
  using Operation = decltype(asio::co_spawn(executor, worker(), asio::deferred));
  std::vector<Operation> workers;
  const auto n = std::clamp<std::size_t>(width, 1, count);
  workers.reserve(n);
  for (std::size_t w = 0; w < n; ++w)
    workers.push_back(asio::co_spawn(executor, worker(), asio::deferred));
  auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(workers))
                             .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  (void)order;
  (void)errors;  // the workers catch everything
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace chargegrid::server
