// The REST API's resources: create, read, update, delete and what each refuses,
// with real HTTP against a real server and PostgreSQL.

#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "api_fixture.hpp"
#include "chargegrid/protocols/validation.hpp"

using namespace chargegrid::testing;
using chargegrid::server::api::Role;
namespace http = boost::beast::http;

TEST_CASE("every route the server serves is in the OpenAPI document, and vice versa") {
  ApiFixture f;
  auto document = http_request(f.server().http_port(), http::verb::get, "/api/v1/openapi.json", "");
  REQUIRE(document.status == 200);
  REQUIRE(document.data["openapi"] == "3.1.0");

  std::set<std::string> served, documented;
  for (const auto& route : f.server().api_routes()) {
    std::string method = route.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(c));
    const auto key = method + " " + route.pattern;
    served.insert(key);
    // The roles and body schema the server enforces are the ones documented.
    const auto& operation = document.data["paths"][route.pattern][method];
    INFO(key);
    REQUIRE(operation.is_object());
    nlohmann::json roles = operation.value("x-roles", nlohmann::json::array());
    CHECK(roles == nlohmann::json(route.roles));
    if (route.body_schema.empty()) {
      CHECK_FALSE(operation.contains("requestBody"));
    } else {
      CHECK(operation["requestBody"]["content"]["application/json"]["schema"]["$ref"] ==
            "#/components/schemas/" + route.body_schema);
      CHECK(document.data["components"]["schemas"].contains(route.body_schema));
    }
  }
  for (const auto& [path, methods] : document.data["paths"].items())
    for (const auto& [method, _] : methods.items()) documented.insert(method + " " + path);
  CHECK(served == documented);
}

TEST_CASE("API keys: missing, unknown, revoked and wrong-role keys are refused") {
  ApiFixture f;
  const auto port = f.server().http_port();
  auto none = http_request(port, http::verb::get, "/api/v1/sites", "");
  CHECK(none.status == 401);
  CHECK(none.content_type == "application/problem+json");
  CHECK(none.headers["WWW-Authenticate"].find("Bearer") == 0);
  CHECK(http_request(port, http::verb::get, "/api/v1/sites", "cgk_not-a-key").status == 401);

  auto me = f.admin().get("/me");
  REQUIRE(me.status == 200);
  CHECK(me.data["role"] == "admin");

  // Admins make keys over the API; the secret is shown once and works.
  const auto site = f.make_site("Depot");
  auto created = f.admin().post(
      "/api-keys", {{"name", "depot manager"}, {"role", "facility_manager"}, {"site_ids", {site}}});
  REQUIRE(created.status == 201);
  const auto secret = created.data["secret"].get<std::string>();
  auto manager = f.client(secret);
  CHECK(manager.get("/me").data["site_ids"] == nlohmann::json{site});
  CHECK(f.admin().get("/api-keys").data["items"].dump().find(secret) == std::string::npos);

  // A facility manager cannot make keys.
  auto forbidden = manager.post("/api-keys", {{"name", "x"}, {"role", "admin"}});
  CHECK(forbidden.status == 403);
  CHECK(forbidden.detail().find("admin") != std::string::npos);

  // Role and scope must fit together.
  CHECK(f.admin().post("/api-keys", {{"name", "x"}, {"role", "facility_manager"}}).status == 422);
  CHECK(f.admin().post("/api-keys", {{"name", "x"}, {"role", "driver"}}).status == 422);
  CHECK(f.admin()
            .post("/api-keys", {{"name", "x"}, {"role", "utility"}, {"site_ids", {999}}})
            .status == 422);

  // Revoked keys stop working at once.
  const auto id = created.data["id"].get<long>();
  CHECK(f.admin().del("/api-keys/" + std::to_string(id)).status == 204);
  CHECK(manager.get("/me").status == 401);
}

