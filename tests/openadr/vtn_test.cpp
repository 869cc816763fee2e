// The built-in OpenADR 3.0.1 VTN end to end: a real server and PostgreSQL, utility keys over
// real HTTP; events become demand-response windows and outbox events, bad objects and
// out-of-scope targets are refused with nothing stored.

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "openadr_fixture.hpp"
#include "store/outbox.hpp"

using chargegrid::testing::HttpResult;
using nlohmann::json;
namespace http = boost::beast::http;
using Role = chargegrid::server::api::Role;

namespace {

constexpr const char* kReplanner = "test-replanner";

class VtnFixture : public chargegrid::testing::OpenAdrFixture {
 public:
  VtnFixture() {
    auto c = sql();
    pqxx::work tx(c);
    chargegrid::server::store::outbox::subscribe(
        tx, kReplanner, chargegrid::server::store::outbox::kDemandResponseChanged);
    tx.commit();
  }

  // A site's OpenADR names.
  void name_site(std::int64_t site, const std::string& ven, const std::string& location) {
    auto c = sql();
    pqxx::work tx(c);
    tx.exec_params("UPDATE sites SET ven_name = $2, power_service_location = $3 WHERE id = $1",
                   site, ven, location);
    tx.commit();
  }

  long count(const std::string& select) {
    auto c = sql();
    pqxx::work tx(c);
    return tx.exec1(select)[0].as<long>();
  }

  // The outbox events the replanner received, oldest first.
  std::vector<json> changes() {
    auto c = sql();
    pqxx::work tx(c);
    std::vector<json> out;
    for (const auto& row : tx.exec_params(
             "SELECT payload::text FROM outbox WHERE consumer = $1 AND topic = $2 ORDER BY id",
             kReplanner, chargegrid::server::store::outbox::kDemandResponseChanged))
      out.push_back(json::parse(row[0].c_str()));
    return out;
  }

  struct WindowRow {
    std::int64_t site;
    std::string starts_at, ends_at;
    double import_limit_w;
  };
  std::vector<WindowRow> windows(const std::string& event_id) {
    auto c = sql();
    pqxx::work tx(c);
    std::vector<WindowRow> out;
    for (const auto& row : tx.exec_params(
             "SELECT site_id, to_char(starts_at AT TIME ZONE 'UTC', 'HH24:MI'),"
             " to_char(ends_at AT TIME ZONE 'UTC', 'HH24:MI'), coalesce(import_limit_w, -1)"
             " FROM demand_response_windows WHERE event_id = $1 ORDER BY site_id, starts_at",
             event_id))
      out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::string>(),
                     row[3].as<double>()});
    return out;
  }
};

// A congestion event of two quarter hours: `first_kw`, then 25 kW.
json grid_aware_event(const std::string& program_id, const std::string& location,
                      double first_kw = 40) {
  auto event =
      chargegrid::testing::capacity_limit_event(program_id, location, "PT15M", {first_kw, 25});
  event["eventName"] = "congestion";
  return event;
}

}  // namespace

