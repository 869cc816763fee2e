#include "api/router.hpp"

namespace chargegrid::server::api {

namespace http = boost::beast::http;

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

constexpr const char* kNotEncoded = "is not properly percent-encoded";
constexpr const char* kHoldsNul = "must not contain a NUL character (%00)";

// Why a decoded path or query component cannot be used, or nullptr.
const char* unusable(const std::optional<std::string>& decoded) {
  if (!decoded) return kNotEncoded;
  if (decoded->find('\0') != std::string::npos) return kHoldsNul;
  return nullptr;
}

}  // namespace

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    auto pair = query.substr(start, end - start);
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (auto problem = unusable(key))
      throw bad_request(std::string("a query parameter name ") + problem);
    auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                              : percent_decode(pair.substr(eq + 1), true);
    if (auto problem = unusable(value))
      throw bad_request("query parameter " + *key + " " + problem);
    if (!key->empty()) out[*key] = *value;
    start = end + 1;
  }
  return out;
}

void Router::add(http::verb method, std::string pattern, std::vector<Role> roles,
                 std::string body_schema, RouteHandler handler) {
  Route route{method, pattern, std::move(roles), std::move(body_schema), std::move(handler), {}};
  route.segments = split_path(pattern);
  routes_.push_back(std::move(route));
}

Router::Match Router::match(http::verb method, const std::string& path) const {
  Match result;
  const auto parts = split_path(path);
  for (const auto& route : routes_) {
    if (route.segments.size() != parts.size()) continue;
    std::map<std::string, std::string> params;
    std::string bad_param;
    const char* bad_param_problem = nullptr;
    bool ok = true;
    for (std::size_t i = 0; ok && i < parts.size(); ++i) {
      const auto& segment = route.segments[i];
      if (segment.size() > 2 && segment.front() == '{' && segment.back() == '}') {
        auto name = segment.substr(1, segment.size() - 2);
        auto decoded = percent_decode(parts[i], false);
        if (auto problem = unusable(decoded); problem && !bad_param_problem) {
          bad_param = name;
          bad_param_problem = problem;
        }
        ok = !parts[i].empty();
        if (ok && decoded) params[name] = *decoded;
      } else {
        ok = segment == parts[i];
      }
    }
    if (!ok) continue;
    result.path_known = true;
    result.allowed.emplace_back(http::to_string(route.method));
    if (route.method == method && !result.route) {
      result.route = &route;
      result.params = std::move(params);
      if (bad_param_problem) {
        result.bad_param = std::move(bad_param);
        result.bad_param_problem = bad_param_problem;
      }
    }
  }
  return result;
}

}  // namespace chargegrid::server::api
