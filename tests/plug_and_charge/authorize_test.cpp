// Authorize with a contract certificate (OCPP 2.0.1, 2.1 and the 1.6 application note's
// DataTransfer) and GetCertificateStatus, against the test PKI's MO root and the real
// `openssl ocsp` responder: accepted contracts link the session to the eMAID's driver;
// revoked, expired, foreign and mismatched contracts are refused with the status OCPP names;
// a responder that is down or answers garbage never lets a contract through unless the
// policy says to fail open.

#include <catch2/catch.hpp>

#include "pnc_fixture.hpp"
#include "station_messages.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

constexpr const char* kGood = "DEPNC0000000001";

json contract_authorize(const PncPki& pki, const std::string& name, const std::string& emaid) {
  return {{"idToken", {{"idToken", emaid}, {"type", "eMAID"}}},
          {"certificate", read_file(pki.file("contract-" + name + "-chain.pem"))}};
}

json hash_authorize(const std::string& emaid, const json& hash_data) {
  return {{"idToken", {{"idToken", emaid}, {"type", "eMAID"}}},
          {"iso15118CertificateHashData", json::array({hash_data})}};
}

// certificateStatus and idTokenInfo.status of an Authorize answer.
std::pair<std::string, std::string> statuses(const json& frame) {
  REQUIRE(is_result(frame));
  return {frame[2].value("certificateStatus", "-"), frame[2]["idTokenInfo"]["status"]};
}

json started_event(const std::string& emaid) {
  return {{"eventType", "Started"},
          {"timestamp", "2026-11-24T09:00:01Z"},
          {"triggerReason", "Authorized"},
          {"seqNo", 0},
          {"transactionInfo", {{"transactionId", "PNC-TX-1"}}},
          {"evse", {{"id", 1}, {"connectorId", 1}}},
          {"idToken", {{"idToken", emaid}, {"type", "eMAID"}}}};
}

}  // namespace

