// An HTTP request as raw bytes, the way the server's listeners read it.
//
// 1. Beast's request parser with the HTTP listener's body limit (serve_http).
// 2. Everything the REST API does before a handler, without the key check (which needs the
//    database): route match, query parsing, the path and query accessors handlers use, the
//    body's media type, JSON and OpenAPI schema check. Every ApiError they raise must render
//    as a problem+json answer.
// 3. The whole request through api::Api::respond, with the database unreachable: answers
//    without a key come from routing alone, answers with one are 503s from the pool.
// 4. The OCPP listener's reading of the same request as a WebSocket upgrade: station id
//    from the target, OCPP version from Sec-WebSocket-Protocol.
//
// Properties: nothing throws out of these; every answer is a well-formed HTTP response
// whose JSON body (problem+json included) parses; no request makes a 500.

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "api/api.hpp"
#include "api/json_schema.hpp"
#include "api/openapi.hpp"
#include "api/request.hpp"
#include "api/router.hpp"
#include "chargegrid/db/pool.hpp"
#include "chargegrid/protocols/json_limits.hpp"
#include "cluster/cluster.hpp"
#include "commands/command_router.hpp"
#include "connections/http_connection.hpp"
#include "connections/station_connection.hpp"
#include "connections/station_registry.hpp"
#include "events/event_bus.hpp"
#include "meter_writer.hpp"
#include "metrics.hpp"
#include "ocpp/handler.hpp"
#include "security/security.hpp"
#include "services.hpp"
#include "store/database.hpp"
#include "targets.hpp"

namespace chargegrid::fuzz {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;
using server::HttpRequest;
using server::HttpResponse;

constexpr std::size_t kBodyLimit = 1024 * 1024;  // the HTTP listener's (server.cpp)

// The server's parts the API needs, on a database that does not exist.
struct Harness {
  static constexpr const char* kDatabaseUrl =
      "postgresql:///fuzz?host=/nonexistent/chargegrid-fuzz&connect_timeout=1";

  Harness()
      : config(make_config()),
        pool(kDatabaseUrl,
             db::PoolOptions{.connections = 1,
                             .queue_capacity = 16,
                             // One attempt at start; jobs fail at once while none works.
                             .reconnect_initial = std::chrono::hours(1),
                             .reconnect_max = std::chrono::hours(1)}),
        database(pool),
        meters(io, pool, metrics, 100, 5),
        writers(io, pool, metrics, 100, 5),
        security(config, pool),
        cluster(config, kDatabaseUrl, pool, database, stations, writers, metrics),  // not enabled
        commands(config, io, database, stations, cluster, events),
        services{config,   database, meters,   writers, metrics, stations,
                 handlers, events,   security, cluster, commands},
        api(services) {}

  static server::Config make_config() {
    spdlog::set_level(spdlog::level::off);
    server::Config c;
    c.tls = false;
    c.data_dir = (std::filesystem::temp_directory_path() / "chargegrid-fuzz-unused").string();
    c.log_level = "off";
    return c;
  }

  server::Config config;
  asio::io_context io;
  server::Metrics metrics;
  server::StationRegistry stations;
  server::HandlerRegistry handlers;
  server::EventBus events;
  db::ConnectionPool pool;
  server::Database database;
  server::MeterWriter meters;
  server::StateWriters writers;
  server::security::Security security;
  server::Cluster cluster;
  server::commands::CommandRouter commands;
  server::Services services;
  server::api::Api api;
};

Harness& harness() {
  static Harness instance;
  return instance;
}

std::optional<HttpRequest> parse_request(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  beast::error_code ec;
  asio::const_buffer input(data, size);
  while (input.size() > 0 && !parser.is_done()) {
    const auto used = parser.put(input, ec);
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0) break;
    }
    if (ec) return std::nullopt;
    input += used;
  }
  if (!parser.is_done()) {
    if (!parser.got_some()) return std::nullopt;  // put_eof requires a started message
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return std::nullopt;
  }
  return parser.release();
}

void check_response(const HttpResponse& response) {
  const int status = static_cast<int>(response.result());
  require(status >= 200 && status <= 599, "an answer has an HTTP status");
  require(status != 500, "no request makes a 500");
  const auto type = response[http::field::content_type];
  if (type.starts_with("application/json") || type.starts_with("application/problem+json")) {
    const auto body = json::parse(response.body(), nullptr, false);
    require(!body.is_discarded(), "a JSON answer's body is JSON");
    if (status >= 400) require(body.contains("detail"), "a problem+json answer has a detail");
  }
}

