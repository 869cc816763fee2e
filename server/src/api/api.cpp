#include "api/api.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <set>

#include "api/context.hpp"
#include "api/credits_routes.hpp"
#include "api/json_schema.hpp"
#include "api/openapi.hpp"
#include "chargegrid/base/text.hpp"
#include "chargegrid/db/pool.hpp"
#include "chargegrid/protocols/json_limits.hpp"
#include "cluster/cluster.hpp"
#include "logging.hpp"
#include "store/cluster_nodes.hpp"

namespace chargegrid::server::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;

namespace {

constexpr std::string_view kPrefix = "/api/";

HttpResponse problem_for(const HttpRequest& request, const ApiError& error) {
  json body{{"type", "about:blank"},
            {"title", error.title},
            {"status", static_cast<int>(error.status)},
            {"detail", error.what()},
            {"instance", std::string(request.target().substr(0, request.target().find('?')))}};
  for (const auto& [key, value] : error.extra.items()) body[key] = value;
  auto response = json_response(request, error.status, json_text(body));
  response.set(http::field::content_type, "application/problem+json");
  if (error.status == Status::unauthorized)
    response.set(http::field::www_authenticate, "Bearer realm=\"chargegrid\"");
  if (error.status == Status::service_unavailable) response.set(http::field::retry_after, "5");
  if (!error.allow.empty()) response.set(http::field::allow, error.allow);
  return response;
}

std::string_view bearer_secret(const HttpRequest& request) {
  auto header = request[http::field::authorization];
  constexpr std::string_view scheme = "Bearer ";
  if (header.size() <= scheme.size() || !beast::iequals(header.substr(0, scheme.size()), scheme))
    return {};
  return {header.data() + scheme.size(), header.size() - scheme.size()};
}

std::string roles_text(const std::vector<Role>& roles) {
  std::string text;
  for (auto role : roles) text += (text.empty() ? "" : ", ") + std::string(role_name(role));
  return text;
}

// PostgreSQL's complaint, first line only and without its "ERROR:" (the rest is for operators).
std::string postgres_message(const char* what) {
  auto text = base::first_line(what);
  if (text.rfind("ERROR:  ", 0) == 0) text.erase(0, 8);
  return text;
}

std::string detail_line(const char* what) {
  std::string text(what);
  auto at = text.find("DETAIL:  ");
  if (at == std::string::npos) return postgres_message(what);
  text.erase(0, at + 9);
  auto end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  return text;
}

}  // namespace

Api::Api(Services& services)
    : context_(std::make_unique<ApiContext>(ApiContext{services})),
      router_(std::make_unique<Router>()) {
  auto& router = *router_;
  auto& context = *context_;
  router.add(http::verb::get, "/api/v1/openapi.json", {}, "",
             [](ApiRequest& r) -> awaitable<HttpResponse> {
               co_return json_response(r.http, Status::ok, std::string(openapi_text()));
             });
  // Served by stream_events(); listed here so that it is routed and documented.
  router.add(http::verb::get, "/api/v1/events", {Role::Admin, Role::FacilityManager, Role::Driver},
             "", [](ApiRequest&) -> awaitable<HttpResponse> {
               throw bad_request("events are a text/event-stream");
               co_return HttpResponse{};
             });
  add_api_key_routes(router, context);
  add_site_routes(router, context);
  add_station_routes(router, context);
  add_command_routes(router, context);
  add_driver_routes(router, context);
  add_session_routes(router, context);
  add_association_routes(router, context);
  add_cluster_routes(router, context);
  add_ledger_routes(router, context);
  add_tariff_routes(router, context);
  add_holiday_routes(router, context);
  add_evse_routes(router, context);
  add_schedule_routes(router, context);
  add_settlement_routes(router, context);
  add_report_routes(router, context);
  add_credit_routes(router, context);
  add_certificate_routes(router, context);
}

Api::~Api() = default;

