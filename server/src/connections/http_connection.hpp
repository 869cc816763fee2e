#pragma once
// One HTTP client connection (health, metrics, the REST API), plain or over
// TLS: read a request, route it, write the answer, keep alive.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <functional>
#include <nlohmann/json_fwd.hpp>

namespace chargegrid::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using HttpRouter = std::function<boost::asio::awaitable<HttpResponse>(const HttpRequest&)>;

using HttpsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// A request that takes the connection over (a Server-Sent Events stream): the
// connection ends when the stream does.
struct HttpStreamer {
  std::function<bool(const HttpRequest&)> accepts;
  std::function<boost::asio::awaitable<void>(boost::beast::tcp_stream&, const HttpRequest&)> serve;
  std::function<boost::asio::awaitable<void>(HttpsStream&, const HttpRequest&)> serve_tls;
};

// Serves one connection until the client closes it or it idles out. With a TLS
// context the connection is https (the handshake must finish within 10 s).
boost::asio::awaitable<void> serve_http(boost::asio::ip::tcp::socket socket,
                                        const HttpRouter& router, const HttpStreamer& streamer,
                                        std::size_t body_limit,
                                        std::shared_ptr<boost::asio::ssl::context> tls = nullptr);

// An RFC 9457 problem+json answer.
HttpResponse problem(const HttpRequest& request, boost::beast::http::status status,
                     std::string title, std::string detail);
HttpResponse json_response(const HttpRequest& request, boost::beast::http::status status,
                           std::string body);
// JSON text of an answer. Request bytes echoed in answers (targets, path and query values)
// need not be UTF-8: invalid sequences become U+FFFD instead of failing the answer.
std::string json_text(const nlohmann::json& body);

}  // namespace chargegrid::server
