#include "chargegrid/sim/test_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/system/system_error.hpp>

#include "chargegrid/sim/messages.hpp"

namespace chargegrid::sim {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {
// Runs the io_context until `done` or the timeout; returns whether `done` became true.
template <class Done>
bool run_until(net::io_context& io, std::chrono::milliseconds timeout, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  io.restart();
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (io.run_one_for(deadline - now) == 0 && io.stopped()) io.restart();
  }
  return true;
}
}  // namespace

struct OcppTestClient::Impl {
  net::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
  beast::flat_buffer buffer;
  // A read is kept outstanding across receive() timeouts so no frame is lost.
  bool read_pending = false;
  bool read_done = false;
  boost::system::error_code read_error;
  bool is_closed = false;
  int pings = 0;

  void start_read() {
    if (read_pending || is_closed) return;
    read_pending = true;
    read_done = false;
    buffer.clear();
    ws.async_read(buffer, [this](boost::system::error_code ec, std::size_t) {
      read_done = true;
      read_error = ec;
    });
  }
};

OcppTestClient::OcppTestClient() : impl_(std::make_unique<Impl>()) {}
OcppTestClient::~OcppTestClient() = default;

std::string OcppTestClient::connect(const std::string& host, std::uint16_t port,
                                    const std::string& target,
                                    const std::vector<std::string>& subprotocols,
                                    const Headers& headers, std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  tcp::resolver resolver(impl.io);
  const auto endpoints = resolver.resolve(host, std::to_string(port));
  auto& stream = beast::get_lowest_layer(impl.ws);
  stream.expires_after(timeout);
  boost::system::error_code ec;
  bool done = false;
  stream.async_connect(endpoints, [&](boost::system::error_code e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  if (!run_until(impl.io, timeout + std::chrono::milliseconds(100), [&] { return done; })) {
    throw Timeout("TCP connect timed out");
  }
  if (ec) throw boost::system::system_error(ec, "connect");

  std::string offered;
  for (const auto& p : subprotocols) offered += (offered.empty() ? "" : ", ") + p;
  impl.ws.set_option(
      websocket::stream_base::decorator([offered, headers](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, "chargegrid-test-client");
        if (!offered.empty()) req.set(beast::http::field::sec_websocket_protocol, offered);
        for (const auto& [name, value] : headers) req.set(name, value);
      }));
  websocket::response_type response;
  done = false;
  impl.ws.async_handshake(response, host + ":" + std::to_string(port), target,
                          [&](boost::system::error_code e) {
                            ec = e;
                            done = true;
                          });
  if (!run_until(impl.io, timeout + std::chrono::milliseconds(100), [&] { return done; })) {
    throw Timeout("WebSocket handshake timed out");
  }
  if (ec == websocket::error::upgrade_declined) {
    throw HandshakeRefused(response.result_int(), response.body());
  }
  if (ec) throw boost::system::system_error(ec, "handshake");
  stream.expires_never();
  impl.ws.read_message_max(16 << 20);
  impl.ws.control_callback([&impl](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) ++impl.pings;
  });
  return std::string(response[beast::http::field::sec_websocket_protocol]);
}

void OcppTestClient::send_text(const std::string& frame) {
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(frame));
}

void OcppTestClient::send_binary(const std::string& frame) {
  impl_->ws.binary(true);
  impl_->ws.write(net::buffer(frame));
}

std::optional<std::string> OcppTestClient::receive(std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  if (impl.is_closed) return std::nullopt;
  impl.start_read();
  if (!run_until(impl.io, timeout, [&] { return impl.read_done; })) return std::nullopt;
  impl.read_pending = false;
  if (impl.read_error) {
    impl.is_closed = true;
    return std::nullopt;
  }
  last_binary_ = impl.ws.got_binary();
  return beast::buffers_to_string(impl.buffer.data());
}

