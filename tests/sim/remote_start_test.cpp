// Sessions the CSMS starts run on the EVSE (1.6: connector) it names, and every session
// ends by itself once its duration is up: simulated stations against a CSMS stub.

#include <catch2/catch.hpp>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/sim_fleet.hpp"
#include "csms_stub.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::CsmsStub;
using Running = chargegrid::testing::RunningFleet;
using nlohmann::json;
namespace sim = chargegrid::sim;

namespace {

// One station of `version` with three EVSEs that starts no session of its own.
sim::FleetOptions one_station(const CsmsStub& csms, sim::OcppVersion version,
                              const std::string& prefix) {
  auto options = chargegrid::testing::quick_fleet(csms.url(), version, prefix);
  options.station.connectors = 3;
  options.station.sessions = 0;
  options.station.session_length_s = 3600;
  return options;
}

// Waits for the station's StatusNotification of its last EVSE: it booted and reported.
void wait_until_reported(CsmsStub& csms, sim::OcppVersion version) {
  const char* field = version == sim::OcppVersion::v16 ? "connectorId" : "evseId";
  REQUIRE(csms.wait_for("StatusNotification", [&](const json& p) { return p[field] == 3; }));
}

// The station of `options` running, booted and reported to `csms`.
struct ReportedStation : Running {
  ReportedStation(CsmsStub& csms, sim::FleetOptions station_options)
      : Running(std::move(station_options)) {
    wait_until_reported(csms, options.station.version);
  }
};

std::string status_of(const json& answer) {
  INFO(answer.dump());
  REQUIRE(answer.is_array());
  REQUIRE(answer[0] == 3);
  return answer[2].value("status", "");
}

// Station `id` accepts RemoteStartTransaction for `id_tag` at `connector`: the StartTransaction
// it then sends, for that connector.
CsmsStub::Received remote_start_16(CsmsStub& csms, const std::string& id, const std::string& id_tag,
                                   int connector) {
  CHECK(status_of(csms.call(id, "RemoteStartTransaction",
                            {{"idTag", id_tag}, {"connectorId", connector}})) == "Accepted");
  auto started = csms.wait_for("StartTransaction");
  REQUIRE(started);
  CHECK(started->payload["connectorId"] == connector);
  return *started;
}

json request_start(int evse, int remote_start_id, const std::string& token = "DRIVER") {
  return {{"idToken", {{"idToken", token}, {"type", "Central"}}},
          {"remoteStartId", remote_start_id},
          {"evseId", evse}};
}

// A TransactionEvent ending transaction `transaction_id`.
auto ending(const json& transaction_id) {
  return [transaction_id](const json& p) {
    return p["eventType"] == "Ended" && p["transactionInfo"]["transactionId"] == transaction_id;
  };
}

auto started_with(int remote_start_id) {
  return [remote_start_id](const json& p) {
    return p["eventType"] == "Started" &&
           p["transactionInfo"].value("remoteStartId", -1) == remote_start_id;
  };
}

}  // namespace

