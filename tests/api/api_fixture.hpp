#pragma once
// REST API tests: a real server on a fresh database, HTTP over real sockets,
// API keys made the way `chargegridd apikey create` makes them, and simulated
// stations (chargegrid-sim's Fleet) that answer remote commands.

#include <array>
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
#include "../server/station_messages.hpp"
#include "api/auth.hpp"
#include "chargegrid/base/time.hpp"
#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/event_stream.hpp"
#include "chargegrid/testing/http_client.hpp"

namespace chargegrid::testing {

using nlohmann::json;

// An RFC 3339 UTC time as stations send it ("2026-11-24T10:00:00Z").
inline std::string rfc3339(std::chrono::system_clock::time_point time) {
  return base::format_rfc3339(time, base::TimePrecision::kSeconds);
}

// The test configuration with free vend: tokens the server does not know are accepted.
inline server::Config free_vend_config() {
  auto config = test_config();
  config.accept_unknown_tokens = true;
  return config;
}

// The test configuration under which unknown stations wait in Pending for an operator.
inline server::Config pending_stations_config() {
  auto config = test_config();
  config.unknown_stations = server::UnknownStationPolicy::Pending;
  return config;
}

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
  // One site of each name, in order.
  template <class... Names>
  std::array<std::int64_t, sizeof...(Names)> make_sites(const Names&... names) {
    return {make_site(names)...};
  }
  // A driver of `site`; their id.
  long make_driver(const std::string& name, std::int64_t site) {
    auto r = admin().post("/drivers", {{"name", name}, {"site_id", site}});
    REQUIRE(r.status == 201);
    return r.data["id"].get<long>();
  }
  void make_station(const std::string& id, std::int64_t site) {
    auto r = admin().post("/stations", {{"id", id}, {"site_id", site}});
    REQUIRE(r.status == 201);
  }
  // A site named Depot with station `station_id` registered in it; the site's id.
  std::int64_t make_depot(const std::string& station_id) {
    const auto site = make_site("Depot");
    make_station(station_id, site);
    return site;
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