nlohmann::json OcppTestClient::call(const std::string& action, const nlohmann::json& payload,
                                    std::chrono::milliseconds timeout) {
  const std::string id = "tc-" + std::to_string(++next_id_);
  send_text(make_call(id, action, payload));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw Timeout(action + " was not answered in time");
    auto frame = receive(left);
    if (!frame) {
      if (closed()) throw std::runtime_error("connection closed while waiting for " + action);
      continue;
    }
    auto json = nlohmann::json::parse(*frame, nullptr, false);
    if (json.is_array() && json.size() >= 3 && json[0].is_number_integer() &&
        (json[0] == 3 || json[0] == 4) && json[1] == id) {
      return json;
    }
    skipped_.push_back(std::move(*frame));
  }
}

std::vector<std::string> OcppTestClient::take_skipped() {
  std::vector<std::string> out;
  out.swap(skipped_);
  return out;
}

void OcppTestClient::close(std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  if (impl.is_closed || !impl.ws.is_open()) {
    impl.is_closed = true;
    return;
  }
  bool done = false;
  impl.ws.async_close(websocket::close_code::normal,
                      [&](boost::system::error_code) { done = true; });
  // A read may be outstanding; the close completes once the peer's close frame arrives.
  run_until(impl.io, timeout, [&] { return done && (!impl.read_pending || impl.read_done); });
  impl.is_closed = true;
  beast::get_lowest_layer(impl.ws).close();
}

int OcppTestClient::pings_received() const {
  return impl_->pings;
}

bool OcppTestClient::closed() const {
  return impl_->is_closed;
}

std::optional<std::uint16_t> OcppTestClient::close_code() const {
  const auto& reason = impl_->ws.reason();
  if (reason.code == websocket::close_code::none) return std::nullopt;
  return static_cast<std::uint16_t>(reason.code);
}

std::string OcppTestClient::close_reason() const {
  return std::string(impl_->ws.reason().reason.c_str());
}

struct RawSocket::Impl {
  net::io_context io;
  tcp::socket socket{io};
  std::array<char, 8192> buffer{};
  bool read_pending = false;
  bool read_done = false;
  std::size_t read_bytes = 0;
  boost::system::error_code read_error;
};

RawSocket::RawSocket() : impl_(std::make_unique<Impl>()) {}
RawSocket::~RawSocket() = default;

void RawSocket::connect(const std::string& host, std::uint16_t port,
                        std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  tcp::resolver resolver(impl.io);
  const auto endpoints = resolver.resolve(host, std::to_string(port));
  boost::system::error_code ec;
  bool done = false;
  net::async_connect(impl.socket, endpoints,
                     [&](boost::system::error_code e, const tcp::endpoint&) {
                       ec = e;
                       done = true;
                     });
  if (!run_until(impl.io, timeout, [&] { return done; })) {
    impl.socket.close();
    run_until(impl.io, std::chrono::milliseconds(100), [&] { return done; });
    throw Timeout("TCP connect timed out");
  }
  if (ec) throw boost::system::system_error(ec, "connect");
}

void RawSocket::send(const std::string& data) {
  net::write(impl_->socket, net::buffer(data));
}

std::optional<std::string> RawSocket::read_some(std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  if (!impl.read_pending) {
    impl.read_pending = true;
    impl.read_done = false;
    impl.socket.async_read_some(net::buffer(impl.buffer),
                                [&impl](boost::system::error_code ec, std::size_t n) {
                                  impl.read_done = true;
                                  impl.read_error = ec;
                                  impl.read_bytes = n;
                                });
  }
  if (!run_until(impl.io, timeout, [&] { return impl.read_done; })) return std::string();
  impl.read_pending = false;
  if (impl.read_error) return std::nullopt;
  return std::string(impl.buffer.data(), impl.read_bytes);
}

std::string RawSocket::read_until_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string all;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return all;
    auto chunk = read_some(left);
    if (!chunk) return all;
    all += *chunk;
  }
}

void RawSocket::close() {
  boost::system::error_code ec;
  impl_->socket.shutdown(tcp::socket::shutdown_both, ec);
  impl_->socket.close(ec);
}

}  // namespace chargegrid::sim
