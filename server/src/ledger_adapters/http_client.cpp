#include "ledger_adapters/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

namespace chargegrid::server::ledger_adapters {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Url parse_url(const std::string& text) {
  Url url;
  std::string rest;
  if (text.rfind("http://", 0) == 0) {
    rest = text.substr(7);
  } else if (text.rfind("https://", 0) == 0) {
    url.tls = true;
    rest = text.substr(8);
  } else {
    throw std::invalid_argument("not an http:// or https:// URL: " + text);
  }
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  url.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty()) throw std::invalid_argument("URL without a host: " + text);
  if (authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad IPv6 host in " + text);
    url.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      url.port = authority.substr(close + 2);
  } else if (const auto colon = authority.find(':'); colon != std::string::npos) {
    url.host = authority.substr(0, colon);
    url.port = authority.substr(colon + 1);
  } else {
    url.host = authority;
  }
  if (url.port.empty()) url.port = url.tls ? "443" : "80";
  return url;
}

namespace {

using Request = http::request<http::string_body>;

template <class Stream>
asio::awaitable<HttpAnswer> send(Stream& stream, Request& request) {
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  auto response = parser.release();
  co_return HttpAnswer{static_cast<int>(response.result_int()), std::move(response.body())};
}

asio::awaitable<HttpAnswer> run(const Url& url, Request request,
                                std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  auto endpoints = co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
  if (!url.tls) {
    beast::tcp_stream stream(executor);
    stream.expires_after(timeout);
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    stream.expires_after(timeout);
    auto answer = co_await send(stream, request);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    co_return answer;
  }
  asio::ssl::context context(asio::ssl::context::tls_client);
  context.set_default_verify_paths();
  context.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(executor, context);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
    throw std::runtime_error("TLS: cannot set the server name");
  stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
  beast::get_lowest_layer(stream).expires_after(timeout);
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
  beast::get_lowest_layer(stream).expires_after(timeout);
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  auto answer = co_await send(stream, request);
  co_return answer;
}

}  // namespace

namespace {

HttpAnswer exchange(http::verb method, const std::string& url_text,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    const std::string& body, std::chrono::milliseconds timeout,
                    const std::string& content_type) {
  const auto url = parse_url(url_text);
  Request request{method, url.target, 11};
  const bool default_port = url.port == (url.tls ? "443" : "80");
  request.set(http::field::host, default_port ? url.host : url.host + ":" + url.port);
  request.set(http::field::user_agent, "chargegrid-ledger");
  if (method != http::verb::get) request.set(http::field::content_type, content_type);
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  asio::io_context io;
  auto future = asio::co_spawn(io, run(url, std::move(request), timeout), asio::use_future);
  io.run_for(timeout * 3);
  if (!io.stopped()) {
    io.stop();
    throw std::runtime_error("no answer from " + url.host + " within the timeout");
  }
  try {
    return future.get();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(url.host + ":" + url.port + ": " + e.code().message());
  }
}

}  // namespace

HttpAnswer http_post(const std::string& url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body, std::chrono::milliseconds timeout,
                     const std::string& content_type) {
  return exchange(http::verb::post, url, headers, body, timeout, content_type);
}

HttpAnswer http_get(const std::string& url,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    std::chrono::milliseconds timeout) {
  return exchange(http::verb::get, url, headers, "", timeout, "");
}

}  // namespace chargegrid::server::ledger_adapters
