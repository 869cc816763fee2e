// Remote commands through the REST API to simulated stations of both OCPP
// versions, and every way a command can fail: offline, timeout, CALLERROR,
// a command the station's version lacks, a payload its schema refuses.

#include <set>

#include "api_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::sim::OcppVersion;

namespace {

// The ids of a test's stations: `letter`16-0001 for OCPP 1.6, `letter`201-0001 for 2.0.1.
std::string station_prefix(const std::string& letter, OcppVersion version) {
  return letter + (version == OcppVersion::v16 ? "16-" : "201-");
}

struct CommandCase {
  const char* command;
  nlohmann::json body;
  const char* ocpp_action;
  const char* status;  // expected status in the station's answer, or "" for none
};

// Commands both versions take and answer alike.
const std::vector<CommandCase> kCommonCommands = {
    {"trigger-message", {{"message", "Heartbeat"}}, "TriggerMessage", "Accepted"},
    {"clear-cache", nlohmann::json::object(), "ClearCache", "Accepted"},
    {"get-local-list-version", nlohmann::json::object(), "GetLocalListVersion", ""},
    {"change-availability",
     {{"operational", false}, {"evse_id", 2}},
     "ChangeAvailability",
     "Accepted"},
    {"unlock-connector", {{"evse_id", 1}}, "UnlockConnector", "Unlocked"},
};

// Bodies both versions take, answered in each version's own way.
const nlohmann::json kFirmwareUpdate = {{"location", "https://firmware.example.com/fw.bin"},
                                        {"retrieve_at", "2026-12-01T02:00:00Z"}};
const nlohmann::json kRemoteStart = {{"evse_id", 1}, {"id_token", "TAG-1"}};

// Sends the common commands, then each of `own_cases` (a reset last), to a station of `version`.
void run_commands(ApiFixture& f, OcppVersion version, const std::vector<CommandCase>& own_cases) {
  auto cases = kCommonCommands;
  cases.insert(cases.end(), own_cases.begin(), own_cases.end());
  const auto site = f.make_site("Depot");
  auto stations = f.registered_station(version, station_prefix("C", version), site);
  const auto id = stations->id();
  auto admin = f.admin();
  for (const auto& c : cases) {
    INFO(c.command << " " << c.body.dump());
    auto r = admin.post("/stations/" + id + "/commands/" + c.command, c.body);
    REQUIRE(r.status == 200);
    CHECK(r.data["outcome"] == "answered");
    CHECK(r.data["ocpp_action"] == c.ocpp_action);
    if (*c.status) CHECK(r.data["status"] == c.status);
    // The audit log has the command and the answer.
    auto logged = admin.get("/commands/" + std::to_string(r.data["command_id"].get<long>()));
    REQUIRE(logged.status == 200);
    CHECK(logged.data["outcome"] == "answered");
    CHECK(logged.data["command"] == c.command);
    CHECK(logged.data["response"] == r.data["response"]);
  }
  CHECK(admin.get("/commands?station_id=" + id + "&limit=500").data["items"].size() ==
        cases.size());
}

}  // namespace

TEST_CASE("every remote command round-trips to an OCPP 1.6 station") {
  ApiFixture f;
  run_commands(
      f, OcppVersion::v16,
      {
          {"get-configuration", {{"keys", {"HeartbeatInterval"}}}, "GetConfiguration", ""},
          {"change-configuration",
           {{"key", "HeartbeatInterval"}, {"value", "120"}},
           "ChangeConfiguration",
           "Accepted"},
          {"send-local-list",
           {{"version", 3},
            {"update_type", "Full"},
            {"entries", {{{"id_token", "TAG-1"}}, {{"id_token", "TAG-2"}, {"status", "Blocked"}}}}},
           "SendLocalList",
           "Accepted"},
          {"reserve-now",
           {{"id_token", "TAG-1"}, {"expiry", "2099-01-01T00:00:00Z"}, {"reservation_id", 7}},
           "ReserveNow",
           "Accepted"},
          {"cancel-reservation", {{"reservation_id", 7}}, "CancelReservation", "Accepted"},
          {"update-firmware", kFirmwareUpdate, "UpdateFirmware", ""},
          {"get-log", {{"location", "ftp://logs.example.com/"}}, "GetDiagnostics", ""},
          {"remote-start", kRemoteStart, "RemoteStartTransaction", "Accepted"},
          {"reset", {{"type", "Soft"}}, "Reset", "Accepted"},
      });
}