TEST_CASE_METHOD(VtnFixture, "A grid-aware charging event limits the site it targets",
                 "[openadr][integration]") {
  const auto [depot, harbour, elsewhere] = make_sites("Depot", "Harbour", "Elsewhere");
  name_site(depot, "chargegrid", "871600000000000017");
  name_site(harbour, "chargegrid", "871600000000000024");
  name_site(elsewhere, "chargegrid", "871600000000000031");
  const auto utility = make_key(Role::Utility, {depot, harbour});

  auto program = vtn(http::verb::post, "/programs", utility,
                     {{"programName", "grid-aware-charging"}, {"country", "NL"}});
  REQUIRE(program.status == 201);
  const auto program_id = program.data["id"].get<std::string>();
  CHECK(program.data["objectType"] == "PROGRAM");
  CHECK(program.data["programName"] == "grid-aware-charging");
  CHECK(program.data["createdDateTime"].get<std::string>().ends_with("Z"));
  CHECK(program.data.contains("modificationDateTime"));

  auto event =
      vtn(http::verb::post, "/events", utility, grid_aware_event(program_id, "871600000000000017"));
  REQUIRE(event.status == 201);
  const auto event_id = event.data["id"].get<std::string>();
  CHECK(event.data["objectType"] == "EVENT");
  CHECK(event.data["programID"] == program_id);
  CHECK(event.data["intervals"].size() == 2);

  auto rows = windows(event_id);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].site == depot);
  CHECK(rows[0].starts_at == "16:00");
  CHECK(rows[0].ends_at == "16:15");
  CHECK(rows[0].import_limit_w == 40000);
  CHECK(rows[1].starts_at == "16:15");
  CHECK(rows[1].import_limit_w == 25000);
  REQUIRE(changes().size() == 1);
  CHECK(changes()[0] == json{{"site_ids", {depot}}});

  // Read back, and found by its filters.
  auto read = vtn(http::verb::get, "/events/" + event_id, utility);
  REQUIRE(read.status == 200);
  CHECK(read.data["targets"] == event.data["targets"]);
  CHECK(vtn(http::verb::get, "/events?programID=" + program_id, utility).data.size() == 1);
  CHECK(vtn(http::verb::get,
            "/events?targetType=POWER_SERVICE_LOCATION&targetValues=871600000000000017", utility)
            .data.size() == 1);
  CHECK(vtn(http::verb::get,
            "/events?targetType=POWER_SERVICE_LOCATION&targetValues=X&targetValues="
            "871600000000000017",
            utility)
            .data.size() == 1);
  CHECK(vtn(http::verb::get,
            "/events?targetType=POWER_SERVICE_LOCATION&targetValues=871600000000000024", utility)
            .data.empty());
  CHECK(vtn(http::verb::get, "/events?targetType=GROUP", utility).data.empty());
  CHECK(vtn(http::verb::get, "/programs", utility).data.size() == 1);

  // Moved to the other site: both sites change.
  auto moved = grid_aware_event(program_id, "871600000000000024", 30);
  auto put = vtn(http::verb::put, "/events/" + event_id, utility, moved);
  REQUIRE(put.status == 200);
  CHECK(put.data["id"] == event_id);
  rows = windows(event_id);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].site == harbour);
  CHECK(rows[0].import_limit_w == 30000);
  REQUIRE(changes().size() == 2);
  CHECK(changes()[1] == json{{"site_ids", {depot, harbour}}});

  // Deleted: the windows go, the site is told.
  auto deleted = vtn(http::verb::delete_, "/events/" + event_id, utility);
  REQUIRE(deleted.status == 200);
  CHECK(deleted.data["id"] == event_id);
  CHECK(windows(event_id).empty());
  REQUIRE(changes().size() == 3);
  CHECK(changes()[2] == json{{"site_ids", {harbour}}});
  CHECK(vtn(http::verb::get, "/events/" + event_id, utility).status == 404);
}