TEST_CASE(
    "Plug & Charge Authorize: contract chains, OCSP, GetCertificateStatus and the "
    "responder's failures",
    "[plug_and_charge][authorize]") {
  PncPki pki(unused_port());
  OcspResponder responder(pki);
  ServerFixture fx(pnc_config(pki));
  const auto driver = add_driver_with_token(fx, kGood);
  auto station = fx.connect("PNC-201", "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201())));

  // A valid contract: certificate Accepted, the token table's answer, the driver linked.
  CHECK(statuses(station->call("Authorize", contract_authorize(pki, "good", kGood))) ==
        std::pair<std::string, std::string>{"Accepted", "Accepted"});
  REQUIRE(is_result(station->call("TransactionEvent", started_event(kGood))));
  CHECK(fx.query_value("SELECT driver_id FROM transactions WHERE transaction_uid = 'PNC-TX-1'") ==
        std::to_string(driver));
  // The eMAID may be written with hyphens and in lower case.
  CHECK(statuses(station->call("Authorize", contract_authorize(pki, "good", "de-pnc-0000000001")))
            .first == "Accepted");

  // Refused contracts, with OCPP's certificate statuses.
  using Pair = std::pair<std::string, std::string>;
  CHECK(
      statuses(station->call("Authorize", contract_authorize(pki, "revoked", "DEPNC0000000003"))) ==
      Pair{"CertificateRevoked", "Blocked"});
  CHECK(
      statuses(station->call("Authorize", contract_authorize(pki, "expired", "DEPNC0000000004"))) ==
      Pair{"CertificateExpired", "Expired"});
  CHECK(statuses(
            station->call("Authorize", contract_authorize(pki, "wrongroot", "DEPNC0000000005"))) ==
        Pair{"CertChainError", "Invalid"});
  // Another driver's eMAID with this certificate.
  CHECK(statuses(station->call("Authorize", contract_authorize(pki, "good", "DEPNC0000000002"))) ==
        Pair{"CertChainError", "Invalid"});
  // A leaf without the sub-CAs that connect it to the root.
  CHECK(statuses(
            station->call("Authorize", {{"idToken", {{"idToken", kGood}, {"type", "eMAID"}}},
                                        {"certificate", read_file(pki.file("contract-good.pem"))}}))
            .first == "CertChainError");
  CHECK(statuses(station->call("Authorize", {{"idToken", {{"idToken", kGood}, {"type", "eMAID"}}},
                                             {"certificate", "not a certificate"}})) ==
        Pair{"CertChainError", "Invalid"});

  // The OCSP request data form: the station's hashes, the responder they name.
  const auto ocsp_url = "http://127.0.0.1:" + std::to_string(pki.ocsp_port());
  const auto good = pki.hash_data("contract-good.pem", "mo-sub2.pem", ocsp_url);
  const auto revoked = pki.hash_data("contract-revoked.pem", "mo-sub2.pem", ocsp_url);
  CHECK(statuses(station->call("Authorize", hash_authorize(kGood, good))) ==
        Pair{"Accepted", "Accepted"});
  CHECK(statuses(station->call("Authorize", hash_authorize("DEPNC0000000003", revoked))) ==
        Pair{"CertificateRevoked", "Blocked"});
  auto bad_hash = good;
  bad_hash["issuerKeyHash"] = "ABCD";
  CHECK(statuses(station->call("Authorize", hash_authorize(kGood, bad_hash))).first ==
        "CertChainError");

  // A responder answering garbage, or answering with a signature nobody delegated.
  TinyHttpServer garbage([](const std::string&, const std::string&) {
    return TinyHttpServer::Reply{200, "application/ocsp-response", "\x30\x03garbage"};
  });
  auto at_garbage = good;
  at_garbage["responderURL"] = garbage.url();
  CHECK(statuses(station->call("Authorize", hash_authorize(kGood, at_garbage))) ==
        Pair{"NoCertificateAvailable", "Invalid"});
  CHECK(contains(garbage.last_head(), "application/ocsp-request"));
  // A response for another certificate's request (a replay) is no answer for this one.
  const auto other_response = [&] {
    const auto der = pki.file("second.resp");
    REQUIRE(shell("openssl ocsp -issuer " + pki.file("mo-sub2.pem") + " -cert " +
                  pki.file("contract-second.pem") + " -url " + ocsp_url + " -noverify -respout " +
                  der + " > /dev/null 2>&1") == 0);
    return read_file(der);
  }();
  TinyHttpServer replaying([&](const std::string&, const std::string&) {
    return TinyHttpServer::Reply{200, "application/ocsp-response", other_response};
  });
  auto at_replay = good;
  at_replay["responderURL"] = replaying.url();
  CHECK(statuses(station->call("Authorize", hash_authorize(kGood, at_replay))).first ==
        "NoCertificateAvailable");

  // GetCertificateStatus: the responder's DER answer, which openssl can verify; cached until
  // its nextUpdate, so it is still answered when the responder is gone.
  auto status = station->call("GetCertificateStatus", {{"ocspRequestData", good}});
  REQUIRE(is_result(status));
  REQUIRE(status[2]["status"] == "Accepted");
  const auto der =
      chargegrid::base::base64_decode_to_string(status[2]["ocspResult"].get<std::string>());
  REQUIRE(der);
  write_file(pki.file("status.der"), *der);
  CHECK(shell("openssl ocsp -respin " + pki.file("status.der") + " -CAfile " +
              pki.file("mo-root.pem") + " -issuer " + pki.file("mo-sub2.pem") + " -sha256 -cert " +
              pki.file("contract-good.pem") + " 2>&1 | grep -q 'contract-good.pem: good'") == 0);
  auto bad_request = good;
  bad_request["serialNumber"] = "not-hex";
  auto failed = station->call("GetCertificateStatus", {{"ocspRequestData", bad_request}});
  REQUIRE(is_result(failed));
  CHECK(failed[2]["status"] == "Failed");

  responder.stop();
  auto cached = station->call("GetCertificateStatus", {{"ocspRequestData", good}});
  REQUIRE(is_result(cached));
  CHECK(cached[2]["status"] == "Accepted");
  CHECK(cached[2]["ocspResult"] == status[2]["ocspResult"]);
  auto uncached = station->call("GetCertificateStatus", {{"ocspRequestData", revoked}});
  REQUIRE(is_result(uncached));
  CHECK(uncached[2]["status"] == "Failed");

  // Responder down, policy closed (the default): no contract gets through.
  CHECK(statuses(station->call("Authorize", contract_authorize(pki, "good", kGood))) ==
        Pair{"NoCertificateAvailable", "Invalid"});
  CHECK(statuses(station->call("Authorize", hash_authorize(kGood, good))) ==
        Pair{"NoCertificateAvailable", "Invalid"});

  // Responder down, policy open: a contract whose chain verifies is accepted; a broken chain
  // still is not.
  auto open_config = pnc_config(pki);
  open_config.ocsp_failure_policy = "open";
  ServerFixture fail_open(open_config);
  add_driver_with_token(fail_open, kGood);
  auto station21 = fail_open.connect("PNC-21", "ocpp2.1");
  REQUIRE(is_result(station21->call("BootNotification", boot_201())));
  CHECK(statuses(station21->call("Authorize", contract_authorize(pki, "good", kGood))) ==
        Pair{"Accepted", "Accepted"});
  CHECK(statuses(
            station21->call("Authorize", contract_authorize(pki, "wrongroot", "DEPNC0000000005")))
            .first == "CertChainError");
}

TEST_CASE("Plug & Charge Authorize (1.6 DataTransfer) and a server without MO roots",
          "[plug_and_charge][authorize]") {
  PncPki pki(unused_port());
  OcspResponder responder(pki);
  ServerFixture fx(pnc_config(pki));
  add_driver_with_token(fx, kGood);
  auto station = booted_16(fx, "PNC-16");

  const auto transfer = [&](const std::string& message, const json& data) {
    auto answer = station->call(
        "DataTransfer", {{"vendorId", "org.openchargealliance.iso15118pnc"},
                         {"messageId", message},
                         {"data", data.is_string() ? data.get<std::string>() : data.dump()}});
    REQUIRE(is_result(answer));
    return answer[2];
  };
  auto accepted = transfer("Authorize", contract_authorize(pki, "good", kGood));
  REQUIRE(accepted["status"] == "Accepted");
  const auto data = json::parse(accepted["data"].get<std::string>());
  CHECK(data["certificateStatus"] == "Accepted");
  CHECK(data["idTokenInfo"]["status"] == "Accepted");
  auto revoked = transfer("Authorize", contract_authorize(pki, "revoked", "DEPNC0000000003"));
  CHECK(json::parse(revoked["data"].get<std::string>())["certificateStatus"] ==
        "CertificateRevoked");

  // Data that is not the 2.0.1 message, or no JSON at all; an unknown message.
  CHECK(transfer("Authorize", json{{"idToken", "DEPNC0000000001"}})["status"] == "Rejected");
  CHECK(transfer("Authorize", json("{not json"))["status"] == "Rejected");
  CHECK(transfer("InstallCertificateX", json::object())["status"] == "UnknownMessageId");
  // Other vendors keep the DataTransfer handling they had.
  auto other = station->call("DataTransfer", {{"vendorId", "com.example"}, {"messageId", "x"}});
  REQUIRE(is_result(other));
  CHECK(other[2]["status"] == "UnknownVendorId");

  // Without MO roots nothing can be trusted.
  auto bare = test_config();
  ServerFixture unconfigured(bare);
  auto station201 = unconfigured.connect("PNC-BARE", "ocpp2.0.1");
  REQUIRE(is_result(station201->call("BootNotification", boot_201())));
  auto answer = station201->call("Authorize", contract_authorize(pki, "good", kGood));
  REQUIRE(is_result(answer));
  CHECK(answer[2]["certificateStatus"] == "CertChainError");
}