TEST_CASE("every remote command round-trips to an OCPP 2.0.1 station") {
  ApiFixture f;
  run_commands(
      f, OcppVersion::v201,
      {
          {"get-variables",
           {{"variables", {{{"component", "OCPPCommCtrlr"}, {"variable", "HeartbeatInterval"}}}}},
           "GetVariables",
           ""},
          {"set-variables",
           {{"variables",
             {{{"component", "OCPPCommCtrlr"},
               {"variable", "HeartbeatInterval"},
               {"value", "120"}}}}},
           "SetVariables",
           ""},
          {"send-local-list",
           {{"version", 3},
            {"update_type", "Full"},
            {"entries", {{{"id_token", "TAG-1"}, {"token_type", "ISO14443"}}}}},
           "SendLocalList",
           "Accepted"},
          {"reserve-now",
           {{"id_token", "TAG-1"}, {"expiry", "2099-01-01T00:00:00Z"}},
           "ReserveNow",
           "Accepted"},
          {"update-firmware", kFirmwareUpdate, "UpdateFirmware", "Accepted"},
          {"get-log", {{"location", "https://logs.example.com/upload"}}, "GetLog", "Accepted"},
          {"remote-start", kRemoteStart, "RequestStartTransaction", "Accepted"},
          {"reset", {{"type", "OnIdle"}}, "Reset", "Accepted"},
      });
}

TEST_CASE("remote start and stop make a session the API can follow, for both versions") {
  ApiFixture f(free_vend_config());
  auto admin = f.admin();
  const auto site = f.make_site("Depot");
  for (auto version : {OcppVersion::v16, OcppVersion::v201}) {
    auto stations = f.registered_station(version, station_prefix("S", version), site);
    const auto id = stations->id();
    auto start = admin.post("/stations/" + id + "/commands/remote-start",
                            {{"evse_id", 1}, {"id_token", "FLEET-7"}});
    REQUIRE(start.status == 200);
    REQUIRE(start.data["status"] == "Accepted");

    nlohmann::json session;
    REQUIRE(ServerFixture::eventually([&] {
      auto live = admin.get("/sessions?status=active&station_id=" + id);
      if (live.data["items"].empty()) return false;
      session = live.data["items"][0];
      return true;
    }));
    CHECK(session["evse_id"] == 1);
    CHECK(session["id_token"] == "FLEET-7");
    const auto session_id = std::to_string(session["id"].get<long>());
    // Meter samples arrive (one simulated minute per real second) and the live
    // session's energy grows.
    REQUIRE(ServerFixture::eventually(
        [&] {
          auto live = admin.get("/sessions/" + session_id);
          return live.data["energy_imported_wh"].is_number() &&
                 live.data["energy_imported_wh"].get<double>() > 0;
        },
        std::chrono::seconds(15)));
    auto samples = admin.get("/sessions/" + session_id +
                             "/meter-values?measurand=" + "Energy.Active.Import.Register");
    CHECK(!samples.data["items"].empty());

    auto stop = admin.post("/sessions/" + session_id + "/stop");
    REQUIRE(stop.status == 200);
    CHECK(stop.data["status"] == "Accepted");
    CHECK(stop.data["ocpp_action"] ==
          (version == OcppVersion::v16 ? "RemoteStopTransaction" : "RequestStopTransaction"));
    REQUIRE(ServerFixture::eventually(
        [&] { return admin.get("/sessions/" + session_id).data["status"] == "ended"; }));
    auto ended = admin.get("/sessions/" + session_id);
    INFO(ended.body);
    CHECK(ended.data["energy_imported_wh"].get<double>() > 0);
    CHECK(ended.data["stop_reason"].is_string());
    auto again = admin.post("/sessions/" + session_id + "/stop");
    CHECK(again.status == 409);
  }
}

