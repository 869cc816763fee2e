// Get15118EVCertificate: the EV's EXI request goes to the configured provisioning service
// (an HTTP endpoint taking and returning base64 EXI) with its credentials, and its answer
// back to the station; a service that fails, answers nonsense or is too slow, or none at
// all, gives the station a clean Failed. scripts/test-cps, the test CPS, answers with contracts
// from the test PKI that then authorize.

#include <catch2/catch.hpp>

#include "pnc_fixture.hpp"
#include "station_messages.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

const std::string kExiRequest =
    chargegrid::base::base64_encode(std::string("\x80\x04\x01\x02 EXI req", 11));
const std::string kExiResponse =
    chargegrid::base::base64_encode(std::string("\x80\x08\x03\x04 EXI res", 11));

json ev_request(const std::string& action = "Install") {
  return {{"iso15118SchemaVersion", "urn:iso:15118:2:2013:MsgDef"},
          {"action", action},
          {"exiRequest", kExiRequest}};
}

}  // namespace

TEST_CASE("Plug & Charge Get15118EVCertificate through the provisioning service",
          "[plug_and_charge][cps]") {
  std::atomic<int> mode{0};  // 0 answers, 1 HTTP 500, 2 not JSON, 3 silent
  TinyHttpServer cps([&](const std::string&, const std::string& body) {
    switch (mode.load()) {
      case 1:
        return TinyHttpServer::Reply{500, "text/plain", "down"};
      case 2:
        return TinyHttpServer::Reply{200, "text/html", "<html>"};
      case 3:
        return TinyHttpServer::Reply{-1, "", ""};
      default:
        break;
    }
    const auto request = json::parse(body);
    if (request.value("exiRequest", "") != kExiRequest)
      return TinyHttpServer::Reply{400, "text/plain", "unexpected request"};
    return TinyHttpServer::Reply{
        200, "application/json",
        json{{"exiResponse", kExiResponse}, {"remainingContracts", 1}}.dump()};
  });
  auto config = test_config();
  config.cps_url = cps.url("/v1/ev-certificates");
  config.cps_credentials = "Bearer cps-test-token";
  config.cps_timeout_ms = 500;
  ServerFixture fx(config);
  auto station = fx.connect("PNC-CPS", "ocpp2.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201())));

  auto answer = station->call("Get15118EVCertificate", ev_request());
  REQUIRE(is_result(answer));
  CHECK(answer[2]["status"] == "Accepted");
  CHECK(answer[2]["exiResponse"] == kExiResponse);
  CHECK(answer[2]["remainingContracts"] == 1);
  CHECK(contains(cps.last_head(), "POST /v1/ev-certificates"));
  CHECK(contains(cps.last_head(), "Bearer cps-test-token"));
  CHECK(json::parse(cps.last_body())["action"] == "Install");

  // The 1.6 application note's form.
  auto station16 = booted_16(fx, "PNC-CPS-16");
  auto transfer =
      station16->call("DataTransfer", {{"vendorId", "org.openchargealliance.iso15118pnc"},
                                       {"messageId", "Get15118EVCertificate"},
                                       {"data", ev_request("Update").dump()}});
  REQUIRE(is_result(transfer));
  const auto data = json::parse(transfer[2]["data"].get<std::string>());
  CHECK(data["status"] == "Accepted");
  CHECK(data["exiResponse"] == kExiResponse);
  CHECK(json::parse(cps.last_body())["action"] == "Update");

  for (int failing : {1, 2, 3}) {
    mode = failing;
    auto failed = station->call("Get15118EVCertificate", ev_request());
    REQUIRE(is_result(failed));
    CHECK(failed[2]["status"] == "Failed");
    CHECK(failed[2]["exiResponse"] == "");
  }

  // No provisioning service configured.
  ServerFixture bare;
  auto lonely = bare.connect("PNC-NOCPS", "ocpp2.0.1");
  REQUIRE(is_result(lonely->call("BootNotification", boot_201())));
  auto none = lonely->call("Get15118EVCertificate", ev_request());
  REQUIRE(is_result(none));
  CHECK(none[2]["status"] == "Failed");
}

TEST_CASE("Plug & Charge Get15118EVCertificate from the built-in test CPS (scripts/test-cps)",
          "[plug_and_charge][cps]") {
  PncPki pki(unused_port());
  OcspResponder responder(pki);
  TestCps cps(pki, "Bearer test-cps");
  auto config = pnc_config(pki);
  config.cps_url = cps.url();
  config.cps_credentials = "Bearer test-cps";
  config.cps_timeout_ms = 5000;  // it runs openssl for each contract
  ServerFixture fx(config);
  auto station = fx.connect("PNC-TESTCPS", "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201())));

  // The answer carries a contract the test PKI issued: its chain verifies to the MO root.
  const auto contract_of = [&](const json& answer, const std::string& name) {
    REQUIRE(answer["status"] == "Accepted");
    const auto pem =
        chargegrid::base::base64_decode_to_string(answer["exiResponse"].get<std::string>());
    REQUIRE(pem);
    write_file(pki.file(name + ".pem"), *pem);
    REQUIRE(shell("openssl verify -CAfile " + pki.file("mo-root.pem") + " -untrusted " +
                  pki.file("mo-chain.pem") + " " + pki.file(name + ".pem") + " > /dev/null") == 0);
    REQUIRE(contains(*pem, "PRIVATE KEY"));
    std::smatch m;
    const auto subject = [&] {
      REQUIRE(shell("openssl x509 -in " + pki.file(name + ".pem") + " -noout -subject > " +
                    pki.file(name + ".subject")) == 0);
      return read_file(pki.file(name + ".subject"));
    }();
    REQUIRE(std::regex_search(subject, m, std::regex("CN ?= ?(DEPNC[0-9]{10})")));
    return std::make_pair(m[1].str(), *pem);
  };
  auto installed = station->call("Get15118EVCertificate", ev_request("Install"));
  REQUIRE(is_result(installed));
  const auto [first_emaid, first_pem] = contract_of(installed[2], "cps-install");

  // The new contract authorizes at once: the responder knows it, the eMAID is a driver's.
  add_driver_with_token(fx, first_emaid);
  auto authorized = station->call(
      "Authorize", {{"idToken", {{"idToken", first_emaid}, {"type", "eMAID"}}},
                    {"certificate", first_pem.substr(0, first_pem.find("-----BEGIN PRIVATE"))}});
  REQUIRE(is_result(authorized));
  CHECK(authorized[2]["certificateStatus"] == "Accepted");
  CHECK(authorized[2]["idTokenInfo"]["status"] == "Accepted");

  // 1.6 through the application note; an update is another contract.
  auto station16 = booted_16(fx, "PNC-TESTCPS-16");
  auto transfer =
      station16->call("DataTransfer", {{"vendorId", "org.openchargealliance.iso15118pnc"},
                                       {"messageId", "Get15118EVCertificate"},
                                       {"data", ev_request("Update").dump()}});
  REQUIRE(is_result(transfer));
  const auto updated =
      contract_of(json::parse(transfer[2]["data"].get<std::string>()), "cps-update");
  CHECK(updated.first != first_emaid);

  // Wrong credentials: the service answers 401, the station Failed.
  auto wrong = pnc_config(pki);
  wrong.cps_url = cps.url();
  wrong.cps_credentials = "Bearer someone-else";
  ServerFixture refused(wrong);
  auto other = refused.connect("PNC-TESTCPS-X", "ocpp2.1");
  REQUIRE(is_result(other->call("BootNotification", boot_201())));
  auto failed = other->call("Get15118EVCertificate", ev_request());
  REQUIRE(is_result(failed));
  CHECK(failed[2]["status"] == "Failed");
}
