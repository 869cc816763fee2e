#pragma once
// Blocking OCPP-J WebSocket client and raw TCP socket for integration tests: each call
// returns when done or when its timeout expires, never later.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace chargegrid::sim {

// The server answered the upgrade request with something other than 101.
class HandshakeRefused : public std::runtime_error {
 public:
  HandshakeRefused(int status, std::string body)
      : std::runtime_error("WebSocket upgrade refused with HTTP " + std::to_string(status)),
        status_(status),
        body_(std::move(body)) {}
  int status() const { return status_; }
  const std::string& body() const { return body_; }

 private:
  int status_;
  std::string body_;
};

// Nothing arrived in time (call() without an answer, connect() without a handshake).
class Timeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class OcppTestClient {
 public:
  using Headers = std::map<std::string, std::string>;
  OcppTestClient();
  ~OcppTestClient();
  OcppTestClient(const OcppTestClient&) = delete;
  OcppTestClient& operator=(const OcppTestClient&) = delete;

  // Connects to ws://host:port{target} offering `subprotocols` (in order) and returns the
  // one the server chose ("" if none). Throws HandshakeRefused for a non-101 answer,
  // Timeout, or boost::system::system_error for network errors.
  std::string connect(const std::string& host, std::uint16_t port, const std::string& target,
                      const std::vector<std::string>& subprotocols, const Headers& headers = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

  void send_text(const std::string& frame);
  void send_binary(const std::string& frame);
  // Next data frame (text or binary, see last_was_binary()); nullopt on timeout or
  // once the connection is closed (then closed() is true).
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  bool last_was_binary() const { return last_binary_; }

  // Sends [2, id, action, payload] with a fresh id and returns the CALLRESULT or CALLERROR
  // frame with that id; other frames arriving meanwhile are skipped (and not answered),
  // but kept for skipped(). Throws Timeout, or std::runtime_error if the connection closes.
  nlohmann::json call(const std::string& action, const nlohmann::json& payload,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Frames call() passed over, oldest first; cleared by take_skipped().
  std::vector<std::string> take_skipped();

  // Sends a close frame (code 1000) and waits briefly for the server's answer.
  void close(std::chrono::milliseconds timeout = std::chrono::seconds(2));
  bool closed() const;
  // WebSocket pings read so far (each answered with a pong while receive() reads).
  int pings_received() const;
  // Close code the server sent (1000 normal, 1002 protocol error, ...); nullopt if none.
  std::optional<std::uint16_t> close_code() const;
  std::string close_reason() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool last_binary_ = false;
  std::uint64_t next_id_ = 0;
  std::vector<std::string> skipped_;
};

// A plain TCP connection for hand-made requests (slow or malformed HTTP upgrades).
class RawSocket {
 public:
  RawSocket();
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  void connect(const std::string& host, std::uint16_t port,
               std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Writes all of `data`; throws boost::system::system_error if the peer is gone.
  void send(const std::string& data);
  // Whatever arrives within `timeout` (at least one byte); "" on timeout; nullopt when
  // the peer closed the connection (or reset it).
  std::optional<std::string> read_some(std::chrono::milliseconds timeout);
  // Reads until the peer closes or `timeout` passes; returns everything read.
  std::string read_until_closed(std::chrono::milliseconds timeout);
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chargegrid::sim
