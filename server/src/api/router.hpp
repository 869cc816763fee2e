#pragma once
// The REST routes: method + path pattern ("/api/v1/sites/{site_id}") -> handler,
// with the roles allowed to call it and the OpenAPI schema its body must match.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/request.hpp"
#include "chargegrid/base/percent.hpp"

namespace chargegrid::server::api {

using RouteHandler = std::function<boost::asio::awaitable<HttpResponse>(ApiRequest&)>;

struct Route {
  boost::beast::http::verb method;
  std::string pattern;
  std::vector<Role> roles;  // empty: no key needed
  std::string body_schema;  // components/schemas name; empty: no body
  RouteHandler handler;
  std::vector<std::string> segments;
};

class Router {
 public:
  void add(boost::beast::http::verb method, std::string pattern, std::vector<Role> roles,
           std::string body_schema, RouteHandler handler);

  struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    bool path_known = false;           // some route has this path (so a miss is 405, not 404)
    std::vector<std::string> allowed;  // methods for the path, for 405's Allow
    // The route's first path parameter that cannot be used, and why ("is not properly
    // percent-encoded"): answered 400, never cut short or looked up.
    std::string bad_param;
    std::string bad_param_problem;
  };
  Match match(boost::beast::http::verb method, const std::string& path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Percent-decodes a path segment or query component ('+' is a space in queries); a NUL is
// kept for the caller to refuse with its own message.
inline std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  return base::percent_decode(text, {.plus_is_space = plus_is_space, .refuse_nul = false});
}
// The query's parameters, decoded. Throws bad_request naming the parameter when one is
// not properly percent-encoded or decodes to a NUL (PostgreSQL text ends there).
std::map<std::string, std::string> parse_query(std::string_view query);

}  // namespace chargegrid::server::api
