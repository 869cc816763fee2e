#pragma once
// A TLS stream over a TCP socket that holds no buffers while its connection is idle.
//
// Asio's ssl::stream keeps four 17 KB buffers for as long as a connection lives (its engine's
// two and a BIO pair's two: 70 KB per idle wss station). Here OpenSSL reads and writes the
// non-blocking socket itself through a small BIO and, with SSL_MODE_RELEASE_BUFFERS, frees its
// record buffers between records; the stream only waits for the socket to become readable or
// writable when OpenSSL asks for it. An idle connection costs its SSL object and nothing else.
//
// It offers what Beast's WebSocket and HTTP code need (an AsyncStream, the server handshake,
// shutdown and the WebSocket teardown). As with Asio's stream, one read and one write may be in
// flight at once, both on the socket's executor (a strand when several threads run it).

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <functional>
#include <type_traits>

namespace chargegrid::server {

class TlsStream {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using next_layer_type = Socket;
  using executor_type = Socket::executor_type;
  using VerifyCallback =
      std::function<bool(bool preverified, boost::asio::ssl::verify_context& context)>;

  // Takes the accepted socket. Throws boost::system::system_error when OpenSSL cannot make
  // the connection's SSL object.
  TlsStream(Socket socket, boost::asio::ssl::context& context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  Socket& next_layer() { return socket_; }
  SSL* native_handle() { return ssl_; }
  // Called for each certificate of the client's chain during the handshake.
  void set_verify_callback(VerifyCallback callback);

  // Completes with (error_code). Only the server side is supported.
  template <class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token);
  // Complete with (error_code, bytes). A read ends with asio::error::eof after the peer's
  // close_notify and with asio::ssl::error::stream_truncated when the peer closed TCP without.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token);
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token);
  // Sends close_notify; does not wait for the peer's (the TCP teardown that follows does).
  template <class Token>
  auto async_shutdown(Token&& token);

  // One attempt at an operation, and what it waits for if it cannot finish yet.
  struct Attempt {
    enum class Wait { nothing, readable, writable } wait = Wait::nothing;
    std::size_t bytes = 0;
    boost::system::error_code error;
  };
  Attempt try_handshake();
  Attempt try_read(void* data, std::size_t size);
  Attempt try_write(const void* data, std::size_t size);
  Attempt try_shutdown();

  // The largest plaintext of one TLS record: a write of several buffers is gathered into one
  // record of at most this size.
  static constexpr std::size_t kMaxRecordPlaintext = 16 * 1024;
  // Scratch space of the calling thread for gathering a write (valid until the next call).
  static unsigned char* gather_space();

 private:
  friend struct SocketBio;
  // Before an OpenSSL call: no stale error for finish() to read.
  void begin_call();
  // The attempt's outcome from an OpenSSL call's result (and errno, as the call left it);
  // `bytes` is what a successful call moved.
  Attempt finish(int result, std::size_t bytes = 0);

  Socket socket_;
  SSL* ssl_ = nullptr;
  VerifyCallback verify_;
  bool peer_closed_ = false;  // the socket read end of file
};

namespace detail {

// An operation that retries its attempt whenever the socket becomes ready for what the last
// attempt waited for. A result found on the first attempt is delivered through a post, so the
// handler never runs inside the initiating call.
template <class TryOnce, bool kWithBytes>
class TlsOperation {
 public:
  TlsOperation(TlsStream& stream, TryOnce attempt) : stream_(stream), try_once_(attempt) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code wait_error = {}) {
    if (!delivering_) {
      if (wait_error) {
        result_ = {};
        result_.error = wait_error;
      } else {
        result_ = try_once_(stream_);
        using Wait = TlsStream::Attempt::Wait;
        if (result_.wait != Wait::nothing) {
          started_ = true;
          const auto what = result_.wait == Wait::readable ? TlsStream::Socket::wait_read
                                                           : TlsStream::Socket::wait_write;
          stream_.next_layer().async_wait(what, std::move(self));
          return;
        }
      }
      if (!started_) {
        delivering_ = true;
        boost::asio::post(std::move(self));
        return;
      }
    }
    if constexpr (kWithBytes)
      self.complete(result_.error, result_.bytes);
    else
      self.complete(result_.error);
  }

