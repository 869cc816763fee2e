// The HTTP side: health once the database is ready, Prometheus metrics.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include "server_fixture.hpp"

using chargegrid::testing::is_result;
using chargegrid::testing::ServerFixture;
namespace http = boost::beast::http;

namespace {

http::response<http::string_body> get(std::uint16_t port, const std::string& target,
                                      http::verb verb = http::verb::get) {
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, "localhost");
  http::write(stream, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return response;
}

}  // namespace

TEST_CASE("GET /healthz answers 200 with JSON once the database is ready", "[integration][http]") {
  ServerFixture fx;
  REQUIRE(ServerFixture::eventually(
      [&] { return get(fx.server().http_port(), "/healthz").result() == http::status::ok; }));
  auto response = get(fx.server().http_port(), "/healthz");
  auto body = nlohmann::json::parse(response.body());
  CHECK(body["status"] == "ok");
  CHECK(body["database"] == "ready");
  CHECK(get(fx.server().http_port(), "/healthz", http::verb::post).result() ==
        http::status::method_not_allowed);
  auto missing = get(fx.server().http_port(), "/nothing-here");
  CHECK(missing.result() == http::status::not_found);
  CHECK(missing[http::field::content_type] == "application/problem+json");
}

TEST_CASE("GET /metrics exposes stations, messages, latency and the database pool",
          "[integration][http]") {
  ServerFixture fx;
  auto station = fx.connect("METRIC-1", "ocpp2.0.1");
  REQUIRE(is_result(station->call(
      "BootNotification",
      {{"reason", "PowerUp"}, {"chargingStation", {{"model", "M"}, {"vendorName", "V"}}}})));
  station->call("Teleport", nlohmann::json::object());
  auto text = get(fx.server().http_port(), "/metrics").body();
  CHECK(text.find("chargegrid_stations_connected{protocol=\"ocpp2.0.1\"} 1") != std::string::npos);
  CHECK(
      text.find(
          R"(chargegrid_ocpp_messages_total{direction="in",action="BootNotification",outcome="ok"} 1)") !=
      std::string::npos);
  CHECK(text.find(R"(action="Teleport",outcome="NotImplemented")") != std::string::npos);
  CHECK(text.find("chargegrid_ocpp_handling_seconds_count") != std::string::npos);
  CHECK(text.find("chargegrid_db_pool_connections{state=\"connected\"}") != std::string::npos);
  CHECK(text.find("chargegrid_db_write_batch_rows_bucket") != std::string::npos);
}

TEST_CASE("a target with bytes that are not UTF-8 gets a problem+json answer",
          "[integration][http]") {
  ServerFixture fx;
  for (const std::string target :
       {"/nothing-\xff\xfe", "/api/v1/stations/CP-1/command\xff\xff(s/get-configuration"}) {
    INFO("target " << target);
    auto response = get(fx.server().http_port(), target);
    CHECK((response.result() == http::status::not_found ||
           response.result() == http::status::unauthorized));
    CHECK(response[http::field::content_type] == "application/problem+json");
    const auto body = nlohmann::json::parse(response.body());  // valid UTF-8 JSON
    CHECK(body["instance"].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);
  }
}
