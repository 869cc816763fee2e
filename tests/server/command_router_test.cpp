// The command router, the one way out to a station, on one node: CALLs are correlated with
// their answers, time out when none comes, are refused when too many wait or the schema
// forbids them, fail when the station is away — and every one is in the command log with its
// origin and outcome. (Routed through another node: tests/cluster/routing_test.cpp.)

#include "commands/command_router.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <future>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "commands/translation.hpp"
#include "server_fixture.hpp"
#include "store/command_log.hpp"
#include "store/stations.hpp"

using chargegrid::server::commands::CommandResult;
using chargegrid::server::commands::Origin;
using chargegrid::server::commands::StationCommand;
using chargegrid::testing::is_result;
using chargegrid::testing::ServerFixture;
using nlohmann::json;
using Kind = chargegrid::server::commands::Outcome::Kind;

namespace {

std::future<CommandResult> send(ServerFixture& fx, StationCommand command) {
  auto promise = std::make_shared<std::promise<CommandResult>>();
  command.origin = Origin::internal("test");
  fx.server().commands().post(std::move(command),
                              [promise](CommandResult r) { promise->set_value(std::move(r)); });
  return promise->get_future();
}

// An OCPP action sent as it is.
std::future<CommandResult> call(ServerFixture& fx, const std::string& id, const std::string& action,
                                json payload) {
  StationCommand command;
  command.station_id = id;
  command.name = "ocpp";
  command.ocpp_action = action;
  command.arguments = std::move(payload);
  return send(fx, std::move(command));
}

// Sends ClearCache to the station CALLED and answers it with the frame `answer` makes of the
// CALL's message id; the command's result.
CommandResult clear_cache_answered(ServerFixture& fx, chargegrid::sim::OcppTestClient& station,
                                   const std::function<json(const json& id)>& answer) {
  auto pending = call(fx, "CALLED", "ClearCache", json::object());
  auto frame = json::parse(*station.receive(std::chrono::seconds(5)));
  station.send_text(answer(frame[1]).dump());
  return pending.get();
}

// A remote-start of `station` (2.0.1: the CALL's remoteStartId is the command's id).
StationCommand remote_start_of(const std::string& station) {
  StationCommand command;
  command.station_id = station;
  command.name = "remote-start";
  command.arguments = {{"id_token", "TAG-B"}, {"evse_id", 1}};
  command.origin = Origin::internal("test");
  return command;
}

// router.send() on `io` (run by the caller), its result or its error through the future.
std::future<CommandResult> send_on(boost::asio::io_context& io, ServerFixture& fx,
                                   StationCommand command) {
  auto promise = std::make_shared<std::promise<CommandResult>>();
  auto future = promise->get_future();
  boost::asio::co_spawn(io, fx.server().commands().send(std::move(command)),
                        [promise](std::exception_ptr error, CommandResult result) {
                          if (error)
                            promise->set_exception(error);
                          else
                            promise->set_value(std::move(result));
                        });
  return future;
}

}  // namespace

TEST_CASE("A server CALL is matched with the station's answer", "[integration][calls]") {
  ServerFixture fx;
  auto station = fx.connect("CALLED", "ocpp1.6");
  REQUIRE(is_result(
      station->call("BootNotification", {{"chargePointVendor", "A"}, {"chargePointModel", "B"}})));
  auto pending =
      call(fx, "CALLED", "RemoteStartTransaction", {{"idTag", "RFID-9"}, {"connectorId", 1}});
  auto frame = json::parse(*station->receive(std::chrono::seconds(5)));
  REQUIRE(frame[0] == 2);
  CHECK(frame[2] == "RemoteStartTransaction");
  CHECK(frame[3]["idTag"] == "RFID-9");
  // An answer to an id the server never used is ignored, the right one is delivered.
  station->send_text(json::array({3, "not-mine", {{"status", "Rejected"}}}).dump());
  station->send_text(json::array({3, frame[1], {{"status", "Accepted"}}}).dump());
  auto result = pending.get();
  CHECK(result.outcome.kind == Kind::Answered);
  CHECK(result.outcome.payload["status"] == "Accepted");

  SECTION("a CALLERROR is delivered as an error") {
    auto r2 = clear_cache_answered(fx, *station, [](const json& id) {
      return json::array({4, id, "NotSupported", "no cache", json::object()});
    });
    CHECK(r2.outcome.kind == Kind::CallError);
    CHECK(r2.outcome.payload["errorCode"] == "NotSupported");
  }
  SECTION("an answer that breaks the schema is reported as such") {
    auto r3 = clear_cache_answered(fx, *station, [](const json& id) {
      return json::array({3, id, {{"status", "Maybe"}}});
    });
    CHECK(r3.outcome.kind == Kind::CallError);
  }
  SECTION("a CALL the schema forbids is not sent") {
    auto p4 = call(fx, "CALLED", "Reset", {{"type", "Sideways"}});
    CHECK(p4.get().outcome.kind == Kind::Invalid);
  }
}

