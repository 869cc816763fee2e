#pragma once
// A blocking HTTP client for tests: one request per connection, and the REST API with a
// bearer key.

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace chargegrid::testing {

using nlohmann::json;

struct HttpResult {
  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers;
  json data;  // the body parsed, when it is JSON

  std::string detail() const { return data.is_object() ? data.value("detail", "") : ""; }
};

// One request per connection, blocking.
inline HttpResult http_request(std::uint16_t port, boost::beast::http::verb method,
                               const std::string& target, const std::string& key,
                               const std::string& body = "",
                               const std::string& content_type = "application/json",
                               const std::string& accept = "") {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  if (!key.empty()) request.set(http::field::authorization, "Bearer " + key);
  if (!accept.empty()) request.set(http::field::accept, accept);
  if (!body.empty()) {
    request.set(http::field::content_type, content_type);
    request.body() = body;
  }
  request.prepare_payload();
  http::write(socket, request);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(socket, buffer, parser);
  auto response = parser.release();
  HttpResult result;
  result.status = response.result_int();
  result.content_type = std::string(response[http::field::content_type]);
  result.body = response.body();
  for (const auto& field : response)
    result.headers[std::string(field.name_string())] = field.value();
  if (!result.body.empty()) result.data = json::parse(result.body, nullptr, false);
  return result;
}

// The server's /metrics value of `series` (the exact text before the value), 0 if absent.
inline double metric_value(std::uint16_t port, const std::string& series) {
  const auto text = http_request(port, boost::beast::http::verb::get, "/metrics", "").body;
  for (std::size_t at = 0; at < text.size();) {
    const auto end = std::min(text.find('\n', at), text.size());
    if (end - at > series.size() && text.compare(at, series.size(), series) == 0 &&
        text[at + series.size()] == ' ')
      return std::stod(text.substr(at + series.size() + 1, end - at - series.size() - 1));
    at = end + 1;
  }
  return 0;
}

class ApiClient {
 public:
  ApiClient(std::uint16_t port, std::string key) : port_(port), key_(std::move(key)) {}
  HttpResult get(const std::string& target) const { return send(verb::get, target); }
  HttpResult post(const std::string& target, const json& body = json::object()) const {
    return send(verb::post, target, body.dump());
  }
  HttpResult patch(const std::string& target, const json& body) const {
    return send(verb::patch, target, body.dump());
  }
  HttpResult put(const std::string& target, const json& body) const {
    return send(verb::put, target, body.dump());
  }
  HttpResult del(const std::string& target) const { return send(verb::delete_, target); }
  // A GET that asks for CSV (Accept: text/csv).
  HttpResult get_csv(const std::string& target) const {
    return http_request(port_, verb::get, "/api/v1" + target, key_, "", "", "text/csv");
  }
  HttpResult send(boost::beast::http::verb method, const std::string& target,
                  const std::string& body = "") const {
    return http_request(port_, method, "/api/v1" + target, key_, body);
  }
  const std::string& key() const { return key_; }

 private:
  using verb = boost::beast::http::verb;
  std::uint16_t port_;
  std::string key_;
};

}  // namespace chargegrid::testing
