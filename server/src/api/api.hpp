#pragma once
// The REST API under /api/v1: routes by resource, bearer-key authentication,
// request bodies checked against the OpenAPI document's schemas, and
// RFC 9457 problem+json for every error. GET /api/v1/events is a Server-Sent
// Events stream and takes its connection over.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>

#include "connections/http_connection.hpp"
#include "services.hpp"

namespace chargegrid::server::api {

class Router;
struct ApiContext;

class Api {
 public:
  explicit Api(Services& services);
  ~Api();

  bool handles(const HttpRequest& request) const;
  boost::asio::awaitable<HttpResponse> respond(const HttpRequest& request);

  bool is_event_stream(const HttpRequest& request) const;
  // For boost::beast::tcp_stream and HttpsStream.
  template <class Stream>
  boost::asio::awaitable<void> stream_events(Stream& stream, const HttpRequest& request);

  const Router& router() const { return *router_; }

 private:
  std::unique_ptr<ApiContext> context_;
  std::unique_ptr<Router> router_;
};

}  // namespace chargegrid::server::api