bool Api::handles(const HttpRequest& request) const {
  return request.target().starts_with(kPrefix) || request.target() == "/api";
}

bool Api::is_event_stream(const HttpRequest& request) const {
  auto target = request.target();
  return request.method() == http::verb::get &&
         target.substr(0, target.find('?')) == "/api/v1/events";
}

namespace {

// Finds the route, authenticates the caller and checks the body: everything a
// handler may take for granted.
awaitable<ApiRequest> prepare(ApiContext& context, const Router& router, const HttpRequest& request,
                              const Route*& route) {
  const auto target = std::string(request.target());
  const auto question = target.find('?');
  const auto path = target.substr(0, question);
  auto match = router.match(request.method(), path);
  if (!match.route) {
    if (!match.path_known) throw not_found("no resource at " + path);
    std::string allowed;
    for (const auto& m : match.allowed) allowed += (allowed.empty() ? "" : ", ") + m;
    ApiError error(Status::method_not_allowed, "Method not allowed",
                   std::string(request.method_string()) + " is not allowed on " + path +
                       "; allowed: " + allowed);
    error.allow = allowed;
    throw error;
  }
  route = match.route;
  if (!match.bad_param.empty())
    throw bad_request("path parameter " + match.bad_param + " " + match.bad_param_problem);
  ApiRequest api_request{
      request,
      std::move(match.params),
      parse_query(question == std::string::npos ? std::string_view()
                                                : std::string_view(target).substr(question + 1)),
      {},
      json()};

  if (!route->roles.empty()) {
    const std::string secret(bearer_secret(request));
    if (secret.empty())
      throw ApiError(Status::unauthorized, "Unauthorized",
                     "send an API key as 'Authorization: Bearer <key>'");
    // Captures by reference only: a closure with members must not be a
    // temporary in a co_await expression (g++ 12 destroys it twice).
    auto principal = co_await context.services.database.run(
        [&secret](pqxx::connection& c) { return authenticate(c, secret); });
    if (!principal)
      throw ApiError(Status::unauthorized, "Unauthorized", "the API key is unknown or revoked");
    bool allowed = false;
    for (auto role : route->roles) allowed = allowed || role == principal->role;
    if (!allowed)
      throw forbidden(std::string(role_name(principal->role)) + " keys cannot use " +
                      std::string(request.method_string()) + " " + route->pattern +
                      "; it needs one of: " + roles_text(route->roles));
    api_request.principal = std::move(*principal);
  }

  if (!route->body_schema.empty()) {
    auto type = request[http::field::content_type];
    if (!request.body().empty() && !type.empty() &&
        type.substr(0, type.find(';')) != "application/json")
      throw ApiError(Status::unsupported_media_type, "Unsupported media type",
                     "send the body as application/json, not " + std::string(type));
    auto parsed = protocols::parse_json(request.body().empty() ? "{}" : request.body());
    if (parsed.error == protocols::JsonParseError::TooDeep)
      throw bad_request("the body nests arrays and objects deeper than " +
                        std::to_string(protocols::kMaxJsonDepth) + " levels");
    if (!parsed)
      throw bad_request("the body is not valid JSON (at byte " + std::to_string(parsed.byte) + ")");
    api_request.body = std::move(parsed.value);
    if (auto problem = find_nul_character(api_request.body)) throw unprocessable(*problem);
    const auto& document = openapi_document();
    const auto& schema = document.at("components").at("schemas").at(route->body_schema);
    if (auto problem = check_schema(schema, api_request.body, document))
      throw unprocessable(*problem);
  }
  co_return api_request;
}

}  // namespace

