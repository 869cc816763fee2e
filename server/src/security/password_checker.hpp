#pragma once
// Checks station passwords against their slow hashes on threads of its own, so a handshake
// never holds an I/O thread or a database connection for the tens of milliseconds a check
// costs. A password that matched is remembered (as a keyed MAC, never in clear) with the hash
// it matched, so a reconnecting station pays the slow check once per process, and a changed
// hash in the database is checked afresh.

#include <openssl/sha.h>

#include <array>
#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace chargegrid::server::security {

enum class PasswordCheck { Match, Mismatch, Busy };

class PasswordChecker {
 public:
  // `threads` workers; at most `max_queued` checks wait at once (more answer Busy).
  PasswordChecker(std::size_t threads, std::size_t max_queued);
  ~PasswordChecker();

  // co_await checker.check(id, password, stored) -> PasswordCheck, resumed on the caller's
  // executor.
  auto check(std::string station_id, std::string password, std::string stored) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(PasswordCheck)>(
        [this, station_id = std::move(station_id), password = std::move(password),
         stored = std::move(stored)](auto handler) mutable {
          start(std::move(station_id), std::move(password), std::move(stored), std::move(handler));
        },
        boost::asio::use_awaitable);
  }

  // Forgets what matched (all stations, or one).
  void forget(const std::string& station_id);
  void stop();

  // Synchronous check with the same cache, for callers already off the I/O threads.
  PasswordCheck check_now(const std::string& station_id, const std::string& password,
                          const std::string& stored);

 private:
  using Mac = std::array<unsigned char, SHA256_DIGEST_LENGTH>;
  struct Remembered {
    std::string stored;
    Mac mac;
  };

  template <class Handler>
  void start(std::string station_id, std::string password, std::string stored, Handler handler) {
    auto executor = boost::asio::get_associated_executor(handler);
    auto complete = [executor](Handler h, PasswordCheck result) mutable {
      boost::asio::post(executor, [h = std::move(h), result]() mutable { h(result); });
    };
    if (remembered(station_id, password, stored)) {
      complete(std::move(handler), PasswordCheck::Match);
      return;
    }
    if (queued_.fetch_add(1) >= max_queued_) {
      queued_.fetch_sub(1);
      complete(std::move(handler), PasswordCheck::Busy);
      return;
    }
    boost::asio::post(
        workers_, [this, complete, handler = std::move(handler), station_id = std::move(station_id),
                   password = std::move(password), stored = std::move(stored)]() mutable {
          const auto result = slow_check(station_id, password, stored);
          queued_.fetch_sub(1);
          complete(std::move(handler), result);
        });
  }

  bool remembered(const std::string& station_id, const std::string& password,
                  const std::string& stored);
  PasswordCheck slow_check(const std::string& station_id, const std::string& password,
                           const std::string& stored);
  Mac mac(const std::string& station_id, const std::string& password) const;

  boost::asio::thread_pool workers_;
  const std::size_t max_queued_;
  std::atomic<std::size_t> queued_{0};
  std::array<unsigned char, 32> key_{};
  std::mutex mutex_;
  std::unordered_map<std::string, Remembered> matched_;
};

}  // namespace chargegrid::server::security
