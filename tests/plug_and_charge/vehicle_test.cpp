// The whole Plug & Charge flow through the simulator on OCPP 1.6 (the application note's
// DataTransfer), 2.0.1 and 2.1: a station on a password connection gets its SECC certificate
// signed, its ISO 15118 vehicle is authorized by its contract certificate (checked against the
// MO root and the real `openssl ocsp` responder), charges, and the session is its driver's; a
// vehicle with a revoked contract, whose eMAID is a driver's token too, starts no session.

#include <catch2/catch.hpp>
#include <future>

#include "chargegrid/testing/sim_fleet.hpp"
#include "pnc_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::sim::OcppVersion;

namespace {

constexpr const char* kVehicleStationPassword = "pnc-station-secret";

// One station of `version` (ids PREFIX0001) whose own session is an ISO 15118 vehicle with
// scripts/pki's `contract`, authorizing with the chain or with OCSP request data.
chargegrid::sim::FleetOptions vehicle_station(ServerFixture& fx, const PncPki& pki,
                                              OcppVersion version, const std::string& prefix,
                                              const std::string& contract, bool with_chain) {
  auto options = quick_fleet(local_ocpp_url(fx.server().ocpp_port()), version, prefix);
  auto& s = options.station;
  s.connectors = 1;
  s.session_length_s = 180;
  s.password = kVehicleStationPassword;
  s.iso15118.enabled = true;
  s.iso15118.contract_certificate_file = pki.file("contract-" + contract + "-chain.pem");
  s.iso15118.authorize_with_certificate = with_chain;
  add_station_with_password(fx, chargegrid::sim::station_id(options, 1), kVehicleStationPassword);
  return options;
}

}  // namespace

// No semicolon in a test name: catch_discover_tests splits names at it (a CMake list), and each
// half, matching no test, "passes" without running anything.
TEST_CASE(
    "a simulated ISO 15118 vehicle charges as its contract's driver on 1.6, 2.0.1 and 2.1, a "
    "revoked contract starts nothing",
    "[plug_and_charge][vehicle]") {
  PncPki pki(unused_port());
  OcspResponder responder(pki);
  auto config = pnc_config(pki);
  config.v2g_organisation = "ChargeGrid simulator";  // the O of the simulator's SECC CSRs
  ServerFixture fx(config);
  const auto driver = add_driver_with_token(fx, "DEPNC0000000001");
  // The revoked contract's eMAID is enrolled too: only its revocation can refuse it.
  add_driver_with_token(fx, "DEPNC0000000003");

  const std::vector<std::pair<OcppVersion, std::string>> versions = {
      {OcppVersion::v16, "16"}, {OcppVersion::v201, "201"}, {OcppVersion::v21, "21"}};
  for (const auto& [version_value, tag_value] : versions) {
    const auto version = version_value;
    const std::string tag = tag_value;
    INFO("OCPP " << tag);
    // 2.0.1 authorizes with the chain, the others with OCSP request data; the revoked
    // contract the other way round.
    const bool chain = version == OcppVersion::v201;
    RunningFleet good(vehicle_station(fx, pki, version, "PNCV" + tag + "OK", "good", chain));
    RunningFleet revoked(vehicle_station(fx, pki, version, "PNCV" + tag + "RV", "revoked", !chain));

    // The good vehicle's session runs to its end, and the station then leaves.
    REQUIRE(good.run.wait_for(std::chrono::seconds(40)) == std::future_status::ready);
    const auto good_stats = good.run.get();
    CHECK(good_stats.pnc_authorized == 1);
    CHECK(good_stats.pnc_refused == 0);
    CHECK(good_stats.sessions_completed == 1);
    CHECK(good_stats.secc_certificates_installed == 1);
    const auto where = "station_id = '" + good.id() + "'";
    CHECK(fx.query_value("SELECT count(*) FROM v2g_certificates WHERE " + where) == "1");
    CHECK(fx.query_value("SELECT count(*) FROM transactions WHERE " + where) == "1");
    CHECK(fx.query_value("SELECT id_token FROM transactions WHERE " + where) == "DEPNC0000000001");
    CHECK(fx.query_value("SELECT driver_id FROM transactions WHERE " + where) ==
          std::to_string(driver));
    CHECK(fx.query_value("SELECT state FROM transactions WHERE " + where) == "ended");
    // It charged: the meter moved between start and stop.
    CHECK(fx.query_value("SELECT coalesce(import_last_wh - import_first_wh, meter_stop_wh - "
                         "meter_start_wh) > 0 FROM transactions WHERE " +
                         where) == "t");

    // The revoked vehicle tries its one session, is refused and, done, leaves.
    REQUIRE(revoked.run.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    const auto revoked_stats = revoked.run.get();
    CHECK(revoked_stats.pnc_refused == 1);
    CHECK(revoked_stats.pnc_authorized == 0);
    CHECK(revoked_stats.sessions_started == 0);
    CHECK(fx.query_value("SELECT count(*) FROM transactions WHERE station_id = '" + revoked.id() +
                         "'") == "0");
  }
}
