#pragma once
// A station's WebSocket over plain TCP (ws) or TLS (wss). The connection reaches the stream it
// holds through visit(); both kinds complete with the same types, so one coroutine serves both.
// The WebSocket sits on the bare socket: the connection's timer covers the handshake before it
// is open and then the keep-alive pings and idle limits; Beast's own timeout (stream_base::timeout)
// only the WebSocket's opening and closing handshakes. wss goes through
// TlsStream, which keeps no buffers while the station is idle (tls_stream.hpp).

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <variant>

#include "connections/tls_stream.hpp"

namespace chargegrid::server {

class StationStream {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using TlsLayer = TlsStream;
  using Plain = boost::beast::websocket::stream<Socket>;
  using Tls = boost::beast::websocket::stream<TlsLayer>;

  explicit StationStream(Socket socket) : ws_(std::in_place_type<Plain>, std::move(socket)) {}
  // `context` is kept alive as long as the stream.
  StationStream(Socket socket, std::shared_ptr<boost::asio::ssl::context> context)
      : context_(std::move(context)), ws_(std::in_place_type<Tls>, std::move(socket), *context_) {}

  bool tls() const { return std::holds_alternative<Tls>(ws_); }
  // The TLS layer; only when tls().
  TlsLayer& tls_layer() { return std::get<Tls>(ws_).next_layer(); }
  Socket& socket() {
    return std::visit([](auto& ws) -> Socket& { return boost::beast::get_lowest_layer(ws); }, ws_);
  }
  auto get_executor() { return socket().get_executor(); }

  // f(ws) with the WebSocket stream, whichever kind it is.
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(std::forward<F>(f), ws_);
  }

 private:
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::variant<Plain, Tls> ws_;
};

}  // namespace chargegrid::server