TEST_CASE("sites: create, read, update, delete, and the errors that say what to fix") {
  ApiFixture f;
  auto admin = f.admin();
  auto created = admin.post(
      "/sites", {{"name", "Harbour depot"},
                 {"address", "Kaigata 1, Oslo"},
                 {"location", {{"latitude", 59.91}, {"longitude", 10.75}, {"altitude_m", 4.5}}},
                 {"time_zone", "Europe/Oslo"},
                 {"import_limit_w", 400000},
                 {"export_limit_w", 100000}});
  REQUIRE(created.status == 201);
  const auto id = created.data["id"].get<long>();
  CHECK(created.headers["Location"] == "/api/v1/sites/" + std::to_string(id));
  CHECK(created.data["location"]["latitude"] == 59.91);
  CHECK(created.data["time_zone"] == "Europe/Oslo");

  auto read = admin.get("/sites/" + std::to_string(id));
  CHECK(read.status == 200);
  CHECK(read.data["import_limit_w"] == 400000);

  auto patched = admin.patch("/sites/" + std::to_string(id),
                             {{"import_limit_w", nullptr}, {"name", "Harbour"}});
  REQUIRE(patched.status == 200);
  CHECK(patched.data["import_limit_w"].is_null());
  CHECK(patched.data["name"] == "Harbour");
  CHECK(patched.data["export_limit_w"] == 100000);  // untouched

  // Validation: each message names the field.
  auto no_name = admin.post("/sites", nlohmann::json::object());
  CHECK(no_name.status == 422);
  CHECK(no_name.detail() == "name: is required");
  auto latitude =
      admin.post("/sites", {{"name", "x"}, {"location", {{"latitude", 91}, {"longitude", 0}}}});
  CHECK(latitude.status == 422);
  CHECK(latitude.detail() == "location.latitude: must be at most 90");
  auto zone = admin.post("/sites", {{"name", "x"}, {"time_zone", "Mars/Olympus"}});
  CHECK(zone.status == 422);
  CHECK(zone.detail().find("time_zone") == 0);
  auto limit = admin.post("/sites", {{"name", "x"}, {"import_limit_w", -1}});
  CHECK(limit.status == 422);
  CHECK(limit.detail() == "import_limit_w: must be at least 0");
  auto unknown_field = admin.post("/sites", {{"name", "x"}, {"colour", "red"}});
  CHECK(unknown_field.status == 422);
  CHECK(unknown_field.detail() == "colour: is not a known field");
  auto wrong_type = admin.post("/sites", {{"name", 42}});
  CHECK(wrong_type.status == 422);
  CHECK(wrong_type.detail() == "name: must be string, not integer");

  // A site with stations cannot go; an empty one can.
  f.make_station("CP-SITE-1", id);
  auto busy = admin.del("/sites/" + std::to_string(id));
  CHECK(busy.status == 409);
  CHECK(busy.detail().find("stations") != std::string::npos);
  CHECK(admin.del("/stations/CP-SITE-1").status == 204);
  CHECK(admin.del("/sites/" + std::to_string(id)).status == 204);
  CHECK(admin.get("/sites/" + std::to_string(id)).status == 404);
}

TEST_CASE("lists page with limit and offset") {
  ApiFixture f;
  for (int i = 0; i < 5; ++i) f.make_site("site " + std::to_string(i));
  auto first = f.admin().get("/sites?limit=2");
  REQUIRE(first.status == 200);
  CHECK(first.data["items"].size() == 2);
  CHECK(first.data["next_offset"] == 2);
  auto last = f.admin().get("/sites?limit=2&offset=4");
  CHECK(last.data["items"].size() == 1);
  CHECK(last.data["next_offset"].is_null());
  CHECK(f.admin().get("/sites?limit=0").status == 400);
  CHECK(f.admin().get("/sites?limit=many").status == 400);
  CHECK(f.admin().get("/sites?offset=-1").status == 400);
}

