// Stations that restart number their messages from 1 again (OCPP-J asks ids to be unique
// per connection only). The simulator, run twice against the same station ids, does exactly
// that: every session and meter reading of both runs must be stored, once.

#include <catch2/catch.hpp>
#include <future>

#include "chargegrid/server/server.hpp"
#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/fleet_options.hpp"
#include "chargegrid/testing/recording_proxy.hpp"
#include "chargegrid/testing/stored_once.hpp"

using namespace std::chrono_literals;

TEST_CASE("a simulator run twice against the same station ids stores both runs",
          "[integration][integrity][fleet]") {
  chargegrid::testing::TestDatabase database;
  chargegrid::server::Server server(chargegrid::testing::server_config(), database.url());
  server.start();
  chargegrid::testing::RecordingProxy proxy(server.ocpp_port());

  chargegrid::sim::Stats stats;
  for (int run = 0; run < 2; ++run) {
    std::vector<std::future<chargegrid::sim::Stats>> runs;
    std::vector<std::unique_ptr<chargegrid::sim::Fleet>> fleets;
    for (const auto version :
         {chargegrid::sim::OcppVersion::v16, chargegrid::sim::OcppVersion::v201}) {
      auto options = chargegrid::testing::fleet_options(proxy.url(), version, "TWICE", 3);
      options.station.sessions = 2;
      options.station.session_length_s = 180;
      options.station.idle_between_sessions_s = 30;
      fleets.push_back(std::make_unique<chargegrid::sim::Fleet>(options));
      auto* fleet = fleets.back().get();
      runs.push_back(std::async(std::launch::async, [fleet] { return fleet->run(60s); }));
    }
    for (auto& r : runs) stats.merge(r.get());
  }
  server.stop();
  INFO(stats.to_json().dump(1));
  CHECK(stats.stations == 12);
  CHECK(stats.sessions_completed == 24);

  const auto summary = chargegrid::testing::check_stored_exactly_once(
      proxy.exchanges(), database.url(), "TWICE", stats);
  CHECK(summary.transactions == 24);
}
