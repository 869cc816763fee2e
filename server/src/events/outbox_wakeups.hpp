#pragma once
// Wakes this process's outbox consumers as soon as a row for them commits, on this node or
// another: store::outbox::append NOTIFYs the consumer's name on store::outbox::kWakeChannel,
// and one dedicated connection LISTENs on its own thread (so that no wake-up waits behind the
// pool's queue). Notifications are only a hint: while the listener is away the consumers'
// polls still find every row, later; after reconnecting it wakes them all once.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace chargegrid::server {

class OutboxWakeups {
 public:
  explicit OutboxWakeups(std::string database_url);
  ~OutboxWakeups();
  OutboxWakeups(const OutboxWakeups&) = delete;
  OutboxWakeups& operator=(const OutboxWakeups&) = delete;

  void start();
  void stop();

  std::uint64_t notifications() const;

 private:
  void run();
  bool stopping();
  void sleep_for(std::chrono::milliseconds d);

  const std::string url_;
  std::thread thread_;
  mutable std::mutex mutex_;  // guards what follows
  std::condition_variable stop_signal_;
  bool stopping_ = false;
  std::uint64_t notifications_ = 0;
};

}  // namespace chargegrid::server
