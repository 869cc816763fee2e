// A fixed set of PostgreSQL connections, each owned by its own worker thread, so that
// database work never runs on (or blocks) an I/O thread.
//
// Jobs are queued (bounded) and run in order of submission by whichever worker is free.
// A job reports its own results, typically by posting them back to the caller's strand.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace chargegrid::db {

// The queue holds queue_capacity jobs already; retry later or shed load.
class PoolFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The pool is stopping or stopped; the job was not (and will not be) run.
class PoolStopped : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// No connection to the database works at the moment; the job was not run.
class DatabaseUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PoolOptions {
  std::size_t connections = 4;
  std::size_t queue_capacity = 10'000;
  // Reconnect attempts of a worker whose connection broke: first at once, then after
  // reconnect_initial, doubling up to reconnect_max.
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{5'000};
  // How often an idle worker checks (without a round trip) that its connection still lives.
  std::chrono::milliseconds idle_check{1'000};
  // Settings for every connection's session (set_config name, value), applied as it opens.
  std::vector<std::pair<std::string, std::string>> session_settings;
};

struct PoolStats {
  std::size_t size = 0;           // workers (= connections when all are up)
  std::size_t connected = 0;      // workers holding a working connection
  std::size_t busy = 0;           // workers running a job
  std::size_t queued = 0;         // jobs waiting
  std::uint64_t jobs_total = 0;   // jobs finished, successfully or not
  std::uint64_t jobs_failed = 0;  // jobs that threw or could not run
  std::uint64_t reconnects = 0;   // connections re-established after a break
};

class ConnectionPool {
 public:
  using Job = std::function<void(pqxx::connection&)>;
  // Called, on a worker thread (or in stop()), with the reason a job did not complete:
  // the exception it threw (pqxx::broken_connection when the connection broke under it),
  // DatabaseUnavailable when no connection worked, PoolStopped when dropped at shutdown.
  using OnError = std::function<void(std::exception_ptr)>;

  // Starts the workers; they connect in the background (see wait_until_ready()).
  ConnectionPool(std::string url, std::size_t connections);
  ConnectionPool(std::string url, PoolOptions options);
  // stop() with its default deadline.
  ~ConnectionPool();

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Queues a job. Never blocks: throws PoolFull when the queue is full and PoolStopped
  // after stop(). A job that throws or cannot run is counted, logged, and passed to
  // on_error when given.
  void submit(Job job, OnError on_error = nullptr);
  // Like submit(), but returns false instead of throwing when the queue is full or the
  // pool is stopped.
  bool try_submit(Job job, OnError on_error = nullptr);
  // Like submit(), but a job that cannot be queued goes to on_error at once with what
  // submit() would throw (PoolFull, or PoolStopped at shutdown): for callers that hand every
  // failure on the same way and must say which it was.
  void submit_or_fail(Job job, OnError on_error);

  // At least one worker holds a working connection.
  bool healthy() const;
  // Waits until healthy(); false on timeout.
  bool wait_until_ready(std::chrono::milliseconds timeout) const;
  PoolStats stats() const;

  // Refuses new jobs, lets the workers finish the queued ones until the deadline, fails
  // what is still queued then with PoolStopped, and joins the workers (a job already running
  // is always allowed to finish). Idempotent.
  void stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));

 private:
  struct Task {
    Job job;
    OnError on_error;
  };
  struct Worker;
  enum class Admission { accepted, full, stopped };

  Admission enqueue(Job&& job, OnError&& on_error);
  void run_worker(Worker& worker);
  void try_connect(Worker& worker, std::unique_lock<std::mutex>& lock);
  void drop_connection(Worker& worker);
  // Hands `error` to the task's on_error; without one it is logged unless `log_unhandled` is
  // false (jobs dropped at stop, which stop() counts in one line).
  void fail(Task& task, std::exception_ptr error, bool log_unhandled = true);

  const std::string url_;
  const PoolOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;             // jobs queued, or shutting down
  mutable std::condition_variable state_changed_;  // queue drained, connectivity changed
  std::deque<Task> queue_;
  bool accepting_ = true;
  bool shutting_down_ = false;
  std::size_t connected_ = 0;
  std::size_t busy_ = 0;
  std::uint64_t jobs_total_ = 0;
  std::uint64_t jobs_failed_ = 0;
  std::uint64_t reconnects_ = 0;
  std::string last_connect_error_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex stop_mutex_;
  bool stopped_ = false;
};

}  // namespace chargegrid::db
