// Credit imports on a real server and PostgreSQL: verified 1.6 sessions (signed by a test meter)
// give owners verified energy; the authority's credits, imported as CSV or JSON, are allocated to
// the owners by it; a bad row refuses the whole import with its number, and a repeat is a no-op.

#include <catch2/catch.hpp>

#include "../api/api_fixture.hpp"
#include "sessions.hpp"

using namespace chargegrid::testing;
using chargegrid::credits_testing::signed_session_16;
using chargegrid::credits_testing::TestMeter;
using chargegrid::server::api::Role;
using nlohmann::json;
namespace http = boost::beast::http;

namespace {

HttpResult post_csv(ApiFixture& fx, const std::string& key, const std::string& body) {
  return http_request(fx.server().http_port(), http::verb::post, "/api/v1/credits/imports", key,
                      body, "text/csv");
}

void register_meter(ApiFixture& fx, const std::string& station, const TestMeter& meter) {
  auto put = fx.admin().send(http::verb::put, "/stations/" + station + "/evses/1/meter-key",
                             json{{"public_key", meter.public_key_hex()}}.dump());
  REQUIRE(put.status == 200);
}

json balances(ApiClient client, const std::string& query = "") {
  auto r = client.get("/credits/balances" + query);
  REQUIRE(r.status == 200);
  return r.data["items"];
}

std::int64_t balance_of(const json& items, const std::string& owner) {
  for (const auto& b : items)
    if (b["owner"] == owner) return b["balance_minor"].get<std::int64_t>();
  return -1;
}

}  // namespace

TEST_CASE("credits are allocated to station owners by verified energy, once per body",
          "[integration][credits]") {
  ApiFixture fx(free_vend_config());
  const auto [north, south] = fx.make_sites("North", "South");
  const TestMeter meter;
  for (const auto* id : {"CS-V1", "CS-V2", "CS-V3"}) {
    fx.make_station(id, north);
    register_meter(fx, id, meter);
  }
  fx.make_station("CS-SOUTH", south);
  for (const auto* id : {"CS-V1", "CS-V3"}) {
    auto owner = fx.admin().send(http::verb::put, std::string("/stations/") + id + "/owner",
                                 json{{"owner", "Acme Fleet"}}.dump());
    REQUIRE(owner.status == 200);
  }
  auto v1 = booted_16(fx, "CS-V1");
  auto v2 = booted_16(fx, "CS-V2");
  auto v3 = booted_16(fx, "CS-V3");
  signed_session_16(*v1, meter, "2026-11-05T08:00:00", "2026-11-05T09:00:00", 10000, 12000);
  signed_session_16(*v3, meter, "2026-11-06T08:00:00", "2026-11-06T09:00:00", 500, 1500);
  signed_session_16(*v2, meter, "2026-11-07T08:00:00", "2026-11-07T09:00:00", 0, 1000);
  // Unsigned energy earns no credit.
  REQUIRE(is_result(v2->call("StartTransaction", start_16(1, 1000, "2026-11-08T08:00:00Z"))));
  REQUIRE(fx.eventually([&] { return fx.query_value("SELECT count(*) FROM settlements") == "3"; },
                        std::chrono::seconds(15)));
  CHECK(fx.query_value("SELECT string_agg(status, ',') FROM settlements") ==
        "verified,verified,verified");

  const auto site = std::to_string(north);
  const std::string body =
      "period,site_id,station_id,amount_minor,currency\r\n"
      "2026-11," +
      site +
      ",,1001,USD\r\n"
      "2026-11,,CS-V2,500,USD\r\n";
  auto first = post_csv(fx, fx.admin().key(), body);
  INFO(first.body);
  REQUIRE(first.status == 201);
  CHECK(first.data["created"] == true);
  CHECK(first.data["row_count"] == 2);
  const auto& allocations = first.data["allocations"];
  REQUIRE(allocations.size() == 3);
  // Row 1: Acme has 3000 Wh of the site's 4000 verified (750.75 → 751), the site 1000 (250.25 →
  // 250).
  CHECK(allocations[0]["owner"] == "Acme Fleet");
  CHECK(allocations[0]["verified_energy_wh"] == 3000);
  CHECK(allocations[0]["amount_minor"] == 751);
  CHECK(allocations[1]["owner"] == "site-" + site);
  CHECK(allocations[1]["amount_minor"] == 250);
  CHECK(allocations[2]["row"] == 2);
  CHECK(allocations[2]["station_id"] == "CS-V2");
  CHECK(allocations[2]["amount_minor"] == 500);

  // The same body again: the same import, nothing added.
  auto again = post_csv(fx, fx.admin().key(), body);
  CHECK(again.status == 200);
  CHECK(again.data["created"] == false);
  CHECK(again.data["id"] == first.data["id"]);
  CHECK(fx.query_value("SELECT count(*) FROM credit_imports") == "1");

  // JSON, the same rows in other bytes: a second import.
  const json rows{
      {"rows",
       {{{"period", "2026-11"}, {"site_id", north}, {"amount_minor", 3}, {"currency", "USD"}}}}};
  auto second = fx.admin().post("/credits/imports", rows);
  REQUIRE(second.status == 201);
  CHECK(second.data["allocations"][0]["amount_minor"] == 2);  // 2.25 → 2
  CHECK(second.data["allocations"][1]["amount_minor"] == 1);  // 0.75 → 1

  auto all = balances(fx.admin());
  CHECK(balance_of(all, "Acme Fleet") == 753);
  CHECK(balance_of(all, "site-" + site) == 751);
  CHECK(balances(fx.admin(), "?owner=Acme%20Fleet").size() == 1);
  auto outsider = fx.client(fx.make_key(Role::FacilityManager, {south}));
  CHECK(balances(outsider).empty());
  CHECK(outsider.get("/credits/imports/" + std::to_string(first.data["id"].get<long>())).status ==
        404);
  auto manager = fx.client(fx.make_key(Role::FacilityManager, {north}));
  CHECK(balance_of(balances(manager), "Acme Fleet") == 753);
  CHECK(fx.client(fx.make_key(Role::Utility, {north})).get("/credits/balances").status == 403);
}

