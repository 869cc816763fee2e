// The station TLS stream (server/src/connections/tls_stream.hpp) against Asio's own TLS
// client over loopback TCP: handshakes with TLS 1.2 and 1.3 and a client certificate, data of
// every size both ways and at once, gathered writes, the ways a connection ends, and a Beast
// WebSocket on top. OpenSSL's record buffers come from the per-thread pool
// (tls_buffers.hpp), installed here before OpenSSL's first allocation as chargegridd does.

#include "connections/tls_stream.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "connections/tls_buffers.hpp"
#include "security/tls.hpp"
#include "test_pki.hpp"

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace websocket = boost::beast::websocket;
using asio::ip::tcp;
using boost::system::error_code;
using chargegrid::server::TlsStream;
using chargegrid::testing::TestPki;

namespace tls_buffers = chargegrid::server::tls_buffers;

namespace {

const bool kPoolInstalled = tls_buffers::install();

// Runs `io` until `done()` or 10 s; false on timeout.
template <class Done>
bool run_until(asio::io_context& io, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_for(std::chrono::milliseconds(5));
    io.restart();
  }
  return true;
}

std::string pattern(std::size_t size, char seed) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>(seed + i * 7 % 251);
  return out;
}

// A connected pair on loopback: the TlsStream under test (server) and Asio's ssl::stream.
struct Pair {
  TestPki pki;
  asio::io_context io;
  std::shared_ptr<ssl::context> server_context;
  ssl::context client_context{ssl::context::tls_client};
  std::unique_ptr<TlsStream> server;
  std::unique_ptr<ssl::stream<tcp::socket>> client;

  explicit Pair(int max_version = TLS1_3_VERSION) {
    server_context = chargegrid::server::security::make_station_tls_context(
        {pki.file("server.pem"), pki.file("server.key"), pki.file("ca.pem")});
    SSL_CTX_set_max_proto_version(client_context.native_handle(), max_version);
    client_context.load_verify_file(pki.file("ca.pem"));
    client_context.set_verify_mode(ssl::verify_peer);
    tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    tcp::socket accepted(io);
    client = std::make_unique<ssl::stream<tcp::socket>>(io, client_context);
    client->next_layer().connect(acceptor.local_endpoint());
    acceptor.accept(accepted);
    server = std::make_unique<TlsStream>(std::move(accepted), *server_context);
  }

  void use_client_certificate(const std::string& name) {
    SSL_use_certificate_file(client->native_handle(), pki.file(name + ".pem").c_str(),
                             SSL_FILETYPE_PEM);
    SSL_use_PrivateKey_file(client->native_handle(), pki.file(name + ".key").c_str(),
                            SSL_FILETYPE_PEM);
  }

  // Both handshakes; the server's error.
  error_code handshake() {
    bool server_done = false, client_done = false;
    error_code server_error, client_error;
    server->async_handshake(ssl::stream_base::server, [&](error_code ec) {
      server_error = ec;
      server_done = true;
    });
    client->async_handshake(ssl::stream_base::client, [&](error_code ec) {
      client_error = ec;
      client_done = true;
    });
    REQUIRE(run_until(io, [&] { return server_done && client_done; }));
    if (!server_error) REQUIRE_FALSE(client_error);
    return server_error;
  }
};

}  // namespace

