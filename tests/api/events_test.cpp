// Live events over Server-Sent Events, filtered by the caller's scope, and the
// driver-station association: claimed, implied by a token, linked to sessions.

#include "api_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::server::api::Role;

namespace {

// A 2.0.1 TransactionEvent starting transaction `uid` at EVSE 1 with `token`.
nlohmann::json transaction_started(const std::string& uid, const std::string& token) {
  return {{"eventType", "Started"},
          {"timestamp", "2026-11-24T10:00:01Z"},
          {"triggerReason", "Authorized"},
          {"seqNo", 0},
          {"transactionInfo", {{"transactionId", uid}}},
          {"evse", {{"id", 1}, {"connectorId", 1}}},
          {"idToken", {{"idToken", token}, {"type", "ISO14443"}}}};
}

}  // namespace

TEST_CASE("SSE: stations going online, status changes and sessions arrive, scoped by site") {
  ApiFixture f(free_vend_config());
  const auto [a, b] = f.make_sites("A", "B");
  f.make_station("CP-A", a);
  f.make_station("CP-B", b);
  const auto key_a = f.make_key(Role::FacilityManager, {a});
  EventStream manager_a(f.server().http_port(), key_a);
  EventStream admin(f.server().http_port(), f.admin().key(), "?types=station.online");
  REQUIRE(manager_a.head().find("200 OK") != std::string::npos);
  REQUIRE(manager_a.head().find("text/event-stream") != std::string::npos);

  auto station_b = f.connect("CP-B", "ocpp1.6");
  auto station_a = f.connect("CP-A", "ocpp2.0.1");
  // The admin sees both stations come online; A's manager only CP-A.
  auto first = admin.next("station.online");
  auto second = admin.next("station.online");
  REQUIRE(first);
  REQUIRE(second);
  auto online = manager_a.next("station.online");
  REQUIRE(online);
  CHECK((*online)["station_id"] == "CP-A");
  CHECK((*online)["site_id"] == a);

  station_b->call("StatusNotification",
                  {{"connectorId", 1}, {"status", "Preparing"}, {"errorCode", "NoError"}});
  station_a->call("StatusNotification", {{"timestamp", "2026-11-24T10:00:00Z"},
                                         {"connectorStatus", "Occupied"},
                                         {"evseId", 1},
                                         {"connectorId", 1}});
  auto status = manager_a.next("connector.status");
  REQUIRE(status);
  CHECK((*status)["station_id"] == "CP-A");
  CHECK((*status)["data"]["status"] == "Occupied");

  station_a->call("TransactionEvent", transaction_started("T-1", "ANY"));
  auto started = manager_a.next("session.started");
  REQUIRE(started);
  CHECK((*started)["data"]["station_transaction_id"] == "T-1");
  station_a->call("TransactionEvent",
                  {{"eventType", "Ended"},
                   {"timestamp", "2026-11-24T10:30:00Z"},
                   {"triggerReason", "StopAuthorized"},
                   {"seqNo", 1},
                   {"transactionInfo", {{"transactionId", "T-1"}, {"stoppedReason", "Local"}}}});
  auto ended = manager_a.next("session.ended");
  REQUIRE(ended);
  CHECK((*ended)["data"]["stop_reason"] == "Local");

  station_a->close();
  auto offline = manager_a.next("station.offline");
  REQUIRE(offline);
  CHECK((*offline)["station_id"] == "CP-A");

  // Nothing of B reached A's manager; a reconnecting client resumes by id.
  auto b_event = manager_a.next("connector.status", std::chrono::milliseconds(300));
  CHECK_FALSE(b_event);
  auto denied =
      http_request(f.server().http_port(), boost::beast::http::verb::get, "/api/v1/events", "");
  CHECK(denied.status == 401);
}

