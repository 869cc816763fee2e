#include "connections/tls_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <climits>

namespace chargegrid::server {

// OpenSSL's view of the socket: recv and send on the descriptor the stream's socket holds at
// the time of the call (none once it is closed, so a descriptor number given to a newer
// connection is never touched), without SIGPIPE.
struct SocketBio {
  static TlsStream& stream(BIO* bio) { return *static_cast<TlsStream*>(BIO_get_data(bio)); }

  static bool would_block(int error) {
    return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
  }

  static int write(BIO* bio, const char* data, int size) {
    BIO_clear_retry_flags(bio);
    auto& socket = stream(bio).socket_;
    if (!socket.is_open()) {
      errno = EBADF;
      return -1;
    }
    const ssize_t n =
        ::send(socket.native_handle(), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
    if (n < 0 && would_block(errno)) BIO_set_retry_write(bio);
    return static_cast<int>(n);
  }

  static int read(BIO* bio, char* data, int size) {
    BIO_clear_retry_flags(bio);
    auto& s = stream(bio);
    if (!s.socket_.is_open()) {
      errno = EBADF;
      return -1;
    }
    const ssize_t n = ::recv(s.socket_.native_handle(), data, static_cast<std::size_t>(size), 0);
    if (n == 0) s.peer_closed_ = true;
    if (n < 0 && would_block(errno)) BIO_set_retry_read(bio);
    return static_cast<int>(n);
  }

  static long control(BIO* bio, int command, long, void*) {
    switch (command) {
      case BIO_CTRL_FLUSH:
        return 1;  // nothing is buffered here
      case BIO_CTRL_EOF:
        return stream(bio).peer_closed_ ? 1 : 0;
      default:
        return 0;
    }
  }

  static const BIO_METHOD* method() {
    static BIO_METHOD* const kMethod = [] {
      BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tcp socket");
      if (!m) return m;
      BIO_meth_set_write(m, &SocketBio::write);
      BIO_meth_set_read(m, &SocketBio::read);
      BIO_meth_set_ctrl(m, &SocketBio::control);
      return m;
    }();
    return kMethod;
  }
};

namespace {

[[noreturn]] void throw_openssl(const char* what) {
  const auto code = static_cast<int>(ERR_get_error());
  throw boost::system::system_error(
      boost::system::error_code(code, boost::asio::error::get_ssl_category()), what);
}

int verify_trampoline(int preverified, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* callback = ssl ? static_cast<TlsStream::VerifyCallback*>(SSL_get_app_data(ssl)) : nullptr;
  if (!callback || !*callback) return preverified;
  boost::asio::ssl::verify_context context(store);
  return (*callback)(preverified != 0, context) ? 1 : 0;
}

int clamp(std::size_t size) {
  return static_cast<int>(std::min<std::size_t>(size, INT_MAX));
}

}  // namespace

TlsStream::TlsStream(Socket socket, boost::asio::ssl::context& context)
    : socket_(std::move(socket)) {
  ssl_ = SSL_new(context.native_handle());
  if (!ssl_) throw_openssl("TLS connection");
  const BIO_METHOD* method = SocketBio::method();
  BIO* bio = method ? BIO_new(method) : nullptr;
  if (!bio) {
    SSL_free(ssl_);
    throw_openssl("TLS socket BIO");
  }
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // the SSL object owns it now
  // A write's retry may gather its buffers into the scratch space again.
  SSL_set_mode(ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // Read whole records in one call; the buffer is freed once it has been consumed.
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_accept_state(ssl_);
  // OpenSSL reads and writes the descriptor directly; Asio only waits on it.
  boost::system::error_code ignored;
  socket_.native_non_blocking(true, ignored);
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
}

void TlsStream::set_verify_callback(VerifyCallback callback) {
  verify_ = std::move(callback);
  SSL_set_app_data(ssl_, &verify_);
  SSL_set_verify(ssl_, SSL_get_verify_mode(ssl_), &verify_trampoline);
}

unsigned char* TlsStream::gather_space() {
  thread_local unsigned char space[kMaxRecordPlaintext];
  return space;
}

void TlsStream::begin_call() {
  ERR_clear_error();
  errno = 0;
}

TlsStream::Attempt TlsStream::finish(int result, std::size_t bytes) {
  const int saved_errno = errno;  // the socket's, before anything else can change it
  Attempt out;
  const int reason = SSL_get_error(ssl_, result);
  switch (reason) {
    case SSL_ERROR_NONE:
      out.bytes = bytes;
      return out;
    case SSL_ERROR_WANT_READ:
      out.wait = Attempt::Wait::readable;
      return out;
    case SSL_ERROR_WANT_WRITE:
      out.wait = Attempt::Wait::writable;
      return out;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      out.error = boost::asio::error::eof;
      return out;
    case SSL_ERROR_SYSCALL: {
      const unsigned long queued = ERR_get_error();
      if (queued != 0)
        out.error = {static_cast<int>(queued), boost::asio::error::get_ssl_category()};
      else if (saved_errno != 0)
        out.error = {saved_errno, boost::system::system_category()};
      else
        out.error = boost::asio::ssl::error::stream_truncated;
      return out;
    }
    case SSL_ERROR_SSL: {
      const unsigned long queued = ERR_get_error();
      if (ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        out.error = boost::asio::ssl::error::stream_truncated;
      else
        out.error = {static_cast<int>(queued), boost::asio::error::get_ssl_category()};
      return out;
    }
    default:
      out.error = boost::asio::ssl::error::unexpected_result;
      return out;
  }
}

TlsStream::Attempt TlsStream::try_handshake() {
  begin_call();
  return finish(SSL_do_handshake(ssl_));
}

TlsStream::Attempt TlsStream::try_read(void* data, std::size_t size) {
  begin_call();
  std::size_t read = 0;
  const int ok = SSL_read_ex(ssl_, data, static_cast<std::size_t>(clamp(size)), &read);
  return finish(ok, read);
}

TlsStream::Attempt TlsStream::try_write(const void* data, std::size_t size) {
  begin_call();
  std::size_t written = 0;
  const int ok = SSL_write_ex(ssl_, data, static_cast<std::size_t>(clamp(size)), &written);
  return finish(ok, written);
}

TlsStream::Attempt TlsStream::try_shutdown() {
  // Nothing to close before the handshake finished, or once closed both ways.
  if (!SSL_is_init_finished(ssl_)) return {};
  begin_call();
  const int result = SSL_shutdown(ssl_);
  if (result >= 0) return {};  // 0: our close_notify is sent, the peer's not awaited
  return finish(result);
}

}  // namespace chargegrid::server
