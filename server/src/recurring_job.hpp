#pragma once
// A database job that runs on the connection pool in rounds: every `interval`, and at once
// when woken. Rounds never overlap: a wake() during a round, or a round that says more work
// waits (a full batch), runs the next one right after it. A round that cannot be queued (the
// pool full or stopping) or that throws is tried again after the interval. The outbox
// consumers, the session closer and the cluster's event relay are such jobs.
//
// The destructor stops the job and waits for a round queued or under way to end, so the
// owner's members the round uses (declared before the job) outlive it; the pool must still
// be running or have dropped its queue by then.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "chargegrid/db/fwd.hpp"

namespace chargegrid::server {

class RecurringJob {
 public:
  // Runs on a pool thread; returns true when more work waits right away.
  using Round = std::function<bool(pqxx::connection_base&)>;

  RecurringJob(boost::asio::io_context& io, db::ConnectionPool& pool,
               std::chrono::milliseconds interval, Round round);
  ~RecurringJob();
  RecurringJob(const RecurringJob&) = delete;
  RecurringJob& operator=(const RecurringJob&) = delete;

  void start();  // the first round at once
  void stop();   // no round starts after this; one under way sees stopping()
  void wake();   // a round now (or right after the one under way)
  bool stopping() const;

 private:
  void arm();
  void round_ended();  // the last thing a queued round does

  db::ConnectionPool& pool_;
  const std::chrono::milliseconds interval_;
  Round round_;
  boost::asio::steady_timer timer_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  bool stopped_ = false;
  int rounds_queued_ = 0;  // queued or under way on the pool; guarded by mutex_
  std::atomic<bool> busy_{false};
  std::atomic<bool> again_{false};
};

}  // namespace chargegrid::server
