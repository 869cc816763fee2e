#pragma once
// The limits that keep one client from starving the others: open connections in total and
// per source address, failed handshakes per source address, and the token bucket behind
// them and behind the per-station message rate.

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chargegrid::server::security {

using Clock = std::chrono::steady_clock;

// `rate` tokens a second, at most `burst` saved up; starts full.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst, Clock::time_point now)
      : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}
  // Takes one token if there is one.
  bool take(Clock::time_point now);
  // Seconds until a token is available (0 when one is).
  double wait_seconds(Clock::time_point now);
  // True when the bucket has been full for a while (nothing to remember).
  bool idle(Clock::time_point now) const;

 private:
  void refill(Clock::time_point now);
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// The key limits count a source under: IPv4 addresses as they are (IPv4-mapped IPv6 too),
// IPv6 addresses by their /64 prefix, which one subscriber usually holds whole.
std::string address_key(const boost::asio::ip::address& address);

// Open connections, counted from accept to close. Thread-safe.
class ConnectionLimits {
 public:
  // 0: no limit.
  ConnectionLimits(std::size_t total, std::size_t per_address)
      : total_limit_(total), per_address_limit_(per_address) {}

  // Held by a connection; gives its place back when destroyed.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(ConnectionLimits* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    Ticket(Ticket&& other) noexcept : owner_(other.owner_), key_(std::move(other.key_)) {
      other.owner_ = nullptr;
    }
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { release(); }

   private:
    void release();
    ConnectionLimits* owner_ = nullptr;
    std::string key_;
  };

  enum class Refusal { None, Total, PerAddress };
  // A ticket, or nullopt with `why` set when a limit is reached.
  std::optional<Ticket> admit(const boost::asio::ip::address& address, Refusal& why);
  std::size_t open() const;

 private:
  void release(const std::string& key);
  const std::size_t total_limit_;
  const std::size_t per_address_limit_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_address_;
};

// Failed handshakes per source: each failure takes a token from the source's bucket
// (`per_minute` a minute, as many in a burst); a source with an empty bucket is refused
// before its credentials are looked at. Thread-safe; forgets sources whose bucket refilled.
class FailureThrottle {
 public:
  explicit FailureThrottle(int per_minute) : per_minute_(per_minute) {}
  // Seconds `key` must wait before trying again; 0 when it may try now.
  int blocked_for(const std::string& key, Clock::time_point now);
  // Counts a failure; true when it was the last one allowed (the source is now blocked).
  bool record_failure(const std::string& key, Clock::time_point now);

 private:
  static constexpr std::size_t kPruneAbove = 10'000;
  static constexpr std::size_t kMaxTracked = 200'000;
  const int per_minute_;
  std::mutex mutex_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

// Allows one line per `interval` and kind for messages that could otherwise flood the log;
// counts what it held back.
class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::seconds interval) : interval_(interval) {}
  // True when a line of `kind` may be written now; `suppressed` receives how many were held
  // back since the last one.
  bool allow(std::string_view kind, std::size_t& suppressed);

 private:
  struct State {
    Clock::time_point next{};
    std::size_t held = 0;
  };
  std::mutex mutex_;
  std::chrono::seconds interval_;
  std::unordered_map<std::string, State> kinds_;
};

}  // namespace chargegrid::server::security
