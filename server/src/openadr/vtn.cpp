#include "openadr/vtn.hpp"

#include <charconv>
#include <limits>
#include <pqxx/pqxx>

#include "api/auth.hpp"
#include "api/context.hpp"
#include "api/json_schema.hpp"
#include "api/request.hpp"
#include "api/router.hpp"
#include "chargegrid/db/pool.hpp"
#include "chargegrid/protocols/json_limits.hpp"
#include "logging.hpp"
#include "openadr/objects.hpp"
#include "openadr/reports.hpp"
#include "openadr/windows.hpp"
#include "store/demand_response.hpp"
#include "store/openadr.hpp"
#include "store/outbox.hpp"

namespace chargegrid::server::openadr {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace oadr = store::openadr;
using api::ApiError;
using api::Role;
using asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::string_view kBase = "/openadr3/3.0.1";
constexpr std::int64_t kMaxLimit = 50;  // the specification's page size limit

struct Call {
  const HttpRequest& http;
  std::map<std::string, std::string> path;
  std::multimap<std::string, std::string> query;
  api::Principal principal;
  json body;

  // Programs of every owner for admin keys, else the caller's own.
  std::optional<std::int64_t> owner() const {
    return principal.admin() ? std::nullopt : std::optional<std::int64_t>(principal.key_id);
  }
  std::optional<std::string> query_text(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }
  std::int64_t query_count(const std::string& name, std::int64_t fallback,
                           std::int64_t maximum) const {
    auto text = query_text(name);
    if (!text) return fallback;
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || value < 0 || value > maximum)
      throw api::bad_request("query parameter " + name + " must be an integer from 0 to " +
                             std::to_string(maximum));
    return value;
  }
  // targetType with targetValues (repeated, or comma-separated).
  std::optional<oadr::TargetFilter> target_filter() const {
    auto type = query_text("targetType");
    auto [first, last] = query.equal_range("targetValues");
    if (!type) {
      if (first != last) throw api::bad_request("targetValues needs a targetType");
      return std::nullopt;
    }
    oadr::TargetFilter filter{*type, {}};
    for (auto it = first; it != last; ++it) {
      std::size_t start = 0;
      while (start <= it->second.size()) {
        auto end = it->second.find(',', start);
        if (end == std::string::npos) end = it->second.size();
        if (end > start) filter.values.push_back(it->second.substr(start, end - start));
        start = end + 1;
      }
    }
    return filter;
  }
};

using Handler = std::function<awaitable<HttpResponse>(Call&)>;

std::multimap<std::string, std::string> parse_query_all(std::string_view query) {
  std::multimap<std::string, std::string> out;
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    // One parameter at a time through the API's decoder, which refuses bad encodings.
    for (auto& [key, value] : api::parse_query(query.substr(start, end - start)))
      out.emplace(key, value);
    start = end + 1;
  }
  return out;
}

HttpResponse problem_answer(const HttpRequest& request, const ApiError& error) {
  json body{{"type", "about:blank"},
            {"title", error.title},
            {"status", static_cast<int>(error.status)},
            {"detail", error.what()},
            {"instance", std::string(request.target().substr(0, request.target().find('?')))}};
  auto response = json_response(request, error.status, json_text(body));
  if (error.status == http::status::unauthorized)
    response.set(http::field::www_authenticate, "Bearer realm=\"chargegrid\"");
  if (!error.allow.empty()) response.set(http::field::allow, error.allow);
  return response;
}

HttpResponse answer(const HttpRequest& request, http::status status, const json& body) {
  return json_response(request, status, json_text(body));
}

ApiError forbidden_targets(const std::vector<std::string>& unmatched) {
  std::string list;
  for (const auto& u : unmatched) list += (list.empty() ? "" : ", ") + u;
  return api::forbidden("the event targets sites outside this key's sites: " + list);
}

ApiError unusable_event(const std::vector<std::string>& problems) {
  std::string list;
  for (const auto& p : problems) list += (list.empty() ? "" : "; ") + p;
  return api::bad_request("the event cannot be applied: " + list);
}

