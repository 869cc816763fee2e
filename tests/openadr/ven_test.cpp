// VEN mode end to end: one server is the utility's VTN (its built-in VTN), a second server
// polls it with OAuth 2 client credentials and applies the events that target its sites.

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "openadr_fixture.hpp"
#include "store/outbox.hpp"

using chargegrid::testing::HttpResult;
using chargegrid::testing::ServerFixture;
using nlohmann::json;
namespace http = boost::beast::http;
using Role = chargegrid::server::api::Role;
namespace outbox = chargegrid::server::store::outbox;

namespace {

// A site with its OpenADR names.
std::int64_t named_site(pqxx::connection& c, const std::string& name, const std::string& ven,
                        const std::string& location) {
  pqxx::work tx(c);
  auto id = tx.exec_params1(
                  "INSERT INTO sites (name, ven_name, power_service_location)"
                  " VALUES ($1, $2, $3) RETURNING id",
                  name, ven, location)[0]
                .as<std::int64_t>();
  tx.commit();
  return id;
}

json limit_event(const std::string& program_id, const std::string& location, double kw) {
  return chargegrid::testing::capacity_limit_event(program_id, location, "PT1H", {kw});
}

class VenFixture : public chargegrid::testing::OpenAdrFixture {
 public:
  HttpResult token(const std::string& form) {
    return chargegrid::testing::http_request(server().http_port(), http::verb::post,
                                             "/openadr3/3.0.1/auth/token", "", form,
                                             "application/x-www-form-urlencoded");
  }
};

// The limit (W) the VEN's windows of `event_id` set at `site`, or -1 without windows.
double ven_limit(ServerFixture& ven, const std::string& event_id, std::int64_t site) {
  auto value =
      ven.query_value("SELECT import_limit_w FROM demand_response_windows WHERE event_id = '" +
                      event_id + "' AND site_id = " + std::to_string(site));
  return value.empty() ? -1 : std::stod(value);
}

}  // namespace

TEST_CASE_METHOD(VenFixture, "The built-in VTN issues client-credential tokens to utility keys",
                 "[openadr][integration]") {
  const auto site = make_site("Depot");
  const auto utility = make_key(Role::Utility, {site});
  auto issued = token("grant_type=client_credentials&client_id=test+key&client_secret=" + utility);
  REQUIRE(issued.status == 200);
  CHECK(issued.data["token_type"] == "Bearer");
  const auto access = issued.data["access_token"].get<std::string>();
  CHECK(vtn(http::verb::get, "/programs", access).status == 200);

  auto wrong = token("grant_type=client_credentials&client_id=test+key&client_secret=cgk_nope");
  CHECK(wrong.status == 401);
  CHECK(wrong.data["error"] == "invalid_client");
  CHECK(token("grant_type=client_credentials&client_id=someone&client_secret=" + utility).status ==
        401);
  auto grant = token("grant_type=password&client_id=test+key&client_secret=" + utility);
  CHECK(grant.status == 400);
  CHECK(grant.data["error"] == "unsupported_grant_type");
  const auto manager = make_key(Role::FacilityManager, {site});
  CHECK(token("grant_type=client_credentials&client_id=test+key&client_secret=" + manager).status ==
        401);
}

TEST_CASE_METHOD(VenFixture, "VEN mode applies a utility VTN's events to the sites they target",
                 "[openadr][integration]") {
  // The utility's VTN knows the connections it may address.
  std::int64_t vtn_depot = 0, vtn_harbour = 0;
  {
    auto c = sql();
    vtn_depot = named_site(c, "Depot", "chargegrid", "871600000000000017");
    vtn_harbour = named_site(c, "Harbour", "chargegrid", "871600000000000024");
  }
  const auto utility = make_key(Role::Utility, {vtn_depot, vtn_harbour});
  auto program = vtn(http::verb::post, "/programs", utility, {{"programName", "gac"}});
  REQUIRE(program.status == 201);
  const auto program_id = program.data["id"].get<std::string>();
  auto first =
      vtn(http::verb::post, "/events", utility, limit_event(program_id, "871600000000000017", 40));
  REQUIRE(first.status == 201);
  const auto first_id = first.data["id"].get<std::string>();

  ServerFixture ven(ven_config(utility));
  std::int64_t depot = 0, harbour = 0, other = 0;
  {
    auto c = ven.sql();
    {
      pqxx::work tx(c);
      outbox::subscribe(tx, "test-replanner", outbox::kDemandResponseChanged);
      tx.commit();
    }
    // Named after the VEN has started polling: the events are applied to them as they come.
    other = named_site(c, "Other", "someone-else", "871600000000000017");
    depot = named_site(c, "Depot", "chargegrid", "871600000000000017");
    harbour = named_site(c, "Harbour", "chargegrid", "871600000000000024");
  }

  REQUIRE(ven.eventually([&] { return ven_limit(ven, first_id, depot) == 40000; }));
  CHECK(ven_limit(ven, first_id, harbour) == -1);
  CHECK(ven_limit(ven, first_id, other) == -1);
  CHECK(ven.query_value("SELECT payload->>'site_ids' FROM outbox WHERE consumer = "
                        "'test-replanner' ORDER BY id LIMIT 1") ==
        "[" + std::to_string(depot) + "]");

  // Changed at the VTN: changed here; an unchanged event is not written again.
  REQUIRE(vtn(http::verb::put, "/events/" + first_id, utility,
              limit_event(program_id, "871600000000000017", 22))
              .status == 200);
  REQUIRE(ven.eventually([&] { return ven_limit(ven, first_id, depot) == 22000; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(ven.query_value("SELECT count(*) FROM outbox WHERE consumer = 'test-replanner'") == "2");

  // Gone from the VTN: withdrawn here.
  auto second =
      vtn(http::verb::post, "/events", utility, limit_event(program_id, "871600000000000024", 11));
  REQUIRE(second.status == 201);
  const auto second_id = second.data["id"].get<std::string>();
  REQUIRE(ven.eventually([&] { return ven_limit(ven, second_id, harbour) == 11000; }));
  REQUIRE(vtn(http::verb::delete_, "/events/" + second_id, utility).status == 200);
  REQUIRE(ven.eventually([&] { return ven_limit(ven, second_id, harbour) == -1; }));

  // The VTN goes away: what is known stays in force.
  server().stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  CHECK(ven_limit(ven, first_id, depot) == 22000);
  CHECK(ven.query_value("SELECT count(*) FROM openadr_remote_events") == "1");
}
