// The limits, each exceeded once: messages per second per station, open connections in total
// and per source address, the handshake deadline (slow loris, on ws and wss) and the idle
// timeout.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include "chargegrid/sim/test_client.hpp"
#include "chargegrid/testing/http_client.hpp"
#include "security_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::sim::OcppTestClient;
using chargegrid::sim::RawSocket;
using Clock = std::chrono::steady_clock;

namespace {

// True when the server closes `socket` within `limit` without sending anything.
bool closed_within(RawSocket& socket, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    auto data = socket.read_some(std::chrono::milliseconds(100));
    if (!data) return true;
    if (!data->empty()) return false;
  }
  return false;
}

}  // namespace

TEST_CASE("a station over its message rate gets CALLERROR, then is closed", "[security][limits]") {
  auto config = test_config();
  config.messages_per_second = 1;
  config.message_burst = 5;
  ServerFixture fixture(config);
  auto station = fixture.connect("SEC-RATE", "ocpp1.6");

  // The burst passes (the boot and four heartbeats), the next one is refused...
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  for (int i = 0; i < 4; ++i)
    REQUIRE(is_result(station->call("Heartbeat", nlohmann::json::object())));
  auto refused = station->call("Heartbeat", nlohmann::json::object());
  CHECK(error_code(refused) == "GenericError");
  CHECK(contains(refused.at(3).get<std::string>(), "rate limit"));
  CHECK(refused.at(4).at("retryAfterMs").get<int>() > 0);
  // ...and after a pause, within the rate, calls are answered again.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(is_result(station->call("Heartbeat", nlohmann::json::object())));

  // Sustained excess: another burst's worth of refusals closes the connection (1008).
  int errors = 0;
  for (int i = 0; i < 50 && !station->closed(); ++i) {
    try {
      auto answer = station->call("Heartbeat", nlohmann::json::object(), std::chrono::seconds(2));
      if (error_code(answer) == "GenericError") ++errors;
    } catch (const std::exception&) {
      break;
    }
  }
  CHECK(errors >= 4);
  CHECK(errors <= 8);
  REQUIRE(ServerFixture::eventually([&] {
    station->receive(std::chrono::milliseconds(50));
    return station->closed();
  }));
  CHECK(station->close_code() == 1008);
  CHECK(station->close_reason() == "message rate limit exceeded");
}

TEST_CASE("open connections are limited in total", "[security][limits]") {
  auto config = test_config();
  config.max_connections = 3;
  ServerFixture fixture(config);
  std::vector<std::unique_ptr<RawSocket>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<RawSocket>());
    open.back()->connect("127.0.0.1", fixture.server().ocpp_port());
  }
  RawSocket over;
  over.connect("127.0.0.1", fixture.server().ocpp_port());
  CHECK(closed_within(over, std::chrono::seconds(3)));
  for (auto& socket : open) CHECK_FALSE(closed_within(*socket, std::chrono::milliseconds(200)));

  // A place that frees up is taken again.
  open.front()->close();
  open.erase(open.begin());
  REQUIRE(ServerFixture::eventually([&] {
    RawSocket again;
    again.connect("127.0.0.1", fixture.server().ocpp_port());
    return !closed_within(again, std::chrono::milliseconds(300));
  }));
  // Refused connections are counted.
  RawSocket http;
  http.connect("127.0.0.1", fixture.server().http_port());
  http.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(contains(http.read_until_closed(std::chrono::seconds(5)), "over_connection_limit"));
}

