// The station model and the action table on their own, without a connection: what a
// CSMS call changes, per EVSE.

#include "model.hpp"

#include <catch2/catch.hpp>
#include <set>

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

Json answer(StationModel& station, const std::string& action, const Json& payload) {
  const Action handler = csms_actions().find(station.version(), action);
  REQUIRE(handler != nullptr);
  return handler(station, payload);
}

}  // namespace

TEST_CASE("the action table holds each version's calls, one entry per action", "[sim]") {
  std::set<std::string> v16, v201;
  for (const auto& [version, action] : csms_actions().list()) {
    (version == OcppVersion::v16 ? v16 : v201).insert(action);
  }
  CHECK(v16 == std::set<std::string>{
                   "CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache",
                   "ClearChargingProfile", "DataTransfer", "GetConfiguration", "GetDiagnostics",
                   "GetLocalListVersion", "RemoteStartTransaction", "RemoteStopTransaction",
                   "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "TriggerMessage",
                   "UnlockConnector", "UpdateFirmware"});
  CHECK(v201 == std::set<std::string>{"CancelReservation", "ChangeAvailability", "ClearCache",
                                      "ClearChargingProfile", "DataTransfer", "GetLocalListVersion",
                                      "GetLog", "GetVariables", "ReserveNow",
                                      "RequestStartTransaction", "RequestStopTransaction", "Reset",
                                      "SendLocalList", "SetChargingProfile", "SetVariables",
                                      "TriggerMessage", "UnlockConnector", "UpdateFirmware"});
  CHECK(csms_actions().find(OcppVersion::v16, "RequestStartTransaction") == nullptr);
  CHECK(csms_actions().find(OcppVersion::v201, "GetCompositeSchedule") == nullptr);
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