TEST_CASE("A server CALL times out, and fails for an offline station", "[integration][calls]") {
  auto config = chargegrid::testing::test_config();
  config.call_timeout_s = 1;
  ServerFixture fx(config);
  CHECK(call(fx, "NOBODY", "ClearCache", json::object()).get().outcome.kind == Kind::Offline);
  auto station = fx.connect("SILENT", "ocpp2.0.1");
  REQUIRE(ServerFixture::eventually([&] { return fx.server().station_connected("SILENT"); }));
  auto pending = call(fx, "SILENT", "ClearCache", json::object());
  CHECK(station->receive(std::chrono::seconds(5)));  // received, never answered
  CHECK(pending.get().outcome.kind == Kind::Timeout);

  auto dropped = call(fx, "SILENT", "ClearCache", json::object());
  CHECK(station->receive(std::chrono::seconds(5)));
  station.reset();  // the station goes away mid-call
  CHECK(dropped.get().outcome.kind == Kind::Offline);
}

TEST_CASE("Server CALLs beyond the per-station limit are refused, not queued",
          "[integration][calls]") {
  auto config = chargegrid::testing::test_config();
  config.pending_calls_per_station = 2;
  config.call_timeout_s = 5;
  ServerFixture fx(config);
  auto station = fx.connect("BUSY", "ocpp2.0.1");
  REQUIRE(ServerFixture::eventually([&] { return fx.server().station_connected("BUSY"); }));
  auto first = call(fx, "BUSY", "ClearCache", json::object());
  auto second = call(fx, "BUSY", "ClearCache", json::object());
  // Both are on their way (each is logged before it is sent, so the order may vary).
  std::vector<json> frames;
  for (int i = 0; i < 2; ++i)
    frames.push_back(json::parse(*station->receive(std::chrono::seconds(5))));
  auto third = call(fx, "BUSY", "ClearCache", json::object());
  CHECK(third.get().outcome.kind == Kind::Refused);
  // The two within the limit were sent and are answered normally.
  for (const auto& frame : frames)
    station->send_text(json::array({3, frame[1], {{"status", "Accepted"}}}).dump());
  CHECK(first.get().outcome.kind == Kind::Answered);
  CHECK(second.get().outcome.kind == Kind::Answered);
}

TEST_CASE("The router translates a command into the station's version and logs its origin",
          "[integration][calls]") {
  ServerFixture fx;
  auto v16 = fx.connect("ROUTED-16", "ocpp1.6");
  auto v201 = fx.connect("ROUTED-201", "ocpp2.0.1");
  REQUIRE(is_result(
      v16->call("BootNotification", {{"chargePointVendor", "A"}, {"chargePointModel", "B"}})));
  REQUIRE(ServerFixture::eventually([&] { return fx.server().station_connected("ROUTED-201"); }));
  for (auto* station : {v16.get(), v201.get()}) {
    const bool is16 = station == v16.get();
    StationCommand command;
    command.station_id = is16 ? "ROUTED-16" : "ROUTED-201";
    command.name = "remote-start";
    command.arguments = {{"id_token", "TAG-7"}, {"evse_id", 2}};
    auto pending = send(fx, command);
    auto frame = json::parse(*station->receive(std::chrono::seconds(5)));
    CHECK(frame[2] == (is16 ? "RemoteStartTransaction" : "RequestStartTransaction"));
    CHECK(frame[3][is16 ? "connectorId" : "evseId"] == 2);
    station->send_text(json::array({3, frame[1], {{"status", "Accepted"}}}).dump());
    const auto result = pending.get();
    CHECK(result.outcome.kind == Kind::Answered);
    if (!is16) CHECK(frame[3]["remoteStartId"] == result.command_id);
    CHECK(fx.query_value("SELECT origin || ' ' || command || ' ' || ocpp_action || ' ' || outcome "
                         "|| ' ' || (api_key_id IS NULL) FROM command_log WHERE id = " +
                         std::to_string(result.command_id)) ==
          std::string("test remote-start ") +
              (is16 ? "RemoteStartTransaction" : "RequestStartTransaction") + " answered true");
  }
  // A command a version lacks is refused before anything is logged or sent.
  StationCommand config_get;
  config_get.station_id = "ROUTED-201";
  config_get.name = "get-configuration";
  config_get.origin = Origin::internal("test");
  CHECK_THROWS_AS(
      [&] {
        boost::asio::io_context io;
        std::exception_ptr error;
        boost::asio::co_spawn(io, fx.server().commands().send(config_get),
                              [&](std::exception_ptr e, CommandResult) { error = e; });
        io.run();
        if (error) std::rethrow_exception(error);
      }(),
      chargegrid::server::commands::NotAvailable);
  // An offline station's command is logged as offline.
  auto offline = send(fx,
                      [] {
                        StationCommand c;
                        c.station_id = "NOBODY";
                        c.name = "clear-cache";
                        return c;
                      }())
                     .get();
  CHECK(offline.outcome.kind == Kind::Offline);
  CHECK(fx.query_value("SELECT outcome FROM command_log WHERE id = " +
                       std::to_string(offline.command_id)) == "offline");
}

