#pragma once
// REST API tests: a real server on a fresh database, HTTP over real sockets,
// API keys made the way `chargegridd apikey create` makes them, and simulated
// stations (chargegrid-sim's Fleet) that answer remote commands.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../server/server_fixture.hpp"
#include "api/auth.hpp"
#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/http_client.hpp"

namespace chargegrid::testing {

using nlohmann::json;

// An RFC 3339 UTC time as stations send it ("2026-11-24T10:00:00Z").
inline std::string rfc3339(std::chrono::system_clock::time_point time) {
  const auto seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

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
  std::optional<json> next(const std::string& type,
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
        if (event == type) return json::parse(data);
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

// Simulated stations in the background; they answer the server's CALLs.
class SimulatedStations {
 public:
  SimulatedStations(std::uint16_t port, sim::OcppVersion version, const std::string& prefix,
                    int count = 1) {
    sim::FleetOptions options;
    options.station.version = version;
    options.station.endpoint = sim::parse_url("ws://127.0.0.1:" + std::to_string(port) + "/ocpp");
    options.station.sessions = 0;  // only what the tests ask for
    options.station.time_scale = 60;
    options.station.meter_interval_s = 60;
    options.station.session_length_s = 3600;
    options.station.reconnect_min_s = 0.1;
    options.station.reconnect_max_s = 0.5;
    options.stations = count;
    options.id_prefix = prefix;
    options_ = options;
    fleet_ = std::make_unique<sim::Fleet>(options);
    thread_ = std::thread([this] { fleet_->run(); });
  }
  ~SimulatedStations() {
    fleet_->stop();
    thread_.join();
  }
  // The id of the i-th station (from 1).
  std::string id(int i = 1) const { return sim::station_id(options_, i); }

 private:
  sim::FleetOptions options_;
  std::unique_ptr<sim::Fleet> fleet_;
  std::thread thread_;
};

class ApiFixture : public ServerFixture {
 public:
  explicit ApiFixture(server::Config config = test_config()) : ServerFixture(std::move(config)) {
    admin_key_ = make_key(server::api::Role::Admin, {});
  }

  std::string make_key(server::api::Role role, const std::vector<std::int64_t>& sites,
                       std::optional<std::int64_t> driver = std::nullopt) {
    auto c = sql();
    pqxx::work tx(c);
    auto key = server::api::create_api_key(tx, "test key", role, sites, driver);
    tx.commit();
    return key.secret;
  }

  ApiClient admin() { return {server().http_port(), admin_key_}; }
  ApiClient client(const std::string& key) { return {server().http_port(), key}; }

  std::int64_t make_site(const std::string& name) {
    auto r = admin().post("/sites", {{"name", name}});
    REQUIRE(r.status == 201);
    return r.data["id"].get<std::int64_t>();
  }
  void make_station(const std::string& id, std::int64_t site) {
    auto r = admin().post("/stations", {{"id", id}, {"site_id", site}});
    REQUIRE(r.status == 201);
  }
  // A simulated station registered in `site` first, then connected and online.
  std::unique_ptr<SimulatedStations> registered_station(sim::OcppVersion version,
                                                        const std::string& prefix,
                                                        std::int64_t site) {
    make_station(prefix + "0001", site);
    auto stations = std::make_unique<SimulatedStations>(server().ocpp_port(), version, prefix);
    REQUIRE(online(stations->id()));
    return stations;
  }
  bool online(const std::string& station_id) {
    return eventually([&] { return server().station_connected(station_id); });
  }

 private:
  std::string admin_key_;
};

}  // namespace chargegrid::testing