TEST_CASE("stations: register, approve a pending station, and read what it reported") {
  ApiFixture f(pending_stations_config());
  auto admin = f.admin();
  const auto site = f.make_site("Depot");

  auto bad = admin.post("/stations", {{"id", ""}, {"site_id", site}});
  CHECK(bad.status == 422);
  CHECK(admin.post("/stations", {{"id", "CP-X"}, {"site_id", 999}}).status == 422);
  CHECK(admin.post("/stations", {{"id", "CP-X"}, {"security_profile", 4}}).status == 422);

  // An unknown station boots and waits in Pending.
  SimulatedStations stations(f.server().ocpp_port(), chargegrid::sim::OcppVersion::v16, "PEND-");
  const auto id = stations.id();
  REQUIRE(ServerFixture::eventually(
      [&] { return admin.get("/stations?registration=pending").data["items"].size() == 1; }));
  auto pending = admin.get("/stations/" + id);
  CHECK(pending.data["registration"] == "pending");
  CHECK(pending.data["online"] == true);
  CHECK(pending.data["boot_info"]["vendor"].is_string());

  // Approval: the station is asked to boot again and is accepted.
  auto approved = admin.patch("/stations/" + id, {{"registration", "accepted"}, {"site_id", site}});
  REQUIRE(approved.status == 200);
  CHECK(approved.data["site_id"] == site);
  REQUIRE(ServerFixture::eventually([&] {
    auto s = admin.get("/stations/" + id);
    return s.data["connectors"].size() >= 2 && !s.data["boot_info"]["last_boot_at"].is_null();
  }));
  auto evses = admin.get("/stations/" + id + "/evses");
  REQUIRE(evses.status == 200);
  CHECK(evses.data["items"].size() >= 2);
  auto history = admin.get("/stations/" + id + "/status-history?evse_id=1");
  CHECK(history.status == 200);
  CHECK(!history.data["items"].empty());
  CHECK(admin.get("/stations?online=true&site_id=" + std::to_string(site)).data["items"].size() ==
        1);
  CHECK(admin.get("/stations/" + id + "/security-events").status == 200);

  CHECK(admin.get("/stations/NOPE").status == 404);

  // A new security profile ends the open connection (the station reconnects and
  // is checked under it).
  EventStream events(f.server().http_port(), admin.key(), "?station_id=" + id);
  CHECK(admin.patch("/stations/" + id, {{"security_profile", 0}}).status == 200);
  CHECK(events.next("station.offline"));
  CHECK(events.next("station.online"));
}

TEST_CASE("drivers and tokens: enrol, block, and what a blocked token gets at a station") {
  ApiFixture f;
  auto admin = f.admin();
  const auto site = f.make_site("Depot");
  auto driver =
      admin.post("/drivers", {{"name", "Ada"}, {"email", "ada@example.com"}, {"site_id", site}});
  REQUIRE(driver.status == 201);
  const auto driver_id = std::to_string(driver.data["id"].get<long>());
  auto token = admin.post(
      "/drivers/" + driver_id + "/tokens",
      {{"id_token", "04A1B2C3"}, {"type", "ISO14443"}, {"valid_until", "2099-01-01T00:00:00Z"}});
  REQUIRE(token.status == 201);
  CHECK(token.data["status"] == "Accepted");
  CHECK(admin.post("/drivers/" + driver_id + "/tokens", {{"id_token", "04A1B2C3"}}).status == 409);
  CHECK(admin
            .post("/drivers/" + driver_id + "/tokens",
                  {{"id_token", "X"}, {"valid_until", "next year"}})
            .status == 422);
  CHECK(admin.get("/drivers/" + driver_id).data["tokens"].size() == 1);

  auto station = f.connect("CP-AUTH", "ocpp1.6");
  station->call("BootNotification", boot_16());
  auto accepted = station->call("Authorize", {{"idTag", "04A1B2C3"}});
  CHECK(accepted.at(2)["idTagInfo"]["status"] == "Accepted");

  auto blocked = admin.patch("/tokens/04A1B2C3", {{"blocked", true}});
  REQUIRE(blocked.status == 200);
  CHECK(blocked.data["status"] == "Blocked");
  auto refused = station->call("Authorize", {{"idTag", "04A1B2C3"}});
  CHECK(refused.at(2)["idTagInfo"]["status"] == "Blocked");

  CHECK(admin.patch("/drivers/" + driver_id, {{"name", "Ada L."}}).data["name"] == "Ada L.");
  CHECK(admin.get("/drivers?q=ada").data["items"].size() == 1);
  CHECK(admin.del("/tokens/04A1B2C3").status == 204);
  CHECK(admin.get("/tokens/04A1B2C3").status == 404);
  CHECK(admin.del("/drivers/" + driver_id).status == 204);
  CHECK(admin.get("/drivers/" + driver_id).status == 404);
}

TEST_CASE("HTTP-level bad input gets a problem, never a crash") {
  ApiFixture f;
  const auto port = f.server().http_port();
  const auto key = f.admin().key();
  auto not_json = http_request(port, http::verb::post, "/api/v1/sites", key, "{\"name\":");
  CHECK(not_json.status == 400);
  CHECK(not_json.detail().find("not valid JSON") != std::string::npos);
  auto form = http_request(port, http::verb::post, "/api/v1/sites", key, "name=x",
                           "application/x-www-form-urlencoded");
  CHECK(form.status == 415);
  auto array = http_request(port, http::verb::post, "/api/v1/sites", key, "[1,2]");
  CHECK(array.status == 422);
  auto wrong_method = http_request(port, http::verb::put, "/api/v1/sites", key);
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.headers["Allow"] == "GET, POST");
  CHECK(http_request(port, http::verb::get, "/api/v1/nothing", key).status == 404);
  CHECK(http_request(port, http::verb::get, "/api/v1/sites/12abc", key).status == 404);
  CHECK(http_request(port, http::verb::get, "/api/v1/sessions?from=%zz", key).status == 400);
  std::string huge(2 * 1024 * 1024, 'x');
  CHECK(http_request(port, http::verb::post, "/api/v1/sites", key, huge).status == 413);
  // Percent-encoded station ids reach the resource decoded.
  f.make_station("CP 1/A", f.make_site("s"));
  CHECK(f.admin().get("/stations/CP%201%2FA").data["id"] == "CP 1/A");
}