TEST_CASE_METHOD(VtnFixture, "An untargeted event applies to every site of its program's owner",
                 "[openadr][integration]") {
  const auto [a, b, c] = make_sites("A", "B", "C");
  const auto utility = make_key(Role::Utility, {a, b});
  auto program = vtn(http::verb::post, "/programs", utility,
                     {{"programName", "tou"},
                      {"payloadDescriptors",
                       {{{"objectType", "EVENT_PAYLOAD_DESCRIPTOR"},
                         {"payloadType", "PRICE"},
                         {"units", "KWH"},
                         {"currency", "EUR"}}}}});
  REQUIRE(program.status == 201);
  const auto program_id = program.data["id"].get<std::string>();
  json event{{"programID", program_id},
             {"intervalPeriod", {{"start", "2026-12-06T00:00:00Z"}, {"duration", "PT1H"}}},
             {"intervals",
              {{{"id", 0}, {"payloads", {{{"type", "PRICE"}, {"values", {0.25}}}}}},
               {{"id", 1}, {"payloads", {{{"type", "PRICE"}, {"values", {0.35}}}}}}}}};
  auto created = vtn(http::verb::post, "/events", utility, event);
  REQUIRE(created.status == 201);
  const auto event_id = created.data["id"].get<std::string>();
  CHECK(count("SELECT count(*) FROM demand_response_windows WHERE event_id = '" + event_id +
              "' AND currency = 'EUR' AND import_price_minor_per_kwh IN (25, 35)") == 4);
  CHECK(count("SELECT count(DISTINCT site_id) FROM demand_response_windows") == 2);
  CHECK(count("SELECT count(*) FROM demand_response_windows WHERE site_id = " +
              std::to_string(c)) == 0);

  // The program's currency changes: its events are translated again.
  auto put = vtn(http::verb::put, "/programs/" + program_id, utility,
                 {{"programName", "tou"},
                  {"payloadDescriptors",
                   {{{"objectType", "EVENT_PAYLOAD_DESCRIPTOR"},
                     {"payloadType", "PRICE"},
                     {"currency", "SEK"}}}}});
  REQUIRE(put.status == 200);
  CHECK(count("SELECT count(*) FROM demand_response_windows WHERE currency = 'SEK'") == 4);

  // Deleting the program withdraws its events and their windows.
  auto deleted = vtn(http::verb::delete_, "/programs/" + program_id, utility);
  REQUIRE(deleted.status == 200);
  CHECK(deleted.data["programName"] == "tou");
  CHECK(count("SELECT count(*) FROM demand_response_windows") == 0);
  CHECK(count("SELECT count(*) FROM openadr_events") == 0);
  CHECK(changes().back() == json{{"site_ids", {a, b}}});
  CHECK(vtn(http::verb::get, "/programs/" + program_id, utility).status == 404);
}

TEST_CASE_METHOD(VtnFixture, "Malformed OpenADR objects are refused with a problem, nothing stored",
                 "[openadr][integration]") {
  const auto site = make_site("Depot");
  const auto utility = make_key(Role::Utility, {site});
  auto program = vtn(http::verb::post, "/programs", utility, {{"programName", "p"}});
  REQUIRE(program.status == 201);
  const auto program_id = program.data["id"].get<std::string>();

  auto expect_problem = [&](const HttpResult& r, int status, const std::string& detail_part) {
    CHECK(r.status == status);
    CHECK(r.data["status"] == status);
    CHECK(r.data["type"] == "about:blank");
    CHECK(r.data["title"].is_string());
    INFO(r.body);
    CHECK(r.detail().find(detail_part) != std::string::npos);
  };

  expect_problem(vtn(http::verb::post, "/programs", utility, json::object()), 400,
                 "programName: is required");
  expect_problem(vtn(http::verb::post, "/programs", utility, {{"programName", 7}}), 400,
                 "programName: must be a string");
  expect_problem(vtn_raw(http::verb::post, "/programs", utility, "{\"programName\": "), 400,
                 "not a JSON document");
  expect_problem(vtn(http::verb::post, "/programs", utility, {{"programName", "p"}}), 409,
                 "already has a program");

  auto event = grid_aware_event(program_id, "871600000000000017");
  event.erase("targets");
  auto broken = event;
  broken["intervals"][0]["payloads"][0]["values"] = "forty";
  expect_problem(vtn(http::verb::post, "/events", utility, broken), 400,
                 "intervals/0/payloads/0/values: must be an array");
  broken = event;
  broken["intervalPeriod"]["duration"] = "15m";
  expect_problem(vtn(http::verb::post, "/events", utility, broken), 400,
                 "intervalPeriod/duration: must be an ISO 8601 duration");
  broken = event;
  broken["payloadDescriptors"][0]["units"] = "HP";
  expect_problem(vtn(http::verb::post, "/events", utility, broken), 400,
                 "IMPORT_CAPACITY_LIMIT in units 'HP' cannot be used");
  broken = event;
  broken["programID"] = "no-such-program";
  expect_problem(vtn(http::verb::post, "/events", utility, broken), 400,
                 "names no program of this key");
  expect_problem(vtn(http::verb::get, "/events?limit=51", utility), 400, "limit");
  expect_problem(vtn(http::verb::get, "/events/not%20an%20id", utility), 404, "not an objectID");

  CHECK(count("SELECT count(*) FROM openadr_programs") == 1);
  CHECK(count("SELECT count(*) FROM openadr_events") == 0);
  CHECK(count("SELECT count(*) FROM demand_response_windows") == 0);
  CHECK(changes().empty());

  // A well-formed event that breaks a PUT leaves the stored one as it was.
  auto created = vtn(http::verb::post, "/events", utility, event);
  REQUIRE(created.status == 201);
  const auto event_id = created.data["id"].get<std::string>();
  broken = event;
  broken["intervals"][1]["payloads"][0]["values"] = {-1};
  expect_problem(vtn(http::verb::put, "/events/" + event_id, utility, broken), 400,
                 "must not be negative");
  CHECK(vtn(http::verb::get, "/events/" + event_id, utility).data == created.data);
  CHECK(windows(event_id).size() == 2);
}