// Translates `event` into windows for the sites its targets name among its owner's, replaces
// its windows and tells the outbox which sites changed. Throws (so that nothing is stored)
// when a target names a site out of reach or a payload cannot be honoured.
void apply_event(pqxx::transaction_base& tx, const oadr::Event& event, const json& program) {
  const auto reach = oadr::sites_in_reach(tx, event.owner_key_id);
  const auto match = match_targets(event.object.value("targets", json()), reach);
  if (!match.unmatched.empty()) throw forbidden_targets(match.unmatched);
  auto translation = translate(event.object, program, match.sites);
  if (!translation.problems.empty()) throw unusable_event(translation.problems);
  const auto sites = store::demand_response::replace_event(tx, event.id, translation.windows);
  if (!sites.empty())
    store::outbox::append(tx, store::outbox::kDemandResponseChanged, {{"site_ids", sites}});
}

// Removes the windows of events that no longer exist.
std::vector<std::int64_t> withdraw_events(pqxx::transaction_base& tx,
                                          const std::vector<std::string>& event_ids) {
  std::vector<std::int64_t> sites;
  for (const auto& id : event_ids)
    for (auto site : store::demand_response::replace_event(tx, id, {})) sites.push_back(site);
  std::sort(sites.begin(), sites.end());
  sites.erase(std::unique(sites.begin(), sites.end()), sites.end());
  if (!sites.empty())
    store::outbox::append(tx, store::outbox::kDemandResponseChanged, {{"site_ids", sites}});
  return sites;
}

json checked_program(const json& body) {
  if (auto problem = program_problem(body)) throw api::bad_request("program: " + *problem);
  return without_vtn_fields(body);
}

json checked_event(const json& body) {
  if (auto problem = event_problem(body)) throw api::bad_request("event: " + *problem);
  return without_vtn_fields(body);
}

ApiError no_program(const std::string& id) {
  return api::not_found("no program '" + id + "' for this key");
}
ApiError no_event(const std::string& id) {
  return api::not_found("no event '" + id + "' for this key");
}

}  // namespace

struct Vtn::Impl {
  explicit Impl(Services& s) : services(s), context{s} { add_routes(); }

  Services& services;
  api::ApiContext context;
  api::Router router;
  std::map<const api::Route*, Handler> handlers;

  void add_routes() {
    // The handlers are keyed by the routes' addresses, taken once every route is in place.
    std::vector<std::tuple<http::verb, std::string, Handler>> table{
        {http::verb::post, "/programs", [this](Call& c) { return create_program(c); }},
        {http::verb::get, "/programs", [this](Call& c) { return list_programs(c); }},
        {http::verb::get, "/programs/{programID}", [this](Call& c) { return get_program(c); }},
        {http::verb::put, "/programs/{programID}", [this](Call& c) { return put_program(c); }},
        {http::verb::delete_, "/programs/{programID}",
         [this](Call& c) { return delete_program(c); }},
        {http::verb::post, "/events", [this](Call& c) { return create_event(c); }},
        {http::verb::get, "/events", [this](Call& c) { return list_events(c); }},
        {http::verb::get, "/events/{eventID}", [this](Call& c) { return get_event(c); }},
        {http::verb::put, "/events/{eventID}", [this](Call& c) { return put_event(c); }},
        {http::verb::delete_, "/events/{eventID}", [this](Call& c) { return delete_event(c); }},
        {http::verb::get, "/reports", [this](Call& c) { return list_reports(c); }},
        {http::verb::post, "/reports", [this](Call& c) { return create_report(c); }},
    };
    for (auto& [method, path, handler] : table)
      router.add(method, std::string(kBase) + path, {Role::Utility, Role::Admin}, "", nullptr);
    for (std::size_t i = 0; i < table.size(); ++i)
      handlers[&router.routes()[i]] = std::get<2>(table[i]);
  }

  awaitable<HttpResponse> create_program(Call& c) {
    auto object = checked_program(c.body);
    auto program = co_await context.transaction(
        [&](pqxx::work& tx) { return oadr::create_program(tx, c.principal.key_id, object); });
    co_return answer(c.http, http::status::created, program.object);
  }

  awaitable<HttpResponse> list_programs(Call& c) {
    const auto skip = c.query_count("skip", 0, std::numeric_limits<std::int32_t>::max());
    const auto limit = c.query_count("limit", kMaxLimit, kMaxLimit);
    const auto filter = c.target_filter();
    auto programs = co_await context.transaction(
        [&](pqxx::work& tx) { return oadr::list_programs(tx, c.owner(), filter, skip, limit); });
    co_return answer(c.http, http::status::ok, programs);
  }

  awaitable<HttpResponse> get_program(Call& c) {
    const auto& id = c.path.at("programID");
    auto program = co_await context.transaction(
        [&](pqxx::work& tx) { return oadr::find_program(tx, id, c.owner()); });
    if (!program) throw no_program(id);
    co_return answer(c.http, http::status::ok, program->object);
  }

