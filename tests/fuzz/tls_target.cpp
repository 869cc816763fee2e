// The station TLS stream (server/src/connections/tls_stream.hpp) as wss stations reach it,
// with the server's own TLS settings (make_station_tls_context), a certificate of its own and
// OpenSSL's record buffers from the per-thread pool (tls_buffers.hpp).
//
// The first byte picks the mode:
// - even: the input is all a client ever sends, cut into TCP segments by its own bytes, then
//   the connection ends. The handshake must end with an error (nothing but a real client can
//   finish it) and nothing may hang, crash or leak.
// - odd: a real client (Asio's TLS stream) finishes the handshake through a relay, then the
//   input scripts what follows: how much the client sends, how the relay cuts the bytes into
//   segments, a byte the relay flips, where it cuts the connection, how much the server asks
//   for at a time, what it sends back while it reads, and whether the client ends with
//   close_notify. Properties: what the server reads is always a prefix of what the client
//   sent; all of it when nothing was flipped or cut; a read ends with an error, never hangs.

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "connections/tls_buffers.hpp"
#include "connections/tls_stream.hpp"
#include "security/tls.hpp"
#include "targets.hpp"

namespace chargegrid::fuzz {

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using boost::system::error_code;
using server::TlsStream;

// OpenSSL's record buffers from the per-thread pool, as in chargegridd (before OpenSSL's first
// allocation; in the corpus test another target may have made OpenSSL allocate already).
[[maybe_unused]] const bool kPoolInstalled = server::tls_buffers::install();

// A P-256 key and a self-signed certificate for localhost, written once to a temporary folder
// and loaded through the server's own context settings (it is also the "station CA").
std::shared_ptr<ssl::context> server_context() {
  static const std::shared_ptr<ssl::context> context = [] {
    char folder_template[] = "/tmp/chargegrid-fuzz-tls-XXXXXX";
    const std::filesystem::path folder = ::mkdtemp(folder_template);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 365);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    const auto pem = (folder / "server.pem").string();
    const auto key_pem = (folder / "server.key").string();
    FILE* f = std::fopen(pem.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(key_pem.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
    auto made = server::security::make_station_tls_context({pem, key_pem, pem});
    std::filesystem::remove_all(folder);
    return made;
  }();
  return context;
}

ssl::context& client_context() {
  static ssl::context context{ssl::context::tls_client};
  return context;
}

// Reads the fuzz input front to back; zeros once it runs out.
struct Script {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t at = 0;
  bool done() const { return at >= size; }
  std::uint8_t byte() { return at < size ? data[at++] : 0; }
  std::size_t number(std::size_t most) { return most == 0 ? 0 : (byte() << 8 | byte()) % most; }
};

// A connected pair of stream sockets, each end usable as Asio's tcp::socket.
struct SocketPair {
  asio::ip::tcp::socket a, b;
  explicit SocketPair(asio::io_context& io) : a(io), b(io) {
    int fds[2];
    require(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair");
    a.assign(asio::ip::tcp::v4(), fds[0]);
    b.assign(asio::ip::tcp::v4(), fds[1]);
    a.native_non_blocking(true);
    b.native_non_blocking(true);
  }
};

// Whatever `fd` has to give, without blocking.
std::string drain(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

// How many bytes `fd` has waiting to be read.
int bytes_waiting(int fd) {
  int waiting = 0;
  return ::ioctl(fd, FIONREAD, &waiting) == 0 ? waiting : 0;
}

// Sends as much of `bytes` as the socket takes now; how much it took.
std::size_t offer(int fd, const char* bytes, std::size_t size) {
  const ssize_t n = size == 0 ? 0 : ::send(fd, bytes, size, MSG_NOSIGNAL);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

// Mode 0: the input is the client.
void raw_client(Script& script) {
  asio::io_context io;
  SocketPair pair(io);
  TlsStream server(std::move(pair.a), *server_context());
  bool done = false;
  error_code result;
  server.async_handshake(ssl::stream_base::server, [&](error_code ec) {
    result = ec;
    done = true;
  });
  const int client = pair.b.native_handle();
  while (!script.done()) {
    const std::size_t segment = 1 + script.byte() * 4;
    const std::size_t n = std::min(segment, script.size - script.at);
    const auto* bytes = reinterpret_cast<const char*>(script.data + script.at);
    std::size_t sent = 0;
    while (sent < n) {
      sent += offer(client, bytes + sent, n - sent);
      io.poll();
      io.restart();
      drain(client);  // the server's answers are read and dropped
      if (done) break;
    }
    script.at += n;
    if (done) break;
  }
  ::shutdown(client, SHUT_WR);
  for (int i = 0; i < 10000 && !done; ++i) {
    io.run_one_for(std::chrono::milliseconds(10));
    io.restart();
    drain(client);
  }
  require(done, "the handshake ends once the client's bytes end");
  require(static_cast<bool>(result), "only a real client finishes a handshake");
}

// Mode 1: a real client, then the script.
void scripted_client(Script& script) {
  asio::io_context io;
  SocketPair server_side(io), client_side(io);
  TlsStream server(std::move(server_side.a), *server_context());
  ssl::stream<asio::ip::tcp::socket> client(std::move(client_side.a), client_context());
  const int relay_to_server = server_side.b.native_handle();
  const int relay_to_client = client_side.b.native_handle();

  // The relay: bytes in flight each way, and what the script does to the client's.
  std::string up, down;
  std::size_t up_total = 0;        // bytes of the client's relayed or queued so far
  std::size_t flip_at = SIZE_MAX;  // absolute offset in the client's stream
  std::size_t cut_at = SIZE_MAX;   // the connection ends there
  std::size_t segment = 1 << 16;   // largest piece relayed at once
  bool cut = false;
  // Moves what it can each way; whether anything moved.
  auto relay = [&] {
    std::string from_client = drain(relay_to_client);
    bool moved = !from_client.empty();
    for (char& c : from_client) {
      if (up_total == flip_at) c = static_cast<char>(c ^ 0x20);
      ++up_total;
    }
    up += from_client;
    if (!cut) {
      std::size_t allowed = up.size();
      const std::size_t relayed_before = up_total - up.size();
      if (cut_at != SIZE_MAX && relayed_before + allowed > cut_at)
        allowed = cut_at > relayed_before ? cut_at - relayed_before : 0;
      const std::size_t n = offer(relay_to_server, up.data(), std::min({allowed, segment}));
      up.erase(0, n);
      moved = moved || n > 0;
      if (cut_at != SIZE_MAX && up_total - up.size() >= cut_at) {
        ::shutdown(relay_to_server, SHUT_WR);
        cut = true;
      }
    }
    down += drain(relay_to_server);
    const std::size_t n = offer(relay_to_client, down.data(), down.size());
    down.erase(0, n);
    return moved || n > 0;
  };
  // Relays and runs handlers until `until()`, waiting only when nothing moved; 5 s at most.
  auto pump = [&](auto&& until) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!until() && std::chrono::steady_clock::now() < deadline) {
      const bool moved = relay();
      io.restart();
      const bool ran = io.poll() > 0;
      if (!moved && !ran) {
        io.restart();
        io.run_one_for(std::chrono::milliseconds(1));
      }
    }
  };

  bool server_ready = false, client_ready = false;
  error_code handshake_error;
  server.async_handshake(ssl::stream_base::server, [&](error_code ec) {
    handshake_error = ec;
    server_ready = true;
  });
  client.async_handshake(ssl::stream_base::client, [&](error_code) { client_ready = true; });
  pump([&] { return server_ready && client_ready; });
  require(server_ready && client_ready && !handshake_error, "a real client's handshake");

  // The script.
  const std::size_t to_send = script.number(70'000);
  const std::string sent = [&] {
    std::string s(to_send, '\0');
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 31 + 7);
    return s;
  }();
  // At most about 2,000 segments.
  segment = std::max<std::size_t>(1 + script.number(20'000), to_send / 2000);
  const std::uint8_t faults = script.byte();
  if (faults & 1) flip_at = up_total + script.number(to_send + 200);
  if (faults & 2) cut_at = up_total + script.number(to_send + 200);
  const bool close_notify = faults & 4;
  const std::size_t read_size = 1 + script.number(20'000);
  const std::size_t reply = script.number(40'000);

  bool client_wrote = to_send == 0;
  if (to_send > 0)
    asio::async_write(client, asio::buffer(sent),
                      [&](error_code, std::size_t) { client_wrote = true; });
  // The server reads until an error, and answers while it reads.
  std::string received;
  std::vector<char> buffer(read_size);
  error_code read_error;
  bool read_ended = false;
  std::function<void()> read_more = [&] {
    server.async_read_some(asio::buffer(buffer), [&](error_code ec, std::size_t n) {
      require(n <= buffer.size(), "a read fits its buffer");
      received.append(buffer.data(), n);
      if (ec) {
        read_error = ec;
        read_ended = true;
        return;
      }
      read_more();
    });
  };
  read_more();
  const std::string answer(reply, 'r');
  // Its outcome is not a property: the client may stop reading before it ends.
  if (reply > 0) asio::async_write(server, asio::buffer(answer), [](error_code, std::size_t) {});
  std::string client_got;
  std::vector<char> client_buffer(4096);
  std::function<void()> client_read = [&] {
    client.async_read_some(asio::buffer(client_buffer), [&](error_code ec, std::size_t n) {
      client_got.append(client_buffer.data(), n);
      if (!ec) client_read();
    });
  };
  client_read();

  pump([&] { return (client_wrote && received.size() >= to_send) || read_ended; });
  // Then the client ends the connection.
  bool client_closed = false;
  if (close_notify)
    client.async_shutdown([&](error_code) { client_closed = true; });
  else
    client_closed = true;
  pump([&] { return client_closed || read_ended; });
  // Whatever the client sent still goes through, in its segments; then TCP ends.
  pump([&] { return read_ended || cut || (up.empty() && bytes_waiting(relay_to_client) == 0); });
  if (!read_ended && !cut) {
    ::shutdown(relay_to_server, SHUT_WR);
    cut = true;
  }
  pump([&] { return read_ended; });
  require(read_ended, "a read ends once the connection ends");
  require(static_cast<bool>(read_error), "a read that ends has an error");
  require(received.size() <= sent.size() && sent.compare(0, received.size(), received) == 0,
          "the server reads what the client sent, in order");
  const bool intact = flip_at == SIZE_MAX && cut_at == SIZE_MAX;
  if (intact) require(received == sent, "all of it when nothing was flipped or cut");
  if (intact && close_notify) require(read_error == asio::error::eof, "close_notify is eof");
  require(client_got.size() <= answer.size(), "the client gets no more than the server sent");
  error_code ignored;
  server.next_layer().close(ignored);
  io.poll();
}

}  // namespace

int tls(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Script script{data + 1, size - 1};
  if (data[0] % 2 == 0)
    raw_client(script);
  else
    scripted_client(script);
  return 0;
}

}  // namespace chargegrid::fuzz
