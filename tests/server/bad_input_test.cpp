// Hostile and broken stations: every bad input gets the error its OCPP version
// names, nothing is stored from it, and the connection goes on where it can.

#include <catch2/catch.hpp>
#include <optional>
#include <vector>

#include "station_messages.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

json next_frame(chargegrid::sim::OcppTestClient& client) {
  auto text = client.receive(std::chrono::seconds(10));
  REQUIRE(text);
  return json::parse(*text);
}

// How the server refused `client`'s handshake at `target` offering `subprotocols`; nothing
// when it accepted it.
std::optional<chargegrid::sim::HandshakeRefused> refusal(
    ServerFixture& fx, chargegrid::sim::OcppTestClient& client, const std::string& target,
    const std::vector<std::string>& subprotocols) {
  try {
    client.connect("127.0.0.1", fx.server().ocpp_port(), target, subprotocols);
  } catch (const chargegrid::sim::HandshakeRefused& e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("Malformed frames get the CALLERROR each version names", "[integration][bad-input]") {
  ServerFixture fx;
  auto v16 = fx.connect("BAD-16", "ocpp1.6");
  auto v201 = fx.connect("BAD-201", "ocpp2.0.1");
  REQUIRE(is_result(v16->call("BootNotification", boot_16())));
  REQUIRE(is_result(v201->call(
      "BootNotification",
      {{"reason", "PowerUp"}, {"chargingStation", {{"model", "M"}, {"vendorName", "V"}}}})));

  SECTION("not JSON") {
    v16->send_text("[2, \"a\", \"Heartbeat\", {");
    auto e16 = next_frame(*v16);
    CHECK(e16[0] == 4);
    CHECK(e16[2] == "FormationViolation");
    v201->send_text("this is not json");
    auto e201 = next_frame(*v201);
    CHECK(e201[1] == "-1");
    CHECK(e201[2] == "RpcFrameworkError");
  }
  SECTION("unknown message type") {
    v201->send_text(R"([9, "m1", "Heartbeat", {}])");
    auto e = next_frame(*v201);
    CHECK(e[1] == "m1");
    CHECK(e[2] == "MessageTypeNotSupported");
  }
  SECTION("unknown action") {
    auto e16 = v16->call("TeleportVehicle", json::object());
    CHECK(error_code(e16) == "NotImplemented");
    auto e201 = v201->call("TeleportVehicle", json::object());
    CHECK(error_code(e201) == "NotImplemented");
  }
  SECTION("schema violations name the field") {
    auto missing = v16->call("StartTransaction", {{"connectorId", 1}, {"idTag", "X"}});
    CHECK(error_code(missing) == "OccurenceConstraintViolation");
    CHECK(missing[3].get<std::string>().find("meterStart") != std::string::npos);
    auto wrong_type = v16->call("StartTransaction", {{"connectorId", "one"},
                                                     {"idTag", "X"},
                                                     {"meterStart", 0},
                                                     {"timestamp", "2026-11-24T10:00:00Z"}});
    CHECK(error_code(wrong_type) == "TypeConstraintViolation");
    CHECK(wrong_type[4]["path"] == "/connectorId");
    auto too_long = v16->call("Authorize", {{"idTag", std::string(21, 'x')}});
    CHECK(error_code(too_long) == "PropertyConstraintViolation");
    auto extra = v201->call("Heartbeat", {{"surprise", 1}});
    CHECK(error_code(extra) == "FormatViolation");
    CHECK(fx.query_value("SELECT count(*) FROM transactions") == "0");
  }
  SECTION("a meter value that is not a number") {
    auto e = v16->call(
        "MeterValues",
        {{"connectorId", 1},
         {"meterValue", json::array({{{"timestamp", "2026-11-24T10:00:00Z"},
                                      {"sampledValue", json::array({{{"value", "12,5"}}})}}})}});
    CHECK(error_code(e) == "PropertyConstraintViolation");
    CHECK(e[3].get<std::string>().find("/meterValue/0/sampledValue/0/value") != std::string::npos);
    CHECK(fx.query_value("SELECT count(*) FROM meter_values") == "0");
  }
  // After all of that, the connections still work.
  CHECK(is_result(v16->call("Heartbeat", json::object())));
  CHECK(is_result(v201->call("Heartbeat", json::object())));
}

TEST_CASE("An oversized frame closes the connection with 1009", "[integration][bad-input]") {
  auto config = chargegrid::testing::test_config();
  config.max_frame_bytes = 4096;
  ServerFixture fx(config);
  auto station = fx.connect("BIG", "ocpp1.6");
  station->send_text(
      json::array({2, "x", "DataTransfer", {{"vendorId", "v"}, {"data", std::string(8000, 'a')}}})
          .dump());
  CHECK_FALSE(station->receive(std::chrono::seconds(5)));
  CHECK(station->closed());
  CHECK(station->close_code() == std::optional<std::uint16_t>(1009));
}

TEST_CASE("Handshakes without a station id or subprotocol are refused",
          "[integration][bad-input]") {
  ServerFixture fx;
  chargegrid::sim::OcppTestClient client;
  SECTION("no supported subprotocol") {
    const auto refused = refusal(fx, client, "/ocpp/CP1", {"ocpp1.5"});
    REQUIRE(refused);
    CHECK(refused->status() == 400);
    CHECK(refused->body().find("ocpp1.6") != std::string::npos);
  }
  SECTION("no station id") {
    const auto refused = refusal(fx, client, "/ocpp/", {"ocpp1.6"});
    REQUIRE(refused);
    CHECK(refused->status() == 404);
  }
  SECTION("percent-encoded ids are decoded") {
    CHECK(client.connect("127.0.0.1", fx.server().ocpp_port(), "/ocpp/CP%2D07", {"ocpp2.0.1"}) ==
          "ocpp2.0.1");
    CHECK(ServerFixture::eventually([&] { return fx.server().station_connected("CP-07"); }));
  }
  SECTION("the client's order of subprotocols is honoured") {
    CHECK(client.connect("127.0.0.1", fx.server().ocpp_port(), "/ocpp/CP8",
                         {"ocpp9", "ocpp1.6", "ocpp2.0.1"}) == "ocpp1.6");
  }
}

TEST_CASE("A second connection with the same station id replaces the first",
          "[integration][bad-input]") {
  ServerFixture fx;
  auto first = fx.connect("TWIN", "ocpp1.6");
  REQUIRE(is_result(first->call("BootNotification", boot_16())));
  auto second = fx.connect("TWIN", "ocpp1.6");
  CHECK_FALSE(first->receive(std::chrono::seconds(5)));
  CHECK(first->closed());
  CHECK(is_result(second->call("Heartbeat", json::object())));
  CHECK(fx.server().station_connected("TWIN"));
}

TEST_CASE("A station that is not accepted may only boot", "[integration][bad-input]") {
  auto config = chargegrid::testing::test_config();
  config.unknown_stations = chargegrid::server::UnknownStationPolicy::Pending;
  ServerFixture fx(config);
  auto station = fx.connect("NEWCOMER", "ocpp1.6");
  auto status =
      station->call("StatusNotification",
                    {{"connectorId", 0}, {"errorCode", "NoError"}, {"status", "Available"}});
  CHECK(error_code(status) == "SecurityError");
  auto boot = station->call("BootNotification", boot_16());
  CHECK(boot[2]["status"] == "Pending");
  CHECK(error_code(station->call("StartTransaction", {{"connectorId", 1},
                                                      {"idTag", "X"},
                                                      {"meterStart", 0},
                                                      {"timestamp", "2026-11-24T10:00:00Z"}})) ==
        "SecurityError");
  CHECK(fx.query_value("SELECT registration FROM stations WHERE id = 'NEWCOMER'") == "pending");
  // An operator accepts it; its next boot is Accepted.
  {
    auto c = fx.sql();
    pqxx::work tx(c);
    tx.exec("UPDATE stations SET registration = 'accepted' WHERE id = 'NEWCOMER'");
    tx.commit();
  }
  CHECK(station->call("BootNotification", boot_16())[2]["status"] == "Accepted");
  CHECK(is_result(
      station->call("StatusNotification",
                    {{"connectorId", 0}, {"errorCode", "NoError"}, {"status", "Available"}})));
}
