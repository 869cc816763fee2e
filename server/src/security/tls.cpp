#include "security/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>

#include "security/pki.hpp"

namespace chargegrid::server::security {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + openssl_error());
}

constexpr unsigned char kSessionContext[] = "chargegrid-ocpp";

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_station_tls_context(const TlsFiles& files) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  require(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1, "TLS minimum version");
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  // An idle connection gives its record buffers back (docs/benchmarks.md).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  require(SSL_CTX_set_cipher_list(ctx, files.ciphers.c_str()) == 1,
          "TLS 1.2 cipher list '" + files.ciphers + "'");
  // No resumption: a resumed session would skip the client certificate check.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  require(SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1) == 1,
          "TLS session context");

  const auto chain = files.certificate_chain.string();
  const auto key = files.private_key.string();
  require(SSL_CTX_use_certificate_chain_file(ctx, chain.c_str()) == 1,
          "server certificate chain " + chain);
  require(SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) == 1,
          "server private key " + key);
  require(SSL_CTX_check_private_key(ctx) == 1, key + " is not the key of " + chain);

  const auto ca = files.station_ca.string();
  require(SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) == 1, "station CA file " + ca);
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
  require(names != nullptr, "station CA names from " + ca);
  SSL_CTX_set_client_CA_list(ctx, names);
  X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(ctx), X509_PURPOSE_SSL_CLIENT);
  SSL_CTX_set_verify_depth(ctx, 5);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return context;
}

ClientCertificate inspect_client_certificate(SSL* ssl, const ChainCheck& check,
                                             const std::string& identity_field) {
  ClientCertificate out;
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer) return out;
  out.presented = true;
  const long result = SSL_get_verify_result(ssl);
  const int error = check.error != X509_V_OK ? check.error : static_cast<int>(result);
  out.trusted = error == X509_V_OK;
  if (!out.trusted) {
    out.problem = X509_verify_cert_error_string(error);
    if (check.error != X509_V_OK && check.depth > 0)
      out.problem += " (certificate " + std::to_string(check.depth) + " of the chain)";
  }
  out.identity = subject_field(peer, identity_field);
  return out;
}

}  // namespace chargegrid::server::security