 private:
  TlsStream& stream_;
  TryOnce try_once_;
  TlsStream::Attempt result_;
  bool started_ = false;
  bool delivering_ = false;
};

template <bool kWithBytes, class Token, class TryOnce>
auto start_tls_operation(TlsStream& stream, Token&& token, TryOnce attempt) {
  using Signature = std::conditional_t<kWithBytes, void(boost::system::error_code, std::size_t),
                                       void(boost::system::error_code)>;
  return boost::asio::async_compose<Token, Signature>(
      TlsOperation<TryOnce, kWithBytes>(stream, std::move(attempt)), token, stream.next_layer());
}

}  // namespace detail

template <class Token>
auto TlsStream::async_handshake(boost::asio::ssl::stream_base::handshake_type, Token&& token) {
  return detail::start_tls_operation<false>(*this, std::forward<Token>(token),
                                            [](TlsStream& s) { return s.try_handshake(); });
}

template <class MutableBuffers, class Token>
auto TlsStream::async_read_some(const MutableBuffers& buffers, Token&& token) {
  return detail::start_tls_operation<true>(
      *this, std::forward<Token>(token), [buffers](TlsStream& s) {
        for (auto it = boost::asio::buffer_sequence_begin(buffers);
             it != boost::asio::buffer_sequence_end(buffers); ++it) {
          boost::asio::mutable_buffer b = *it;
          if (b.size() > 0) return s.try_read(b.data(), b.size());
        }
        return Attempt{};  // nothing asked: nothing read
      });
}

template <class ConstBuffers, class Token>
auto TlsStream::async_write_some(const ConstBuffers& buffers, Token&& token) {
  return detail::start_tls_operation<true>(
      *this, std::forward<Token>(token), [buffers](TlsStream& s) {
        // One buffer goes as it is; several are gathered into one record, so a WebSocket
        // frame's header and payload do not become two records. A retry gathers them again.
        auto it = boost::asio::buffer_sequence_begin(buffers);
        const auto end = boost::asio::buffer_sequence_end(buffers);
        while (it != end && boost::asio::const_buffer(*it).size() == 0) ++it;
        if (it == end) return Attempt{};
        boost::asio::const_buffer first = *it;
        auto next = it;
        ++next;
        while (next != end && boost::asio::const_buffer(*next).size() == 0) ++next;
        if (next == end || first.size() >= kMaxRecordPlaintext)
          return s.try_write(first.data(), std::min(first.size(), kMaxRecordPlaintext));
        unsigned char* space = gather_space();
        std::size_t gathered = 0;
        for (; it != end && gathered < kMaxRecordPlaintext; ++it) {
          boost::asio::const_buffer b = *it;
          const std::size_t n = std::min(b.size(), kMaxRecordPlaintext - gathered);
          std::copy_n(static_cast<const unsigned char*>(b.data()), n, space + gathered);
          gathered += n;
        }
        return s.try_write(space, gathered);
      });
}

template <class Token>
auto TlsStream::async_shutdown(Token&& token) {
  return detail::start_tls_operation<false>(*this, std::forward<Token>(token),
                                            [](TlsStream& s) { return s.try_shutdown(); });
}

namespace detail {

// Beast's WebSocket close: close_notify, then the TCP teardown (shut down sending, read until
// the peer closes).
struct TlsTeardown {
  TlsStream& stream;
  boost::beast::role_type role;
  boost::system::error_code shutdown_error;
  int state = 0;

  template <class Self>
  void operator()(Self& self, boost::system::error_code error = {}) {
    switch (state) {
      case 0:
        state = 1;
        stream.async_shutdown(std::move(self));
        return;
      case 1: {
        state = 2;
        shutdown_error = error;
        using boost::beast::websocket::async_teardown;
        async_teardown(role, stream.next_layer(), std::move(self));
        return;
      }
      default:
        self.complete(shutdown_error ? shutdown_error : error);
    }
  }
};

}  // namespace detail

// Found by Beast's WebSocket through argument-dependent lookup.
template <class Handler>
void async_teardown(boost::beast::role_type role, TlsStream& stream, Handler&& handler) {
  boost::asio::async_compose<Handler, void(boost::system::error_code)>(
      detail::TlsTeardown{stream, role}, handler, stream.next_layer());
}

}  // namespace chargegrid::server
