// The simulator's ISO 15118 vehicle against a CSMS stub, on 1.6 (the Plug & Charge
// DataTransfer), 2.0.1 and 2.1: the SECC's V2G CSR and the chain it installs, Authorize with the
// contract certificate (hash data or chain) and a session with the eMAID only when accepted,
// Get15118EVCertificate, and the trust anchors a station keeps. Certificates from scripts/pki.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chargegrid/base/certificate_hash.hpp"
#include "chargegrid/base/encoding.hpp"
#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/sim_fleet.hpp"
#include "csms_stub.hpp"
#include "sim_pki.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::CsmsStub;
using chargegrid::testing::sim_pki;
using Running = chargegrid::testing::RunningFleet;
using nlohmann::json;
namespace sim = chargegrid::sim;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPnc = "org.openchargealliance.iso15118pnc";

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Signs `csr` (PEM) with the PKI's CPO sub-CA 2: the SECC certificate chain a CSMS would send.
std::string sign_secc_csr(const std::string& csr) {
  const auto dir = sim_pki();
  const auto in = dir / "sim-secc.csr", out = dir / "sim-secc.pem";
  std::ofstream(in) << csr;
  const auto command = "openssl x509 -req -in " + in.string() + " -CA " +
                       (dir / "cpo-sub2.pem").string() + " -CAkey " +
                       (dir / "cpo-sub2.key").string() + " -CAcreateserial -days 30 -sha256 -out " +
                       out.string() + " 2>/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  return read(out) + read(dir / "cpo-chain.pem");
}

// A station whose own session is an ISO 15118 vehicle with the PKI's good contract.
sim::FleetOptions vehicle_station(const CsmsStub& csms, sim::OcppVersion version,
                                  const std::string& prefix) {
  auto options = chargegrid::testing::quick_fleet(csms.url(), version, prefix);
  auto& s = options.station;
  s.connectors = 1;
  s.session_length_s = 120;
  s.iso15118.enabled = true;
  s.iso15118.contract_certificate_file = (sim_pki() / "contract-good-chain.pem").string();
  return options;
}

// A CALL the station sent in its version: the 2.x action, or on 1.6 the Plug & Charge
// DataTransfer with that messageId; its 2.x-form request.
std::optional<json> wait_for_pnc(CsmsStub& csms, sim::OcppVersion version,
                                 const std::string& station, const std::string& action) {
  if (version != sim::OcppVersion::v16) {
    auto r = csms.wait_for(action, [&](const json&) { return true; });
    if (!r || r->station != station) return std::nullopt;
    return r->payload;
  }
  auto r = csms.wait_for("DataTransfer", [&](const json& p) {
    return p.value("vendorId", "") == kPnc && p.value("messageId", "") == action;
  });
  if (!r) return std::nullopt;
  return json::parse(r->payload.value("data", "{}"));
}

// The CSMS's CALL in the station's version; the 2.x-form answer.
json call_pnc(CsmsStub& csms, sim::OcppVersion version, const std::string& station,
              const std::string& action, const json& request) {
  if (version != sim::OcppVersion::v16) {
    auto answer = csms.call(station, action, request);
    REQUIRE(answer.is_array());
    REQUIRE(answer[0] == 3);
    return answer[2];
  }
  auto answer = csms.call(station, "DataTransfer",
                          {{"vendorId", kPnc}, {"messageId", action}, {"data", request.dump()}});
  REQUIRE(answer.is_array());
  REQUIRE(answer[0] == 3);
  REQUIRE(answer[2]["status"] == "Accepted");
  return json::parse(answer[2]["data"].get<std::string>());
}

const char* name(sim::OcppVersion v) {
  return v == sim::OcppVersion::v16 ? "1.6" : v == sim::OcppVersion::v201 ? "2.0.1" : "2.1";
}

}  // namespace

