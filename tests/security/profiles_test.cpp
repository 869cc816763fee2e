// Security profiles 0 to 3 over real sockets, real TLS and a real database: each profile's
// success and each way to fail, downgrades, unknown stations, the TLS versions and suites,
// the failed-attempt limit per source address, and credentials while the database is away.

#include <catch2/catch.hpp>

#include "chargegrid/db/embedded_postgres.hpp"
#include "chargegrid/db/migrations.hpp"
#include "chargegrid/sim/test_client.hpp"
#include "security_fixture.hpp"
#include "tls_station.hpp"

using namespace chargegrid::testing;
using chargegrid::sim::HandshakeRefused;
using chargegrid::sim::OcppTestClient;

namespace {

// Connects over ws; the HTTP status of a refusal, or 101.
int plain_status(ServerFixture& fixture, const std::string& id,
                 const OcppTestClient::Headers& headers, std::string* body = nullptr) {
  OcppTestClient client;
  try {
    client.connect("127.0.0.1", fixture.server().ocpp_port(), "/ocpp/" + id, {"ocpp1.6"}, headers);
    return 101;
  } catch (const HandshakeRefused& refused) {
    if (body) *body = refused.body();
    return refused.status();
  }
}

// Connects over wss; the HTTP status of a refusal, or 101.
int tls_status(ServerFixture& fixture, const std::string& id, const TlsOptions& options,
               const std::map<std::string, std::string>& headers = {}) {
  TlsStation station;
  try {
    station.connect(fixture.server().ocpp_tls_port(), id, "ocpp2.0.1", options, headers);
    return 101;
  } catch (const HandshakeRefused& refused) {
    return refused.status();
  }
}

}  // namespace

TEST_CASE("profile 0: only stations set to 0, and only while unsecured connections are allowed",
          "[security][profile0]") {
  TestPki pki;
  {
    ServerFixture fixture(tls_config(pki));
    add_station(fixture, "SEC-P0", 0);
    OcppTestClient station;
    station.connect("127.0.0.1", fixture.server().ocpp_port(), "/ocpp/SEC-P0", {"ocpp1.6"});
    CHECK(is_result(station.call("BootNotification", boot_16())));
    // An unknown station may connect too; --unknown-stations decides at its boot.
    CHECK(plain_status(fixture, "SEC-NEW", {}) == 101);
  }
  auto config = tls_config(pki);
  config.min_security_profile = 2;
  ServerFixture fixture(config);
  add_station(fixture, "SEC-P0", 0);
  CHECK(plain_status(fixture, "SEC-P0", {}) == 403);
  CHECK(plain_status(fixture, "SEC-NEW", {}) == 401);
  // Over wss a profile 0 station now needs a password, which it does not have.
  CHECK(tls_status(fixture, "SEC-P0", TlsOptions{.ca_file = pki.file("ca.pem")}) == 401);
  auto events = wait_for_events(fixture, "SEC-P0", 2);
  REQUIRE(events.size() == 2);
  CHECK(count_with(events,
                   "SecurityProfileBelowMinimum: the station requires security profile 2") == 1);
  CHECK(count_with(events, "AuthenticationFailed: no credentials") == 1);
  events = wait_for_events(fixture, "SEC-NEW", 1);
  REQUIRE(events.size() == 1);
  CHECK(contains(events[0], "UnknownStation"));
}

