// The database goes away mid-session: transaction messages are refused with
// InternalError (the station keeps and resends them), heartbeats go on, and
// once PostgreSQL is back every message is stored exactly once.

#include <catch2/catch.hpp>

#include "chargegrid/testing/private_postgres.hpp"
#include "server_fixture.hpp"

using chargegrid::testing::error_code;
using chargegrid::testing::is_result;
using chargegrid::testing::ServerFixture;
using nlohmann::json;

TEST_CASE("A database outage loses nothing and answers nothing as stored",
          "[integration][outage]") {
  chargegrid::testing::PrivatePostgres postgres("cg-outage");
  {
    chargegrid::server::Server server(chargegrid::testing::test_config(), postgres.url());
    server.start();
    chargegrid::sim::OcppTestClient station;
    station.connect("127.0.0.1", server.ocpp_port(), "/ocpp/OUTAGE", {"ocpp1.6"});
    REQUIRE(is_result(
        station.call("BootNotification", {{"chargePointVendor", "A"}, {"chargePointModel", "B"}})));

    postgres.stop();
    const json start{{"connectorId", 1},
                     {"idTag", "T"},
                     {"meterStart", 10},
                     {"timestamp", "2026-11-24T12:00:00Z"}};
    auto refused = station.call("StartTransaction", start, std::chrono::seconds(30));
    CHECK(error_code(refused) == "InternalError");
    CHECK(is_result(station.call("Heartbeat", json::object())));

    postgres.start();
    // The station resends until it is stored.
    json stored;
    REQUIRE(ServerFixture::eventually(
        [&] {
          stored = station.call("StartTransaction", start, std::chrono::seconds(30));
          if (is_result(stored)) return true;
          CHECK(error_code(stored) == "InternalError");
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          return false;
        },
        std::chrono::seconds(30)));
    REQUIRE(is_result(station.call("StartTransaction", start)));
    server.stop();
  }
  pqxx::connection c(postgres.url());
  pqxx::read_transaction tx(c);
  CHECK(tx.exec("SELECT count(*) FROM transactions")[0][0].as<int>() == 1);
  tx.commit();
}
