// Simulated stations against the real server: a charging profile sent through the REST API
// (POST /stations/{id}/ocpp/SetChargingProfile) reaches the station, which answers, applies
// it, and whose meter values the server stores then follow the limit; a 2.1 vehicle
// discharges under a setpoint below zero and its export register rises.

#include <memory>
#include <thread>

#include "../api/api_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::sim::OcppVersion;
using nlohmann::json;

namespace {

// One station of `version` in the background, time-scaled (a simulated minute per real second,
// a meter sample each), whose vehicles can discharge.
class BidirectionalStation {
 public:
  BidirectionalStation(std::uint16_t port, OcppVersion version, const std::string& prefix) {
    chargegrid::sim::FleetOptions options;
    options.station.version = version;
    options.station.endpoint =
        chargegrid::sim::parse_url("ws://127.0.0.1:" + std::to_string(port) + "/ocpp");
    options.station.sessions = 0;
    options.station.connectors = 1;
    options.station.time_scale = 60;
    options.station.meter_interval_s = 60;
    options.station.session_length_s = 7200;
    options.station.reconnect_min_s = 0.1;
    options.station.reconnect_max_s = 0.5;
    options.station.meter.initial_soc_percent = 70;
    options.station.ev.v2g_share = 1.0;
    options.id_prefix = prefix;
    id_ = chargegrid::sim::station_id(options, 1);
    fleet_ = std::make_unique<chargegrid::sim::Fleet>(options);
    thread_ = std::thread([this] { fleet_->run(); });
  }
  ~BidirectionalStation() {
    fleet_->stop();
    thread_.join();
  }
  const std::string& id() const { return id_; }

 private:
  std::string id_;
  std::unique_ptr<chargegrid::sim::Fleet> fleet_;
  std::thread thread_;
};

// Starts a session on EVSE 1 through the API; the live session.
json start_session(ApiClient& admin, const std::string& station) {
  auto start = admin.post("/stations/" + station + "/commands/remote-start",
                          {{"evse_id", 1}, {"id_token", "FLEET-1"}});
  REQUIRE(start.status == 200);
  REQUIRE(start.data["status"] == "Accepted");
  json session;
  REQUIRE(ServerFixture::eventually([&] {
    auto live = admin.get("/sessions?status=active&station_id=" + station);
    if (live.data["items"].empty()) return false;
    session = live.data["items"][0];
    return true;
  }));
  return session;
}

// The values of `measurand` the server stored for the session, sampled after `after`.
std::vector<double> samples(ApiClient& admin, const json& session, const std::string& measurand,
                            const std::string& after) {
  auto r = admin.get("/sessions/" + std::to_string(session["id"].get<long>()) +
                     "/meter-values?limit=500&measurand=" + measurand + "&from=" + after);
  std::vector<double> values;
  for (const auto& item : r.data["items"])
    if (item["value"].is_number() && item["context"] == "Sample.Periodic")
      values.push_back(item["value"].get<double>());
  return values;
}

std::string now_text() {
  return rfc3339(std::chrono::system_clock::now());
}

json tx_profile(const json& session, const json& periods, const char* unit) {
  return {
      {"evseId", 1},
      {"chargingProfile",
       {{"id", 40},
        {"stackLevel", 1},
        {"chargingProfilePurpose", "TxProfile"},
        {"chargingProfileKind", "Relative"},
        {"transactionId", session["station_transaction_id"]},
        {"chargingSchedule",
         json::array(
             {{{"id", 40}, {"chargingRateUnit", unit}, {"chargingSchedulePeriod", periods}}})}}}};
}

}  // namespace

