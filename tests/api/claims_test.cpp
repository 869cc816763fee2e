// Claims (POST /associations) across tenants: a driver claims only stations of
// their own site, never takes over a session another token or driver
// authorised, never ends another driver's claim, and attaches to a running
// session only if it started without a known token, within --claim-window.

#include <cstdlib>

#include "api_fixture.hpp"

using namespace chargegrid::testing;
using chargegrid::server::api::Role;

namespace {

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

}  // namespace

TEST_CASE("claims: a driver claims only stations of their own site") {
  ApiFixture f;
  auto admin = f.admin();
  const auto [a, b] = f.make_sites("A", "B");
  f.make_station("CP-A", a);
  f.make_station("CP-B", b);
  REQUIRE(admin.post("/stations", {{"id", "CP-LOOSE"}}).status == 201);  // no site yet
  const auto ada = f.make_driver("Ada", a);
  const auto nomad = admin.post("/drivers", {{"name", "Nomad"}}).data["id"].get<long>();
  auto driver = f.client(f.make_key(Role::Driver, {}, ada));

  // Another site's station answers exactly as one that does not exist.
  auto other_site = driver.post("/associations", {{"station_id", "CP-B"}, {"evse_id", 1}});
  auto unknown = driver.post("/associations", {{"station_id", "CP-NOPE"}, {"evse_id", 1}});
  CHECK(other_site.status == 404);
  CHECK(unknown.status == 404);
  CHECK(other_site.detail() == replaced(unknown.detail(), "CP-NOPE", "CP-B"));
  // A station no site has adopted yet is nobody's to claim.
  CHECK(driver.post("/associations", {{"station_id", "CP-LOOSE"}}).status == 404);
  // A driver without a home site claims nothing.
  auto homeless = f.client(f.make_key(Role::Driver, {}, nomad));
  CHECK(homeless.post("/associations", {{"station_id", "CP-A"}}).status == 404);

  auto own = driver.post("/associations", {{"station_id", "CP-A"}, {"evse_id", 1}});
  CHECK(own.status == 201);
  // Only that claim was stored.
  auto active = admin.get("/associations?active=true");
  REQUIRE(active.data["items"].size() == 1);
  CHECK(active.data["items"][0]["station_id"] == "CP-A");
}