TEST_CASE("open connections are limited per source address", "[security][limits]") {
  auto config = test_config();
  config.max_connections_per_address = 2;
  ServerFixture fixture(config);
  const auto port = fixture.server().ocpp_port();
  RawSocket a, b, c;
  a.connect("127.0.0.1", port);
  b.connect("127.0.0.1", port);
  c.connect("127.0.0.1", port);
  CHECK(closed_within(c, std::chrono::seconds(3)));
  CHECK_FALSE(closed_within(a, std::chrono::milliseconds(200)));

  // Another source address has places of its own.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket other(io);
  other.open(boost::asio::ip::tcp::v4());
  other.bind({boost::asio::ip::make_address("127.0.0.2"), 0});
  other.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  other.non_blocking(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  char byte;
  boost::system::error_code ec;
  other.read_some(boost::asio::buffer(&byte, 1), ec);
  CHECK(ec == boost::asio::error::would_block);  // still open, nothing sent
}

TEST_CASE("a half-sent upgrade request is dropped at the handshake deadline",
          "[security][limits]") {
  TestPki pki;
  auto config = tls_config(pki);
  config.handshake_timeout_s = 1;
  ServerFixture fixture(config);

  RawSocket slow;
  slow.connect("127.0.0.1", fixture.server().ocpp_port());
  const auto started = Clock::now();
  slow.send("GET /ocpp/SEC-SLOW HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n");
  // Trickling more header lines does not extend the deadline.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    try {
      slow.send("X-Slow: " + std::to_string(i) + "\r\n");
    } catch (const std::exception&) {
      break;
    }
  }
  CHECK(closed_within(slow, std::chrono::seconds(3)));
  const auto took = Clock::now() - started;
  CHECK(took >= std::chrono::milliseconds(900));
  CHECK(took < std::chrono::milliseconds(2500));

  // On the TLS port a client that never finishes the TLS handshake goes the same way.
  RawSocket silent;
  silent.connect("127.0.0.1", fixture.server().ocpp_tls_port());
  CHECK(closed_within(silent, std::chrono::seconds(3)));
}

TEST_CASE("a station that sends nothing for the idle timeout is closed", "[security][limits]") {
  auto config = test_config();
  config.idle_timeout_s = 1;
  ServerFixture fixture(config);
  auto quiet = fixture.connect("SEC-QUIET", "ocpp1.6");
  auto busy = fixture.connect("SEC-BUSY", "ocpp1.6");
  REQUIRE(is_result(busy->call("BootNotification", boot_16())));
  const auto started = Clock::now();
  // The busy station keeps talking for 2.5 s; the quiet one does not.
  while (Clock::now() - started < std::chrono::milliseconds(2500)) {
    REQUIRE(is_result(busy->call("Heartbeat", nlohmann::json::object())));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  quiet->receive(std::chrono::milliseconds(500));
  CHECK(quiet->closed());
  CHECK(quiet->close_code() == 1008);
  CHECK(quiet->close_reason() == "idle timeout");
  CHECK_FALSE(busy->closed());
}

TEST_CASE("a silent station is pinged and kept while it answers, one that does not is closed",
          "[security][limits]") {
  auto config = test_config();
  config.keepalive_s = 1;
  config.idle_timeout_s = 0;  // only the keep-alive decides here
  ServerFixture fixture(config);
  auto answering = fixture.connect("SEC-PONG", "ocpp1.6");
  auto gone = fixture.connect("SEC-GONE", "ocpp1.6");
  REQUIRE(is_result(answering->call("BootNotification", boot_16())));
  REQUIRE(is_result(gone->call("BootNotification", boot_16())));

  // Neither sends a message for 3.5 s. The answering station's client keeps reading, so it
  // answers each ping with a pong; the other reads nothing and so answers nothing.
  const auto started = Clock::now();
  while (Clock::now() - started < std::chrono::milliseconds(3500))
    CHECK_FALSE(answering->receive(std::chrono::milliseconds(100)));
  CHECK(answering->pings_received() >= 2);
  CHECK_FALSE(answering->closed());
  REQUIRE(is_result(answering->call("Heartbeat", nlohmann::json::object())));

  // The unanswered ping closed the socket after twice the keep-alive, without a close frame
  // (the peer is taken to be gone).
  CHECK_FALSE(gone->receive(std::chrono::seconds(1)));
  CHECK(gone->closed());
  CHECK_FALSE(gone->close_code());
  CHECK(gone->pings_received() <= 1);
  CHECK(chargegrid::testing::metric_value(
            fixture.server().http_port(),
            "chargegrid_station_connections_total{event=\"keepalive_closed\"}") == 1);
}