TEST_CASE("2.0.1: RequestStartTransaction starts the session on the EVSE it names",
          "[sim][remote-start]") {
  CsmsStub csms;
  ReportedStation station(csms, one_station(csms, sim::OcppVersion::v201, "RS201-"));
  const std::string id = station.id();

  CHECK(status_of(csms.call(id, "RequestStartTransaction", request_start(2, 42, "DRIVER-2"))) ==
        "Accepted");
  auto started = csms.wait_for("TransactionEvent", started_with(42));
  REQUIRE(started);
  INFO(started->payload.dump());
  CHECK(started->payload["evse"]["id"] == 2);
  CHECK(started->payload["triggerReason"] == "RemoteStart");
  CHECK(started->payload["idToken"]["idToken"] == "DRIVER-2");
  CHECK(csms.wait_for("StatusNotification", [](const json& p) {
    return p["evseId"] == 2 && p["connectorStatus"] == "Occupied";
  }));
  CHECK(csms.received("StatusNotification").size() == 4);  // 3 at boot, EVSE 2 occupied

  // EVSE 2 is busy now; there is no EVSE 4; an inoperative EVSE takes no session.
  CHECK(status_of(csms.call(id, "RequestStartTransaction", request_start(2, 43))) == "Rejected");
  CHECK(status_of(csms.call(id, "RequestStartTransaction", request_start(4, 44))) == "Rejected");
  CHECK(status_of(csms.call(id, "ChangeAvailability",
                            {{"operationalStatus", "Inoperative"}, {"evse", {{"id", 3}}}})) ==
        "Accepted");
  CHECK(status_of(csms.call(id, "RequestStartTransaction", request_start(3, 45))) == "Rejected");

  // EVSE 1 is free: a second session runs alongside the first; without an EVSE the
  // station takes a free one, and once none is left it refuses.
  CHECK(status_of(csms.call(id, "RequestStartTransaction", request_start(1, 46))) == "Accepted");
  auto second = csms.wait_for("TransactionEvent", started_with(46));
  REQUIRE(second);
  CHECK(second->payload["evse"]["id"] == 1);
  auto anywhere = request_start(0, 47);
  anywhere.erase("evseId");
  CHECK(status_of(csms.call(id, "RequestStartTransaction", anywhere)) == "Rejected");
  CHECK(csms.received("TransactionEvent").size() >= 2);

  // Each stops on its own request, the other goes on.
  const auto first_tx = started->payload["transactionInfo"]["transactionId"];
  CHECK(status_of(csms.call(id, "RequestStopTransaction", {{"transactionId", first_tx}})) ==
        "Accepted");
  auto first_ended = csms.wait_for("TransactionEvent", ending(first_tx));
  REQUIRE(first_ended);
  CHECK(first_ended->payload["transactionInfo"]["stoppedReason"] == "Remote");
  CHECK(csms.wait_for("StatusNotification", [](const json& p) {
    return p["evseId"] == 2 && p["connectorStatus"] == "Available";
  }));
  const auto stats = station.stop();
  CHECK(stats.sessions_started == 2);
  CHECK(stats.sessions_completed == 2);  // the second one ended by the fleet stopping
}

TEST_CASE("1.6: RemoteStartTransaction starts the session on the connector it names",
          "[sim][remote-start]") {
  CsmsStub csms;
  ReportedStation station(csms, one_station(csms, sim::OcppVersion::v16, "RS16-"));
  const std::string id = station.id();

  auto started = remote_start_16(csms, id, "DRIVER-2", 2);
  CHECK(started.payload["idTag"] == "DRIVER-2");
  CHECK(csms.wait_for("StatusNotification", [](const json& p) {
    return p["connectorId"] == 2 && p["status"] == "Charging";
  }));
  // Meter values come from the connector charging.
  auto sample = csms.wait_for("MeterValues");
  REQUIRE(sample);
  CHECK(sample->payload["connectorId"] == 2);
  CHECK(sample->payload["transactionId"] == started.answer["transactionId"]);

  CHECK(status_of(csms.call(id, "RemoteStartTransaction",
                            {{"idTag", "OTHER"}, {"connectorId", 2}})) == "Rejected");
  CHECK(status_of(csms.call(id, "RemoteStartTransaction",
                            {{"idTag", "OTHER"}, {"connectorId", 4}})) == "Rejected");
  CHECK(status_of(csms.call(id, "RemoteStartTransaction",
                            {{"idTag", "OTHER"}, {"connectorId", 0}})) == "Rejected");
  // Without a connector the station takes a free one.
  CHECK(status_of(csms.call(id, "RemoteStartTransaction", {{"idTag", "ANY"}})) == "Accepted");
  auto second =
      csms.wait_for("StartTransaction", [](const json& p) { return p["idTag"] == "ANY"; });
  REQUIRE(second);
  CHECK(second->payload["connectorId"] == 1);

  const auto tx = started.answer["transactionId"];
  CHECK(status_of(csms.call(id, "RemoteStopTransaction", {{"transactionId", tx}})) == "Accepted");
  auto stopped = csms.wait_for("StopTransaction");
  REQUIRE(stopped);
  CHECK(stopped->payload["transactionId"] == tx);
  CHECK(stopped->payload["reason"] == "Remote");
}

