// SignCertificate (1.6 security extension, 2.0.1): the CSR is checked (signature, CN = station
// id, key strength), signed by the configured CA (or the development CA), answered Accepted
// and followed by CertificateSigned with the chain, which then opens profile 3.

#include <catch2/catch.hpp>

#include "chargegrid/sim/test_client.hpp"
#include "security_fixture.hpp"
#include "tls_station.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

const std::string kPassword = "sign-station-password";

// A profile 2 station connected over wss with its password.
std::unique_ptr<TlsStation> connect_p2(ServerFixture& fixture, const std::string& ca_file,
                                       const std::string& subprotocol) {
  auto station = std::make_unique<TlsStation>();
  station->connect(fixture.server().ocpp_tls_port(), "SEC-SIGN", subprotocol,
                   TlsOptions{.ca_file = ca_file},
                   {{"Authorization", basic_auth("SEC-SIGN", kPassword)}});
  return station;
}

// `openssl verify` of a chain file against a CA for TLS client use.
bool verifies_for_client_auth(const std::string& ca, const std::string& chain) {
  return shell("openssl verify -purpose sslclient -CAfile " + ca + " " + chain + " > /dev/null") ==
         0;
}

// Sends SignCertificate with `request`, expects Accepted, and returns the CertificateSigned
// CALL that follows (answered Accepted).
json request_certificate(TlsStation& station, const json& request) {
  auto answer = station.call("SignCertificate", request);
  REQUIRE(is_result(answer));
  REQUIRE(answer.at(2).at("status") == "Accepted");
  auto signed_call = station.next_server_call({{"status", "Accepted"}}, std::chrono::seconds(10));
  REQUIRE(signed_call);
  REQUIRE(signed_call->at(2) == "CertificateSigned");
  return signed_call->at(3);
}

// A server with the test PKI and a booted profile 2 station "SEC-SIGN" on wss.
struct SigningSetup {
  explicit SigningSetup(const std::string& subprotocol) : fixture(tls_config(pki)) {
    add_station(fixture, "SEC-SIGN", 2, kPassword);
    station = connect_p2(fixture, pki.file("ca.pem"), subprotocol);
    REQUIRE(is_result(
        station->call("BootNotification", subprotocol == "ocpp1.6" ? boot_16() : boot_201())));
  }
  TestPki pki;
  ServerFixture fixture;
  std::unique_ptr<TlsStation> station;
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

}  // namespace

TEST_CASE("SignCertificate (2.0.1): signed, sent as CertificateSigned, good for profile 3",
          "[security][sign]") {
  SigningSetup setup("ocpp2.0.1");
  auto& [pki, fixture, station] = setup;

  const auto payload =
      request_certificate(*station, {{"csr", read_file(pki.file("sign-good.csr"))},
                                     {"certificateType", "ChargingStationCertificate"}});
  CHECK(payload.at("certificateType") == "ChargingStationCertificate");
  write_file(pki.file("issued.pem"), payload.at("certificateChain").get<std::string>());
  CHECK(verifies_for_client_auth(pki.file("ca.pem"), pki.file("issued.pem")));
  CHECK(shell("openssl x509 -in " + pki.file("issued.pem") +
              " -noout -subject | grep -q 'CN = SEC-SIGN'") == 0);

  // Recorded for audits, with the security event.
  CHECK(fixture.query_value("SELECT count(*) FROM station_certificates WHERE station_id = "
                            "'SEC-SIGN'") == "1");
  const auto events = wait_for_events(fixture, "SEC-SIGN", 1);
  REQUIRE(events.size() == 1);
  CHECK(contains(events[0], "ChargingStationCertificateIssued"));

  // The station moves up to profile 3 with its new certificate.
  {
    auto c = fixture.sql();
    pqxx::work tx(c);
    tx.exec("UPDATE stations SET security_profile = 3 WHERE id = 'SEC-SIGN'");
    tx.commit();
  }
  station.reset();
  TlsStation p3;
  p3.connect(fixture.server().ocpp_tls_port(), "SEC-SIGN", "ocpp2.0.1",
             TlsOptions{.ca_file = pki.file("ca.pem"),
                        .cert_file = pki.file("issued.pem"),
                        .key_file = pki.file("sign-good.key")});
  CHECK(is_result(p3.call("BootNotification", boot_201())));
}

