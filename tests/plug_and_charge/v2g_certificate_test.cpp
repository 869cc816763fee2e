// SignCertificate for V2G (SECC) certificates: ISO 15118-2's secp256r1 in OCPP 2.0.1 and the
// 1.6 application note's DataTransfer, ISO 15118-20's secp521r1/Ed448 as 2.1's
// V2G20Certificate. The CSR's CN must be the station's own id and its O the configured one;
// the certificate comes from CPO sub-CA 2 and chains to the V2G root. A CSR for another
// station is refused and recorded as a security event; certificates near their expiry are
// renewed with TriggerMessage.

#include <algorithm>
#include <catch2/catch.hpp>

#include "pnc_fixture.hpp"
#include "station_messages.hpp"

using namespace chargegrid::testing;
using nlohmann::json;

namespace {

const std::string kPassword = "pnc-station-password";

// The chain verifies to the V2G root through the CPO sub-CAs, and its leaf's subject has `cn`.
void check_chain(const PncPki& pki, const std::string& chain, const std::string& cn) {
  const auto file = pki.file("issued-" + cn + ".pem");
  write_file(file, chain);
  CHECK(shell("openssl verify -CAfile " + pki.file("v2g-root.pem") + " -untrusted " + file + " " +
              file + " > /dev/null") == 0);
  CHECK(shell("openssl x509 -in " + file + " -noout -subject | grep -q 'CN = " + cn + "'") == 0);
  CHECK(shell("openssl x509 -in " + file + " -noout -issuer | grep -q 'CPO Sub-CA 2'") == 0);
}

// The status a SignCertificate of `csr` for a `type` certificate is answered with.
std::string sign_status(chargegrid::sim::OcppTestClient& station, const std::string& csr,
                        const std::string& type) {
  auto reply = station.call("SignCertificate", {{"csr", csr}, {"certificateType", type}});
  REQUIRE(is_result(reply));
  return reply[2]["status"].get<std::string>();
}

}  // namespace

