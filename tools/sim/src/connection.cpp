#include "connection.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <stdexcept>
#include <vector>

namespace chargegrid::sim::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

std::string basic_auth_header(const std::string& user, const std::string& password) {
  const std::string plain = user + ":" + password;
  std::vector<unsigned char> out(4 * ((plain.size() + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  return "Basic " +
         std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n));
}

namespace {

template <class Stream>
class WebSocketConnection final : public Connection {
 public:
  template <class... Args>
  explicit WebSocketConnection(Args&&... args) : ws_(std::forward<Args>(args)...) {}

  websocket::stream<Stream>& stream() { return ws_; }

  net::awaitable<std::tuple<boost::system::error_code>> write(const std::string& text) override {
    ws_.text(true);
    auto [ec, bytes] =
        co_await ws_.async_write(net::buffer(text), net::as_tuple(net::use_awaitable));
    (void)bytes;
    co_return std::tuple<boost::system::error_code>(ec);
  }

  net::awaitable<std::string> read() override {
    buffer_.clear();
    co_await ws_.async_read(buffer_, net::use_awaitable);
    co_return beast::buffers_to_string(buffer_.data());
  }

  net::awaitable<void> close() override {
    if (!ws_.is_open()) co_return;
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(3);
    timeouts.idle_timeout = websocket::stream_base::none();
    ws_.set_option(timeouts);
    auto [ec] =
        co_await ws_.async_close(websocket::close_code::normal, net::as_tuple(net::use_awaitable));
    (void)ec;  // the peer may already be gone; nothing to do about it
  }

 private:
  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
};

net::awaitable<void> connect_tcp(beast::tcp_stream& stream, const ConnectRequest& request) {
  auto executor = co_await net::this_coro::executor;
  tcp::resolver resolver(executor);
  const std::string port =
      request.endpoint.port.empty() ? (request.endpoint.tls ? "443" : "80") : request.endpoint.port;
  stream.expires_after(std::chrono::milliseconds(static_cast<long>(request.timeout_s * 1000)));
  auto results = co_await resolver.async_resolve(request.endpoint.host, port, net::use_awaitable);
  boost::system::error_code last_error = net::error::host_not_found;
  for (const auto& entry : results) {
    auto& socket = stream.socket();
    boost::system::error_code ec;
    if (socket.is_open()) socket.close(ec);
    if (request.source_address) {
      if (request.source_address->is_v4() != entry.endpoint().address().is_v4()) continue;
      socket.open(entry.endpoint().protocol(), ec);
      if (!ec) socket.bind(tcp::endpoint(*request.source_address, 0), ec);
      if (ec) {
        last_error = ec;
        continue;
      }
    }
    auto [connect_ec] =
        co_await stream.async_connect(entry.endpoint(), net::as_tuple(net::use_awaitable));
    if (!connect_ec) co_return;
    last_error = connect_ec;
  }
  throw boost::system::system_error(last_error, "connect");
}

template <class Stream>
net::awaitable<void> upgrade(websocket::stream<Stream>& ws, const ConnectRequest& request) {
  ws.set_option(websocket::stream_base::decorator([&request](websocket::request_type& req) {
    req.set(beast::http::field::user_agent, "chargegrid-sim");
    req.set(beast::http::field::sec_websocket_protocol, request.subprotocol);
    if (request.password) {
      req.set(beast::http::field::authorization,
              basic_auth_header(request.station_id, *request.password));
    }
  }));
  const std::string host =
      request.endpoint.host + (request.endpoint.port.empty() ? "" : ":" + request.endpoint.port);
  const std::string target = request.endpoint.path + "/" + request.station_id;
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  websocket::response_type response;
  auto [ec] =
      co_await ws.async_handshake(response, host, target, net::as_tuple(net::use_awaitable));
  if (ec == websocket::error::upgrade_declined) {
    throw std::runtime_error("handshake refused with HTTP " +
                             std::to_string(response.result_int()));
  }
  if (ec) throw boost::system::system_error(ec, "websocket handshake");
  if (response[beast::http::field::sec_websocket_protocol] != request.subprotocol) {
    throw std::runtime_error("server did not agree to subprotocol " + request.subprotocol);
  }
  ws.read_message_max(1 << 20);
}

}  // namespace

net::awaitable<std::unique_ptr<Connection>> connect(const ConnectRequest& request) {
  auto executor = co_await net::this_coro::executor;
  if (!request.endpoint.tls) {
    auto connection = std::make_unique<WebSocketConnection<beast::tcp_stream>>(executor);
    auto& ws = connection->stream();
    co_await connect_tcp(beast::get_lowest_layer(ws), request);
    beast::get_lowest_layer(ws).expires_never();
    co_await upgrade(ws, request);
    co_return connection;
  }
  if (request.tls == nullptr) throw std::runtime_error("wss needs a TLS context");
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  auto connection = std::make_unique<WebSocketConnection<TlsStream>>(executor, *request.tls);
  auto& ws = connection->stream();
  co_await connect_tcp(beast::get_lowest_layer(ws), request);
  auto& tls = ws.next_layer();
  if (!SSL_set_tlsext_host_name(tls.native_handle(), request.endpoint.host.c_str())) {
    throw std::runtime_error("cannot set TLS server name");
  }
  tls.set_verify_callback(net::ssl::host_name_verification(request.endpoint.host));
  co_await tls.async_handshake(net::ssl::stream_base::client, net::use_awaitable);
  beast::get_lowest_layer(ws).expires_never();
  co_await upgrade(ws, request);
  co_return connection;
}

}  // namespace chargegrid::sim::detail
