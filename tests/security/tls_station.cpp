#include "tls_station.hpp"

#include <openssl/bn.h>
#include <openssl/x509.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/system/system_error.hpp>

#include "chargegrid/sim/test_client.hpp"

namespace chargegrid::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using Stream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

std::string basic_auth(const std::string& user, const std::string& password) {
  const std::string plain = user + ":" + password;
  std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  out.resize(static_cast<std::size_t>(n));
  return "Basic " + out;
}

struct TlsStation::Impl {
  net::io_context io;
  net::ssl::context context{net::ssl::context::tls_client};
  std::unique_ptr<Stream> ws;
  beast::flat_buffer buffer;
  bool read_pending = false;
  bool read_done = false;
  boost::system::error_code read_error;
  bool is_closed = false;

  // Runs the I/O until `done` is set or `timeout` passes; false on timeout.
  bool wait(const bool& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    io.restart();
    while (!done) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      if (io.run_one_for(deadline - now) == 0 && io.stopped()) io.restart();
    }
    return true;
  }

  // Starts `op(handler)` and waits for it; the error it completed with.
  template <class Op>
  boost::system::error_code await(Op op, std::chrono::milliseconds timeout, const char* what) {
    bool done = false;
    boost::system::error_code result;
    op([&](boost::system::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    if (!wait(done, timeout)) {
      beast::get_lowest_layer(*ws).close();
      wait(done, std::chrono::seconds(1));
      throw sim::Timeout(std::string(what) + " timed out");
    }
    return result;
  }

  SSL* ssl() const { return ws->next_layer().native_handle(); }
};

TlsStation::TlsStation() : impl_(std::make_unique<Impl>()) {}
TlsStation::~TlsStation() = default;

std::string TlsStation::connect(std::uint16_t port, const std::string& station_id,
                                const std::string& subprotocol, const TlsOptions& options,
                                const std::map<std::string, std::string>& headers,
                                std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  SSL_CTX* ctx = impl.context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, options.min_version);
  SSL_CTX_set_max_proto_version(ctx, options.max_version);
  if (!options.ciphers.empty()) SSL_CTX_set_cipher_list(ctx, options.ciphers.c_str());
  impl.context.load_verify_file(options.ca_file);
  impl.context.set_verify_mode(net::ssl::verify_peer);
  if (!options.cert_file.empty()) {
    impl.context.use_certificate_chain_file(options.cert_file);
    impl.context.use_private_key_file(options.key_file, net::ssl::context::pem);
  }
  impl.ws = std::make_unique<Stream>(impl.io, impl.context);
  impl.ws->next_layer().set_verify_callback(net::ssl::host_name_verification("127.0.0.1"));

  auto& tcp = beast::get_lowest_layer(*impl.ws);
  const net::ip::tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
  if (auto ec = impl.await([&](auto h) { tcp.async_connect(endpoint, h); }, timeout, "connect"))
    throw boost::system::system_error(ec, "connect");
  if (auto ec = impl.await(
          [&](auto h) { impl.ws->next_layer().async_handshake(net::ssl::stream_base::client, h); },
          timeout, "TLS handshake"))
    throw TlsFailed(ec.message());

  impl.ws->set_option(
      websocket::stream_base::decorator([subprotocol, headers](websocket::request_type& req) {
        req.set(beast::http::field::sec_websocket_protocol, subprotocol);
        for (const auto& [name, value] : headers) req.set(name, value);
      }));
  websocket::response_type response;
  const auto ec = impl.await(
      [&](auto h) {
        impl.ws->async_handshake(response, "127.0.0.1:" + std::to_string(port),
                                 "/ocpp/" + station_id, h);
      },
      timeout, "WebSocket handshake");
  if (ec == websocket::error::upgrade_declined)
    throw sim::HandshakeRefused(response.result_int(), response.body());
  if (ec) throw boost::system::system_error(ec, "WebSocket handshake");
  impl.ws->text(true);
  return std::string(response[beast::http::field::sec_websocket_protocol]);
}

std::optional<std::string> TlsStation::receive(std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  if (impl.is_closed) return std::nullopt;
  if (!impl.read_pending) {
    impl.read_pending = true;
    impl.read_done = false;
    impl.buffer.clear();
    impl.ws->async_read(impl.buffer, [&impl](boost::system::error_code ec, std::size_t) {
      impl.read_error = ec;
      impl.read_done = true;
    });
  }
  if (!impl.wait(impl.read_done, timeout)) return std::nullopt;
  impl.read_pending = false;
  if (impl.read_error) {
    impl.is_closed = true;
    return std::nullopt;
  }
  return beast::buffers_to_string(impl.buffer.data());
}

nlohmann::json TlsStation::call(const std::string& action, const nlohmann::json& payload,
                                std::chrono::milliseconds timeout) {
  const std::string id = "tls-" + std::to_string(++next_id_);
  impl_->ws->write(net::buffer(nlohmann::json::array({2, id, action, payload}).dump()));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto frame = receive(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!frame) {
      if (closed()) throw std::runtime_error("connection closed while waiting for " + action);
      continue;
    }
    auto json = nlohmann::json::parse(*frame);
    if (json.at(0) == 2)
      server_calls_.push_back(std::move(json));
    else if (json.at(1) == id)
      return json;
  }
  throw sim::Timeout(action + " was not answered in time");
}

std::optional<nlohmann::json> TlsStation::next_server_call(const nlohmann::json& answer,
                                                           std::chrono::milliseconds timeout) {
  std::optional<nlohmann::json> found;
  if (!server_calls_.empty()) {
    found = std::move(server_calls_.front());
    server_calls_.erase(server_calls_.begin());
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!found && std::chrono::steady_clock::now() < deadline) {
    auto frame = receive(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!frame) continue;
    auto json = nlohmann::json::parse(*frame);
    if (json.at(0) == 2) found = std::move(json);
  }
  if (found) impl_->ws->write(net::buffer(nlohmann::json::array({3, found->at(1), answer}).dump()));
  return found;
}

std::vector<nlohmann::json> TlsStation::take_server_calls() {
  return std::exchange(server_calls_, {});
}

std::string TlsStation::tls_version() const {
  return SSL_get_version(impl_->ssl());
}

std::string TlsStation::cipher() const {
  return SSL_get_cipher_name(impl_->ssl());
}

std::string TlsStation::server_certificate_serial() const {
  X509* peer = SSL_get0_peer_certificate(impl_->ssl());
  if (!peer) return "";
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

bool TlsStation::closed() const {
  return impl_->is_closed;
}

}  // namespace chargegrid::testing