TEST_CASE("commands to an offline, silent or failing station are clear problems and audited") {
  auto config = test_config();
  config.call_timeout_s = 1;
  ApiFixture f(config);
  auto admin = f.admin();
  f.make_depot("CP-QUIET");

  auto offline = admin.post("/stations/CP-QUIET/commands/clear-cache");
  CHECK(offline.status == 409);
  CHECK(offline.data["title"] == "Station offline");
  CHECK(offline.data.contains("command_id"));

  // A station that never answers: 504 after the call timeout.
  auto quiet = f.connect("CP-QUIET", "ocpp1.6");
  REQUIRE(f.online("CP-QUIET"));
  auto timeout = admin.post("/stations/CP-QUIET/commands/clear-cache");
  CHECK(timeout.status == 504);
  CHECK(timeout.detail().find("did not answer ClearCache") != std::string::npos);

  // A station that answers with a CALLERROR: 502 with its error code.
  std::thread responder([&] {
    for (int i = 0; i < 50; ++i) {
      auto frame = quiet->receive(std::chrono::milliseconds(200));
      if (!frame) continue;
      auto message = nlohmann::json::parse(*frame);
      if (message.at(0) == 2 && message.at(2) == "Reset") {
        quiet->send_text(nlohmann::json{4, message.at(1), "NotSupported", "no resets here",
                                        nlohmann::json::object()}
                             .dump());
        return;
      }
    }
  });
  auto error = admin.post("/stations/CP-QUIET/commands/reset", {{"type", "Hard"}});
  responder.join();
  CHECK(error.status == 502);
  CHECK(error.data["ocpp_error"]["errorCode"] == "NotSupported");

  // What the station's version does not have, and what its schema refuses.
  auto wrong_version = admin.post("/stations/CP-QUIET/commands/get-variables",
                                  {{"variables", {{{"component", "A"}, {"variable", "B"}}}}});
  CHECK(wrong_version.status == 409);
  CHECK(wrong_version.detail().find("get-configuration") != std::string::npos);
  auto too_long = admin.post("/stations/CP-QUIET/commands/remote-start",
                             {{"id_token", "TOKEN-OF-25-CHARACTERS-XX"}});
  CHECK(too_long.status == 422);
  CHECK(too_long.detail().find("idTag") != std::string::npos);
  auto bad_body = admin.post("/stations/CP-QUIET/commands/reset", {{"type", "Gentle"}});
  CHECK(bad_body.status == 422);
  CHECK(admin.post("/stations/NOPE/commands/reset", {{"type", "Hard"}}).status == 404);

  // The audit log saw all of them, with their outcomes.
  auto log = admin.get("/commands?station_id=CP-QUIET");
  std::multiset<std::string> outcomes;
  for (const auto& entry : log.data["items"]) outcomes.insert(entry["outcome"].get<std::string>());
  CHECK(outcomes.count("offline") == 1);
  CHECK(outcomes.count("timeout") == 1);
  CHECK(outcomes.count("call_error") == 1);
  CHECK(outcomes.count("invalid") == 1);
  CHECK(admin.get("/commands?outcome=timeout").data["items"].size() == 1);
  CHECK(admin.get("/commands?outcome=bogus").status == 400);
}

TEST_CASE("a station's password is rotated through the station, never stored in clear") {
  ApiFixture f;
  auto admin = f.admin();
  const auto site = f.make_site("Depot");
  for (auto version : {OcppVersion::v16, OcppVersion::v201}) {
    auto stations = f.registered_station(version, station_prefix("P", version), site);
    const auto id = stations->id();
    auto rotated = admin.post("/stations/" + id + "/password");
    REQUIRE(rotated.status == 200);
    CHECK(rotated.data["sent_to_station"] == true);
    const auto password = rotated.data["password"].get<std::string>();
    CHECK(password.size() >= 16);
    const auto stored = f.query_value("SELECT password_hash FROM stations WHERE id = '" + id + "'");
    CHECK(stored.find("pbkdf2-sha256$") == 0);
    CHECK(stored.find(password) == std::string::npos);
    CHECK(admin.get("/stations/" + id).data["has_password"] == true);
    // The audit log keeps the command, not the password.
    auto log = admin.get("/commands?station_id=" + id);
    CHECK(log.body.find(password) == std::string::npos);
  }
  // Offline: set without sending (for a station about to be installed).
  f.make_station("CP-NEW", site);
  auto set = admin.post("/stations/CP-NEW/password",
                        {{"password", "correct-horse-battery"}, {"send_to_station", false}});
  CHECK(set.status == 200);
  CHECK_FALSE(set.data.contains("password"));
  CHECK(admin.post("/stations/CP-NEW/password", {{"password", "short"}}).status == 422);
}
