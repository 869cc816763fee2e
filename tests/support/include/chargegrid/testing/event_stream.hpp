#pragma once
// A Server-Sent Events subscription (GET /api/v1/events) over a raw socket, for tests.

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

namespace chargegrid::testing {

// A Server-Sent Events subscription over a raw socket.
class EventStream {
 public:
  EventStream(std::uint16_t port, const std::string& key, const std::string& query = "")
      : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    std::string request = "GET /api/v1/events" + query +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                          "Authorization: Bearer " +
                          key + "\r\n\r\n";
    boost::asio::write(socket_, boost::asio::buffer(request));
    timeval tv{0, 100000};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // The status line and headers.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (buffer_.find("\r\n\r\n") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
      read_some();
    const auto end = buffer_.find("\r\n\r\n");
    head_ = buffer_.substr(0, end);
    buffer_.erase(0, end == std::string::npos ? buffer_.size() : end + 4);
  }

  const std::string& head() const { return head_; }

  // What follows the head until the server closes the connection (a refused
  // stream's problem document), or what arrived before `timeout`.
  std::string rest(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && read_some()) {
    }
    return std::exchange(buffer_, {});
  }

  // The next event whose type is `type` (others are skipped), or nullopt.
  std::optional<nlohmann::json> next(const std::string& type,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto end = buffer_.find("\n\n");
      while (end != std::string::npos) {
        const auto block = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        std::string event, data;
        std::size_t start = 0;
        while (start < block.size()) {
          auto stop = block.find('\n', start);
          if (stop == std::string::npos) stop = block.size();
          const auto line = block.substr(start, stop - start);
          if (line.rfind("event: ", 0) == 0) event = line.substr(7);
          if (line.rfind("data: ", 0) == 0) data = line.substr(6);
          start = stop + 1;
        }
        if (event == type) return nlohmann::json::parse(data);
        end = buffer_.find("\n\n");
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      if (!read_some()) return std::nullopt;
    }
  }

 private:
  bool read_some() {
    char chunk[4096];
    const auto n = ::recv(socket_.native_handle(), chunk, sizeof chunk, 0);
    if (n == 0) return false;
    if (n > 0) buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string buffer_;
  std::string head_;
};

}  // namespace chargegrid::testing
