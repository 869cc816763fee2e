#include "recurring_job.hpp"

#include <boost/asio/post.hpp>

#include "chargegrid/db/pool.hpp"

namespace chargegrid::server {

RecurringJob::RecurringJob(boost::asio::io_context& io, db::ConnectionPool& pool,
                           std::chrono::milliseconds interval, Round round)
    : pool_(pool), interval_(interval), round_(std::move(round)), timer_(io) {}

RecurringJob::~RecurringJob() {
  stop();
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return rounds_queued_ == 0; });
}

void RecurringJob::start() {
  wake();
}

void RecurringJob::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  boost::asio::post(timer_.get_executor(), [this] { timer_.cancel(); });
}

bool RecurringJob::stopping() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

void RecurringJob::wake() {
  if (stopping()) return;
  if (busy_.exchange(true)) {
    again_ = true;  // the round under way looks once more when it ends
    return;
  }
  {
    std::lock_guard lock(mutex_);
    ++rounds_queued_;
  }
  const bool queued = pool_.try_submit(
      [this](pqxx::connection& c) {
        const bool more = round_(c);
        busy_ = false;
        if (again_.exchange(false) || more)
          wake();
        else
          arm();
        round_ended();
      },
      [this](std::exception_ptr) {
        busy_ = false;
        arm();
        round_ended();
      });
  if (!queued) {
    busy_ = false;
    arm();
    round_ended();
  }
}

void RecurringJob::round_ended() {
  std::lock_guard lock(mutex_);
  --rounds_queued_;
  idle_.notify_all();
}

void RecurringJob::arm() {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  boost::asio::post(timer_.get_executor(), [this] {
    timer_.expires_after(interval_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) wake();
    });
  });
}

}  // namespace chargegrid::server