  awaitable<HttpResponse> put_program(Call& c) {
    const auto& id = c.path.at("programID");
    auto object = checked_program(c.body);
    auto program = co_await context.transaction([&](pqxx::work& tx) {
      auto updated = oadr::update_program(tx, id, c.owner(), object);
      if (!updated) throw no_program(id);
      // The program's payload descriptors are its events' defaults.
      for (const auto& event : oadr::events_of_program(tx, id))
        apply_event(tx, event, updated->object);
      return *updated;
    });
    co_return answer(c.http, http::status::ok, program.object);
  }

  awaitable<HttpResponse> delete_program(Call& c) {
    const auto& id = c.path.at("programID");
    auto program = co_await context.transaction([&](pqxx::work& tx) {
      std::vector<std::string> event_ids;
      for (const auto& event : oadr::events_of_program(tx, id)) event_ids.push_back(event.id);
      auto deleted = oadr::delete_program(tx, id, c.owner());
      if (!deleted) throw no_program(id);
      withdraw_events(tx, event_ids);
      return *deleted;
    });
    co_return answer(c.http, http::status::ok, program.object);
  }

  awaitable<HttpResponse> create_event(Call& c) {
    auto object = checked_event(c.body);
    const auto program_id = object.at("programID").get<std::string>();
    auto event = co_await context.transaction([&](pqxx::work& tx) {
      auto program = oadr::find_program(tx, program_id, c.owner());
      if (!program)
        throw api::bad_request("event: programID '" + program_id +
                               "' names no program of this key");
      auto stored = oadr::create_event(tx, program_id, object);
      apply_event(tx, stored, program->object);
      return stored;
    });
    co_return answer(c.http, http::status::created, event.object);
  }

  awaitable<HttpResponse> list_events(Call& c) {
    const auto skip = c.query_count("skip", 0, std::numeric_limits<std::int32_t>::max());
    const auto limit = c.query_count("limit", kMaxLimit, kMaxLimit);
    const auto filter = c.target_filter();
    const auto program_id = c.query_text("programID");
    auto events = co_await context.transaction([&](pqxx::work& tx) {
      return oadr::list_events(tx, c.owner(), program_id, filter, skip, limit);
    });
    co_return answer(c.http, http::status::ok, events);
  }

  awaitable<HttpResponse> get_event(Call& c) {
    const auto& id = c.path.at("eventID");
    auto event = co_await context.transaction(
        [&](pqxx::work& tx) { return oadr::find_event(tx, id, c.owner()); });
    if (!event) throw no_event(id);
    co_return answer(c.http, http::status::ok, event->object);
  }

  awaitable<HttpResponse> put_event(Call& c) {
    const auto& id = c.path.at("eventID");
    auto object = checked_event(c.body);
    const auto program_id = object.at("programID").get<std::string>();
    auto event = co_await context.transaction([&](pqxx::work& tx) {
      if (!oadr::find_event(tx, id, c.owner())) throw no_event(id);
      auto program = oadr::find_program(tx, program_id, c.owner());
      if (!program)
        throw api::bad_request("event: programID '" + program_id +
                               "' names no program of this key");
      auto updated = oadr::update_event(tx, id, c.owner(), program_id, object);
      if (!updated) throw no_event(id);
      apply_event(tx, *updated, program->object);
      return *updated;
    });
    co_return answer(c.http, http::status::ok, event.object);
  }

  awaitable<HttpResponse> delete_event(Call& c) {
    const auto& id = c.path.at("eventID");
    auto event = co_await context.transaction([&](pqxx::work& tx) {
      auto deleted = oadr::delete_event(tx, id, c.owner());
      if (!deleted) throw no_event(id);
      withdraw_events(tx, {id});
      return *deleted;
    });
    co_return answer(c.http, http::status::ok, event.object);
  }

