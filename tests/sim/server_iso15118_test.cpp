// The simulator's ISO 15118 vehicle against the real server and PostgreSQL: a vehicle whose
// contract (eMAID) is a driver's token is authorized, charges, and its session is the
// driver's; a contract nobody enrolled starts no session. Certificates from scripts/pki.

#include <filesystem>

#include "../api/api_fixture.hpp"
#include "chargegrid/testing/sim_fleet.hpp"
#include "sim_pki.hpp"

using namespace chargegrid::testing;
using chargegrid::sim::OcppVersion;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// One station of `version` whose own session is an ISO 15118 vehicle with `contract`.
struct PncStation : RunningFleet {
  PncStation(std::uint16_t port, OcppVersion version, const std::string& prefix,
             const std::string& contract)
      : RunningFleet(make(port, version, prefix, contract)) {}
  static chargegrid::sim::FleetOptions make(std::uint16_t port, OcppVersion version,
                                            const std::string& prefix,
                                            const std::string& contract) {
    auto o = quick_fleet(local_ocpp_url(port), version, prefix);
    auto& s = o.station;
    s.connectors = 1;
    s.session_length_s = 180;
    s.iso15118.enabled = true;
    s.iso15118.contract_certificate_file =
        (sim_pki() / ("contract-" + contract + "-chain.pem")).string();
    return o;
  }
};

}  // namespace

TEST_CASE("an ISO 15118 vehicle authorized by its contract charges as its driver",
          "[sim][iso15118][integration]") {
  // The contract chains to the PKI's MO root. Revocation is the plug_and_charge tests' subject
  // (with a real responder); none runs here, so an unreachable responder is let through.
  auto config = test_config();
  config.mo_roots_dir = (sim_pki() / "mo-roots").string();
  config.ocsp_failure_policy = "open";
  ApiFixture f(config);
  auto admin = f.admin();
  const auto site = f.make_site("Plug & Charge");
  const auto driver = f.make_driver("Contract holder", site);
  auto enrolled = admin.post("/drivers/" + std::to_string(driver) + "/tokens",
                             {{"id_token", "DEPNC0000000001"}, {"type", "eMAID"}});
  REQUIRE(enrolled.status == 201);

  for (const auto version : {OcppVersion::v201, OcppVersion::v21}) {
    const std::string tag = version == OcppVersion::v201 ? "201" : "21";
    DYNAMIC_SECTION("OCPP " << tag) {
      f.make_station("PNCOK" + tag + "0001", site);
      f.make_station("PNCNO" + tag + "0001", site);
      PncStation good(f.server().ocpp_port(), version, "PNCOK" + tag, "good");
      // DEPNC0000000002: a valid contract no driver enrolled.
      PncStation unknown(f.server().ocpp_port(), version, "PNCNO" + tag, "second");
      json session;
      REQUIRE(ServerFixture::eventually(
          [&] {
            auto r = admin.get("/sessions?station_id=" + good.id());
            if (r.data["items"].empty()) return false;
            session = r.data["items"][0];
            return true;
          },
          std::chrono::seconds(20)));
      CHECK(session["id_token"] == "DEPNC0000000001");
      CHECK(session["driver_id"] == driver);
      // The driver sees it among their own sessions.
      auto own = f.client(f.make_key(chargegrid::server::api::Role::Driver, {}, driver))
                     .get("/sessions?station_id=" + good.id());
      REQUIRE(own.status == 200);
      CHECK(own.data["items"].size() == 1);

      // The unknown contract was asked about and refused: no session.
      // The station tries its one session, is refused and, done, disconnects.
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const auto unknown_stats = [&] {
        unknown.fleet.stop();
        return unknown.run.get();
      }();
      CHECK(unknown_stats.pnc_refused >= 1);
      CHECK(unknown_stats.sessions_started == 0);
      CHECK(admin.get("/sessions?station_id=" + unknown.id()).data["items"].empty());
    }
  }
}
