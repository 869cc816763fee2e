// Input that once cut ids short or brought the server down: NUL characters in
// paths, queries and body strings, and JSON nested far deeper than anything
// the API takes. Each gets a problem document naming what to fix.

#include "api_fixture.hpp"

using namespace chargegrid::testing;
namespace http = boost::beast::http;

TEST_CASE("a NUL in a path, query or body string is refused, never cut short or a 500") {
  ApiFixture f;
  auto admin = f.admin();
  f.make_depot("a");
  const auto port = f.server().http_port();
  const auto key = admin.key();
  auto get = [&](const std::string& target) {
    return http_request(port, http::verb::get, "/api/v1" + target, key);
  };
  auto expect_problem = [](const HttpResult& r, int status, const std::string& names) {
    INFO(r.body);
    CHECK(r.status == status);
    CHECK(r.content_type == "application/problem+json");
    CHECK(r.detail().find(names) != std::string::npos);
  };

  // Path parameters: never the station "a".
  expect_problem(get("/stations/a%00b"), 400, "station_id");
  expect_problem(get("/stations/a%00"), 400, "station_id");
  expect_problem(get("/stations/a%00/evses"), 400, "station_id");
  expect_problem(get("/stations/a%zz"), 400, "station_id");
  expect_problem(get("/stations/a%0"), 400, "station_id");
  expect_problem(get("/tokens/%00"), 400, "id_token");
  CHECK(get("/stations/a").status == 200);

  // Query parameters.
  expect_problem(get("/sessions?station_id=a%00b"), 400, "station_id");
  expect_problem(get("/stations?site_id=1%00"), 400, "site_id");
  expect_problem(get("/sessions?from=%zz"), 400, "from");
  expect_problem(get("/sessions?a%00b=1"), 400, "query parameter");
  expect_problem(get("/associations?station_id=%00"), 400, "station_id");

  // Body strings that would be stored as text: names and values.
  struct Body {
    const char* target;
    const char* json;
    const char* field;
  };
  for (const auto& body : {
           Body{"/api/v1/sites", R"({"name":"x\u0000y"})", "name"},
           Body{"/api/v1/stations", R"({"id":"a\u0000b","site_id":1})", "id"},
           Body{"/api/v1/stations", R"({"id":"a\u0000","site_id":1,"name":"n"})", "id"},
           Body{"/api/v1/drivers", R"({"name":"Ada","email":"\u0000","site_id":1})", "email"},
           Body{"/api/v1/associations", R"({"station_id":"a\u0000","driver_id":1})", "station_id"},
           Body{"/api/v1/sites", R"({"name":"x","loc\u0000":1})", "body: member names"},
           Body{"/api/v1/sites", R"({"name":"x","location":{"la\u0000":1}})",
                "location: member names"},
           Body{"/api/v1/stations/a/commands/get-configuration", R"({"keys":["A","\u0000"]})",
                "keys[1]"},
       }) {
    INFO(body.target << " " << body.json);
    expect_problem(http_request(port, http::verb::post, body.target, key, body.json), 422,
                   std::string(body.field));
  }
  CHECK(admin.get("/stations/a").data["name"].is_null());
  CHECK(admin.get("/stations").data["items"].size() == 1);
  CHECK(admin.get("/sites").data["items"].size() == 1);
}

TEST_CASE("deeply nested JSON bodies answer 400 and the server keeps serving") {
  ApiFixture f;
  auto admin = f.admin();
  f.make_station("CP-1", f.make_site("Depot"));
  const auto port = f.server().http_port();
  const auto key = admin.key();
  auto arrays = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  auto objects = [](int depth) {
    std::string text;
    for (int i = 0; i < depth; ++i) text += "{\"a\":";
    return text + "1" + std::string(depth, '}');
  };
  // A DataTransfer payload whose data nests `inner` one level below the payload.
  auto payload = [](const std::string& inner) {
    return R"({"vendorId":"x","data":)" + inner + "}";
  };
  const std::string data_transfer = "/api/v1/stations/CP-1/ocpp/DataTransfer";

  for (const auto& body : {payload(arrays(150000)), payload(arrays(50000)), payload(objects(50000)),
                           arrays(150000), payload(arrays(64))}) {
    INFO(body.size() << " bytes");
    auto r = http_request(port, http::verb::post, data_transfer, key, body);
    CHECK(r.status == 400);
    CHECK(r.content_type == "application/problem+json");
    CHECK(r.detail().find("64 levels") != std::string::npos);
    CHECK(admin.get("/me").status == 200);
  }
  auto site = http_request(port, http::verb::post, "/api/v1/sites", key, objects(100000));
  CHECK(site.status == 400);

  // 64 levels are parsed and meet the payload's checks (here: the station is offline).
  auto r = http_request(port, http::verb::post, data_transfer, key, payload(arrays(63)));
  CHECK(r.status == 409);
  CHECK(r.detail().find("not connected") != std::string::npos);
  CHECK(admin.get("/stations/CP-1").status == 200);
}
