// CALLs from the server to a station: correlated with their answers, timed out
// when none comes, refused when the station is away.

#include <catch2/catch.hpp>
#include <future>

#include "server_fixture.hpp"

using chargegrid::server::StationCallResult;
using chargegrid::testing::is_result;
using chargegrid::testing::ServerFixture;
using nlohmann::json;

namespace {

std::future<StationCallResult> call(ServerFixture& fx, const std::string& id,
                                    const std::string& action, json payload) {
  auto promise = std::make_shared<std::promise<StationCallResult>>();
  fx.server().call_station(id, action, std::move(payload),
                           [promise](StationCallResult r) { promise->set_value(std::move(r)); });
  return promise->get_future();
}

}  // namespace

TEST_CASE("A server CALL is matched with the station's answer", "[integration][calls]") {
  ServerFixture fx;
  auto station = fx.connect("CALLED", "ocpp1.6");
  REQUIRE(is_result(
      station->call("BootNotification", {{"chargePointVendor", "A"}, {"chargePointModel", "B"}})));
  auto pending =
      call(fx, "CALLED", "RemoteStartTransaction", {{"idTag", "RFID-9"}, {"connectorId", 1}});
  auto frame = json::parse(*station->receive(std::chrono::seconds(5)));
  REQUIRE(frame[0] == 2);
  CHECK(frame[2] == "RemoteStartTransaction");
  CHECK(frame[3]["idTag"] == "RFID-9");
  // An answer to an id the server never used is ignored, the right one is delivered.
  station->send_text(json::array({3, "not-mine", {{"status", "Rejected"}}}).dump());
  station->send_text(json::array({3, frame[1], {{"status", "Accepted"}}}).dump());
  auto result = pending.get();
  CHECK(result.status == StationCallResult::Status::Result);
  CHECK(result.payload["status"] == "Accepted");

  SECTION("a CALLERROR is delivered as an error") {
    auto p2 = call(fx, "CALLED", "ClearCache", json::object());
    auto f2 = json::parse(*station->receive(std::chrono::seconds(5)));
    station->send_text(json::array({4, f2[1], "NotSupported", "no cache", json::object()}).dump());
    auto r2 = p2.get();
    CHECK(r2.status == StationCallResult::Status::Error);
    CHECK(r2.payload["errorCode"] == "NotSupported");
  }
  SECTION("an answer that breaks the schema is reported as such") {
    auto p3 = call(fx, "CALLED", "ClearCache", json::object());
    auto f3 = json::parse(*station->receive(std::chrono::seconds(5)));
    station->send_text(json::array({3, f3[1], {{"status", "Maybe"}}}).dump());
    CHECK(p3.get().status == StationCallResult::Status::Error);
  }
  SECTION("a CALL the schema forbids is not sent") {
    auto p4 = call(fx, "CALLED", "Reset", {{"type", "Sideways"}});
    CHECK(p4.get().status == StationCallResult::Status::Refused);
  }
}

TEST_CASE("A server CALL times out, and fails for an offline station", "[integration][calls]") {
  auto config = chargegrid::testing::test_config();
  config.call_timeout_s = 1;
  ServerFixture fx(config);
  CHECK(call(fx, "NOBODY", "ClearCache", json::object()).get().status ==
        StationCallResult::Status::Offline);
  auto station = fx.connect("SILENT", "ocpp2.0.1");
  REQUIRE(ServerFixture::eventually([&] { return fx.server().station_connected("SILENT"); }));
  auto pending = call(fx, "SILENT", "ClearCache", json::object());
  CHECK(station->receive(std::chrono::seconds(5)));  // received, never answered
  CHECK(pending.get().status == StationCallResult::Status::Timeout);

  auto dropped = call(fx, "SILENT", "ClearCache", json::object());
  CHECK(station->receive(std::chrono::seconds(5)));
  station.reset();  // the station goes away mid-call
  CHECK(dropped.get().status == StationCallResult::Status::Offline);
}

TEST_CASE("Server CALLs beyond the per-station limit are refused, not queued",
          "[integration][calls]") {
  auto config = chargegrid::testing::test_config();
  config.pending_calls_per_station = 2;
  config.call_timeout_s = 5;
  ServerFixture fx(config);
  auto station = fx.connect("BUSY", "ocpp2.0.1");
  REQUIRE(ServerFixture::eventually([&] { return fx.server().station_connected("BUSY"); }));
  auto first = call(fx, "BUSY", "ClearCache", json::object());
  auto second = call(fx, "BUSY", "ClearCache", json::object());
  auto third = call(fx, "BUSY", "ClearCache", json::object());
  CHECK(third.get().status == StationCallResult::Status::Refused);
  // The two within the limit were sent and are answered normally.
  for (int i = 0; i < 2; ++i) {
    auto frame = json::parse(*station->receive(std::chrono::seconds(5)));
    station->send_text(json::array({3, frame[1], {{"status", "Accepted"}}}).dump());
  }
  CHECK(first.get().status == StationCallResult::Status::Result);
  CHECK(second.get().status == StationCallResult::Status::Result);
}
