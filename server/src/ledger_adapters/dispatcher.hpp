#pragma once
// Delivery of the log to one adapter, in log order, each entry once, with retries.
//
// EntryDispatcher: the adapter's outbox consumer "ledger.<name>", subscribed to
// "settlement.recorded". An event for log entry L delivers every entry from the adapter's
// high-water mark up to L, in order, reading the canonical records from the log, and moves the
// mark past L in the transaction that marks the event done; an event for an entry already
// below the mark is done at once. So entries reach the adapter in log order whatever order the
// events are claimed in, on whichever node. The mark's row is locked during a delivery: one
// delivery at a time per adapter across a cluster. A failure is retried with capped
// exponential backoff with jitter (the outbox's per event; and the adapter is left alone until
// its own backoff has passed, so a receiver that is down is not called for every waiting event).
//
// CheckpointDispatcher: the same for an adapter fed checkpoints (an EVM anchor): every
// published checkpoint beyond its mark, smallest first, on a thread of its own; one node at a
// time (the mark's row lock).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "chargegrid/db/fwd.hpp"
#include "events/outbox_consumer.hpp"
#include "ledger_adapters/adapter.hpp"

namespace chargegrid::server::ledger_adapters {

// The outbox consumer name of an adapter.
inline std::string consumer_name(const std::string& adapter) {
  return "ledger." + adapter;
}

// Capped exponential backoff with up to 25 % jitter: 1 s, 2 s, 4 s ... `cap`.
std::chrono::milliseconds retry_delay(int failures, std::chrono::seconds cap);

class EntryDispatcher {
 public:
  EntryDispatcher(boost::asio::io_context& io, db::ConnectionPool& pool, LedgerAdapter& adapter,
                  std::chrono::seconds max_backoff, std::chrono::milliseconds poll_interval);
  void start() { consumer_.start(); }
  void stop() { consumer_.stop(); }
  void wake() { consumer_.wake(); }
  LedgerAdapter& adapter() { return adapter_; }
  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t failures() const { return failures_; }

 private:
  void handle(store::Tx& tx, const store::outbox::Row& row);

  LedgerAdapter& adapter_;
  const std::chrono::seconds max_backoff_;
  std::mutex mutex_;
  int consecutive_failures_ = 0;
  std::chrono::steady_clock::time_point retry_at_{};
  std::atomic<std::uint64_t> delivered_{0}, failures_{0};
  OutboxConsumer consumer_;  // last: its rounds use the members above
};

class CheckpointDispatcher {
 public:
  CheckpointDispatcher(std::string database_url, LedgerAdapter& adapter,
                       std::chrono::seconds max_backoff, std::chrono::milliseconds poll_interval);
  ~CheckpointDispatcher();
  void start();
  void stop();
  void wake();
  LedgerAdapter& adapter() { return adapter_; }
  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t failures() const { return failures_; }

 private:
  void run();
  // One checkpoint delivered (true), nothing to do (false); throws on failure.
  bool round(pqxx::connection_base& c);

  const std::string url_;
  LedgerAdapter& adapter_;
  const std::chrono::seconds max_backoff_;
  const std::chrono::milliseconds poll_interval_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopped_ = false;
  bool woken_ = false;
  std::atomic<std::uint64_t> delivered_{0}, failures_{0};
  std::thread thread_;
};

}  // namespace chargegrid::server::ledger_adapters
