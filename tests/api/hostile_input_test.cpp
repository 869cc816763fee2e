// Input that once brought the server down: JSON nested far deeper than
// anything the API takes. It gets a problem document naming what to fix.

#include "api_fixture.hpp"

using namespace chargegrid::testing;
namespace http = boost::beast::http;

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