TEST_CASE("associations: a claim gives the next session on that EVSE its driver") {
  ApiFixture f(free_vend_config());
  auto admin = f.admin();
  const auto site = f.make_depot("CP-1");
  const auto ada = f.make_driver("Ada", site);
  auto driver = f.client(f.make_key(Role::Driver, {}, ada));
  EventStream events(f.server().http_port(), driver.key());

  // "I am plugged in at EVSE 2".
  auto claim = driver.post("/associations", {{"station_id", "CP-1"}, {"evse_id", 2}});
  REQUIRE(claim.status == 201);
  CHECK(claim.data["driver_id"] == ada);
  CHECK(claim.data["source"] == "claim");
  CHECK(admin.get("/stations/CP-1").data["associations"].size() == 1);

  // The station starts a session on connector 2 with a token nobody knows.
  auto station = f.connect("CP-1", "ocpp1.6");
  station->call("BootNotification", boot_16());
  auto started =
      station->call("StartTransaction", start_16(2, 1000, "2026-11-24T10:00:00Z", "UNKNOWN-TAG"));
  const auto session_id = started.at(2)["transactionId"].get<long>();
  auto session = admin.get("/sessions/" + std::to_string(session_id));
  CHECK(session.data["driver_id"] == ada);
  CHECK(session.data["association"]["id"] == claim.data["id"]);
  // The driver sees it, live and in their list.
  auto live = events.next("session.started");
  REQUIRE(live);
  CHECK((*live)["data"]["session_id"] == session_id);
  CHECK(driver.get("/sessions").data["items"].size() == 1);

  station->call(
      "StopTransaction",
      {{"transactionId", session_id}, {"meterStop", 5000}, {"timestamp", "2026-11-24T11:00:00Z"}});
  auto ended = admin.get("/associations?driver_id=" + std::to_string(ada));
  REQUIRE(ended.data["items"].size() == 1);
  CHECK(ended.data["items"][0]["active"] == false);
  CHECK(ended.data["items"][0]["end_reason"] == "session_ended");
  CHECK(admin.get("/sessions/" + std::to_string(session_id)).data["energy_imported_wh"] == 4000);

  // A claim on a session that just started without a driver (and without a known
  // token) takes it over.
  auto second =
      station->call("StartTransaction", {{"connectorId", 1},
                                         {"idTag", "UNKNOWN-TAG"},
                                         {"meterStart", 0},
                                         {"timestamp", rfc3339(std::chrono::system_clock::now())}});
  const auto second_id = second.at(2)["transactionId"].get<long>();
  CHECK(admin.get("/sessions/" + std::to_string(second_id)).data["driver_id"].is_null());
  auto late =
      admin.post("/associations", {{"station_id", "CP-1"}, {"evse_id", 1}, {"driver_id", ada}});
  REQUIRE(late.status == 201);
  CHECK(admin.get("/sessions/" + std::to_string(second_id)).data["driver_id"] == ada);
  CHECK(admin.get("/associations/" + std::to_string(late.data["id"].get<long>())).status == 405);
  auto released = driver.del("/associations/" + std::to_string(late.data["id"].get<long>()));
  CHECK(released.status == 200);
  CHECK(driver.del("/associations/" + std::to_string(late.data["id"].get<long>())).status == 409);
}

TEST_CASE("associations: a driver's token at a station associates them implicitly") {
  ApiFixture f;
  auto admin = f.admin();
  const auto site = f.make_depot("CP-1");
  const auto ada = f.make_driver("Ada", site);
  admin.post("/drivers/" + std::to_string(ada) + "/tokens", {{"id_token", "ADA-TAG"}});
  auto station = f.connect("CP-1", "ocpp2.0.1");
  auto authorized =
      station->call("Authorize", {{"idToken", {{"idToken", "ADA-TAG"}, {"type", "ISO14443"}}}});
  CHECK(authorized.at(2)["idTokenInfo"]["status"] == "Accepted");
  auto associations = admin.get("/associations?station_id=CP-1&active=true");
  REQUIRE(associations.data["items"].size() == 1);
  CHECK(associations.data["items"][0]["source"] == "authorize");
  CHECK(associations.data["items"][0]["driver_id"] == ada);

  station->call("TransactionEvent", transaction_started("T-9", "ADA-TAG"));
  auto linked = admin.get("/associations?station_id=CP-1&active=true");
  REQUIRE(linked.data["items"].size() == 1);
  CHECK(linked.data["items"][0]["session_id"].is_number());
  CHECK(linked.data["items"][0]["evse_id"] == 1);
  CHECK(admin.get("/stations/CP-1").data["associations"][0]["driver_id"] == ada);
}

TEST_CASE("SSE: unknown event types are refused with 400 naming the known ones") {
  ApiFixture f;
  const auto port = f.server().http_port();
  const auto key = f.admin().key();

  EventStream bogus(port, key, "?types=bogus");
  CHECK(bogus.head().find(" 400 ") != std::string::npos);
  auto problem = nlohmann::json::parse(bogus.rest(), nullptr, false);
  REQUIRE(problem.is_object());
  const auto detail = problem.value("detail", "");
  CHECK(detail.find("bogus") != std::string::npos);
  CHECK(detail.find("station.online") != std::string::npos);
  CHECK(detail.find("association.ended") != std::string::npos);

  EventStream mixed(port, key, "?types=station.online,nope");
  CHECK(mixed.head().find(" 400 ") != std::string::npos);
  CHECK(mixed.rest().find("nope") != std::string::npos);

  // Every type the OpenAPI document lists is accepted.
  auto document = f.admin().get("/openapi.json");
  std::string all;
  for (const auto& type :
       document.data["components"]["schemas"]["Event"]["properties"]["type"]["enum"])
    all += (all.empty() ? "" : ",") + type.get<std::string>();
  REQUIRE(!all.empty());
  EventStream every(port, key, "?types=" + all);
  CHECK(every.head().find(" 200 ") != std::string::npos);
}