TEST_CASE("Commands under way at once are each logged before they are sent, in shared batches",
          "[integration][calls]") {
  ServerFixture fx;
  constexpr int kStations = 6;
  constexpr int kEach = 3;
  std::vector<std::unique_ptr<chargegrid::sim::OcppTestClient>> stations;
  for (int s = 0; s < kStations; ++s)
    stations.push_back(fx.connect("BATCHED-" + std::to_string(s), "ocpp2.0.1"));
  for (int s = 0; s < kStations; ++s)
    REQUIRE(ServerFixture::eventually(
        [&] { return fx.server().station_connected("BATCHED-" + std::to_string(s)); }));
  std::vector<std::future<CommandResult>> pending;
  for (int k = 0; k < kEach; ++k)
    for (int s = 0; s < kStations; ++s)
      pending.push_back(send(fx, remote_start_of("BATCHED-" + std::to_string(s))));
  // Every CALL a station receives is in the command log already, pending.
  std::vector<std::pair<int, json>> frames;
  std::set<std::int64_t> ids;
  for (int s = 0; s < kStations; ++s)
    for (int k = 0; k < kEach; ++k) {
      auto text = stations[s]->receive(std::chrono::seconds(5));
      REQUIRE(text);
      auto frame = json::parse(*text);
      REQUIRE(frame[2] == "RequestStartTransaction");
      const auto id = frame[3]["remoteStartId"].get<std::int64_t>();
      CHECK(fx.query_value("SELECT outcome FROM command_log WHERE id = " + std::to_string(id)) ==
            "pending");
      ids.insert(id);
      frames.emplace_back(s, std::move(frame));
    }
  CHECK(ids.size() == kStations * kEach);  // each its own id
  std::string id_list;
  for (auto id : ids) id_list += (id_list.empty() ? "" : ",") + std::to_string(id);
  // Logged together: fewer transactions wrote the rows than there are commands.
  CHECK(fx.query_value("SELECT count(DISTINCT xmin::text) < count(*) FROM command_log "
                       "WHERE id IN (" +
                       id_list + ")") == "t");
  for (const auto& [s, frame] : frames)
    stations[s]->send_text(json::array({3, frame[1], {{"status", "Accepted"}}}).dump());
  for (auto& p : pending) {
    auto result = p.get();
    CHECK(result.outcome.kind == Kind::Answered);
    CHECK(ids.count(result.command_id) == 1);
  }
  CHECK(fx.query_value("SELECT count(*) FROM command_log WHERE outcome = 'answered' AND "
                       "response->>'status' = 'Accepted' AND completed_at IS NOT NULL AND id IN (" +
                       id_list + ")") == std::to_string(kStations * kEach));
}

TEST_CASE("A command whose log row the database refuses is not sent, and those beside it are",
          "[integration][calls]") {
  ServerFixture fx;
  auto station = fx.connect("AUDITED", "ocpp2.0.1");
  REQUIRE(ServerFixture::eventually([&] { return fx.server().station_connected("AUDITED"); }));
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  constexpr int kCommands = 6;
  constexpr int kRefused = 2;
  std::vector<std::future<CommandResult>> pending;
  for (int i = 0; i < kCommands; ++i) {
    auto command = remote_start_of("AUDITED");
    // No such API key: the row breaks its foreign key, and only this command fails.
    if (i == kRefused) command.origin = Origin::api_key(987654321);
    pending.push_back(send_on(io, fx, std::move(command)));
  }
  std::vector<json> frames;
  for (int i = 0; i < kCommands - 1; ++i) {
    auto text = station->receive(std::chrono::seconds(5));
    REQUIRE(text);
    frames.push_back(json::parse(*text));
  }
  CHECK_FALSE(station->receive(std::chrono::milliseconds(500)));  // the refused one never came
  for (const auto& frame : frames)
    station->send_text(json::array({3, frame[1], {{"status", "Accepted"}}}).dump());
  for (int i = 0; i < kCommands; ++i) {
    if (i == kRefused) {
      CHECK_THROWS_AS(pending[i].get(), std::exception);
      continue;
    }
    CHECK(pending[i].get().outcome.kind == Kind::Answered);
  }
  work.reset();
  runner.join();
  CHECK(fx.query_value("SELECT count(*) FROM command_log WHERE station_id = 'AUDITED'") ==
        std::to_string(kCommands - 1));
  CHECK(fx.query_value("SELECT count(*) FROM command_log WHERE station_id = 'AUDITED' AND "
                       "outcome = 'answered'") == std::to_string(kCommands - 1));
}

