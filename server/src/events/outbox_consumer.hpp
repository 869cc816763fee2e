#pragma once
// A consumer of durable events (store/outbox.hpp). It subscribes to its topics, then works
// through its outbox rows one transaction each: the handler's work and the row's "done" commit
// together, so each row is processed exactly once whatever fails in between — a kill -9 or a
// database outage rolls the transaction back and the row is claimed again, by this node or
// another (rows being processed are locked; other nodes skip them). A handler that throws is
// retried with capped exponential backoff; its error is kept on the row.
//
// A consumer looks for rows every poll_interval, and at once when OutboxWakeups hears that a
// row for it was committed (on any node): store::outbox::append NOTIFYs its name.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chargegrid/db/fwd.hpp"
#include "recurring_job.hpp"
#include "store/outbox.hpp"

namespace chargegrid::server {

class OutboxConsumer {
 public:
  // Runs on a database thread inside the row's transaction; throw to retry later.
  using Handler = std::function<void(store::Tx& tx, const store::outbox::Row& row)>;

  struct Options {
    std::chrono::milliseconds poll_interval{1000};  // how often other nodes' rows are looked for
    int rows_per_round = 100;
    std::chrono::seconds max_backoff{300};
    // Each event is due this long after it was written: the consumer skips it until then
    // (a planned wait, not a failed attempt).
    std::chrono::milliseconds deliver_after{0};
  };

  OutboxConsumer(boost::asio::io_context& io, db::ConnectionPool& pool, std::string name,
                 std::vector<std::string> topics, Handler handler, Options options);
  ~OutboxConsumer();
  OutboxConsumer(const OutboxConsumer&) = delete;
  OutboxConsumer& operator=(const OutboxConsumer&) = delete;
  OutboxConsumer(boost::asio::io_context& io, db::ConnectionPool& pool, std::string name,
                 std::vector<std::string> topics, Handler handler)
      : OutboxConsumer(io, pool, std::move(name), std::move(topics), std::move(handler),
                       Options{}) {}

  const std::string& name() const { return name_; }
  // Subscribes (again at every round until it succeeds) and starts polling.
  void start() { job_.start(); }
  void stop() { job_.stop(); }
  // Looks for rows now (e.g. right after an event was appended on this node).
  void wake() { job_.wake(); }
  // Wakes every consumer of this process named `name` (every one when `name` is empty).
  static void wake_all(const std::string& name);

  std::uint64_t processed() const { return processed_; }
  std::uint64_t failures() const { return failures_; }

 private:
  bool round(pqxx::connection_base& c);  // true when a full round left more to do

  const std::string name_;
  const std::vector<std::string> topics_;
  Handler handler_;
  Options options_;
  bool subscribed_ = false;
  std::atomic<std::uint64_t> processed_{0}, failures_{0};
  RecurringJob job_;  // last: its rounds use the members above
};

}  // namespace chargegrid::server