TEST_CASE("2.0.1: a session ends by itself once its duration is up", "[sim][duration]") {
  CsmsStub csms;
  auto options = one_station(csms, sim::OcppVersion::v201, "DU201-");
  options.station.session_length_s = 120;  // two real seconds
  options.station.sessions = 1;            // one of its own, on EVSE 1
  ReportedStation station(csms, options);
  const std::string id = station.id();
  CHECK(status_of(csms.call(id, "RequestStartTransaction", request_start(3, 7))) == "Accepted");

  auto remote = csms.wait_for("TransactionEvent", started_with(7));
  REQUIRE(remote);
  CHECK(remote->payload["evse"]["id"] == 3);
  const auto remote_tx = remote->payload["transactionInfo"]["transactionId"];
  // The vehicle of the session the CSMS started is unplugged when its time is up.
  auto remote_ended = csms.wait_for("TransactionEvent", ending(remote_tx), 15s);
  REQUIRE(remote_ended);
  INFO(remote_ended->payload.dump());
  CHECK(remote_ended->payload["transactionInfo"]["stoppedReason"] == "EVDisconnected");
  CHECK(remote_ended->payload["triggerReason"] == "EVCommunicationLost");
  CHECK(remote_ended->payload["transactionInfo"]["chargingState"] == "Idle");
  CHECK_FALSE(remote_ended->payload.contains("idToken"));

  // The station's own session: the driver stops it with the token that started it.
  auto own = csms.wait_for("TransactionEvent", [](const json& p) {
    return p["eventType"] == "Started" && p["triggerReason"] == "Authorized";
  });
  REQUIRE(own);
  const auto own_tx = own->payload["transactionInfo"]["transactionId"];
  auto own_ended = csms.wait_for("TransactionEvent", ending(own_tx), 15s);
  REQUIRE(own_ended);
  CHECK(own_ended->payload["transactionInfo"]["stoppedReason"] == "Local");
  CHECK(own_ended->payload["triggerReason"] == "StopAuthorized");
  CHECK(own_ended->payload["idToken"]["idToken"] == own->payload["idToken"]["idToken"]);
}

TEST_CASE("1.6: a session ends by itself once its duration is up", "[sim][duration]") {
  CsmsStub csms;
  auto options = one_station(csms, sim::OcppVersion::v16, "DU16-");
  options.station.session_length_s = 120;
  ReportedStation station(csms, options);
  const std::string id = station.id();
  auto started = remote_start_16(csms, id, "DRIVER-3", 3);
  auto stopped = csms.wait_for("StopTransaction", {}, 15s);
  REQUIRE(stopped);
  INFO(stopped->payload.dump());
  CHECK(stopped->payload["transactionId"] == started.answer["transactionId"]);
  CHECK(stopped->payload["reason"] == "EVDisconnected");
  CHECK_FALSE(stopped->payload.contains("idTag"));
  CHECK(stopped->payload["meterStop"].get<long>() > started.payload["meterStart"].get<long>());
  CHECK(csms.wait_for("StatusNotification", [](const json& p) {
    return p["connectorId"] == 3 && p["status"] == "Available";
  }));
}

TEST_CASE("a session of duration 0 runs until something stops it", "[sim][duration]") {
  CsmsStub csms;
  auto options = one_station(csms, sim::OcppVersion::v201, "DZ201-");
  options.station.session_length_s = 0;
  options.station.meter_interval_s = 30;
  ReportedStation station(csms, options);
  const std::string id = station.id();
  CHECK(status_of(csms.call(id, "RequestStartTransaction", request_start(1, 9))) == "Accepted");
  REQUIRE(csms.wait_for("TransactionEvent", started_with(9)));
  const auto ended = [](const json& p) { return p["eventType"] == "Ended"; };
  CHECK_FALSE(csms.wait_for("TransactionEvent", ended, 2s));
  // Meanwhile it meters (every half simulated minute).
  CHECK(csms.received("TransactionEvent").size() >= 3);
  station.stop();
  auto last = csms.wait_for("TransactionEvent", ended, 5s);
  REQUIRE(last);
  CHECK(last->payload["transactionInfo"]["stoppedReason"] == "Other");
}
