#include "group_commit.hpp"

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <mutex>
#include <pqxx/pqxx>

#include "chargegrid/db/errors.hpp"
#include "chargegrid/db/pool.hpp"
#include "logging.hpp"

namespace chargegrid::server::detail {

namespace asio = boost::asio;

// Shared with the pool's jobs, which may finish after the writer is gone.
struct GroupCommitQueue::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, db::ConnectionPool& p, GroupCommitOptions o, MakeBatch m)
      : pool(p), options(std::move(o)), make_batch(std::move(m)), timer(io) {}

  db::ConnectionPool& pool;
  const GroupCommitOptions options;
  const MakeBatch make_batch;
  std::mutex mutex;
  asio::steady_timer timer;
  std::unique_ptr<GroupCommitBatch> waiting;
  bool timer_armed = false;
  bool in_flight = false;

  // Sends the waiting batch to the pool unless one is in flight (its end sends this one).
  void start_locked(std::unique_lock<std::mutex>& lock);
  void write(GroupCommitBatch& batch, pqxx::connection& connection);
  void finished();
};

void GroupCommitQueue::State::start_locked(std::unique_lock<std::mutex>& lock) {
  if (in_flight || !waiting || waiting->size() == 0) return;
  std::shared_ptr<GroupCommitBatch> batch = std::move(waiting);
  in_flight = true;
  lock.unlock();
  if (options.on_batch) options.on_batch(batch->size());
  auto self = shared_from_this();
  auto not_run = [self, batch](std::exception_ptr error) {
    batch->complete(0, batch->size(), error);
    self->finished();
  };
  pool.submit_or_fail(
      [self, batch](pqxx::connection& connection) {
        self->write(*batch, connection);
        self->finished();
      },
      not_run);
  lock.lock();
}

void GroupCommitQueue::State::write(GroupCommitBatch& batch, pqxx::connection& connection) {
  const auto n = batch.size();
  try {
    pqxx::work tx(connection);
    batch.write(tx, 0, n);
    tx.commit();
    batch.complete(0, n, nullptr);
    return;
  } catch (const std::exception& e) {
    log::warn(options.name + "_batch_failed", {{"items", n}, {"error", e.what()}});
    // The database away or busy: every caller is told to send it again later. A deadlock or
    // serialization failure (a rollback) is the batch's, not the database's: its items are
    // written one by one below.
    const bool rolled_back = dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr;
    if ((db::classify_failure(e) == db::FailureKind::Transient && !rolled_back) || n == 1) {
      batch.complete(0, n, std::current_exception());
      return;
    }
  } catch (...) {
    batch.complete(0, n, std::current_exception());
    return;
  }
  // The database refused something in the batch: each item on its own, so that one bad
  // item never fails another caller's.
  for (std::size_t i = 0; i < n; ++i) {
    try {
      pqxx::work tx(connection);
      batch.write(tx, i, i + 1);
      tx.commit();
      batch.complete(i, i + 1, nullptr);
    } catch (...) {
      batch.complete(i, i + 1, std::current_exception());
    }
  }
}

void GroupCommitQueue::State::finished() {
  std::unique_lock lock(mutex);
  in_flight = false;
  // What queued meanwhile has waited for this batch already: it goes at once.
  start_locked(lock);
}

GroupCommitQueue::GroupCommitQueue(asio::io_context& io, db::ConnectionPool& pool,
                                   GroupCommitOptions options, MakeBatch make_batch)
    : state_(std::make_shared<State>(io, pool, std::move(options), std::move(make_batch))) {}

GroupCommitQueue::~GroupCommitQueue() {
  std::lock_guard lock(state_->mutex);
  state_->timer.cancel();
}

void GroupCommitQueue::add(const std::function<void(GroupCommitBatch&)>& push) {
  auto& s = *state_;
  std::unique_lock lock(s.mutex);
  if (!s.waiting) s.waiting = s.make_batch();
  push(*s.waiting);
  if (s.waiting->size() >= s.options.batch_items || s.options.batch_delay_ms == 0) {
    s.start_locked(lock);
    return;
  }
  if (!s.timer_armed) {
    s.timer_armed = true;
    s.timer.expires_after(std::chrono::milliseconds(s.options.batch_delay_ms));
    s.timer.async_wait([weak = std::weak_ptr<State>(state_)](boost::system::error_code ec) {
      auto state = weak.lock();
      if (!state) return;
      std::unique_lock timer_lock(state->mutex);
      state->timer_armed = false;
      if (ec) return;
      state->start_locked(timer_lock);
    });
  }
}

void GroupCommitQueue::flush() {
  std::unique_lock lock(state_->mutex);
  state_->start_locked(lock);
}

}  // namespace chargegrid::server::detail