  // The sites' reports of the key's events that ask for one (docs/openadr.md), made from the
  // meter values and plans when asked: filters eventID, programID, clientName, skip, limit.
  awaitable<HttpResponse> list_reports(Call& c) {
    const auto skip = c.query_count("skip", 0, std::numeric_limits<std::int32_t>::max());
    const auto limit = c.query_count("limit", kMaxLimit, kMaxLimit);
    const auto event_id = c.query_text("eventID");
    const auto program_id = c.query_text("programID");
    const auto client_name = c.query_text("clientName");
    for (const auto* id : {&event_id, &program_id})
      if (*id && !is_object_id(**id)) throw api::bad_request("'" + **id + "' is not an objectID");
    const auto now = std::chrono::system_clock::now();
    auto reports = co_await context.transaction([&](pqxx::work& tx) {
      std::vector<oadr::Event> events;
      if (event_id) {
        if (auto event = oadr::find_event(tx, *event_id, c.owner())) events.push_back(*event);
      } else {
        for (std::int64_t page_start = 0;; page_start += kMaxLimit) {
          const auto page =
              oadr::list_events(tx, c.owner(), program_id, std::nullopt, page_start, kMaxLimit);
          for (const auto& object : page)
            if (auto event = oadr::find_event(tx, object.value("id", ""), c.owner()))
              events.push_back(*event);
          if (static_cast<std::int64_t>(page.size()) < kMaxLimit) break;
        }
      }
      json out = json::array();
      std::int64_t index = 0;
      const auto keep = [&](json report) {
        if (client_name && report.value("clientName", "") != *client_name) return;
        if (index++ < skip) return;
        if (static_cast<std::int64_t>(out.size()) < limit) out.push_back(std::move(report));
      };
      // What VENs posted first, then what the sites of this server measured.
      for (auto& report : oadr::posted_reports(tx, c.owner(), event_id))
        if (!program_id || report.value("programID", "") == *program_id) keep(std::move(report));
      for (const auto& event : events) {
        if (program_id && event.program_id != *program_id) continue;
        if (requested_payloads(event.object).empty()) continue;
        const auto reach = oadr::sites_in_reach(tx, event.owner_key_id);
        for (const auto& report : event_reports(tx, event.object, reach, now))
          keep(served_report(report));
      }
      return out;
    });
    co_return answer(c.http, http::status::ok, reports);
  }

  // A VEN's report of an event of this key (another ChargeGrid in VEN mode posts its sites').
  awaitable<HttpResponse> create_report(Call& c) {
    if (auto problem = report_problem(c.body)) throw api::bad_request("report: " + *problem);
    const auto object = without_vtn_fields(c.body);
    const auto event_id = object.at("eventID").get<std::string>();
    auto report = co_await context.transaction([&](pqxx::work& tx) {
      auto event = oadr::find_event(tx, event_id, c.owner());
      if (!event)
        throw api::bad_request("report: eventID '" + event_id + "' names no event of this key");
      if (event->program_id != object.at("programID").get<std::string>())
        throw api::bad_request("report: programID is not the program of event '" + event_id + "'");
      return oadr::create_report(tx, event_id, object);
    });
    co_return answer(c.http, http::status::created, report);
  }

  awaitable<Call> prepare(const HttpRequest& request, const Handler*& handler) {
    const auto target = std::string(request.target());
    const auto question = target.find('?');
    const auto path = target.substr(0, question);
    auto match = router.match(request.method(), path);
    if (!match.route) {
      if (!match.path_known) throw api::not_found("no resource at " + path);
      std::string allowed;
      for (const auto& m : match.allowed) allowed += (allowed.empty() ? "" : ", ") + m;
      ApiError error(http::status::method_not_allowed, "Method not allowed",
                     std::string(request.method_string()) + " is not allowed on " + path);
      error.allow = allowed;
      throw error;
    }
    if (!match.bad_param.empty())
      throw api::bad_request("path parameter " + match.bad_param + " " + match.bad_param_problem);
    for (const auto& [name, value] : match.params)
      if (!is_object_id(value)) throw api::not_found(name + " '" + value + "' is not an objectID");
    handler = &handlers.at(match.route);
    Call call{request,
              std::move(match.params),
              parse_query_all(question == std::string::npos
                                  ? std::string_view()
                                  : std::string_view(target).substr(question + 1)),
              {},
              json()};

    auto header = request[http::field::authorization];
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() <= scheme.size() ||
        !boost::beast::iequals(header.substr(0, scheme.size()), scheme))
      throw ApiError(http::status::unauthorized, "Unauthorized",
                     "send an API key of role utility as 'Authorization: Bearer <key>'");
    const std::string secret(header.substr(scheme.size()));
    auto principal = co_await services.database.run(
        [&secret](pqxx::connection& connection) { return api::authenticate(connection, secret); });
    if (!principal)
      throw ApiError(http::status::unauthorized, "Unauthorized",
                     "the API key is unknown or revoked");
    if (principal->role != Role::Utility && principal->role != Role::Admin)
      throw api::forbidden(std::string(api::role_name(principal->role)) +
                           " keys cannot use the OpenADR VTN; it needs a utility key");
    call.principal = std::move(*principal);