TEST_CASE(
    "Plug & Charge V2G certificates: 2.0.1, 2.1 and 1.6 DataTransfer, wrong SECC id "
    "refused, renewal",
    "[plug_and_charge][v2g]") {
  PncPki pki(unused_port());
  auto config = pnc_config(pki);
  // Issued certificates fall inside the renewal window at once, so the renewal runs.
  config.v2g_cert_days = 10;
  config.v2g_renew_days = 30;
  config.v2g_renew_check_s = 1;
  ServerFixture fx(config);

  // ---- 2.0.1 ----
  add_station_with_password(fx, "PNC-201", kPassword);
  auto station = connect_with_password(fx, "PNC-201", kPassword, "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201())));
  ServerCalls calls(*station);
  auto answer = station->call("SignCertificate", {{"csr", read_file(pki.file("secc-PNC-201.csr"))},
                                                  {"certificateType", "V2GCertificate"}});
  REQUIRE(is_result(answer));
  REQUIRE(answer[2]["status"] == "Accepted");
  auto signed_call = calls.next("CertificateSigned", {{"status", "Accepted"}});
  REQUIRE(signed_call);
  CHECK((*signed_call)[3]["certificateType"] == "V2GCertificate");
  check_chain(pki, (*signed_call)[3]["certificateChain"].get<std::string>(), "PNC-201");
  CHECK(fx.query_value("SELECT count(*) FROM v2g_certificates WHERE station_id = 'PNC-201' AND "
                       "certificate_type = 'V2GCertificate'") == "1");
  // Near its expiry: the station is asked for a new CSR, once.
  auto trigger = calls.next("TriggerMessage", {{"status", "Accepted"}});
  REQUIRE(trigger);
  CHECK((*trigger)[3]["requestedMessage"] == "SignV2GCertificate");
  CHECK(ServerFixture::eventually([&] {
    return fx.query_value(
               "SELECT count(*) FROM v2g_certificates WHERE station_id = 'PNC-201' "
               "AND renewal_requested_at IS NOT NULL") == "1";
  }));

  // Another station's SECC id, a wrong organisation, a curve ISO 15118-2 does not allow.
  const auto refused = [&](const std::string& csr, const std::string& type) {
    auto reply = station->call("SignCertificate", {{"csr", csr}, {"certificateType", type}});
    REQUIRE(is_result(reply));
    CHECK(reply[2]["status"] == "Rejected");
    return reply[2]["statusInfo"]["additionalInfo"].get<std::string>();
  };
  CHECK(
      contains(refused(read_file(pki.file("secc-PNC-OTHER.csr")), "V2GCertificate"), "PNC-OTHER"));
  CHECK(contains(refused(pki.csr("PNC-201", "P-256", "Someone Else"), "V2GCertificate"),
                 "Someone Else"));
  CHECK(contains(refused(pki.csr("PNC-201", "P-384"), "V2GCertificate"), "secp256r1"));
  CHECK(contains(refused("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "V2GCertificate"),
                 "not a PEM"));
  REQUIRE(ServerFixture::eventually([&] {
    auto events = csms_events(fx, "PNC-201");
    return std::count_if(events.begin(), events.end(), [](const std::string& e) {
             return contains(e, "CertificateSigningRequestRejected");
           }) == 4;
  }));
  const auto events = csms_events(fx, "PNC-201");
  CHECK(std::any_of(events.begin(), events.end(), [](const std::string& e) {
    return contains(e, "CertificateSigningRequestRejected") && contains(e, "PNC-OTHER");
  }));
  CHECK(std::any_of(events.begin(), events.end(),
                    [](const std::string& e) { return contains(e, "V2GCertificateIssued"); }));
  CHECK(fx.query_value("SELECT count(*) FROM v2g_certificates") == "1");

  // A station that did not authenticate gets none.
  auto anonymous = fx.connect("PNC-ANON", "ocpp2.0.1");
  REQUIRE(is_result(anonymous->call("BootNotification", boot_201())));
  CHECK(sign_status(*anonymous, pki.csr("PNC-ANON", "P-256"), "V2GCertificate") == "Rejected");

  // ---- 2.1, ISO 15118-20 ----
  add_station_with_password(fx, "PNC-21", kPassword);
  auto station21 = connect_with_password(fx, "PNC-21", kPassword, "ocpp2.1");
  REQUIRE(is_result(station21->call("BootNotification", boot_201())));
  ServerCalls calls21(*station21);
  auto answer21 = station21->call("SignCertificate", {{"csr", pki.csr("PNC-21", "P-521")},
                                                      {"certificateType", "V2G20Certificate"},
                                                      {"requestId", 7}});
  REQUIRE(is_result(answer21));
  REQUIRE(answer21[2]["status"] == "Accepted");
  auto signed21 = calls21.next("CertificateSigned", {{"status", "Accepted"}});
  REQUIRE(signed21);
  CHECK((*signed21)[3]["certificateType"] == "V2G20Certificate");
  CHECK((*signed21)[3]["requestId"] == 7);
  check_chain(pki, (*signed21)[3]["certificateChain"].get<std::string>(), "PNC-21");
  CHECK(sign_status(*station21, pki.csr("PNC-21", "ED448"), "V2G20Certificate") == "Accepted");
  CHECK(sign_status(*station21, pki.csr("PNC-21", "P-256"), "V2G20Certificate") == "Rejected");

  // ---- 1.6, the application note's DataTransfer ----
  add_station_with_password(fx, "PNC-16", kPassword);
  auto station16 = connect_with_password(fx, "PNC-16", kPassword, "ocpp1.6");
  REQUIRE(is_result(station16->call("BootNotification", boot_16())));
  ServerCalls calls16(*station16);
  const auto sign_16 = [&](const std::string& csr) {
    auto reply =
        station16->call("DataTransfer", {{"vendorId", "org.openchargealliance.iso15118pnc"},
                                         {"messageId", "SignCertificate"},
                                         {"data", json{{"csr", csr}}.dump()}});
    REQUIRE(is_result(reply));
    REQUIRE(reply[2]["status"] == "Accepted");
    return json::parse(reply[2]["data"].get<std::string>());
  };
  CHECK(sign_16(pki.csr("PNC-16", "P-256"))["status"] == "Accepted");
  auto signed16 =
      calls16.next("DataTransfer", {{"status", "Accepted"}, {"data", R"({"status":"Accepted"})"}},
                   message_id("CertificateSigned"));
  REQUIRE(signed16);
  CHECK((*signed16)[3]["vendorId"] == "org.openchargealliance.iso15118pnc");
  CHECK((*signed16)[3]["messageId"] == "CertificateSigned");
  const auto signed16_data = json::parse((*signed16)[3]["data"].get<std::string>());
  CHECK(signed16_data["certificateType"] == "V2GCertificate");
  check_chain(pki, signed16_data["certificateChain"].get<std::string>(), "PNC-16");
  CHECK(sign_16(pki.csr("PNC-201", "P-256"))["status"] == "Rejected");
  // The 1.6 renewal request is the application note's TriggerMessage in DataTransfer.
  auto trigger16 =
      calls16.next("DataTransfer", {{"status", "Accepted"}}, message_id("TriggerMessage"));
  REQUIRE(trigger16);
  CHECK((*trigger16)[3]["messageId"] == "TriggerMessage");
  CHECK(json::parse((*trigger16)[3]["data"].get<std::string>())["requestedMessage"] ==
        "SignV2GCertificate");
}