TEST_CASE(
    "claims: a running session is taken over only if it started without a known token, "
    "within the claim window") {
  ApiFixture f(free_vend_config());
  auto admin = f.admin();
  const auto site = f.make_depot("CP-1");
  f.make_station("CP-2", site);
  const auto ada = f.make_driver("Ada", site);
  const auto bob = f.make_driver("Bob", site);
  REQUIRE(
      admin.post("/drivers/" + std::to_string(bob) + "/tokens", {{"id_token", "BOB-TAG"}}).status ==
      201);
  {
    // A fleet card in the token table that belongs to no driver.
    auto c = f.sql();
    pqxx::work tx(c);
    tx.exec("INSERT INTO id_tokens (id_token) VALUES ('FLEET-CARD')");
    tx.commit();
  }
  auto ada_key = f.client(f.make_key(Role::Driver, {}, ada));
  auto manager = f.client(f.make_key(Role::FacilityManager, {site}));

  auto station = f.connect("CP-1", "ocpp1.6");
  station->call("BootNotification", boot_16());
  const auto now = std::chrono::system_clock::now();
  auto start = [&](int connector, const std::string& tag,
                   std::chrono::system_clock::time_point at) {
    auto r = station->call("StartTransaction", {{"connectorId", connector},
                                                {"idTag", tag},
                                                {"meterStart", 0},
                                                {"timestamp", rfc3339(at)}});
    return std::to_string(r.at(2)["transactionId"].get<long>());
  };
  auto driver_of = [&](const std::string& session) {
    return admin.get("/sessions/" + session).data["driver_id"];
  };
  auto claim = [](ApiClient& client, const std::string& station_id, int evse,
                  std::optional<long> driver = std::nullopt) {
    nlohmann::json body{{"station_id", station_id}, {"evse_id", evse}};
    if (driver) body["driver_id"] = *driver;
    return client.post("/associations", body);
  };
  const auto bobs = start(1, "BOB-TAG", now);
  const auto fleet = start(2, "FLEET-CARD", now);
  const auto stale = start(3, "STRANGER", now - std::chrono::minutes(10));
  const auto fresh = start(4, "STRANGER", now);
  REQUIRE(driver_of(bobs) == bob);

  // Another driver's session: refused, and it stays out of the claimant's reach.
  auto taken = claim(ada_key, "CP-1", 1);
  CHECK(taken.status == 409);
  CHECK(taken.content_type == "application/problem+json");
  CHECK(taken.detail().find("another driver") != std::string::npos);
  CHECK(driver_of(bobs) == bob);
  CHECK(ada_key.get("/sessions/" + bobs).status == 404);
  CHECK(ada_key.post("/sessions/" + bobs + "/stop").status == 404);
  CHECK(claim(manager, "CP-1", 1, ada).status == 409);

  // A session a known token authorised, even one without a driver: refused, for a
  // facility manager claiming on a driver's behalf too.
  auto known = claim(ada_key, "CP-1", 2);
  CHECK(known.status == 409);
  CHECK(known.detail().find("token") != std::string::npos);
  CHECK(claim(manager, "CP-1", 2, ada).status == 409);
  CHECK(driver_of(fleet).is_null());
  CHECK(ada_key.get("/sessions/" + fleet).status == 404);

  // A token nobody enrolled (free vend), started longer ago than the window: refused.
  auto late = claim(ada_key, "CP-1", 3);
  CHECK(late.status == 409);
  CHECK(late.detail().find("300 s") != std::string::npos);
  CHECK(driver_of(stale).is_null());

  // The same within the window: the claim takes the session over.
  auto taken_over = claim(ada_key, "CP-1", 4);
  REQUIRE(taken_over.status == 201);
  CHECK(taken_over.data["session_id"].get<long>() == std::stol(fresh));
  CHECK(driver_of(fresh) == ada);
  CHECK(ada_key.get("/sessions/" + fresh).status == 200);
  auto mine = ada_key.get("/sessions");
  REQUIRE(mine.data["items"].size() == 1);
  CHECK(mine.data["items"][0]["id"].get<long>() == std::stol(fresh));
  // Refused claims stored nothing: Bob's session association and Ada's claim only.
  CHECK(admin.get("/associations?active=true").data["items"].size() == 2);

  // A 2.0.1 session started without any token is claimable too, for a driver by
  // their facility manager.
  auto station2 = f.connect("CP-2", "ocpp2.0.1");
  station2->call("TransactionEvent", {{"eventType", "Started"},
                                      {"timestamp", rfc3339(now)},
                                      {"triggerReason", "CablePluggedIn"},
                                      {"seqNo", 0},
                                      {"transactionInfo", {{"transactionId", "T-1"}}},
                                      {"evse", {{"id", 1}, {"connectorId", 1}}}});
  auto on_behalf = claim(manager, "CP-2", 1, bob);
  REQUIRE(on_behalf.status == 201);
  CHECK(admin.get("/sessions/" + std::to_string(on_behalf.data["session_id"].get<long>()))
            .data["driver_id"] == bob);
}

