#include "events/outbox_wakeups.hpp"

#include <pqxx/pqxx>
#include <vector>

#include "chargegrid/base/text.hpp"
#include "events/outbox_consumer.hpp"
#include "logging.hpp"
#include "store/outbox.hpp"

namespace chargegrid::server {

namespace {

class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::vector<std::string>& inbox)
      : pqxx::notification_receiver(c, store::outbox::kWakeChannel), inbox_(inbox) {}
  void operator()(const std::string& payload, int) override { inbox_.push_back(payload); }

 private:
  std::vector<std::string>& inbox_;
};

}  // namespace

OutboxWakeups::OutboxWakeups(std::string database_url) : url_(std::move(database_url)) {}

OutboxWakeups::~OutboxWakeups() {
  stop();
}

void OutboxWakeups::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void OutboxWakeups::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t OutboxWakeups::notifications() const {
  std::lock_guard lock(mutex_);
  return notifications_;
}

bool OutboxWakeups::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void OutboxWakeups::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  stop_signal_.wait_for(lock, d, [this] { return stopping_; });
}

void OutboxWakeups::run() {
  std::chrono::milliseconds backoff{100};
  while (!stopping()) {
    try {
      pqxx::connection c(url_);
      std::vector<std::string> inbox;
      Receiver receiver(c, inbox);
      // Rows committed while nobody listened: every consumer looks once.
      OutboxConsumer::wake_all("");
      backoff = std::chrono::milliseconds(100);
      while (!stopping()) {
        c.await_notification(0, 200'000);  // wakes for stop() at least every 0.2 s
        if (!c.is_open()) throw pqxx::broken_connection("the listening connection closed");
        if (inbox.empty()) continue;
        {
          std::lock_guard lock(mutex_);
          notifications_ += inbox.size();
        }
        for (const auto& consumer : inbox)
          if (!consumer.empty()) OutboxConsumer::wake_all(consumer);
        inbox.clear();
      }
    } catch (const std::exception& e) {
      log::warn("outbox_listener_failed", {{"error", base::first_line(e.what())}});
      sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

}  // namespace chargegrid::server
