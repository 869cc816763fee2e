#include "api/request.hpp"

#include <charconv>

#include "api/json_schema.hpp"

namespace chargegrid::server::api {

namespace {

std::optional<std::int64_t> parse_int(const std::string& text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::int64_t ApiRequest::path_id(const std::string& name) const {
  const auto& text = path.at(name);
  auto value = parse_int(text);
  if (!value || *value <= 0) throw not_found(name + " '" + text + "' is not an id");
  return *value;
}

std::optional<std::string> ApiRequest::query_text(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::optional<std::int64_t> ApiRequest::query_int(const std::string& name) const {
  auto text = query_text(name);
  if (!text) return std::nullopt;
  auto value = parse_int(*text);
  if (!value)
    throw bad_request("query parameter " + name + " must be an integer, not '" + *text + "'");
  return value;
}

std::optional<bool> ApiRequest::query_bool(const std::string& name) const {
  auto text = query_text(name);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  throw bad_request("query parameter " + name + " must be true or false, not '" + *text + "'");
}

std::optional<std::string> ApiRequest::query_time(const std::string& name) const {
  auto text = query_text(name);
  if (text && !is_rfc3339(*text))
    throw bad_request("query parameter " + name +
                      " must be an RFC 3339 time such as 2026-11-24T17:00:00Z, not '" + *text +
                      "'");
  return text;
}

std::optional<std::string> ApiRequest::query_choice(
    const std::string& name, std::initializer_list<const char*> allowed) const {
  auto text = query_text(name);
  if (!text) return std::nullopt;
  std::string list;
  for (const char* a : allowed) {
    if (*text == a) return text;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  throw bad_request("query parameter " + name + " must be one of " + list + ", not '" + *text +
                    "'");
}

Page ApiRequest::page() const {
  Page p;
  if (auto limit = query_int("limit")) {
    if (*limit < 1 || *limit > 500) throw bad_request("limit must be between 1 and 500");
    p.limit = *limit;
  }
  if (auto offset = query_int("offset")) {
    if (*offset < 0) throw bad_request("offset must not be negative");
    p.offset = *offset;
  }
  return p;
}

nlohmann::json page_of(nlohmann::json rows, const Page& page) {
  const bool more = static_cast<std::int64_t>(rows.size()) > page.limit;
  if (more) rows.erase(rows.begin() + page.limit, rows.end());
  nlohmann::json next = nullptr;
  if (more) next = page.offset + page.limit;
  return {{"items", std::move(rows)},
          {"limit", page.limit},
          {"offset", page.offset},
          {"next_offset", next}};
}

HttpResponse json_answer(const HttpRequest& request, Status status, const nlohmann::json& body) {
  return json_response(request, status, json_text(body));
}

}  // namespace chargegrid::server::api

namespace chargegrid::server::api {

HttpResponse no_content(const HttpRequest& request) {
  HttpResponse response{Status::no_content, request.version()};
  response.set(boost::beast::http::field::server, "ChargeGrid");
  response.keep_alive(request.keep_alive());
  return response;
}

bool wants_csv(const HttpRequest& request) {
  const auto accept = request[boost::beast::http::field::accept];
  return accept.find("text/csv") != boost::beast::string_view::npos;
}

}  // namespace chargegrid::server::api