TEST_CASE("a bad credit row refuses the whole import with its number", "[integration][credits]") {
  ApiFixture fx(free_vend_config());
  const auto [north, south] = fx.make_sites("North", "South");
  const TestMeter meter;
  fx.make_station("CS-V1", north);
  fx.make_station("CS-SOUTH", south);
  register_meter(fx, "CS-V1", meter);
  auto v1 = booted_16(fx, "CS-V1");
  signed_session_16(*v1, meter, "2026-11-05T08:00:00", "2026-11-05T09:00:00", 0, 2000);
  REQUIRE(fx.eventually([&] { return fx.query_value("SELECT count(*) FROM settlements") == "1"; },
                        std::chrono::seconds(15)));

  const std::string header = "period,station_id,amount_minor,currency\n";
  const std::string good = "2026-11,CS-V1,100,EUR\n";
  struct Bad {
    std::string body;
    int row;  // 0: the file as a whole
    std::string says;
  };
  const std::vector<Bad> bad{
      {header + good + "2026-11,CS-V1,12.5,EUR\n", 2, "whole number"},
      {header + good + "2026-11,CS-V1,-5,EUR\n", 2, "whole number"},
      {header + good + "2026-11,CS-V1,0,EUR\n", 2, "between 1 and"},
      {header + good + "2026-11,CS-V1,99999999999999999,EUR\n", 2, "whole number"},
      {header + good + "2026-13,CS-V1,100,EUR\n", 2, "period"},
      {header + good + "2026-12,CS-V1,100,EUR\n", 2, "has not ended"},
      {header + good + "2026-10,CS-V1,100,EUR\n", 2, "no verified energy"},
      {header + good + "2026-11,CS-NOPE,100,EUR\n", 2, "no station CS-NOPE"},
      {header + good + "2026-11,CS-V1,100,euro\n", 2, "ISO 4217"},
      {header + good + "2026-11,CS-V1,100\n", 2, "fields"},
      {header + good + "2026-11,\"CS-V1,100,EUR\n", 0, "not closed"},
      {"period,station_id,amount_minor,currency,colour\n" + good, 0, "unknown column"},
      {"period,amount_minor,currency\n2026-11,100,EUR\n", 0, "no station_id or site_id"},
      {header, 0, "no rows"},
      {"period,station_id,site_id,amount_minor,currency\n2026-11,CS-V1," + std::to_string(north) +
           ",100,EUR\n",
       1, "either station_id or site_id"},
  };
  for (const auto& b : bad) {
    auto r = post_csv(fx, fx.admin().key(), b.body);
    INFO(b.body << " → " << r.body);
    CHECK(r.status == 422);
    CHECK(r.body.find(b.says) != std::string::npos);
    if (b.row) CHECK(r.data["row"] == b.row);
    if (!b.row) CHECK_FALSE(r.data.contains("row"));
  }
  // Out of scope: a manager of South may not credit North's station or site.
  auto south_key = fx.make_key(Role::FacilityManager, {south});
  auto foreign = post_csv(fx, south_key, header + "2026-11,CS-V1,100,EUR\n");
  CHECK(foreign.status == 422);
  CHECK(foreign.data["row"] == 1);
  auto foreign_site = post_csv(
      fx, south_key,
      "period,site_id,amount_minor,currency\n2026-11," + std::to_string(north) + ",100,EUR\n");
  CHECK(foreign_site.status == 422);
  // JSON: wrong members and types, named by row.
  auto json_bad = fx.admin().post(
      "/credits/imports",
      {{"rows",
        {{{"period", "2026-11"}, {"station_id", "CS-V1"}, {"amount_minor", 1}, {"currency", "EUR"}},
         {{"period", "2026-11"},
          {"station_id", "CS-V1"},
          {"amount_minor", "1"},
          {"currency", "EUR"}}}}});
  CHECK(json_bad.status == 422);
  CHECK(json_bad.data["row"] == 2);
  CHECK(fx.admin().post("/credits/imports", {{"items", json::array()}}).status == 422);
  // Too large, another media type, and a driver's key.
  CHECK(post_csv(fx, fx.admin().key(), header + std::string(1100000, '#')).status == 413);
  CHECK(http_request(fx.server().http_port(), http::verb::post, "/api/v1/credits/imports",
                     fx.admin().key(), good, "text/plain")
            .status == 415);
  const auto driver = fx.make_driver("Dee", north);
  CHECK(post_csv(fx, fx.make_key(Role::Driver, {}, driver), header + good).status == 403);

  // Nothing of any refused import was stored.
  CHECK(fx.query_value("SELECT count(*) FROM credit_imports") == "0");
  CHECK(fx.query_value("SELECT count(*) FROM credit_allocations") == "0");
  // And the good rows alone import.
  CHECK(post_csv(fx, south_key, header + good).status == 422);
  CHECK(post_csv(fx, fx.admin().key(), header + good).status == 201);
}
