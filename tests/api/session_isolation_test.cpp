// A session's meter values are its own station's only, whatever the meter_values table
// holds under the session's transaction id.

#include <catch2/catch.hpp>

#include "api_fixture.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

TEST_CASE("A session's meter values never include another station's readings",
          "[integration][api][integrity]") {
  ApiFixture fx;
  const auto site = fx.make_site("Depot");
  fx.make_station("ISO-A", site);
  fx.make_station("ISO-B", site);
  auto owner = booted_16(fx, "ISO-A");
  const auto tx = start_transaction_16(*owner, 1000, "T");
  REQUIRE(is_result(owner->call(
      "MeterValues",
      {{"connectorId", 1},
       {"transactionId", tx},
       {"meterValue", json::array({{{"timestamp", "2026-11-24T08:30:00Z"},
                                    {"sampledValue", json::array({{{"value", "4000"}}})}}})}})));
  // A row of another station under the same transaction id (as older versions stored a
  // foreign transactionId) stays out of the session's readings.
  {
    auto c = fx.sql();
    pqxx::work w(c);
    w.exec_params(
        "INSERT INTO meter_values (station_id, evse_id, sampled_at, measurand, value, unit, "
        "transaction_id) VALUES ('ISO-B', 1, '2026-11-24T08:40:00Z', "
        "'Energy.Active.Import.Register', 999999, 'Wh', $1)",
        tx);
    w.commit();
  }
  auto readings = fx.admin().get("/sessions/" + std::to_string(tx) + "/meter-values");
  REQUIRE(readings.status == 200);
  REQUIRE(readings.data["items"].size() == 1);
  CHECK(readings.data["items"][0]["value"] == 4000);
}