awaitable<HttpResponse> Api::respond(const HttpRequest& request) {
  std::optional<ApiError> failure;
  try {
    const Route* route = nullptr;
    auto api_request = co_await prepare(*context_, *router_, request, route);
    const auto& handler = route->handler;
    auto response = co_await handler(api_request);
    co_return response;
  } catch (const ApiError& e) {
    failure = e;
  } catch (const pqxx::unique_violation& e) {
    failure = conflict("already exists: " + detail_line(e.what()));
  } catch (const pqxx::foreign_key_violation& e) {
    failure = unprocessable("a referenced resource does not exist: " + detail_line(e.what()));
  } catch (const pqxx::check_violation& e) {
    failure = unprocessable("a value is out of range: " + postgres_message(e.what()));
  } catch (const pqxx::data_exception& e) {
    failure = unprocessable(postgres_message(e.what()));
  } catch (const pqxx::broken_connection&) {
    failure = ApiError(Status::service_unavailable, "Database unavailable",
                       "the database connection was lost; retry shortly");
  } catch (const db::DatabaseUnavailable&) {
    failure = ApiError(Status::service_unavailable, "Database unavailable",
                       "the database is unreachable; retry shortly");
  } catch (const db::PoolFull&) {
    failure = ApiError(Status::service_unavailable, "Busy",
                       "too much database work is queued; retry shortly");
  } catch (const db::PoolStopped&) {
    failure = ApiError(Status::service_unavailable, "Shutting down", "the server is stopping");
  } catch (const std::exception& e) {
    log::error("api_request_failed",
               {{"target", std::string(request.target())}, {"error", e.what()}});
    failure = ApiError(Status::internal_server_error, "Internal error",
                       "the request failed on the server; it has been logged");
  }
  co_return problem_for(request, *failure);
}

namespace {

// One SSE subscriber: wakes its stream when events queue up.
struct EventWaiter {
  explicit EventWaiter(asio::any_io_executor executor) : timer(executor) {}
  asio::steady_timer timer;
  bool woken = false;  // set and read on the stream's strand only
};

bool visible(const Principal& principal, const Event& event) {
  switch (principal.role) {
    case Role::Admin:
      return true;
    case Role::FacilityManager:
      return principal.may_see_site(event.site_id);
    case Role::Driver:
      return event.driver_id && event.driver_id == principal.driver_id;
    case Role::Utility:
      return false;
  }
  return false;
}

std::string sse_frame(const Event& event) {
  json data{{"id", event.id},
            {"type", event.type},
            {"time", event.time},
            {"station_id", event.station_id.empty() ? json(nullptr) : json(event.station_id)},
            {"site_id", event.site_id ? json(*event.site_id) : json(nullptr)},
            {"data", event.data}};
  return "id: " + std::to_string(event.id) + "\nevent: " + event.type +
         "\ndata: " + json_text(data) + "\n\n";
}

}  // namespace