TEST_CASE(
    "an ISO 15118 vehicle gets its SECC certificate, authorizes by contract and charges "
    "with its eMAID",
    "[sim][iso15118]") {
  for (const auto version :
       {sim::OcppVersion::v16, sim::OcppVersion::v201, sim::OcppVersion::v21}) {
    DYNAMIC_SECTION(name(version)) {
      CsmsStub csms;
      auto options = vehicle_station(csms, version, std::string("PNC") + name(version) + "-");
      const auto id = sim::station_id(options, 1);
      Running station(options);

      // The V2G CSR: the station's SECC certificate, for its id.
      const auto sign = wait_for_pnc(csms, version, id, "SignCertificate");
      REQUIRE(sign);
      CHECK((*sign)["certificateType"] == "V2GCertificate");
      const auto csr = (*sign)["csr"].get<std::string>();
      CHECK(csr.find("-----BEGIN CERTIFICATE REQUEST-----") == 0);

      // Authorize with the eMAID and the contract certificate's hash data (OCSP request data).
      const auto authorize = wait_for_pnc(csms, version, id, "Authorize");
      REQUIRE(authorize);
      CHECK((*authorize)["idToken"] == json{{"idToken", "DEPNC0000000001"}, {"type", "eMAID"}});
      const auto& hashes = (*authorize)["iso15118CertificateHashData"];
      // The contract certificate (its sub-CAs name no OCSP responder).
      REQUIRE(hashes.size() == 1);
      const auto expected = chargegrid::base::certificate_hash_data(
          read(sim_pki() / "contract-good.pem"), read(sim_pki() / "mo-sub2.pem"));
      CHECK(hashes[0]["issuerNameHash"] == expected.issuer_name_hash);
      CHECK(hashes[0]["issuerKeyHash"] == expected.issuer_key_hash);
      CHECK(hashes[0]["serialNumber"] == expected.serial_number);
      CHECK(hashes[0]["responderURL"] == "http://127.0.0.1:8888");
      CHECK_FALSE(authorize->contains("certificate"));

      // Accepted: the session starts with the eMAID.
      if (version == sim::OcppVersion::v16) {
        auto start = csms.wait_for("StartTransaction");
        REQUIRE(start);
        CHECK(start->payload["idTag"] == "DEPNC0000000001");
      } else {
        auto start = csms.wait_for("TransactionEvent", [](const json& p) {
          return p.value("eventType", "") == "Started";
        });
        REQUIRE(start);
        CHECK(start->payload["idToken"] == json{{"idToken", "DEPNC0000000001"}, {"type", "eMAID"}});
      }

      // The CSMS signs the CSR: the station installs the chain; one for another key it refuses.
      const auto chain = sign_secc_csr(csr);
      CHECK(call_pnc(csms, version, id, "CertificateSigned",
                     {{"certificateChain", read(sim_pki() / "secc-PNC-STATION-1.pem")},
                      {"certificateType", "V2GCertificate"}})["status"] == "Rejected");
      CHECK(call_pnc(csms, version, id, "CertificateSigned",
                     {{"certificateChain", chain},
                      {"certificateType", "V2GCertificate"}})["status"] == "Accepted");
      const auto stats = station.stop();
      CHECK(stats.pnc_authorized == 1);
      CHECK(stats.secc_certificates_installed == 1);
    }
  }
}

TEST_CASE("a refused contract starts no session, a chain instead of hash data when asked",
          "[sim][iso15118]") {
  CsmsStub csms;
  SECTION("refused") {
    csms.refuse("DEPNC0000000001");
    auto options = vehicle_station(csms, sim::OcppVersion::v201, "PNCREF");
    Running station(options);
    REQUIRE(csms.wait_for("Authorize"));
    CHECK_FALSE(csms.wait_for("TransactionEvent", {}, 1500ms));
    const auto stats = station.stop();
    CHECK(stats.pnc_refused >= 1);
    CHECK(stats.pnc_authorized == 0);
    CHECK(stats.sessions_started == 0);
  }
  SECTION("the certificate chain, on 1.6 and 2.1") {
    for (const auto version : {sim::OcppVersion::v16, sim::OcppVersion::v21}) {
      auto options = vehicle_station(csms, version, std::string("PNCCH") + name(version) + "-");
      options.station.iso15118.authorize_with_certificate = true;
      options.station.iso15118.sign_v2g_certificate = false;
      Running station(options);
      const auto authorize = wait_for_pnc(csms, version, sim::station_id(options, 1), "Authorize");
      REQUIRE(authorize);
      CHECK((*authorize)["certificate"] == read(sim_pki() / "contract-good-chain.pem"));
      CHECK_FALSE(authorize->contains("iso15118CertificateHashData"));
    }
    CHECK(csms.received("SignCertificate").empty());
  }
}

