// The station model and the action table on their own, without a connection: what a
// CSMS call changes, per EVSE.

#include "model.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <utility>
#include <vector>

#include "actions.hpp"

using namespace chargegrid::sim;
using namespace chargegrid::sim::detail;

namespace {

StationOptions three_evses(OcppVersion version) {
  StationOptions options;
  options.version = version;
  options.connectors = 3;
  options.time_scale = 60;
  return options;
}

// A 1.6 SetChargingProfile: a Relative TxProfile in W on `connector` with these periods
// (startPeriod, limit).
Json relative_tx_profile(int connector, const std::vector<std::pair<int, double>>& periods) {
  Json schedule = Json::array();
  for (const auto& [start, limit] : periods)
    schedule.push_back({{"startPeriod", start}, {"limit", limit}});
  return {
      {"connectorId", connector},
      {"csChargingProfiles",
       {{"chargingProfileId", 1},
        {"stackLevel", 0},
        {"chargingProfilePurpose", "TxProfile"},
        {"chargingProfileKind", "Relative"},
        {"chargingSchedule", {{"chargingRateUnit", "W"}, {"chargingSchedulePeriod", schedule}}}}}};
}

Json answer(StationModel& station, const std::string& action, const Json& payload) {
  const Action handler = csms_actions().find(station.version(), action);
  REQUIRE(handler != nullptr);
  return handler(station, payload);
}

}  // namespace

TEST_CASE("the action table holds each version's calls, one entry per action", "[sim]") {
  std::set<std::string> v16, v201, v21;
  for (const auto& [version, action] : csms_actions().list()) {
    (version == OcppVersion::v16 ? v16 : version == OcppVersion::v201 ? v201 : v21).insert(action);
  }
  CHECK(v16 == std::set<std::string>{"CancelReservation",
                                     "ChangeAvailability",
                                     "ChangeConfiguration",
                                     "ClearCache",
                                     "ClearChargingProfile",
                                     "DataTransfer",
                                     "DeleteCertificate",
                                     "GetCompositeSchedule",
                                     "GetConfiguration",
                                     "GetDiagnostics",
                                     "GetInstalledCertificateIds",
                                     "GetLocalListVersion",
                                     "InstallCertificate",
                                     "RemoteStartTransaction",
                                     "RemoteStopTransaction",
                                     "ReserveNow",
                                     "Reset",
                                     "SendLocalList",
                                     "SetChargingProfile",
                                     "TriggerMessage",
                                     "UnlockConnector",
                                     "UpdateFirmware"});
  CHECK(v201 == std::set<std::string>{"CancelReservation",
                                      "CertificateSigned",
                                      "ChangeAvailability",
                                      "ClearCache",
                                      "ClearChargingProfile",
                                      "DataTransfer",
                                      "DeleteCertificate",
                                      "GetCompositeSchedule",
                                      "GetInstalledCertificateIds",
                                      "GetLocalListVersion",
                                      "GetLog",
                                      "GetVariables",
                                      "InstallCertificate",
                                      "ReserveNow",
                                      "RequestStartTransaction",
                                      "RequestStopTransaction",
                                      "Reset",
                                      "SendLocalList",
                                      "SetChargingProfile",
                                      "SetVariables",
                                      "TriggerMessage",
                                      "UnlockConnector",
                                      "UpdateFirmware"});
  CHECK(csms_actions().find(OcppVersion::v16, "RequestStartTransaction") == nullptr);
  CHECK(v21 == v201);  // 2.1 keeps the 2.0.1 calls
  CHECK(csms_actions().find(OcppVersion::v201, "GetConfiguration") == nullptr);
}

TEST_CASE("a remote start waits on the EVSE it names", "[sim]") {
  Stats stats;
  SECTION("2.0.1") {
    StationModel station("M1", three_evses(OcppVersion::v201), stats, nullptr);
    const Json request = {
        {"idToken", {{"idToken", "T"}, {"type", "Central"}}}, {"remoteStartId", 5}, {"evseId", 2}};
    CHECK(answer(station, "RequestStartTransaction", request)["status"] == "Accepted");
    CHECK_FALSE(station.evse(1)->busy());
    REQUIRE(station.evse(2)->remote_start);
    CHECK(station.evse(2)->remote_start->remote_start_id == 5);
    CHECK(answer(station, "RequestStartTransaction", request)["status"] == "Rejected");
  }
  SECTION("1.6") {
    StationModel station("M1", three_evses(OcppVersion::v16), stats, nullptr);
    CHECK(answer(station, "RemoteStartTransaction",
                 {{"idTag", "T"}, {"connectorId", 3}})["status"] == "Accepted");
    CHECK(station.evse(3)->remote_start);
    CHECK_FALSE(station.evse(1)->busy());
    station.stopping = true;
    CHECK(answer(station, "RemoteStartTransaction",
                 {{"idTag", "T"}, {"connectorId", 1}})["status"] == "Rejected");
  }
}