// An ApiError as the caller would see it.
void render(const HttpRequest& request, const server::api::ApiError& error) {
  HttpResponse response;
  try {
    response = server::problem(request, error.status, error.title, error.what());
  } catch (const std::exception&) {
    require(false, "an ApiError renders as problem+json");
  }
  check_response(response);
}

// What prepare() and the handlers do with the request before they need the database.
void check_without_database(const HttpRequest& request) {
  auto& api = harness().api;
  const std::string target(request.target());
  const auto question = target.find('?');
  const auto path = target.substr(0, question);
  const auto match = api.router().match(request.method(), path);
  if (!match.route) return;
  if (!match.bad_param.empty()) {
    render(request, server::api::bad_request("path parameter " + match.bad_param + " " +
                                             match.bad_param_problem));
    return;
  }
  const auto* route = match.route;
  const std::string_view query = question == std::string::npos
                                     ? std::string_view()
                                     : std::string_view(target).substr(question + 1);
  server::api::ApiRequest api_request{request, match.params, {}, {}, json()};
  try {
    api_request.query = server::api::parse_query(query);
  } catch (const server::api::ApiError& e) {
    render(request, e);
    return;
  }
  // The accessors handlers read their parameters with.
  auto guarded = [&request](auto&& read) {
    try {
      read();
    } catch (const server::api::ApiError& e) {
      render(request, e);
    }
  };
  guarded([&] { api_request.page(); });
  for (const auto& entry : api_request.query) {
    const std::string& name = entry.first;  // a lambda may not capture a structured binding
    guarded([&] { api_request.query_int(name); });
    guarded([&] { api_request.query_bool(name); });
    guarded([&] { api_request.query_time(name); });
    guarded([&] { api_request.query_choice(name, {"active", "ended"}); });
  }
  for (const auto& entry : api_request.path) {
    const std::string& name = entry.first;
    guarded([&] { api_request.path_id(name); });
  }

  if (route->body_schema.empty()) return;
  // Parsed as prepare() parses bodies: nesting deeper than the limit never gets here.
  auto parsed = protocols::parse_json(request.body().empty() ? "{}" : request.body());
  if (!parsed) return;
  const json body = std::move(parsed.value);
  if (auto nul = server::api::find_nul_character(body)) {
    render(request, server::api::unprocessable(*nul));
    return;
  }
  const auto& document = server::api::openapi_document();
  const auto& schema = document.at("components").at("schemas").at(route->body_schema);
  std::optional<std::string> problem;
  try {
    problem = server::api::check_schema(schema, body, document);
  } catch (const std::exception&) {
    require(false, "check_schema never throws");
  }
  if (problem) render(request, server::api::unprocessable(*problem));
}

// The whole request through the API, as the HTTP listener hands it over.
void check_respond(const HttpRequest& request) {
  auto& h = harness();
  if (!h.api.handles(request) || h.api.is_event_stream(request)) return;
  std::optional<HttpResponse> response;
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(h.io, h.api.respond(request), [&](std::exception_ptr e, HttpResponse r) {
    failure = e;
    if (!e) response = std::move(r);
    done = true;
  });
  auto guard = asio::make_work_guard(h.io);
  h.io.restart();
  while (!done) h.io.run_one();
  guard.reset();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "Api::respond threw: %s\n", e.what());
    } catch (...) {
    }
    require(false, "Api::respond never throws");
  }
  check_response(*response);
  // The listener serialises what it answers.
  std::ostringstream out;
  out << *response;
  require(!out.str().empty(), "an answer serialises");
}

// The OCPP listener reads the same kind of request as a WebSocket upgrade.
void check_upgrade(const HttpRequest& request) {
  const auto id = server::station_id_from_target(request.target());
  if (id) {
    require(!id->empty() && id->size() <= 48, "a station id has 1 to 48 characters");
    const auto printable = json(*id).dump();  // station ids go into JSON logs and events
    require(!printable.empty(), "a station id is printable");
  }
  server::negotiate_subprotocol(request[http::field::sec_websocket_protocol]);
}

}  // namespace

int http(const std::uint8_t* data, std::size_t size) {
  auto request = parse_request(data, size);
  if (!request) return 0;
  check_without_database(*request);
  check_respond(*request);
  check_upgrade(*request);
  // The listener's own answer for targets outside the API.
  render(*request, server::api::not_found("no resource at " + std::string(request->target())));
  return 0;
}

}  // namespace chargegrid::fuzz
