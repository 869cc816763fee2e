#pragma once
// What the benchmarks built as tests share: elapsed time, the machine's load average (recorded
// beside every figure) and a request rate over keep-alive HTTP connections.

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace chargegrid::testing {

using BenchClock = std::chrono::steady_clock;

inline double seconds_since(BenchClock::time_point start) {
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

// "1.23 0.98 0.75": the 1, 5 and 15 minute load averages.
inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// One keep-alive HTTP/1.1 connection to 127.0.0.1 that GETs and insists on 200.
class BenchHttpClient {
 public:
  explicit BenchHttpClient(std::uint16_t port) : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  }
  // The body's size.
  std::size_t get(const std::string& target) {
    namespace http = boost::beast::http;
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "127.0.0.1");
    http::write(socket_, request);
    http::response<http::string_body> response;
    http::read(socket_, buffer_, response);
    if (response.result_int() != 200)
      throw std::runtime_error(target + " answered " + std::to_string(response.result_int()));
    return response.body().size();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

// GETs per second that `clients` connections (one thread each) complete in `seconds`, each
// asking for `target(random)` in turn.
inline double http_get_rate(std::uint16_t port, int clients, double seconds,
                            const std::function<std::string(std::mt19937_64&)>& target) {
  std::atomic<std::uint64_t> done{0};
  const auto until = BenchClock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      BenchHttpClient client(port);
      std::mt19937_64 random(c);
      while (BenchClock::now() < until) {
        client.get(target(random));
        ++done;
      }
    });
  for (auto& t : threads) t.join();
  return static_cast<double>(done) / seconds;
}

}  // namespace chargegrid::testing
