#include "connections/http_connection.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

namespace chargegrid::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpResponse json_response(const HttpRequest& request, http::status status, std::string body) {
  HttpResponse response{status, request.version()};
  response.set(http::field::server, "ChargeGrid");
  response.set(http::field::content_type, "application/json");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

HttpResponse problem(const HttpRequest& request, http::status status, std::string title,
                     std::string detail) {
  nlohmann::json body{{"type", "about:blank"},
                      {"title", std::move(title)},
                      {"status", static_cast<int>(status)},
                      {"detail", std::move(detail)},
                      {"instance", std::string(request.target())}};
  auto response = json_response(request, status, json_text(body));
  response.set(http::field::content_type, "application/problem+json");
  return response;
}

std::string json_text(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

template <class Stream>
asio::awaitable<void> serve_requests(Stream& stream, const HttpRouter& router,
                                     const HttpStreamer& streamer, std::size_t body_limit) {
  auto& tcp = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    tcp.expires_after(std::chrono::seconds(30));
    http::request_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    auto [ec, n] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec == http::error::end_of_stream || ec == beast::error::timeout) break;
    if (ec) {
      if (ec == http::error::body_limit) {
        HttpRequest request;
        auto response =
            problem(request, http::status::payload_too_large, "Request too large",
                    "the request body exceeds " + std::to_string(body_limit) + " bytes");
        response.keep_alive(false);
        co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
      }
      break;
    }
    auto request = parser.release();
    if (streamer.accepts && streamer.accepts(request)) {
      if constexpr (std::is_same_v<Stream, beast::tcp_stream>)
        co_await streamer.serve(stream, request);
      else
        co_await streamer.serve_tls(stream, request);
      break;
    }
    auto response = co_await router(request);
    const bool keep_alive = response.keep_alive();
    auto [wec, wn] =
        co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
    if (wec || !keep_alive) break;
  }
}

}  // namespace

asio::awaitable<void> serve_http(asio::ip::tcp::socket socket, const HttpRouter& router,
                                 const HttpStreamer& streamer, std::size_t body_limit,
                                 std::shared_ptr<asio::ssl::context> tls) {
  if (!tls) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve_requests(stream, router, streamer, body_limit);
    // Lingering close (RFC 9112, 9.6): the client may still be sending (a body over the
    // limit got its 413 early). Closing with unread bytes resets the connection, which can
    // destroy the answer before the client reads it, so drain for a moment first.
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(2));
    std::array<char, 4096> drain;
    for (std::size_t drained = 0; drained < 4 * body_limit;) {
      auto [ec, n] =
          co_await stream.async_read_some(asio::buffer(drain), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      drained += n;
    }
    co_return;
  }
  HttpsStream stream(std::move(socket), *tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                              asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  co_await serve_requests(stream, router, streamer, body_limit);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
}

}  // namespace chargegrid::server