template <class Stream>
awaitable<void> Api::stream_events(Stream& stream, const HttpRequest& request) {
  Principal principal;
  std::set<std::string> types;
  std::optional<std::string> station_filter;
  std::optional<std::int64_t> site_filter;
  std::optional<std::uint64_t> last_seen;
  std::optional<ApiError> failure;
  try {
    const Route* route = nullptr;
    auto api_request = co_await prepare(*context_, *router_, request, route);
    principal = api_request.principal;
    if (auto list = api_request.query_text("types")) {
      std::size_t start = 0;
      while (start <= list->size()) {
        auto end = list->find(',', start);
        if (end == std::string::npos) end = list->size();
        if (end > start) types.insert(list->substr(start, end - start));
        start = end + 1;
      }
      for (const auto& type : types)
        if (std::ranges::find(kEventTypes, type) == std::end(kEventTypes)) {
          std::string known;
          for (auto t : kEventTypes) known += (known.empty() ? "" : ", ") + std::string(t);
          throw bad_request("query parameter types: unknown event type '" + type +
                            "'; the types are " + known);
        }
    }
    station_filter = api_request.query_text("station_id");
    site_filter = api_request.query_int("site_id");
    if (site_filter && !principal.may_see_site(site_filter) && principal.role != Role::Driver)
      throw not_found("no site " + std::to_string(*site_filter) + " in this key's sites");
    auto last = request["Last-Event-ID"];
    if (!last.empty()) {
      try {
        last_seen = std::stoull(std::string(last));
      } catch (const std::exception&) {
        throw bad_request("Last-Event-ID must be the id of an event");
      }
    }
  } catch (const ApiError& e) {
    failure = e;
  } catch (const std::exception&) {
    failure = ApiError(Status::service_unavailable, "Database unavailable",
                       "the API key could not be checked; retry shortly");
  }
  if (failure) {
    auto response = problem_for(request, *failure);
    response.keep_alive(false);
    co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
    co_return;
  }

  // Cluster mode: the other nodes are told to relay their events before the head goes out, so
  // a client that acts once it has the head sees every event its action causes on any node.
  // Without the database the stream still shows this node's own.
  auto& services = context_->services;
  if (services.cluster.enabled()) {
    // A named function, not a temporary inside the co_await (g++ 12 destroys the latter's
    // captures twice).
    auto want_events = [node = services.cluster.node_id()](store::Tx& tx) {
      store::cluster_nodes::want_events(tx, node, Cluster::kEventsWantedS);
    };
    try {
      co_await services.database.transaction(std::move(want_events));
    } catch (const std::exception& e) {
      log::warn("event_stream_relay_unavailable", {{"error", e.what()}});
    }
  }
  // Subscribed before the head goes out: a client that acts once it has the head sees
  // every event its action causes.
  auto executor = co_await asio::this_coro::executor;
  auto waiter = std::make_shared<EventWaiter>(executor);
  std::weak_ptr<EventWaiter> weak = waiter;
  auto& bus = context_->services.events;
  auto subscription = bus.subscribe(
      [weak, executor] {
        asio::post(executor, [weak] {
          if (auto w = weak.lock()) {
            w->woken = true;
            w->timer.cancel();
          }
        });
      },
      last_seen);
  struct Unsubscribe {
    EventBus& bus;
    std::shared_ptr<EventBus::Subscription> subscription;
    ~Unsubscribe() { bus.unsubscribe(subscription); }
  } unsubscribe{bus, subscription};

  http::response<http::empty_body> head{http::status::ok, request.version()};
  head.set(http::field::server, "ChargeGrid");
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  head.keep_alive(false);
  http::response_serializer<http::empty_body> serializer(head);
  beast::get_lowest_layer(stream).expires_never();
  auto [head_ec, head_n] =
      co_await http::async_write_header(stream, serializer, asio::as_tuple(asio::use_awaitable));
  if (head_ec) co_return;

  std::string out = "retry: 2000\n: connected\n\n";
  for (;;) {
    bool overflowed = false;
    for (const auto& event : subscription->take(overflowed)) {
      if (!visible(principal, event)) continue;
      if (!types.empty() && !types.contains(event.type)) continue;
      if (station_filter && event.station_id != *station_filter) continue;
      if (site_filter && event.site_id != site_filter) continue;
      out += sse_frame(event);
    }
    if (overflowed)
      out += "event: overflow\ndata: {\"detail\":\"events were lost: reconnect\"}\n\n";
    if (!out.empty()) {
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out),
                                                asio::as_tuple(asio::use_awaitable));
      if (ec || overflowed) co_return;
      out.clear();
    }
    if (waiter->woken) {
      waiter->woken = false;
      continue;
    }
    waiter->timer.expires_after(std::chrono::seconds(15));
    auto [wait_ec] = co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    waiter->woken = false;
    // Woken by an event (cancelled) or idle for 15 s: a comment keeps proxies
    // from closing the stream and finds a client that has gone.
    if (!wait_ec) out = ": keep-alive\n\n";
  }
}

template awaitable<void> Api::stream_events(beast::tcp_stream&, const HttpRequest&);
template awaitable<void> Api::stream_events(HttpsStream&, const HttpRequest&);

}  // namespace chargegrid::server::api