    if (request.method() == http::verb::post || request.method() == http::verb::put) {
      auto type = request[http::field::content_type];
      if (!type.empty() && type.substr(0, type.find(';')) != "application/json")
        throw ApiError(http::status::unsupported_media_type, "Unsupported media type",
                       "send the body as application/json");
      auto parsed = protocols::parse_json(request.body());
      if (!parsed) throw api::bad_request("the body is not a JSON document");
      call.body = std::move(parsed.value);
      if (auto problem = api::find_nul_character(call.body)) throw api::bad_request(*problem);
    }
    co_return call;
  }

  // OAuth 2 client credentials (RFC 6749 §4.4) for utility keys: the client secret is the
  // API key and the access token is that key; the client id is the key's name.
  awaitable<HttpResponse> issue_token(const HttpRequest& request) {
    auto refuse = [&](http::status status, const char* error, const std::string& description) {
      auto response =
          answer(request, status, {{"error", error}, {"error_description", description}});
      response.set(http::field::cache_control, "no-store");
      return response;
    };
    if (request.method() != http::verb::post)
      co_return refuse(http::status::method_not_allowed, "invalid_request", "use POST");
    std::map<std::string, std::string> form;
    try {
      form = api::parse_query(request.body());
    } catch (const ApiError& e) {
      co_return refuse(http::status::bad_request, "invalid_request", e.what());
    }
    if (form["grant_type"] != "client_credentials")
      co_return refuse(http::status::bad_request, "unsupported_grant_type",
                       "grant_type must be client_credentials");
    const auto secret = form["client_secret"];
    const auto client_id = form["client_id"];
    if (secret.empty() || client_id.empty())
      co_return refuse(http::status::bad_request, "invalid_request",
                       "client_id and client_secret are required");
    auto principal = co_await services.database.run(
        [&secret](pqxx::connection& connection) { return api::authenticate(connection, secret); });
    if (!principal || principal->key_name != client_id ||
        (principal->role != Role::Utility && principal->role != Role::Admin))
      co_return refuse(http::status::unauthorized, "invalid_client",
                       "no utility key of that client_id and client_secret");
    auto response =
        answer(request, http::status::ok, {{"access_token", secret}, {"token_type", "Bearer"}});
    response.set(http::field::cache_control, "no-store");
    co_return response;
  }

  awaitable<HttpResponse> respond(const HttpRequest& request) {
    std::optional<ApiError> failure;
    if (request.target() == std::string(kBase) + "/auth/token") {
      try {
        auto response = co_await issue_token(request);
        co_return response;
      } catch (const std::exception&) {
        failure = ApiError(http::status::service_unavailable, "Unavailable",
                           "the key could not be checked; retry shortly");
      }
      co_return problem_answer(request, *failure);
    }
    try {
      const Handler* handler = nullptr;
      auto call = co_await prepare(request, handler);
      auto response = co_await (*handler)(call);
      co_return response;
    } catch (const ApiError& e) {
      failure = e;
    } catch (const pqxx::unique_violation&) {
      failure = api::conflict("this key already has a program of that programName");
    } catch (const pqxx::data_exception& e) {
      failure = api::bad_request(std::string("a value is out of range: ") + e.what());
    } catch (const pqxx::broken_connection&) {
      failure = ApiError(http::status::service_unavailable, "Database unavailable",
                         "the database connection was lost; retry shortly");
    } catch (const db::DatabaseUnavailable&) {
      failure = ApiError(http::status::service_unavailable, "Database unavailable",
                         "the database is unreachable; retry shortly");
    } catch (const std::exception& e) {
      log::error("openadr_request_failed",
                 {{"target", std::string(request.target())}, {"error", e.what()}});
      failure = ApiError(http::status::internal_server_error, "Internal error",
                         "the request failed on the server; it has been logged");
    }
    co_return problem_answer(request, *failure);
  }
};

Vtn::Vtn(Services& services) : impl_(std::make_unique<Impl>(services)) {}
Vtn::~Vtn() = default;

bool Vtn::handles(const HttpRequest& request) {
  auto target = request.target();
  return target.starts_with(std::string(kBase) + "/") || target == kBase;
}

awaitable<HttpResponse> Vtn::respond(const HttpRequest& request) {
  return impl_->respond(request);
}

}  // namespace chargegrid::server::openadr