TEST_CASE("profile 1: HTTP Basic on ws with the station id as user name", "[security][profile1]") {
  TestPki pki;
  ServerFixture fixture(tls_config(pki));
  add_station(fixture, "SEC-P1", 1, "profile-one-password");

  OcppTestClient station;
  station.connect("127.0.0.1", fixture.server().ocpp_port(), "/ocpp/SEC-P1", {"ocpp1.6"},
                  {{"Authorization", basic_auth("SEC-P1", "profile-one-password")}});
  CHECK(is_result(station.call("BootNotification", boot_16())));
  station.close();

  std::string body;
  CHECK(plain_status(fixture, "SEC-P1",
                     {{"Authorization", basic_auth("SEC-P1", "wrong-password-000")}},
                     &body) == 401);
  CHECK(contains(body, "wrong password"));
  CHECK(plain_status(fixture, "SEC-P1",
                     {{"Authorization", basic_auth("SEC-OTHER", "profile-one-password")}},
                     &body) == 401);
  CHECK(contains(body, "user name"));
  CHECK(plain_status(fixture, "SEC-P1", {}, &body) == 401);
  CHECK(contains(body, "no credentials"));
  CHECK(plain_status(fixture, "SEC-P1", {{"Authorization", "Bearer abc"}}) == 401);
  CHECK(plain_status(fixture, "SEC-P1", {{"Authorization", "Basic !!notbase64"}}) == 401);

  const auto events = wait_for_events(fixture, "SEC-P1", 5);
  REQUIRE(events.size() == 5);
  CHECK(count_with(events, "AuthenticationFailed") == 5);
  CHECK(count_with(events, "wrong password") == 1);
  CHECK(count_with(events, "user name does not match") == 1);
  CHECK(count_with(events, "no credentials") == 1);
  CHECK(count_with(events, "not HTTP Basic credentials") == 2);
  // The source address is stored with each.
  CHECK(fixture.query_value("SELECT count(*) FROM security_events WHERE station_id = 'SEC-P1' "
                            "AND remote_address = '127.0.0.1'") == "5");
}

TEST_CASE("a refused password gets a Basic challenge and no upgrade", "[security][profile1]") {
  TestPki pki;
  ServerFixture fixture(tls_config(pki));
  add_station(fixture, "SEC-P1", 1, "profile-one-password");
  chargegrid::sim::RawSocket raw;
  raw.connect("127.0.0.1", fixture.server().ocpp_port());
  raw.send(
      "GET /ocpp/SEC-P1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n");
  const auto answer = raw.read_until_closed(std::chrono::seconds(5));
  CHECK(answer.starts_with("HTTP/1.1 401"));
  CHECK(contains(answer, "WWW-Authenticate: Basic realm=\"OCPP\""));
}

TEST_CASE("profile 2: HTTP Basic over wss, never on plain ws", "[security][profile2]") {
  TestPki pki;
  ServerFixture fixture(tls_config(pki));
  add_station(fixture, "SEC-P2", 2, "profile-two-password");
  TlsOptions options{.ca_file = pki.file("ca.pem")};

  TlsStation station;
  CHECK(station.connect(fixture.server().ocpp_tls_port(), "SEC-P2", "ocpp2.0.1", options,
                        {{"Authorization", basic_auth("SEC-P2", "profile-two-password")}}) ==
        "ocpp2.0.1");
  CHECK(is_result(station.call("BootNotification", boot_201())));
  CHECK(is_result(station.call("Heartbeat", nlohmann::json::object())));

  CHECK(tls_status(fixture, "SEC-P2", options,
                   {{"Authorization", basic_auth("SEC-P2", "not-the-password")}}) == 401);
  CHECK(tls_status(fixture, "SEC-P2", options) == 401);
  // The right password on plain ws is a downgrade: refused, and reported.
  CHECK(plain_status(fixture, "SEC-P2",
                     {{"Authorization", basic_auth("SEC-P2", "profile-two-password")}}) == 403);
  const auto events = wait_for_events(fixture, "SEC-P2", 3);
  REQUIRE(events.size() == 3);
  CHECK(count_with(events, "AuthenticationFailed: wrong password") == 1);
  CHECK(count_with(events, "AuthenticationFailed: no credentials") == 1);
  CHECK(count_with(events,
                   "SecurityProfileDowngrade: the station requires security profile 2 "
                   "(wss with a password); this connection is unencrypted ws with a "
                   "password") == 1);
}

