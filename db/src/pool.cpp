#include "chargegrid/db/pool.hpp"

#include <pqxx/pqxx>

#include "chargegrid/base/log.hpp"

namespace chargegrid::db {
namespace {

namespace log = base::log;

using Clock = std::chrono::steady_clock;

std::string describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::string text = e.what();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

struct ConnectionPool::Worker {
  std::size_t index = 0;
  std::thread thread;
  std::unique_ptr<pqxx::connection> connection;
  bool ever_connected = false;
  std::chrono::milliseconds backoff{0};
  Clock::time_point last_attempt{};
  Clock::time_point next_attempt{};
  Clock::time_point next_idle_check{};
};

ConnectionPool::ConnectionPool(std::string url, std::size_t connections)
    : ConnectionPool(std::move(url), PoolOptions{.connections = connections}) {}

ConnectionPool::ConnectionPool(std::string url, PoolOptions options)
    : url_(std::move(url)), options_(options) {
  if (options_.connections == 0) throw std::invalid_argument("connection pool: zero connections");
  if (options_.queue_capacity == 0)
    throw std::invalid_argument("connection pool: zero queue capacity");
  workers_.reserve(options_.connections);
  for (std::size_t i = 0; i < options_.connections; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->index = i;
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_)
    worker->thread = std::thread([this, w = worker.get()] { run_worker(*w); });
}

ConnectionPool::~ConnectionPool() {
  stop();
}

ConnectionPool::Admission ConnectionPool::enqueue(Job&& job, OnError&& on_error) {
  if (!job) throw std::invalid_argument("connection pool: empty job");
  {
    std::lock_guard lock(mutex_);
    if (!accepting_) return Admission::stopped;
    if (queue_.size() >= options_.queue_capacity) return Admission::full;
    queue_.push_back(Task{std::move(job), std::move(on_error)});
  }
  work_ready_.notify_one();
  return Admission::accepted;
}

void ConnectionPool::submit(Job job, OnError on_error) {
  switch (enqueue(std::move(job), std::move(on_error))) {
    case Admission::accepted:
      return;
    case Admission::full:
      throw PoolFull("connection pool: queue full (" + std::to_string(options_.queue_capacity) +
                     " jobs waiting)");
    case Admission::stopped:
      throw PoolStopped("connection pool: stopped");
  }
}

void ConnectionPool::submit_or_fail(Job job, OnError on_error) {
  if (!on_error) throw std::invalid_argument("connection pool: submit_or_fail needs on_error");
  auto refused = on_error;  // enqueue() keeps the original only when it queues the job
  switch (enqueue(std::move(job), std::move(on_error))) {
    case Admission::accepted:
      return;
    case Admission::full:
      refused(std::make_exception_ptr(PoolFull("connection pool: queue full (" +
                                               std::to_string(options_.queue_capacity) +
                                               " jobs waiting)")));
      return;
    case Admission::stopped:
      refused(std::make_exception_ptr(PoolStopped("connection pool: stopped")));
      return;
  }
}

bool ConnectionPool::try_submit(Job job, OnError on_error) {
  return enqueue(std::move(job), std::move(on_error)) == Admission::accepted;
}

bool ConnectionPool::healthy() const {
  std::lock_guard lock(mutex_);
  return connected_ > 0;
}

bool ConnectionPool::wait_until_ready(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return state_changed_.wait_for(lock, timeout, [this] { return connected_ > 0; });
}

PoolStats ConnectionPool::stats() const {
  std::lock_guard lock(mutex_);
  return PoolStats{workers_.size(), connected_,   busy_,      queue_.size(),
                   jobs_total_,     jobs_failed_, reconnects_};
}

void ConnectionPool::fail(Task& task, std::exception_ptr error, bool log_unhandled) {
  if (task.on_error) {
    try {
      task.on_error(error);
      return;
    } catch (const std::exception& e) {
      log::error("db_pool_on_error_threw", {{"error", e.what()}});
    } catch (...) {
      log::error("db_pool_on_error_threw");
    }
  }
  if (log_unhandled) log::warn("db_pool_job_failed", {{"error", describe(error)}});
}

void ConnectionPool::try_connect(Worker& worker, std::unique_lock<std::mutex>& lock) {
  worker.last_attempt = Clock::now();
  lock.unlock();
  std::unique_ptr<pqxx::connection> connection;
  std::string error;
  try {
    connection = std::make_unique<pqxx::connection>(url_);
  } catch (const std::exception& e) {
    error = describe(std::current_exception());
  }
  if (connection) {
    for (const auto& [name, value] : options_.session_settings) {
      try {
        pqxx::nontransaction tx(*connection);
        tx.exec_params("SELECT set_config($1, $2, false)", name, value);
      } catch (const std::exception& e) {
        // The connection works without it: a setting is a tuning, not a condition.
        log::warn("db_pool_setting_refused", {{"setting", name}, {"error", e.what()}});
      }
    }
  }
  lock.lock();
  if (connection) {
    worker.connection = std::move(connection);
    ++connected_;
    if (worker.ever_connected) {
      ++reconnects_;
      log::info("db_pool_reconnected", {{"worker", worker.index}});
    }
    worker.ever_connected = true;
    worker.backoff = std::chrono::milliseconds(0);
    worker.next_idle_check = Clock::now() + options_.idle_check;
    state_changed_.notify_all();
    return;
  }
  if (worker.backoff.count() == 0) {
    log::warn("db_pool_connect_failed", {{"worker", worker.index}, {"error", error}});
    worker.backoff = options_.reconnect_initial;
  } else {
    log::debug("db_pool_connect_failed", {{"worker", worker.index}, {"error", error}});
    worker.backoff = std::min(worker.backoff * 2, options_.reconnect_max);
  }
  worker.next_attempt = Clock::now() + worker.backoff;
  last_connect_error_ = error;
}

// Called with the lock held.
void ConnectionPool::drop_connection(Worker& worker) {
  if (!worker.connection) return;
  worker.connection.reset();
  --connected_;
  worker.next_attempt = Clock::now();  // the first attempt after a break is immediate
  worker.backoff = std::chrono::milliseconds(0);
  log::warn("db_pool_connection_lost", {{"worker", worker.index}});
  state_changed_.notify_all();
}

namespace {

// Reads what the server sent (e.g. its shutdown notice) without a round trip.
bool still_open(pqxx::connection& connection) {
  try {
    connection.get_notifs();
    return connection.is_open();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

void ConnectionPool::run_worker(Worker& worker) {
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto now = Clock::now();
    if (!worker.connection && !shutting_down_) {
      // With jobs waiting and no working connection anywhere, retry sooner than the
      // back-off so that traffic recovers as soon as the database is back.
      const bool starving = !queue_.empty() && connected_ == 0 &&
                            now >= worker.last_attempt + options_.reconnect_initial;
      if (now >= worker.next_attempt || starving) {
        try_connect(worker, lock);
        continue;
      }
    }
    if (shutting_down_ && queue_.empty()) break;

    const bool can_take = !queue_.empty() && (worker.connection || connected_ == 0);
    if (!can_take) {
      if (worker.connection && queue_.empty() && now >= worker.next_idle_check) {
        // Notices a server that went away without waiting for the next job: reads what
        // the server sent (e.g. its shutdown notice) without a round trip.
        worker.next_idle_check = now + options_.idle_check;
        auto* connection = worker.connection.get();
        lock.unlock();
        const bool alive = still_open(*connection);
        lock.lock();
        if (!alive) drop_connection(worker);
        continue;
      }
      const auto wake =
          worker.connection
              ? worker.next_idle_check
              : (queue_.empty() ? worker.next_attempt
                                : std::min(worker.next_attempt,
                                           worker.last_attempt + options_.reconnect_initial));
      work_ready_.wait_until(lock, std::max(wake, now + std::chrono::milliseconds(10)));
      continue;
    }

    Task task = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    if (queue_.empty()) state_changed_.notify_all();
    const std::string unavailable_reason = last_connect_error_;
    auto* connection = worker.connection.get();
    lock.unlock();

    // A connection the server closed while it sat idle (a restart shorter than the idle
    // check) is noticed before the job runs, without a round trip: the job goes back to the
    // front of the queue and runs on a fresh connection instead of failing.
    if (connection != nullptr && !still_open(*connection)) {
      lock.lock();
      queue_.push_front(std::move(task));
      --busy_;
      drop_connection(worker);
      continue;
    }

    std::exception_ptr error;
    bool broken = false;
    if (connection == nullptr) {
      error = std::make_exception_ptr(DatabaseUnavailable(
          "database unavailable: " +
          (unavailable_reason.empty() ? std::string("no connection") : unavailable_reason)));
    } else {
      try {
        task.job(*connection);
      } catch (...) {
        error = std::current_exception();
      }
      broken = !connection->is_open();
    }
    if (error) fail(task, error);
    task = Task{};  // release captured state outside the lock

    lock.lock();
    --busy_;
    ++jobs_total_;
    if (error) ++jobs_failed_;
    if (broken) drop_connection(worker);
    worker.next_idle_check = Clock::now() + options_.idle_check;
    state_changed_.notify_all();
  }
  if (worker.connection) {
    worker.connection.reset();
    --connected_;
  }
}

void ConnectionPool::stop(std::chrono::milliseconds deadline) {
  std::lock_guard stop_lock(stop_mutex_);
  if (stopped_) return;
  std::deque<Task> dropped;
  {
    std::unique_lock lock(mutex_);
    accepting_ = false;
    state_changed_.wait_for(lock, deadline, [this] { return queue_.empty(); });
    dropped.swap(queue_);
    shutting_down_ = true;
  }
  work_ready_.notify_all();
  if (!dropped.empty()) log::warn("db_pool_stop_dropped_jobs", {{"count", dropped.size()}});
  for (auto& task : dropped) {
    fail(task,
         std::make_exception_ptr(PoolStopped("connection pool: stopped before the job could run")),
         false);
    std::lock_guard lock(mutex_);
    ++jobs_total_;
    ++jobs_failed_;
  }
  for (auto& worker : workers_)
    if (worker->thread.joinable()) worker->thread.join();
  stopped_ = true;
}

}  // namespace chargegrid::db
