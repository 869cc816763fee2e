#pragma once
// A WebSocket proxy between simulated stations and the CSMS that writes down every CALL a
// station sends and what the CSMS answered to it: the record of what the stations were
// told is stored, to compare with the database afterwards.
//
// The CSMS may go away (killed) and come back on another port: set_upstream_port() says
// where it listens now. While it is away (port 0, or nothing listening) a station's
// connection is refused; when the CSMS's side of a connection ends, the station's side is
// dropped at once (no close handshake), as a station sees a crashed server.
//
// A cluster is several upstreams (set_upstream_ports): each new connection goes to one of
// them picked at random, as a load balancer would; one that refuses is skipped.
// abandon_links() cuts the station's side of connections but leaves the CSMS's side open,
// as when a station loses its network and reconnects (through another node) before the old
// node has noticed: the old node must close it itself.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace chargegrid::testing {

using Clock = std::chrono::steady_clock;

// A connection whose station side was cut while its CSMS side stayed open.
struct AbandonedLink {
  std::string station_id;
  std::uint16_t upstream_port = 0;
  Clock::time_point abandoned_at;
  std::optional<Clock::time_point> closed_at;  // when the CSMS closed its side
};

// One CALL from a station and the CSMS's answer to it (if one came back).
struct Exchange {
  enum class Answer { None, Result, Error };

  std::string station_id;
  std::string message_id;
  std::string action;
  nlohmann::json payload;
  Clock::time_point sent;  // when the proxy received the CALL
  Answer answer = Answer::None;
  nlohmann::json result;  // CALLRESULT payload
  std::string error_code;
  Clock::time_point answered;  // when the proxy received the answer
};

class RecordingProxy {
 public:
  // Listens on 127.0.0.1 (any free port); forwards to 127.0.0.1:upstream_port.
  explicit RecordingProxy(std::uint16_t upstream_port = 0);
  ~RecordingProxy();
  RecordingProxy(const RecordingProxy&) = delete;
  RecordingProxy& operator=(const RecordingProxy&) = delete;

  // Where the CSMS listens now; 0: it is away.
  void set_upstream_port(std::uint16_t port);
  // Several CSMS nodes; empty: all away.
  void set_upstream_ports(std::vector<std::uint16_t> ports);
  // Cuts the station side of up to `n` open connections picked at random (their stations
  // reconnect), leaving the CSMS side open; returns how many were cut.
  std::size_t abandon_links(std::size_t n);
  std::vector<AbandonedLink> abandoned() const;
  // Open connections (both sides), by upstream port.
  std::map<std::uint16_t, std::size_t> open_links() const;
  // Stations connect to URL/{stationId}: "ws://127.0.0.1:<port>/ocpp".
  std::string url() const;
  // Everything recorded so far, in the order the CALLs arrived.
  std::vector<Exchange> exchanges() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chargegrid::testing
