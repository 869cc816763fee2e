#pragma once
// X.509 for station security: the CA that signs station certificates (SignCertificate), CSR
// checks, certificate facts for logs, and the development PKI a default run creates in
// DATA_DIR/pki so wss works out of the box. OpenSSL 3 underneath.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chargegrid/base/openssl_ptr.hpp"

namespace chargegrid::server::security {

class PkiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A CSR the CA will not sign; what() says why (for the log and the security event).
class CsrRejected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Certificate = base::OpenSslPtr<X509, X509_free>;
using PrivateKey = base::OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;

// What the logs and the database keep about a certificate.
struct CertificateInfo {
  std::string subject;      // one line, RFC 2253
  std::string issuer;       // one line, RFC 2253
  std::string serial;       // hexadecimal
  std::string fingerprint;  // SHA-256, hexadecimal
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};

// The newest OpenSSL error as text (the error queue is cleared).
std::string openssl_error();

CertificateInfo describe(X509* certificate);
// The first value of a subject field ("CN", "serialNumber", "O", ... or a dotted OID) as UTF-8.
std::optional<std::string> subject_field(X509* certificate, const std::string& field);
// OpenSSL's id for a subject field name; throws PkiError if OpenSSL does not know it.
int subject_field_nid(const std::string& field);

std::vector<Certificate> certificates_from_pem(std::string_view pem);
std::string to_pem(X509* certificate);
std::string to_pem(EVP_PKEY* key);  // unencrypted PKCS#8
std::string read_text_file(const std::filesystem::path& path);

// Which ISO 15118 part a V2G (SECC) certificate serves: -2 wants ECDSA on secp256r1; -20
// accepts ECDSA on secp521r1 or Ed448.
enum class V2gProfile { kIso15118_2, kIso15118_20 };

// What a station's V2G CSR must satisfy and how its certificate is made.
struct V2gCsrRules {
  V2gProfile profile = V2gProfile::kIso15118_2;
  std::string secc_id;       // the subject's CN must be this (the SECC id the station has)
  std::string organisation;  // the subject's O must be this; empty: not checked
  std::string ocsp_url;      // the responder named in the certificate; empty: none
  int days = 365;
};

// Throws CsrRejected when the CSR's key is not what `profile` requires.
void check_v2g_csr_key(EVP_PKEY* key, V2gProfile profile);

// The CA that signs station certificates: its certificate (the first in the file; any others
// are intermediates sent along with issued certificates) and its private key.
class CertificateAuthority {
 public:
  // Throws PkiError when a file is missing or unreadable, the key does not match, or the
  // certificate is not a CA.
  // `chain_file`, when given, holds further intermediates sent after those of `cert_file`.
  static std::shared_ptr<const CertificateAuthority> load(
      const std::filesystem::path& cert_file, const std::filesystem::path& key_file,
      const std::filesystem::path& chain_file = {});

  struct Issued {
    std::string chain_pem;  // the new certificate, then the CA file's intermediates
    CertificateInfo info;
  };
  // Signs a station's PEM CSR as its ChargingStationCertificate (TLS client certificate), valid
  // for `days`. The CSR must carry a valid self-signature, an RSA key of at least 2048 bits or
  // an EC key of at least 224 bits, and `identity_field` equal to `station_id`. The subject is
  // taken from the CSR; the requested extensions are not: the certificate gets CA:FALSE,
  // digitalSignature/keyAgreement/keyEncipherment as the key allows, and clientAuth.
  // Throws CsrRejected.
  Issued sign_station_csr(std::string_view csr_pem, const std::string& station_id,
                          const std::string& identity_field, int days) const;

  // Signs a station's PEM CSR as its SECC (V2G) certificate: valid self-signature, the key
  // `rules.profile` requires, CN and O as `rules` say. The certificate gets CA:FALSE,
  // digitalSignature (and keyAgreement for ECDH-capable keys) and the OCSP responder.
  // Throws CsrRejected.
  Issued sign_v2g_csr(std::string_view csr_pem, const V2gCsrRules& rules) const;

  X509* certificate() const { return certificate_.get(); }
  const CertificateInfo& info() const { return info_; }

 private:
  CertificateAuthority() = default;
  Certificate certificate_;
  PrivateKey key_;
  std::vector<Certificate> intermediates_;
  CertificateInfo info_;
};

// The files of the development PKI in `dir` (created with a fresh CA and server certificate
// when any is missing): ca.pem/ca.key, a P-256 root valid for 10 years, and
// server.pem/server.key, a P-256 server certificate it signed (CN and SAN: this host's name,
// localhost, 127.0.0.1, ::1) valid for 2 years. Keys are written mode 0600.
struct DevelopmentPki {
  std::filesystem::path ca_cert, ca_key, server_cert, server_key;
  bool created = false;
};
DevelopmentPki ensure_development_pki(const std::filesystem::path& dir);

}  // namespace chargegrid::server::security