TEST_CASE("the vehicle asks for a contract certificate with Get15118EVCertificate",
          "[sim][iso15118]") {
  CsmsStub csms;
  const auto request = sim_pki() / "exi-request.bin";
  std::ofstream(request, std::ios::binary) << std::string("\x80\x98\x02\x10\x50", 5);
  for (const auto version : {sim::OcppVersion::v16, sim::OcppVersion::v201}) {
    auto options = vehicle_station(csms, version, std::string("PNCEV") + name(version) + "-");
    options.station.sessions = 0;
    options.station.iso15118.ev_certificate_request_file = request.string();
    Running station(options);
    const auto asked =
        wait_for_pnc(csms, version, sim::station_id(options, 1), "Get15118EVCertificate");
    REQUIRE(asked);
    CHECK((*asked)["action"] == "Install");
    CHECK((*asked)["iso15118SchemaVersion"] == "urn:iso:15118:2:2013:MsgDef");
    CHECK((*asked)["exiRequest"] == chargegrid::base::base64_encode(chargegrid::base::as_bytes(
                                        std::string("\x80\x98\x02\x10\x50", 5))));
  }
  // Files that are not what they should be stop the fleet before it starts.
  auto options = vehicle_station(csms, sim::OcppVersion::v201, "PNCBAD");
  options.station.iso15118.contract_certificate_file = (sim_pki() / "emaids.txt").string();
  CHECK_THROWS_AS(sim::Fleet(options), std::invalid_argument);
  options.station.iso15118.contract_certificate_file = (sim_pki() / "no-such-file.pem").string();
  CHECK_THROWS_AS(sim::Fleet(options), std::invalid_argument);
}

TEST_CASE("a simulated station keeps the roots the CSMS installs", "[sim][trust_anchors]") {
  CsmsStub csms;
  sim::FleetOptions options;
  options.id_prefix = "TRUST";
  options.station.endpoint = sim::parse_url(csms.url());
  options.station.sessions = 0;
  options.station.reconnect_min_s = 0.1;
  Running station(options);
  const auto id = sim::station_id(options, 1);
  REQUIRE(csms.wait_for("BootNotification"));
  const auto root = read(sim_pki() / "v2g-root.pem");
  const auto hash = chargegrid::base::certificate_hash_data(root);
  const json hash_data = {{"hashAlgorithm", "SHA256"},
                          {"issuerNameHash", hash.issuer_name_hash},
                          {"issuerKeyHash", hash.issuer_key_hash},
                          {"serialNumber", hash.serial_number}};
  const auto v16 = sim::OcppVersion::v16;
  // 1.6: V2G roots through the Plug & Charge DataTransfer, manufacturer roots natively.
  CHECK(call_pnc(csms, v16, id, "InstallCertificate",
                 {{"certificateType", "V2GRootCertificate"}, {"certificate", root}})["status"] ==
        "Accepted");
  CHECK(call_pnc(csms, v16, id, "InstallCertificate",
                 {{"certificateType", "V2GRootCertificate"},
                  {"certificate", "not a PEM"}})["status"] == "Rejected");
  auto listed = call_pnc(csms, v16, id, "GetInstalledCertificateIds",
                         {{"certificateType", {"V2GRootCertificate"}}});
  REQUIRE(listed["certificateHashDataChain"].size() == 1);
  CHECK(listed["certificateHashDataChain"][0]["certificateHashData"] == hash_data);
  auto native = csms.call(id, "GetInstalledCertificateIds",
                          {{"certificateType", "ManufacturerRootCertificate"}});
  CHECK(native[2]["status"] == "NotFound");
  // A type 1.6's security extension does not have is a CALLERROR.
  auto wrong = csms.call(id, "InstallCertificate",
                         {{"certificateType", "V2GRootCertificate"}, {"certificate", root}});
  CHECK(wrong[0] == 4);
  CHECK(call_pnc(csms, v16, id, "DeleteCertificate",
                 {{"certificateHashData", hash_data}})["status"] == "Accepted");
  CHECK(call_pnc(csms, v16, id, "DeleteCertificate",
                 {{"certificateHashData", hash_data}})["status"] == "NotFound");
}