TEST_CASE("sessions side by side: limits per EVSE, registers add up, each ends by itself",
          "[sim]") {
  Stats stats;
  auto options = three_evses(OcppVersion::v16);
  options.meter.initial_import_register_wh = 1000;
  options.session_length_s = 600;
  StationModel station("M2", options, stats, nullptr);
  auto& local = station.begin_session(*station.evse(1), "OWN", false, std::nullopt);
  auto& remote = station.begin_session(*station.evse(2), "CSMS", true, std::nullopt);
  CHECK(local.meter.import_register_wh() == 1000);
  CHECK(remote.meter.import_register_wh() == 1000);

  // A profile for connector 2 caps its session only.
  const Json profile = relative_tx_profile(2, {{0, 5000}});
  CHECK(answer(station, "SetChargingProfile", profile)["status"] == "Accepted");
  CHECK(remote.meter.power_w() == 5000);
  CHECK(local.meter.power_w() == 11000);

  station.advance(SteadyClock::now() + station.real(601));
  CHECK_FALSE(station.any_session());
  CHECK(stats.sessions_completed == 2);
  CHECK(station.profiles.empty());  // a TxProfile ends with its transaction
  std::map<std::string, std::string> reasons;
  double drawn = 0;
  for (const auto& message : station.transaction_queue) {
    if (message.action != "StopTransaction") continue;
    reasons[message.payload.value("idTag", "(none)")] = message.payload["reason"];
    drawn += message.payload["meterStop"].get<double>() - 1000;
  }
  CHECK(reasons ==
        std::map<std::string, std::string>{{"OWN", "Local"}, {"(none)", "EVDisconnected"}});
  // The station's register holds what both sessions drew (whole Wh on the wire).
  CHECK(station.import_register_wh == Approx(1000 + drawn).margin(2));
  CHECK(station.import_register_wh > 1000 + 1500);  // 11 kW and 5 kW for ten minutes
}

TEST_CASE("clock-aligned meter samples, and nothing drawn after a session's time is up", "[sim]") {
  Stats stats;
  auto options = three_evses(OcppVersion::v16);  // x60: 300 s of the station's are 5 s
  options.meter_interval_s = 300;
  options.session_length_s = 600;
  const auto origin = std::chrono::system_clock::now() - std::chrono::milliseconds(2500);
  options.meter_aligned_to = origin;
  StationModel station("M3", options, stats, nullptr);
  auto& session = station.begin_session(*station.evse(1), "OWN", false, std::nullopt);
  // The first sample falls on the grid from `origin` (5 s after it), not 5 s after the start.
  const auto first_sample_wall = std::chrono::system_clock::now() -
                                 std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                     SteadyClock::now() - session.next_meter);
  CHECK(
      std::abs(std::chrono::duration<double>(first_sample_wall - (origin + std::chrono::seconds(5)))
                   .count()) < 0.05);

  // Run long after the session's end: it drew for its 600 s only (at most 11 kW).
  station.advance(SteadyClock::now() + station.real(1800));
  CHECK_FALSE(station.any_session());
  double drawn = -1;
  for (const auto& message : station.transaction_queue)
    if (message.action == "StopTransaction")
      drawn = message.payload["meterStop"].get<double>() - options.meter.initial_import_register_wh;
  CHECK(drawn > 0);
  CHECK(drawn <= 11000.0 * 600 / 3600 + 1);
}

TEST_CASE("a meter read late still follows the profile's periods by the clock", "[sim]") {
  Stats stats;
  auto options = three_evses(OcppVersion::v16);  // x60
  options.meter_interval_s = 3600;               // no sample inside the span
  options.session_length_s = 3600;
  StationModel station("M4", options, stats, nullptr);
  auto& session = station.begin_session(*station.evse(1), "OWN", false, std::nullopt);
  const auto start = session.last_meter;
  const Json profile = relative_tx_profile(1, {{0, 5000}, {330, 8000}});
  CHECK(answer(station, "SetChargingProfile", profile)["status"] == "Accepted");
  const double before = session.meter.import_register_wh();

  // Read once, 450 s in (steps of a minute would put the change at 360 s): 330 s at 5 kW,
  // then 120 s at 8 kW.
  station.run_meters(start + station.real(450));
  CHECK(session.meter.import_register_wh() - before ==
        Approx(5000.0 * 330 / 3600 + 8000.0 * 120 / 3600).margin(0.5));
  CHECK(session.meter.power_w() == 8000);
}

TEST_CASE("connect failures are counted by kind, where they were thrown left out", "[sim]") {
  Stats a, b;
  a.count_connect_failure("connect: Connection refused [system:111 at socket_ops.ipp:1]");
  a.count_connect_failure("connect: Connection refused [system:111 at socket_ops.ipp:2]");
  b.count_connect_failure("handshake refused with HTTP 503");
  a.merge(b);
  CHECK(a.connect_failures == 3);
  CHECK(a.connect_failure_kinds ==
        std::map<std::string, std::uint64_t>{{"connect: Connection refused", 2},
                                             {"handshake refused with HTTP 503", 1}});
  CHECK(a.to_json()["connect_failure_kinds"]["connect: Connection refused"] == 2);

  // Kinds are bounded: past the limit, a new one counts as "other".
  Stats many;
  for (std::size_t i = 0; i < Stats::kMaxFailureKinds + 3; ++i)
    many.count_connect_failure("kind " + std::to_string(i));
  CHECK(many.connect_failures == Stats::kMaxFailureKinds + 3);
  CHECK(many.connect_failure_kinds.size() == Stats::kMaxFailureKinds + 1);
  CHECK(many.connect_failure_kinds["other"] == 3);

  // ... also when the stats of many load processes are added up.
  Stats total;
  for (std::size_t i = 0; i < Stats::kMaxFailureKinds + 3; ++i) {
    Stats one;
    one.count_connect_failure("kind " + std::to_string(i));
    one.count_connect_failure("kind " + std::to_string(i));
    total.merge(one);
  }
  total.merge(many);
  CHECK(total.connect_failures == 3 * Stats::kMaxFailureKinds + 9);
  CHECK(total.connect_failure_kinds.size() == Stats::kMaxFailureKinds + 1);
  CHECK(total.connect_failure_kinds["kind 0"] == 3);
  CHECK(total.connect_failure_kinds["other"] == 2 * 3 + 3);
}
