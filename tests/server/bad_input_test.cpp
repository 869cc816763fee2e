// Hostile and broken stations: every bad input gets the error its OCPP version
// names, nothing is stored from it, and the connection goes on where it can.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
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

// A station's WebSocket without the test client's framing: one message may be written as
// several frames.
struct RawStation {
  boost::asio::io_context io;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws{io};

  RawStation(ServerFixture& fx, const std::string& station_id) {
    namespace websocket = boost::beast::websocket;
    boost::asio::ip::tcp::endpoint server(boost::asio::ip::make_address("127.0.0.1"),
                                          fx.server().ocpp_port());
    boost::beast::get_lowest_layer(ws).connect(server);
    ws.set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
      request.set(boost::beast::http::field::sec_websocket_protocol, "ocpp1.6");
    }));
    ws.handshake("127.0.0.1", "/ocpp/" + station_id);
    ws.text(true);
  }
  // Writes `message` in frames of at most `piece` bytes.
  void send_in_pieces(const std::string& message, std::size_t piece) {
    for (std::size_t at = 0; at < message.size(); at += piece) {
      const auto n = std::min(piece, message.size() - at);
      ws.write_some(at + n == message.size(), boost::asio::buffer(message.data() + at, n));
    }
  }
  json receive() {
    boost::beast::flat_buffer buffer;
    ws.read(buffer);
    return json::parse(boost::beast::buffers_to_string(buffer.data()));
  }
};

}  // namespace

TEST_CASE("A message written as several frames is one message", "[integration][bad-input]") {
  auto config = chargegrid::testing::test_config();
  config.max_frame_bytes = 4096;
  ServerFixture fx(config);
  RawStation station(fx, "PIECES");
  station.send_in_pieces(json::array({2, "b1", "BootNotification", boot_16()}).dump(), 7);
  auto answer = station.receive();
  CHECK(answer[0] == 3);
  CHECK(answer[1] == "b1");
  CHECK(answer[2]["status"] == "Accepted");

  // Larger than an idle connection's read buffer, in one frame, then a small one.
  const std::string data_transfer =
      json::array({2, "d1", "DataTransfer", {{"vendorId", "v"}, {"data", std::string(3000, 'a')}}})
          .dump();
  station.send_in_pieces(data_transfer, data_transfer.size());
  auto transferred = station.receive();
  CHECK(transferred[1] == "d1");
  station.send_in_pieces(R"([2,"h1","Heartbeat",{}])", 5);
  auto heartbeat = station.receive();
  CHECK(heartbeat[0] == 3);
  CHECK(heartbeat[1] == "h1");

  // Pieces that are each small but together over the limit close the connection with 1009.
  const std::string big =
      json::array({2, "x", "DataTransfer", {{"vendorId", "v"}, {"data", std::string(8000, 'a')}}})
          .dump();
  boost::system::error_code ec;
  for (std::size_t at = 0; at < big.size() && !ec; at += 1000)
    station.ws.write_some(
        at + 1000 >= big.size(),
        boost::asio::buffer(big.data() + at, std::min<std::size_t>(1000, big.size() - at)), ec);
  boost::beast::flat_buffer buffer;
  station.ws.read(buffer, ec);
  CHECK(ec);  // the connection ended (closed, or torn down right after the close frame)
  CHECK(station.ws.reason().code == 1009);
}

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