TEST_CASE("a charging profile sent through the API limits what the station's meter reports",
          "[sim][smart-charging]") {
  ApiFixture f(free_vend_config());
  auto admin = f.admin();
  const auto site = f.make_site("Depot");
  auto stations = f.registered_station(OcppVersion::v201, "SCL", site);
  const auto id = stations->id();
  const json session = start_session(admin, id);
  const auto before = now_text();
  // Unlimited, the vehicle draws the EVSE's 11 kW.
  REQUIRE(ServerFixture::eventually(
      [&] {
        const auto power = samples(admin, session, "Power.Active.Import", before);
        return !power.empty() && power.back() == 11000;
      },
      std::chrono::seconds(15)));

  // A profile for another transaction, and one for no EVSE, are refused by the station.
  json wrong = tx_profile(session, {{{"startPeriod", 0}, {"limit", 8.0}}}, "A");
  wrong["chargingProfile"]["transactionId"] = "NOT-RUNNING";
  auto refused = admin.post("/stations/" + id + "/ocpp/SetChargingProfile", wrong);
  REQUIRE(refused.status == 200);
  CHECK(refused.data["status"] == "Rejected");
  CHECK(refused.data["response"]["statusInfo"]["reasonCode"] == "TxNotFound");
  json nowhere = tx_profile(session, {{{"startPeriod", 0}, {"limit", 8.0}}}, "A");
  nowhere["evseId"] = 7;
  CHECK(admin.post("/stations/" + id + "/ocpp/SetChargingProfile", nowhere).data["status"] ==
        "Rejected");

  // 8 A on three phases at 230 V: 5520 W.
  auto set = admin.post("/stations/" + id + "/ocpp/SetChargingProfile",
                        tx_profile(session, {{{"startPeriod", 0}, {"limit", 8.0}}}, "A"));
  REQUIRE(set.status == 200);
  REQUIRE(set.data["status"] == "Accepted");
  const auto limited = now_text();
  REQUIRE(ServerFixture::eventually(
      [&] {
        const auto power = samples(admin, session, "Power.Active.Import", limited);
        return power.size() >= 3;
      },
      std::chrono::seconds(15)));
  // Every sample after the first (which may span the change) is at the limit.
  const auto power = samples(admin, session, "Power.Active.Import", limited);
  for (std::size_t i = 1; i < power.size(); ++i) CHECK(power[i] == 5520);

  // The station tells what it applies.
  auto composite = admin.post("/stations/" + id + "/ocpp/GetCompositeSchedule",
                              {{"evseId", 1}, {"duration", 600}, {"chargingRateUnit", "A"}});
  REQUIRE(composite.status == 200);
  INFO(composite.body);
  CHECK(composite.data["status"] == "Accepted");
  CHECK(composite.data["response"]["schedule"]["chargingSchedulePeriod"][0]["limit"] == 8.0);

  // Cleared, it draws the full power again.
  auto cleared =
      admin.post("/stations/" + id + "/ocpp/ClearChargingProfile", {{"chargingProfileId", 40}});
  CHECK(cleared.data["status"] == "Accepted");
  const auto unlimited = now_text();
  CHECK(ServerFixture::eventually(
      [&] {
        const auto after = samples(admin, session, "Power.Active.Import", unlimited);
        return after.size() >= 2 && after.back() == 11000;
      },
      std::chrono::seconds(15)));
}

TEST_CASE("a 2.1 vehicle discharges under a setpoint and its export register rises",
          "[sim][smart-charging]") {
  ApiFixture f(free_vend_config());
  auto admin = f.admin();
  const auto site = f.make_site("Depot");
  f.make_station("V2G0001", site);
  BidirectionalStation station(f.server().ocpp_port(), OcppVersion::v21, "V2G");
  REQUIRE(f.online(station.id()));
  const json session = start_session(admin, station.id());

  json setpoint = tx_profile(session,
                             {{{"startPeriod", 0},
                               {"limit", 11000},
                               {"operationMode", "CentralSetpoint"},
                               {"setpoint", -4000}}},
                             "W");
  auto set = admin.post("/stations/" + station.id() + "/ocpp/SetChargingProfile", setpoint);
  INFO(set.body);
  REQUIRE(set.status == 200);
  REQUIRE(set.data["status"] == "Accepted");
  const auto discharging = now_text();
  REQUIRE(ServerFixture::eventually(
      [&] {
        return samples(admin, session, "Energy.Active.Export.Register", discharging).size() >= 3;
      },
      std::chrono::seconds(15)));
  const auto exported = samples(admin, session, "Energy.Active.Export.Register", discharging);
  // 4 kW for a simulated minute: about 67 Wh a sample.
  CHECK(exported.back() - exported.front() >= 60.0 * (exported.size() - 2));
  const auto power = samples(admin, session, "Power.Active.Export", discharging);
  REQUIRE_FALSE(power.empty());
  CHECK(power.back() == 4000);
}
