#pragma once
// TLS for the wss listener (security profiles 2 and 3): TLS 1.2 and 1.3 only, the OCPP cipher
// suites for 1.2, the server's certificate chain and key, and the CAs that station client
// certificates must chain to.

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "security/station_auth.hpp"

namespace chargegrid::server::security {

// TLS 1.2 suites (OpenSSL names), strongest first; the server's order wins. The OCPP security
// whitepaper and OCPP 2.0.1 require ECDHE-ECDSA-AES128/256-GCM and the RSA AES128/256-GCM
// suites; the ECDHE forms of the RSA suites come before the static-RSA ones, which only serve
// stations that offer nothing better. TLS 1.3 uses OpenSSL's default suites (all AEAD).
inline constexpr const char* kDefaultTls12Ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
    "AES256-GCM-SHA384:AES128-GCM-SHA256";

struct TlsFiles {
  std::filesystem::path certificate_chain;  // PEM: server certificate, then intermediates
  std::filesystem::path private_key;        // PEM
  std::filesystem::path station_ca;         // PEM bundle: CAs station certificates chain to
  std::string ciphers = kDefaultTls12Ciphers;
};

// A server context from the files. Client certificates are requested but not required
// (profile 2 stations have none); sessions are not resumed, so every connection's client
// certificate is verified afresh. Throws std::runtime_error naming the file at fault.
std::shared_ptr<boost::asio::ssl::context> make_station_tls_context(const TlsFiles& files);

// The first problem OpenSSL found with a client's certificate chain.
struct ChainCheck {
  int error = 0;  // X509_V_OK when none
  int depth = 0;
};
// A verify callback that lets the handshake finish whatever the client's certificate is,
// recording the first problem: the decision is made on the HTTP upgrade, where the station
// id is known and the refusal can be answered, logged and stored.
inline auto record_chain_check(ChainCheck& check) {
  return [&check](bool preverified, boost::asio::ssl::verify_context& context) {
    if (!preverified && check.error == 0) {
      check.error = X509_STORE_CTX_get_error(context.native_handle());
      check.depth = X509_STORE_CTX_get_error_depth(context.native_handle());
    }
    return true;
  };
}

// What the finished handshake `ssl` proves about the client (identity_field: CN, ...).
ClientCertificate inspect_client_certificate(SSL* ssl, const ChainCheck& check,
                                             const std::string& identity_field);

}  // namespace chargegrid::server::security
