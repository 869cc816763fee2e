// The simulator's ISO 15118 vehicle against the real server and PostgreSQL: a vehicle whose
// contract (eMAID) is a driver's token is authorized, charges, and its session is the
// driver's; a contract nobody enrolled starts no session. Certificates from scripts/pki.

#include <stdlib.h>

#include <filesystem>
#include <future>

#include "../api/api_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::sim::OcppVersion;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const fs::path& pki() {
  static const fs::path dir = [] {
    std::string folder = (fs::temp_directory_path() / "chargegrid-pnc-pki-XXXXXX").string();
    if (::mkdtemp(folder.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    const auto command = std::string(CHARGEGRID_SOURCE_DIR) + "/scripts/pki " + folder + "/pki > " +
                         folder + "/pki.log 2>&1";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("scripts/pki failed");
    return fs::path(folder) / "pki";
  }();
  return dir;
}

// One station of `version` whose own session is an ISO 15118 vehicle with `contract`.
struct PncStation {
  PncStation(std::uint16_t port, OcppVersion version, const std::string& prefix,
             const std::string& contract)
      : options(make(port, version, prefix, contract)),
        fleet(options),
        run(std::async(std::launch::async,
                       [this] { return fleet.run(std::chrono::seconds(60)); })) {}
  ~PncStation() {
    fleet.stop();
    if (run.valid()) run.wait();
  }
  static chargegrid::sim::FleetOptions make(std::uint16_t port, OcppVersion version,
                                            const std::string& prefix,
                                            const std::string& contract) {
    chargegrid::sim::FleetOptions o;
    o.id_prefix = prefix;
    auto& s = o.station;
    s.version = version;
    s.endpoint = chargegrid::sim::parse_url("ws://127.0.0.1:" + std::to_string(port) + "/ocpp");
    s.connectors = 1;
    s.sessions = 1;
    s.time_scale = 60;
    s.meter_interval_s = 60;
    s.session_length_s = 180;
    s.first_session_delay_s = 0;
    s.reconnect_min_s = 0.1;
    s.iso15118.enabled = true;
    s.iso15118.contract_certificate_file =
        (pki() / ("contract-" + contract + "-chain.pem")).string();
    return o;
  }
  std::string id() const { return chargegrid::sim::station_id(options, 1); }
  chargegrid::sim::FleetOptions options;
  chargegrid::sim::Fleet fleet;
  std::future<chargegrid::sim::Stats> run;
};

}  // namespace

TEST_CASE("an ISO 15118 vehicle authorized by its contract charges as its driver",
          "[sim][iso15118][integration]") {
  // The contract chains to the PKI's MO root. Revocation is the plug_and_charge tests' subject
  // (with a real responder); none runs here, so an unreachable responder is let through.
  auto config = test_config();
  config.mo_roots_dir = (pki() / "mo-roots").string();
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