TEST_CASE("profile 3: a client certificate that chains to the station CA and names the station",
          "[security][profile3]") {
  TestPki pki;
  ServerFixture fixture(tls_config(pki));
  add_station(fixture, "SEC-P3", 3, "profile-three-password");
  const TlsOptions base{.ca_file = pki.file("ca.pem")};
  auto with_cert = [&](const std::string& name) {
    auto options = base;
    options.cert_file = pki.file(name + ".pem");
    options.key_file = pki.file(name + ".key");
    return options;
  };

  TlsStation station;
  station.connect(fixture.server().ocpp_tls_port(), "SEC-P3", "ocpp2.0.1", with_cert("p3"));
  CHECK(is_result(station.call("BootNotification", boot_201())));

  CHECK(tls_status(fixture, "SEC-P3", with_cert("wrong-cn")) == 401);
  CHECK(tls_status(fixture, "SEC-P3", with_cert("untrusted")) == 401);
  CHECK(tls_status(fixture, "SEC-P3", with_cert("expired")) == 401);
  // A password is not enough for a profile 3 station, over wss or ws.
  CHECK(tls_status(fixture, "SEC-P3", base,
                   {{"Authorization", basic_auth("SEC-P3", "profile-three-password")}}) == 403);
  CHECK(plain_status(fixture, "SEC-P3",
                     {{"Authorization", basic_auth("SEC-P3", "profile-three-password")}}) == 403);

  const auto events = wait_for_events(fixture, "SEC-P3", 5);
  REQUIRE(events.size() == 5);
  CHECK(count_with(events, "InvalidChargingStationCertificate") == 3);
  CHECK(count_with(events, "client certificate names 'SEC-OTHER', not 'SEC-P3'") == 1);
  CHECK(count_with(events, "not trusted: unable to get local issuer certificate") == 1);
  CHECK(count_with(events, "not trusted: certificate has expired") == 1);
  CHECK(count_with(events, "SecurityProfileDowngrade") == 2);
  CHECK(count_with(events, "wss with no client certificate and a password") == 1);
  CHECK(count_with(events, "unencrypted ws with a password") == 1);
}

TEST_CASE("a stronger connection than the station's profile is accepted", "[security]") {
  TestPki pki;
  ServerFixture fixture(tls_config(pki));
  add_station(fixture, "SEC-P3", 1, "profile-one-password");
  TlsOptions options{.ca_file = pki.file("ca.pem"),
                     .cert_file = pki.file("p3.pem"),
                     .key_file = pki.file("p3.key")};
  CHECK(tls_status(fixture, "SEC-P3", options) == 101);
  options.cert_file.clear();
  options.key_file.clear();
  CHECK(tls_status(fixture, "SEC-P3", options,
                   {{"Authorization", basic_auth("SEC-P3", "profile-one-password")}}) == 101);
  CHECK(csms_events(fixture, "SEC-P3").empty());
}

