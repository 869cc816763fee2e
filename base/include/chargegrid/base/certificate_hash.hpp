// X.509 certificates as OCPP names them: CertificateHashData (the OCSP CertID fields: hashes of
// the issuer's name and public key, and the serial number), so that the server, which asks a
// station to list or delete a certificate, and the simulated station, which keeps its trust
// anchors, compute the same identity. OpenSSL underneath.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chargegrid::base {

// Text that is not a PEM X.509 certificate (what() says what is wrong).
class NotACertificate : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// OCPP CertificateHashDataType with SHA256: lower-case hex of SHA-256 over the issuer's
// DER-encoded name and over its public key's bits; the serial number in lower-case hex without
// leading zeros.
struct CertificateHashData {
  std::string hash_algorithm = "SHA256";
  std::string issuer_name_hash;
  std::string issuer_key_hash;
  std::string serial_number;
  bool operator==(const CertificateHashData&) const = default;
};

// What a certificate is, read from its PEM.
struct CertificateFacts {
  CertificateHashData hash;  // computed with the certificate's own key as the issuer's
  std::string subject;       // one line, RFC 2253
  std::string issuer;
  bool self_signed = false;  // issued by itself and its signature verifies with its own key
  bool ca = false;           // basicConstraints CA:TRUE
  std::string not_after;     // RFC 3339, UTC
  std::vector<std::string> ocsp_responders;  // Authority Information Access, OCSP
};

// Every certificate of a PEM text, each as its own PEM block, in order. Throws NotACertificate
// when there is none or a block does not parse.
std::vector<std::string> split_certificate_chain(std::string_view pem);

// The first certificate of `pem`; throws NotACertificate.
CertificateFacts describe_certificate(std::string_view pem);

// The hash data of the first certificate of `certificate_pem`, issued by the first certificate
// of `issuer_pem` (empty: by itself, for a root). Throws NotACertificate.
CertificateHashData certificate_hash_data(std::string_view certificate_pem,
                                          std::string_view issuer_pem = {});

}  // namespace chargegrid::base
