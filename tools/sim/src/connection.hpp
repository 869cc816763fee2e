#pragma once
// One WebSocket connection of a simulated station, plain (ws) or TLS (wss), behind
// one interface so the station logic does not care which.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "chargegrid/sim/fleet.hpp"

namespace chargegrid::sim::detail {

struct ConnectRequest {
  Endpoint endpoint;
  std::string station_id;
  std::string subprotocol;
  std::optional<std::string> password;
  std::optional<boost::asio::ip::address> source_address;
  boost::asio::ssl::context* tls = nullptr;  // required for wss
  double timeout_s = 15.0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual boost::asio::awaitable<std::tuple<boost::system::error_code>> write(
      const std::string& text) = 0;
  // Next text frame; throws boost::system::system_error when the connection ends.
  virtual boost::asio::awaitable<std::string> read() = 0;
  // Close handshake with code 1000, bounded by a timeout; never throws.
  virtual boost::asio::awaitable<void> close() = 0;
};

// Resolves, connects, (TLS-)handshakes and upgrades; throws std::runtime_error or
// boost::system::system_error describing the failure.
boost::asio::awaitable<std::unique_ptr<Connection>> connect(const ConnectRequest& request);

std::string basic_auth_header(const std::string& user, const std::string& password);

}  // namespace chargegrid::sim::detail