TEST_CASE("TLS stream: handshakes and carries data of any size both ways", "[tls_stream]") {
  const int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  Pair pair(version);
  REQUIRE_FALSE(pair.handshake());
  CHECK(SSL_version(pair.server->native_handle()) == version);

  for (std::size_t size :
       {std::size_t{1}, std::size_t{5000}, std::size_t{16384}, std::size_t{100'000}}) {
    const auto up = pattern(size, 'a');
    const auto down = pattern(size, 'k');
    std::string got_up(size, '\0'), got_down(size, '\0');
    int done = 0;
    error_code errors[4];
    asio::async_write(*pair.client, asio::buffer(up), [&](error_code ec, std::size_t) {
      errors[0] = ec;
      ++done;
    });
    asio::async_read(*pair.server, asio::buffer(got_up), [&](error_code ec, std::size_t) {
      errors[1] = ec;
      ++done;
    });
    asio::async_write(*pair.server, asio::buffer(down), [&](error_code ec, std::size_t) {
      errors[2] = ec;
      ++done;
    });
    asio::async_read(*pair.client, asio::buffer(got_down), [&](error_code ec, std::size_t) {
      errors[3] = ec;
      ++done;
    });
    REQUIRE(run_until(pair.io, [&] { return done == 4; }));
    for (const auto& e : errors) REQUIRE_FALSE(e);
    CHECK(got_up == up);
    CHECK(got_down == down);
  }
}

TEST_CASE("TLS stream: an operation never completes inside the call that starts it",
          "[tls_stream]") {
  Pair pair;
  REQUIRE_FALSE(pair.handshake());
  // Data already decrypted and waiting, and a read of nothing: both could finish at once.
  const std::string text = "0123456789";
  asio::write(*pair.client, asio::buffer(text));
  char first[2];
  bool done = false;
  asio::async_read(*pair.server, asio::buffer(first),
                   [&](error_code, std::size_t) { done = true; });
  REQUIRE(run_until(pair.io, [&] { return done; }));

  bool called = false;
  std::size_t bytes = 99;
  char rest[8];
  pair.server->async_read_some(asio::buffer(rest), [&](error_code ec, std::size_t n) {
    REQUIRE_FALSE(ec);
    bytes = n;
    called = true;
  });
  CHECK_FALSE(called);
  REQUIRE(run_until(pair.io, [&] { return called; }));
  CHECK(bytes == 8);
  CHECK(std::string(rest, 8) == "23456789");

  called = false;
  pair.server->async_read_some(asio::mutable_buffer(), [&](error_code ec, std::size_t n) {
    CHECK_FALSE(ec);
    bytes = n;
    called = true;
  });
  CHECK_FALSE(called);
  REQUIRE(run_until(pair.io, [&] { return called; }));
  CHECK(bytes == 0);
}

TEST_CASE("TLS stream: several buffers written at once go out as one record", "[tls_stream]") {
  Pair pair;
  REQUIRE_FALSE(pair.handshake());
  // Count the application-data records the client receives.
  static int records = 0;
  records = 0;
  SSL_set_msg_callback(pair.client->native_handle(), [](int write_p, int, int content_type,
                                                        const void* buf, size_t len, SSL*, void*) {
    if (!write_p && content_type == SSL3_RT_HEADER && len >= 1 &&
        static_cast<const unsigned char*>(buf)[0] == SSL3_RT_APPLICATION_DATA)
      ++records;
  });
  const std::string header = "\x81\x05", payload = "hello";
  std::vector<asio::const_buffer> gathered{asio::buffer(header), asio::const_buffer(),
                                           asio::buffer(payload)};
  bool written = false;
  asio::async_write(*pair.server, gathered, [&](error_code ec, std::size_t n) {
    REQUIRE_FALSE(ec);
    CHECK(n == 7);
    written = true;
  });
  std::string got(7, '\0');
  bool read = false;
  asio::async_read(*pair.client, asio::buffer(got), [&](error_code ec, std::size_t) {
    REQUIRE_FALSE(ec);
    read = true;
  });
  REQUIRE(run_until(pair.io, [&] { return written && read; }));
  CHECK(got == header + payload);
  CHECK(records == 1);
}

TEST_CASE("TLS stream: a read ends with eof after close_notify, truncated without",
          "[tls_stream]") {
  Pair pair;
  REQUIRE_FALSE(pair.handshake());
  char byte;
  error_code read_error;
  bool done = false;
  pair.server->async_read_some(asio::buffer(&byte, 1), [&](error_code ec, std::size_t) {
    read_error = ec;
    done = true;
  });
  SECTION("close_notify") {
    bool shut = false;
    pair.client->async_shutdown([&](error_code) { shut = true; });
    REQUIRE(run_until(pair.io, [&] { return done; }));
    CHECK(read_error == asio::error::eof);
    // The server answers with its own close_notify, which completes the client's shutdown.
    bool answered = false;
    pair.server->async_shutdown([&](error_code ec) {
      CHECK_FALSE(ec);
      answered = true;
    });
    REQUIRE(run_until(pair.io, [&] { return answered && shut; }));
  }
  SECTION("TCP closed") {
    pair.client->next_layer().close();
    REQUIRE(run_until(pair.io, [&] { return done; }));
    CHECK(read_error == ssl::error::stream_truncated);
  }
  SECTION("the server's own socket closed while the read waits") {
    pair.server->next_layer().close();
    REQUIRE(run_until(pair.io, [&] { return done; }));
    CHECK(read_error == asio::error::operation_aborted);
  }
}

TEST_CASE("TLS stream: a handshake fails cleanly on what is not TLS", "[tls_stream]") {
  Pair pair;
  error_code server_error;
  bool done = false;
  pair.server->async_handshake(ssl::stream_base::server, [&](error_code ec) {
    server_error = ec;
    done = true;
  });
  SECTION("plain HTTP") {
    asio::write(pair.client->next_layer(), asio::buffer(std::string("GET / HTTP/1.1\r\n\r\n")));
    REQUIRE(run_until(pair.io, [&] { return done; }));
    CHECK(server_error.category() == asio::error::get_ssl_category());
  }
  SECTION("a client that goes away mid-handshake") {
    // A ClientHello's first bytes, then nothing.
    const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00};
    asio::write(pair.client->next_layer(), asio::buffer(partial));
    pair.client->next_layer().close();
    REQUIRE(run_until(pair.io, [&] { return done; }));
    CHECK(server_error);
  }
  SECTION("a deadline that closes the socket while the handshake waits") {
    asio::steady_timer deadline(pair.io, std::chrono::milliseconds(50));
    deadline.async_wait([&](error_code) { pair.server->next_layer().close(); });
    REQUIRE(run_until(pair.io, [&] { return done; }));
    CHECK(server_error == asio::error::operation_aborted);
  }
}

TEST_CASE("TLS stream: the verify callback sees the client's certificate chain", "[tls_stream]") {
  Pair pair;
  chargegrid::server::security::ChainCheck check;
  int calls = 0;
  pair.server->set_verify_callback([&](bool preverified, ssl::verify_context& context) {
    ++calls;
    return chargegrid::server::security::record_chain_check(check)(preverified, context);
  });
  SECTION("trusted") {
    pair.use_client_certificate("p3");
    REQUIRE_FALSE(pair.handshake());
    CHECK(calls >= 2);
    CHECK(check.error == X509_V_OK);
    const auto client = chargegrid::server::security::inspect_client_certificate(
        pair.server->native_handle(), check, "CN");
    CHECK(client.trusted);
    CHECK(client.identity == "SEC-P3");
  }
  SECTION("signed by a CA the server does not trust") {
    pair.use_client_certificate("untrusted");
    REQUIRE_FALSE(pair.handshake());  // the decision is the upgrade's, not the handshake's
    CHECK(check.error != X509_V_OK);
    CHECK_FALSE(chargegrid::server::security::inspect_client_certificate(
                    pair.server->native_handle(), check, "CN")
                    .trusted);
  }
}

TEST_CASE("TLS stream: a Beast WebSocket on top exchanges messages and closes both ways",
          "[tls_stream]") {
  Pair pair;
  websocket::stream<TlsStream&> server(*pair.server);
  websocket::stream<ssl::stream<tcp::socket>&> client(*pair.client);
  REQUIRE_FALSE(pair.handshake());

  int done = 0;
  server.async_accept([&](error_code ec) {
    REQUIRE_FALSE(ec);
    ++done;
  });
  client.async_handshake("localhost", "/ocpp/CS1", [&](error_code ec) {
    REQUIRE_FALSE(ec);
    ++done;
  });
  REQUIRE(run_until(pair.io, [&] { return done == 2; }));

  const auto big = pattern(70'000, 'x');
  client.binary(true);
  boost::beast::flat_buffer server_in, client_in;
  done = 0;
  client.async_write(asio::buffer(big), [&](error_code ec, std::size_t) {
    REQUIRE_FALSE(ec);
    ++done;
  });
  server.async_read(server_in, [&](error_code ec, std::size_t) {
    REQUIRE_FALSE(ec);
    ++done;
  });
  REQUIRE(run_until(pair.io, [&] { return done == 2; }));
  CHECK(boost::beast::buffers_to_string(server_in.data()) == big);

  // The server closes: close frame, close_notify, TCP teardown; the client sees the close.
  done = 0;
  error_code client_read;
  client.async_read(client_in, [&](error_code ec, std::size_t) {
    client_read = ec;
    ++done;
  });
  server.async_close(websocket::close_code::normal, [&](error_code ec) {
    CHECK_FALSE(ec);
    ++done;
  });
  REQUIRE(run_until(pair.io, [&] { return done == 2; }));
  CHECK(client_read == websocket::error::closed);
}

namespace {

// Whether every page of a block is in memory.
bool resident(void* block) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> pages(tls_buffers::kBlockBytes / page);
  REQUIRE(::mincore(block, tls_buffers::kBlockBytes, pages.data()) == 0);
  for (auto p : pages)
    if (!(p & 1)) return false;
  return true;
}

}  // namespace

TEST_CASE("TLS buffers: OpenSSL's record-sized allocations get blocks of their own",
          "[tls_stream][tls_buffers]") {
  REQUIRE(kPoolInstalled);
  CHECK(tls_buffers::allocate(tls_buffers::kSmallestPooled - 1) == nullptr);
  CHECK(tls_buffers::allocate(tls_buffers::kBlockBytes + 1) == nullptr);

  void* block = tls_buffers::allocate(tls_buffers::kSmallestPooled);
  REQUIRE(block);
  CHECK(tls_buffers::owns(block));
  std::memset(block, 0x5a, tls_buffers::kBlockBytes);
  tls_buffers::release(block);
  // The thread's next record reuses the block it just gave back, still in memory.
  void* again = tls_buffers::allocate(tls_buffers::kBlockBytes);
  CHECK(again == block);
  CHECK(resident(again));
  tls_buffers::release(again);

  // A thread keeps a few; the pages of every block beyond them go back to the system.
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < tls_buffers::kKeptPerThread + 4; ++i) {
    blocks.push_back(tls_buffers::allocate(20'000));
    REQUIRE(blocks.back());
    std::memset(blocks.back(), 1, tls_buffers::kBlockBytes);
  }
  for (void* b : blocks) tls_buffers::release(b);
  std::size_t kept = 0, returned = 0;
  for (void* b : blocks) (resident(b) ? kept : returned)++;
  CHECK(returned >= 4);
  CHECK(kept <= tls_buffers::kKeptPerThread);

  // Blocks freed by another thread are that thread's to keep or return.
  void* crossing = tls_buffers::allocate(20'000);
  std::thread([&] { tls_buffers::release(crossing); }).join();

  // OpenSSL's allocation calls: blocks for 16-32 KB, the heap otherwise, contents kept when a
  // buffer grows out of a block or into one.
  auto* grown = static_cast<unsigned char*>(OPENSSL_malloc(20'000));
  REQUIRE(tls_buffers::owns(grown));
  std::memset(grown, 7, 20'000);
  CHECK(OPENSSL_realloc(grown, 30'000) == grown);  // the block has room
  grown = static_cast<unsigned char*>(OPENSSL_realloc(grown, 40'000));
  REQUIRE(grown);
  CHECK_FALSE(tls_buffers::owns(grown));
  CHECK((grown[0] == 7 && grown[19'999] == 7));
  OPENSSL_free(grown);
  auto* small = static_cast<unsigned char*>(OPENSSL_malloc(1000));
  REQUIRE(small);
  CHECK_FALSE(tls_buffers::owns(small));
  std::memset(small, 9, 1000);
  small = static_cast<unsigned char*>(OPENSSL_realloc(small, 18'000));
  REQUIRE(tls_buffers::owns(small));
  CHECK((small[0] == 9 && small[999] == 9));
  OPENSSL_free(small);

  // OpenSSL itself uses the pool: a handshake and a record of 16 KB go through it.
  const auto before = tls_buffers::blocks_handed_out();
  Pair pair;
  REQUIRE_FALSE(pair.handshake());
  const auto big = pattern(16'384, 'q');
  std::string got(big.size(), '\0');
  int done = 0;
  asio::async_write(*pair.server, asio::buffer(big), [&](error_code ec, std::size_t) {
    REQUIRE_FALSE(ec);
    ++done;
  });
  asio::async_read(*pair.client, asio::buffer(got), [&](error_code ec, std::size_t) {
    REQUIRE_FALSE(ec);
    ++done;
  });
  REQUIRE(run_until(pair.io, [&] { return done == 2; }));
  CHECK(got == big);
  // At least the server's and the client's read and write buffers.
  CHECK(tls_buffers::blocks_handed_out() >= before + 4);
}