TEST_CASE("the wss port speaks TLS 1.2 and 1.3 with the OCPP suites only", "[security][tls]") {
  TestPki pki;
  ServerFixture fixture(tls_config(pki));
  add_station(fixture, "SEC-P0", 0);
  const TlsOptions base{.ca_file = pki.file("ca.pem")};

  {
    TlsStation station;
    station.connect(fixture.server().ocpp_tls_port(), "SEC-P0", "ocpp2.0.1", base);
    CHECK(station.tls_version() == "TLSv1.3");
  }
  for (const std::string suite :
       {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"}) {
    auto options = base;
    options.max_version = TLS1_2_VERSION;
    options.ciphers = suite;
    TlsStation station;
    station.connect(fixture.server().ocpp_tls_port(), "SEC-P0", "ocpp2.0.1", options);
    CHECK(station.tls_version() == "TLSv1.2");
    CHECK(station.cipher() == suite);
  }
  {
    auto options = base;
    options.max_version = TLS1_2_VERSION;
    options.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA256";
    TlsStation station;
    CHECK_THROWS_AS(
        station.connect(fixture.server().ocpp_tls_port(), "SEC-P0", "ocpp2.0.1", options),
        TlsFailed);
  }
  {
    auto options = base;
    options.min_version = TLS1_1_VERSION;
    options.max_version = TLS1_1_VERSION;
    options.ciphers = "ALL:@SECLEVEL=0";
    TlsStation station;
    CHECK_THROWS_AS(
        station.connect(fixture.server().ocpp_tls_port(), "SEC-P0", "ocpp2.0.1", options),
        TlsFailed);
  }
  // Plain ws to the TLS port: no upgrade.
  OcppTestClient plain;
  CHECK_THROWS(plain.connect("127.0.0.1", fixture.server().ocpp_tls_port(), "/ocpp/SEC-P0",
                             {"ocpp1.6"}, {}, std::chrono::seconds(5)));
  // And the server goes on serving wss.
  CHECK(tls_status(fixture, "SEC-P0", base) == 101);
}

TEST_CASE("failed attempts are limited per source address", "[security][ratelimit]") {
  TestPki pki;
  auto config = tls_config(pki);
  config.auth_failures_per_minute = 3;
  ServerFixture fixture(config);
  add_station(fixture, "SEC-P1", 1, "profile-one-password");
  const auto wrong =
      OcppTestClient::Headers{{"Authorization", basic_auth("SEC-P1", "guess-guess-guess")}};
  const auto right =
      OcppTestClient::Headers{{"Authorization", basic_auth("SEC-P1", "profile-one-password")}};
  CHECK(plain_status(fixture, "SEC-P1", wrong) == 401);
  CHECK(plain_status(fixture, "SEC-P1", wrong) == 401);
  CHECK(plain_status(fixture, "SEC-P1", wrong) == 401);
  // Now even the right password waits: the address is blocked before anything is checked.
  CHECK(plain_status(fixture, "SEC-P1", right) == 429);
  CHECK(plain_status(fixture, "SEC-P1", wrong) == 429);
  const auto events = wait_for_events(fixture, "SEC-P1", 4);
  REQUIRE(events.size() == 4);
  CHECK(count_with(events, "AuthenticationFailed: wrong password") == 3);
  CHECK(count_with(events, "AuthenticationRateLimited") == 1);
  // Three a minute: one try comes back after about 20 seconds (not waited for here); the
  // Retry-After header says so.
  chargegrid::sim::RawSocket raw;
  raw.connect("127.0.0.1", fixture.server().ocpp_port());
  raw.send(
      "GET /ocpp/SEC-P1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  const auto answer = raw.read_until_closed(std::chrono::seconds(5));
  CHECK(answer.starts_with("HTTP/1.1 429"));
  CHECK(contains(answer, "Retry-After: "));
}

TEST_CASE("while the database is away, stations seen before are checked from memory",
          "[security][outage]") {
  TestPki pki;
  chargegrid::db::EmbeddedPostgresOptions options;
  options.data_dir = pki.path() / "pg";
  options.durable = false;
  chargegrid::db::EmbeddedPostgres postgres(options);
  postgres.start();
  {
    pqxx::connection c(postgres.connection_url());
    chargegrid::db::migrate(c, chargegrid::db::builtin_migrations());
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO stations (id, security_profile, password_hash) VALUES ('SEC-P1', 1, $1), "
        "('SEC-LATER', 1, $1)",
        chargegrid::server::security::hash_station_password("profile-one-password"));
    tx.commit();
  }
  chargegrid::server::Server server(tls_config(pki), postgres.connection_url());
  server.start();
  const OcppTestClient::Headers right{
      {"Authorization", basic_auth("SEC-P1", "profile-one-password")}};
  const OcppTestClient::Headers wrong{{"Authorization", basic_auth("SEC-P1", "not-the-password")}};
  auto status = [&](const std::string& id, const OcppTestClient::Headers& headers) {
    OcppTestClient client;
    try {
      client.connect("127.0.0.1", server.ocpp_port(), "/ocpp/" + id, {"ocpp1.6"}, headers);
      return 101;
    } catch (const HandshakeRefused& refused) {
      return refused.status();
    }
  };
  CHECK(status("SEC-P1", right) == 101);

  postgres.stop();
  // Seen before: the same answers as with the database.
  CHECK(status("SEC-P1", right) == 101);
  CHECK(status("SEC-P1", wrong) == 401);
  CHECK(status("SEC-P1", {}) == 401);
  // Never seen by this server: nothing to check against, so not now.
  CHECK(status("SEC-LATER", {{"Authorization", basic_auth("SEC-LATER", "profile-one-password")}}) ==
        503);
  server.stop();
}
