#pragma once
// What a REST handler gets (the request, its path parameters, query, caller
// and validated body) and how it fails (ApiError, turned into problem+json).

#include <boost/beast/http/status.hpp>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "api/auth.hpp"
#include "connections/http_connection.hpp"

namespace chargegrid::server::api {

using Status = boost::beast::http::status;

// An answer that is not 2xx. `detail` tells the caller what to fix.
struct ApiError : std::runtime_error {
  ApiError(Status s, std::string t, const std::string& detail)
      : std::runtime_error(detail), status(s), title(std::move(t)) {}
  Status status;
  std::string title;
  nlohmann::json extra = nlohmann::json::object();  // added to the problem document
  std::string allow;                                // 405: the methods the path has
};

inline ApiError bad_request(const std::string& detail) {
  return {Status::bad_request, "Bad request", detail};
}
inline ApiError unprocessable(const std::string& detail) {
  return {Status::unprocessable_entity, "Invalid value", detail};
}
inline ApiError not_found(const std::string& detail) {
  return {Status::not_found, "Not found", detail};
}
inline ApiError conflict(const std::string& detail) {
  return {Status::conflict, "Conflict", detail};
}
inline ApiError forbidden(const std::string& detail) {
  return {Status::forbidden, "Forbidden", detail};
}

// Page of a list: ?limit= (1..500, default 50) and ?offset=.
struct Page {
  std::int64_t limit = 50;
  std::int64_t offset = 0;
};

struct ApiRequest {
  const HttpRequest& http;
  std::map<std::string, std::string> path;   // percent-decoded path parameters
  std::map<std::string, std::string> query;  // percent-decoded query parameters
  Principal principal;
  nlohmann::json body;  // validated against the route's schema, when it has one

  // A path parameter that must be a positive integer id (else 404).
  std::int64_t path_id(const std::string& name) const;
  const std::string& path_text(const std::string& name) const { return path.at(name); }

  std::optional<std::string> query_text(const std::string& name) const;
  std::optional<std::int64_t> query_int(const std::string& name) const;
  std::optional<bool> query_bool(const std::string& name) const;
  // An RFC 3339 time (?from=, ?to=).
  std::optional<std::string> query_time(const std::string& name) const;
  // One of `allowed` (e.g. ?status=active).
  std::optional<std::string> query_choice(const std::string& name,
                                          std::initializer_list<const char*> allowed) const;
  Page page() const;
};

// {"items": [...], "limit": n, "offset": m, "next_offset": m+n or null} from a
// query that fetched up to limit + 1 rows.
nlohmann::json page_of(nlohmann::json rows, const Page& page);

HttpResponse json_answer(const HttpRequest& request, Status status, const nlohmann::json& body);
// 204 No Content.
HttpResponse no_content(const HttpRequest& request);

// True when the client's Accept header asks for CSV (exports offer it beside JSON).
bool wants_csv(const HttpRequest& request);

}  // namespace chargegrid::server::api
