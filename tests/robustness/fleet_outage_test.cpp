// PostgreSQL stops in the middle of many charging sessions and comes back. While it is
// away the server answers no transaction message as if it were stored (CALLERROR
// InternalError; the stations keep the messages and send them again) and goes on answering
// heartbeats; once it is back the stations catch up, and every transaction and meter reading
// they were told is stored is in the database exactly once.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "chargegrid/server/server.hpp"
#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/fleet_options.hpp"
#include "chargegrid/testing/private_postgres.hpp"
#include "chargegrid/testing/recording_proxy.hpp"
#include "chargegrid/testing/stored_once.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::Clock;
using chargegrid::testing::Exchange;

TEST_CASE("a database outage during many sessions loses and duplicates nothing",
          "[integration][outage][fleet]") {
  chargegrid::testing::PrivatePostgres postgres("cg-fleet-outage");

  auto config = chargegrid::testing::server_config();
  chargegrid::server::Server server(config, postgres.url());
  server.start();
  chargegrid::testing::RecordingProxy proxy(server.ocpp_port());

  // 20 stations of each version, sessions of 6 simulated minutes sampled every 30 s,
  // 60 times faster than real time: about 20 s of traffic with the outage in the middle.
  chargegrid::testing::BackgroundFleets fleets(120s);
  fleets.start_both_versions(proxy.url(), "OUT", 20);

  std::this_thread::sleep_for(5s);
  postgres.stop();
  const auto outage_began = Clock::now();
  std::this_thread::sleep_for(6s);
  const auto outage_ended = Clock::now();
  postgres.start();

  const auto stats = fleets.wait();
  server.stop();
  INFO(stats.to_json().dump(1));
  CHECK(stats.stations == 40);

  // While the database was away: no transaction message answered as stored, heartbeats
  // answered, and transaction messages refused with InternalError.
  const auto exchanges = proxy.exchanges();
  std::size_t stored_while_away = 0, refused_while_away = 0, heartbeats_while_away = 0;
  std::map<std::string, std::size_t> refusal_codes;
  for (const auto& e : exchanges) {
    if (e.sent < outage_began || e.answer == Exchange::Answer::None || e.answered > outage_ended)
      continue;
    const bool transaction_message = e.action == "StartTransaction" ||
                                     e.action == "StopTransaction" || e.action == "MeterValues" ||
                                     e.action == "TransactionEvent";
    if (e.action == "Heartbeat" && e.answer == Exchange::Answer::Result) ++heartbeats_while_away;
    if (!transaction_message) continue;
    if (e.answer == Exchange::Answer::Result) ++stored_while_away;
    if (e.answer == Exchange::Answer::Error) {
      ++refused_while_away;
      ++refusal_codes[e.error_code];
    }
  }
  CHECK(stored_while_away == 0);
  CHECK(refused_while_away > 0);
  CHECK(refusal_codes.size() == 1);
  CHECK(refusal_codes["InternalError"] == refused_while_away);
  CHECK(heartbeats_while_away > 0);

  const auto summary =
      chargegrid::testing::check_stored_exactly_once(exchanges, postgres.url(), "OUT", stats);
  CHECK(summary.transactions >= 40);
  CHECK(summary.refused >= refused_while_away);
  WARN("outage: " << summary.transaction_calls << " transaction messages (" << summary.refused
                  << " refused, " << refused_while_away << " while the database was away), "
                  << summary.transactions << " transactions, " << summary.events
                  << " 2.0.1 events, " << summary.samples << " sampled values, "
                  << heartbeats_while_away << " heartbeats answered during the outage");
}