TEST_CASE("docs/api.md is generated from the OpenAPI document") {
  // The generator's output for the checked-in reference must be identical.
  const auto generated = std::string(CHARGEGRID_API_MD_GENERATED);
  std::ifstream a(generated), b(std::string(CHARGEGRID_SOURCE_DIR) + "/docs/api.md");
  REQUIRE(a.good());
  REQUIRE(b.good());
  std::string left((std::istreambuf_iterator<char>(a)), {});
  std::string right((std::istreambuf_iterator<char>(b)), {});
  INFO("run: python3 server/api/openapi.py --markdown docs/api.md");
  CHECK(left == right);
}

TEST_CASE("chargegridd apikey creates, lists and revokes keys on the database") {
  ApiFixture f;
  const auto run = [&](const std::string& args) {
    const auto command = std::string(CHARGEGRIDD_PATH) + " apikey " + args + " --database-url '" +
                         f.database().url() + "' 2>/dev/null";
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe);
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
    const int status = ::pclose(pipe);
    return std::pair{WEXITSTATUS(status), out};
  };
  const auto site = f.make_site("Depot");
  auto [code, secret] = run("create --role facility_manager --site " + std::to_string(site) +
                            " --name 'depot manager'");
  REQUIRE(code == 0);
  secret.erase(secret.find_last_not_of('\n') + 1);
  CHECK(secret.rfind("cgk_", 0) == 0);
  auto me = f.client(secret).get("/me");
  REQUIRE(me.status == 200);
  CHECK(me.data["role"] == "facility_manager");
  CHECK(me.data["site_ids"] == nlohmann::json{site});

  auto [list_code, listing] = run("list");
  CHECK(list_code == 0);
  CHECK(listing.find("depot manager") != std::string::npos);
  CHECK(listing.find(secret) == std::string::npos);

  CHECK(run("create --role facility_manager --name 'no site'").first == 2);
  CHECK(run("create --role root --name x").first != 0);
  CHECK(run("revoke " + me.data["key_id"].dump()).first == 0);
  CHECK(f.client(secret).get("/me").status == 401);
}

TEST_CASE("with --http-tls the API and its event stream are served over https") {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("cg-https-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto config = test_config();
  config.tls = true;
  config.ocpp_tls_port = 0;
  config.http_tls = true;
  config.data_dir = dir.string();  // the development certificate goes here
  ApiFixture f(config);

  namespace ssl = boost::asio::ssl;
  const auto https = [&](const std::string& target, const std::string& key) {
    boost::asio::io_context io;
    ssl::context context(ssl::context::tls_client);
    context.set_verify_mode(ssl::verify_none);
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream(io, context);
    boost::beast::get_lowest_layer(stream).connect(
        {boost::asio::ip::make_address("127.0.0.1"), f.server().http_port()});
    stream.handshake(ssl::stream_base::client);
    http::request<http::string_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::authorization, "Bearer " + key);
    http::write(stream, request);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    if (target == "/api/v1/events") {
      http::read_header(stream, buffer, parser);
      return std::pair{parser.get().result_int(),
                       std::string(parser.get()[http::field::content_type])};
    }
    http::read(stream, buffer, parser);
    return std::pair{parser.get().result_int(), parser.get().body()};
  };
  auto me = https("/api/v1/me", f.admin().key());
  CHECK(me.first == 200);
  CHECK(me.second.find("\"role\":\"admin\"") != std::string::npos);
  CHECK(https("/api/v1/sites", "cgk_wrong").first == 401);
  auto events = https("/api/v1/events", f.admin().key());
  CHECK(events.first == 200);
  CHECK(events.second == "text/event-stream");
  // Plain HTTP on the https port gets no answer.
  CHECK_THROWS(http_request(f.server().http_port(), http::verb::get, "/api/v1/me", "k"));
  fs::remove_all(dir);
}