TEST_CASE("SignCertificate (1.6 security extension) sends the chain without a type",
          "[security][sign]") {
  SigningSetup setup("ocpp1.6");
  auto& [pki, fixture, station] = setup;
  const auto payload =
      request_certificate(*station, {{"csr", read_file(pki.file("sign-good.csr"))}});
  CHECK_FALSE(payload.contains("certificateType"));
  CHECK(contains(payload.at("certificateChain").get<std::string>(), "-----BEGIN CERTIFICATE-----"));
}

TEST_CASE("CSRs that do not name the station, are weak or forged are rejected",
          "[security][sign]") {
  SigningSetup setup("ocpp2.0.1");
  auto& [pki, fixture, station] = setup;

  auto good = read_file(pki.file("sign-good.csr"));
  // Flip one character of the base64 body (inside the signature at the end).
  auto forged = good;
  const auto end = forged.find("-----END");
  forged[end - 10] = forged[end - 10] == 'A' ? 'B' : 'A';
  const std::vector<std::pair<std::string, std::string>> cases{
      {read_file(pki.file("sign-wrong-cn.csr")), "not the station id"},
      {read_file(pki.file("sign-weak.csr")), "1024 bits"},
      {forged, ""},
      {"not a CSR at all", "not a PEM certificate signing request"}};
  for (const auto& [csr, why] : cases) {
    auto answer = station->call("SignCertificate", {{"csr", csr}});
    REQUIRE(is_result(answer));
    CHECK(answer.at(2).at("status") == "Rejected");
    CHECK(answer.at(2).at("statusInfo").at("reasonCode") == "InvalidCSR");
    CHECK(contains(answer.at(2).at("statusInfo").at("additionalInfo").get<std::string>(), why));
  }
  CHECK(station->take_server_calls().empty());
  CHECK(fixture.query_value("SELECT count(*) FROM station_certificates") == "0");
  const auto events = wait_for_events(fixture, "SEC-SIGN", 4);
  REQUIRE(events.size() == 4);
  for (const auto& e : events) CHECK(contains(e, "CertificateSigningRequestRejected"));
}

TEST_CASE("certificates are only issued to stations authenticated over TLS", "[security][sign]") {
  TestPki pki;
  ServerFixture fixture(tls_config(pki));
  add_station(fixture, "SEC-SIGN", 1, kPassword);
  chargegrid::sim::OcppTestClient station;
  station.connect("127.0.0.1", fixture.server().ocpp_port(), "/ocpp/SEC-SIGN", {"ocpp2.0.1"},
                  {{"Authorization", basic_auth("SEC-SIGN", kPassword)}});
  REQUIRE(is_result(station.call("BootNotification", boot_201())));
  auto answer = station.call("SignCertificate", {{"csr", read_file(pki.file("sign-good.csr"))}});
  REQUIRE(is_result(answer));
  CHECK(answer.at(2).at("status") == "Rejected");
  CHECK(answer.at(2).at("statusInfo").at("reasonCode") == "NotAuthenticated");
}

TEST_CASE("with no TLS files or CA configured, a development PKI in data_dir serves both",
          "[security][sign][development]") {
  TestPki pki;  // only for the station's CSR
  TempDir data;
  auto config = test_config();
  config.tls = true;
  config.ocpp_tls_port = 0;
  config.data_dir = data.path().string();
  ServerFixture fixture(config);
  const auto ca = data.file("pki/ca.pem");
  REQUIRE(std::filesystem::exists(ca));
  using std::filesystem::perms;
  CHECK((std::filesystem::status(data.file("pki/ca.key")).permissions() & perms::group_read) ==
        perms::none);
  CHECK((std::filesystem::status(data.file("pki/server.key")).permissions() & perms::others_read) ==
        perms::none);

  add_station(fixture, "SEC-SIGN", 2, kPassword);
  auto station = connect_p2(fixture, ca, "ocpp2.0.1");  // verifies the server against ca.pem
  REQUIRE(is_result(station->call("BootNotification", boot_201())));
  const auto payload =
      request_certificate(*station, {{"csr", read_file(pki.file("sign-good.csr"))}});
  write_file(pki.file("issued.pem"), payload.at("certificateChain").get<std::string>());
  CHECK(verifies_for_client_auth(ca, pki.file("issued.pem")));
}
