// The database goes away under the API: every request gets a 503 problem with
// Retry-After (never a half-done answer), and the API works again once
// PostgreSQL is back.

#include "api_fixture.hpp"
#include "chargegrid/testing/private_postgres.hpp"

using namespace chargegrid::testing;
namespace http = boost::beast::http;

TEST_CASE("the API answers 503 while the database is away and recovers after") {
  PrivatePostgres postgres("cg-api-outage");
  std::string key;
  {
    pqxx::connection c(postgres.url());
    pqxx::work tx(c);
    key = chargegrid::server::api::create_api_key(tx, "ops", chargegrid::server::api::Role::Admin,
                                                  {}, std::nullopt)
              .secret;
    tx.commit();
  }
  {
    chargegrid::server::Server server(test_config(), postgres.url());
    server.start();
    ApiClient api(server.http_port(), key);
    REQUIRE(api.post("/sites", {{"name", "Depot"}}).status == 201);

    postgres.stop();
    for (int i = 0; i < 3; ++i) {
      auto down = api.post("/sites", {{"name", "Lost"}});
      CHECK(down.status == 503);
      CHECK(down.content_type == "application/problem+json");
      CHECK(down.headers["Retry-After"] == "5");
      CHECK(api.get("/sites").status == 503);
    }
    // The public document needs no database.
    CHECK(http_request(server.http_port(), http::verb::get, "/api/v1/openapi.json", "").status ==
          200);

    postgres.start();
    REQUIRE(ServerFixture::eventually([&] { return api.get("/sites").status == 200; },
                                      std::chrono::seconds(30)));
    auto sites = api.get("/sites");
    REQUIRE(sites.data["items"].size() == 1);  // nothing half-written while it was away
    CHECK(api.post("/sites", {{"name", "Back"}}).status == 201);
    server.stop();
  }
}
