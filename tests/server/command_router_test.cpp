// The command router, the one way out to a station, on one node: CALLs are correlated with
// their answers, time out when none comes, are refused when too many wait or the schema
// forbids them, fail when the station is away — and every one is in the command log with its
// origin and outcome. (Routed through another node: tests/cluster/routing_test.cpp.)

#include "commands/command_router.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <future>

#include "commands/translation.hpp"
#include "server_fixture.hpp"

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