TEST_CASE("claims: --claim-window sets how long after its start a session may be claimed") {
  int exit_code = -1;
  const char* defaults[] = {"chargegridd"};
  auto config = chargegrid::server::parse_config(1, defaults, exit_code);
  REQUIRE(config);
  CHECK(config->claim_window_s == 300);
  const char* flag[] = {"chargegridd", "--claim-window", "45"};
  config = chargegrid::server::parse_config(3, flag, exit_code);
  REQUIRE(config);
  CHECK(config->claim_window_s == 45);
  ::setenv("CHARGEGRID_CLAIM_WINDOW", "7", 1);
  config = chargegrid::server::parse_config(1, defaults, exit_code);
  ::unsetenv("CHARGEGRID_CLAIM_WINDOW");
  REQUIRE(config);
  CHECK(config->claim_window_s == 7);

  auto server_config = test_config();
  server_config.accept_unknown_tokens = true;
  server_config.claim_window_s = 3600;
  ApiFixture f(server_config);
  auto admin = f.admin();
  const auto site = f.make_depot("CP-1");
  const auto ada = f.make_driver("Ada", site);
  auto station = f.connect("CP-1", "ocpp1.6");
  station->call("BootNotification", boot_16());
  auto started = station->call(
      "StartTransaction",
      {{"connectorId", 1},
       {"idTag", "STRANGER"},
       {"meterStart", 0},
       {"timestamp", rfc3339(std::chrono::system_clock::now() - std::chrono::minutes(10))}});
  const auto session = started.at(2)["transactionId"].get<long>();
  auto claim = f.client(f.make_key(Role::Driver, {}, ada))
                   .post("/associations", {{"station_id", "CP-1"}, {"evse_id", 1}});
  REQUIRE(claim.status == 201);
  CHECK(claim.data["session_id"] == session);
}

TEST_CASE("claims: a claim never ends another driver's claim") {
  ApiFixture f;
  auto admin = f.admin();
  const auto site = f.make_depot("CP-1");
  const auto ada = f.make_driver("Ada", site);
  const auto bob = f.make_driver("Bob", site);
  auto ada_key = f.client(f.make_key(Role::Driver, {}, ada));
  auto bob_key = f.client(f.make_key(Role::Driver, {}, bob));
  auto manager = f.client(f.make_key(Role::FacilityManager, {site}));

  auto adas = ada_key.post("/associations", {{"station_id", "CP-1"}, {"evse_id", 2}});
  REQUIRE(adas.status == 201);
  auto conflict = bob_key.post("/associations", {{"station_id", "CP-1"}, {"evse_id", 2}});
  CHECK(conflict.status == 409);
  CHECK(conflict.content_type == "application/problem+json");
  CHECK(conflict.detail().find("EVSE 2") != std::string::npos);
  // The whole station overlaps Ada's EVSE; a manager cannot end her claim either.
  CHECK(bob_key.post("/associations", {{"station_id", "CP-1"}}).status == 409);
  CHECK(manager.post("/associations", {{"station_id", "CP-1"}, {"evse_id", 2}, {"driver_id", bob}})
            .status == 409);
  auto active = admin.get("/associations?station_id=CP-1&active=true");
  REQUIRE(active.data["items"].size() == 1);
  CHECK(active.data["items"][0]["id"] == adas.data["id"]);

  // Another EVSE is free; and a driver's new claim replaces their own earlier one.
  auto bobs = bob_key.post("/associations", {{"station_id", "CP-1"}, {"evse_id", 1}});
  CHECK(bobs.status == 201);
  CHECK(ada_key.post("/associations", {{"station_id", "CP-1"}, {"evse_id", 3}}).status == 201);
  auto earlier = admin.get("/associations?driver_id=" + std::to_string(ada) + "&active=false");
  REQUIRE(earlier.data["items"].size() == 1);
  CHECK(earlier.data["items"][0]["id"] == adas.data["id"]);
  CHECK(earlier.data["items"][0]["end_reason"] == "replaced");
  CHECK(admin.get("/associations?driver_id=" + std::to_string(bob) + "&active=true")
            .data["items"]
            .size() == 1);
  // Ada's whole-station claim would overlap Bob's EVSE 1.
  CHECK(ada_key.post("/associations", {{"station_id", "CP-1"}}).status == 409);

  // The next session on EVSE 1 is Bob's, on EVSE 3 Ada's.
  auto station = f.connect("CP-1", "ocpp1.6");
  station->call("BootNotification", boot_16());
  auto start = [&](int connector) {
    auto r = station->call("StartTransaction",
                           {{"connectorId", connector},
                            {"idTag", "NO-SUCH-TAG"},
                            {"meterStart", 0},
                            {"timestamp", rfc3339(std::chrono::system_clock::now())}});
    return admin.get("/sessions/" + std::to_string(r.at(2)["transactionId"].get<long>()))
        .data["driver_id"];
  };
  CHECK(start(1) == bob);
  CHECK(start(3) == ada);
}