TEST_CASE("The command log's statements for many commands store what one at a time would",
          "[integration][calls]") {
  namespace command_log = chargegrid::server::store::command_log;
  namespace stations = chargegrid::server::store::stations;
  ServerFixture fx;
  auto c = fx.sql();
  pqxx::work tx(c);
  const auto site =
      tx.exec("INSERT INTO sites (name) VALUES ('Depot') RETURNING id")[0][0].as<std::int64_t>();
  tx.exec_params(
      "INSERT INTO stations (id, registration, site_id) VALUES ('WITH-SITE', "
      "'accepted', $1), ('NO-SITE', 'accepted', NULL)",
      site);
  const std::vector<std::string> ids_asked{"NO-SITE", "MISSING", "WITH-SITE", "WITH-SITE"};
  const auto sites = stations::sites_of(tx, ids_asked);
  REQUIRE(sites.size() == 4);
  CHECK_FALSE(sites[0]);
  CHECK_FALSE(sites[1]);
  CHECK(sites[2] == site);
  CHECK(sites[3] == site);
  CHECK(stations::remote_holders(tx, ids_asked, "self").size() == 4);

  const auto ids = command_log::next_ids(tx, 3);
  REQUIRE(ids.size() == 3);
  CHECK((ids[0] < ids[1] && ids[1] < ids[2]));
  std::vector<command_log::Entry> entries(3);
  entries[0].id = ids[0];
  entries[0].station_id = "Q\"uote\\d, {braced}";
  entries[0].origin = "test";
  entries[0].command = "ocpp";
  entries[0].audited = {{"text", "a \"b\" \\ c, {d} \xc3\xbc"}, {"none", nullptr}};
  entries[0].outcome = "offline";
  entries[1].id = ids[1];
  entries[1].station_id = "WITH-SITE";
  entries[1].site_id = site;
  entries[1].origin = "smart-charging";
  entries[1].command = "set-charging-profile";
  entries[1].ocpp_action = "SetChargingProfile";
  entries[1].audited = json::object();
  entries[1].outcome = "pending";
  entries[1].routed_from = "node-a";
  entries[1].routed_to = "node-b";
  entries[1].dispatch = json{{"x", "y,z"}};
  entries[1].lease_epoch = 4;
  entries[2].id = ids[2];
  entries[2].station_id = "NO-SITE";
  entries[2].origin = "test";
  entries[2].command = "clear-cache";
  entries[2].ocpp_action = "ClearCache";
  entries[2].audited = json::array({1, 2});
  entries[2].outcome = "pending";
  command_log::insert_all(tx, entries);
  const command_log::Completion failed{ids[2], "call_error", json{{"errorCode", "X\"Y"}}};
  const command_log::Completion answered{ids[1], "answered", json{{"status", "Ok"}}};
  command_log::complete_all(tx, std::vector<command_log::Completion>{failed, answered});
  tx.commit();

  const auto row = [&](std::int64_t id, const std::string& columns) {
    return fx.query_value("SELECT " + columns +
                          " FROM command_log WHERE id = " + std::to_string(id));
  };
  CHECK(row(ids[0], "station_id") == entries[0].station_id);
  CHECK(json::parse(row(ids[0], "request::text")) == entries[0].audited);
  CHECK(row(ids[0],
            "outcome || (ocpp_action IS NULL) || (completed_at IS NOT NULL) || "
            "(site_id IS NULL) || (routed_to IS NULL)") == "offlinetruetruetruetrue");
  CHECK(row(ids[1],
            "site_id || ' ' || routed_from || ' ' || routed_to || ' ' || lease_epoch || "
            "' ' || (dispatch->>'x') || ' ' || outcome || ' ' || (response->>'status')") ==
        std::to_string(site) + " node-a node-b 4 y,z answered Ok");
  CHECK(row(ids[2],
            "outcome || ' ' || (response->>'errorCode') || ' ' || request::text || ' ' || "
            "(completed_at IS NOT NULL)") == "call_error X\"Y [1, 2] true");
}