TEST_CASE_METHOD(VtnFixture, "A utility reaches only its own programs and sites",
                 "[openadr][integration]") {
  const auto [mine, theirs] = make_sites("Mine", "Theirs");
  name_site(mine, "chargegrid", "871600000000000048");
  name_site(theirs, "chargegrid", "871600000000000055");
  const auto utility = make_key(Role::Utility, {mine});
  const auto other = make_key(Role::Utility, {theirs});

  auto program = vtn(http::verb::post, "/programs", utility, {{"programName", "gac"}});
  REQUIRE(program.status == 201);
  const auto program_id = program.data["id"].get<std::string>();

  // An event for a site out of the key's scope is refused, nothing stored.
  auto refused =
      vtn(http::verb::post, "/events", utility, grid_aware_event(program_id, "871600000000000055"));
  CHECK(refused.status == 403);
  CHECK(refused.detail().find("POWER_SERVICE_LOCATION '871600000000000055'") != std::string::npos);
  CHECK(count("SELECT count(*) FROM openadr_events") == 0);
  CHECK(count("SELECT count(*) FROM demand_response_windows") == 0);

  auto event =
      vtn(http::verb::post, "/events", utility, grid_aware_event(program_id, "871600000000000048"));
  REQUIRE(event.status == 201);
  const auto event_id = event.data["id"].get<std::string>();

  // Another utility sees none of it.
  CHECK(vtn(http::verb::get, "/programs/" + program_id, other).status == 404);
  CHECK(vtn(http::verb::get, "/programs", other).data == json::array());
  CHECK(vtn(http::verb::get, "/events", other).data == json::array());
  CHECK(vtn(http::verb::get, "/events/" + event_id, other).status == 404);
  CHECK(vtn(http::verb::put, "/programs/" + program_id, other, {{"programName", "x"}}).status ==
        404);
  CHECK(vtn(http::verb::delete_, "/events/" + event_id, other).status == 404);
  CHECK(vtn(http::verb::delete_, "/programs/" + program_id, other).status == 404);
  auto foreign =
      vtn(http::verb::post, "/events", other, grid_aware_event(program_id, "871600000000000055"));
  CHECK(foreign.status == 400);
  CHECK(windows(event_id).size() == 2);

  // The admin sees every program; other roles and anonymous callers are turned away.
  CHECK(admin().get("/sites").status == 200);
  CHECK(vtn(http::verb::get, "/programs", admin().key()).data.size() == 1);
  const auto manager = make_key(Role::FacilityManager, {mine});
  CHECK(vtn(http::verb::get, "/programs", manager).status == 403);
  auto anonymous = vtn(http::verb::get, "/programs", "");
  CHECK(anonymous.status == 401);
  CHECK(anonymous.data["status"] == 401);
  CHECK(vtn(http::verb::get, "/programs", "cgk_unknown").status == 401);
  CHECK(vtn(http::verb::patch, "/programs", utility).status == 405);
  CHECK(vtn(http::verb::get, "/vens", utility).status == 404);
}
