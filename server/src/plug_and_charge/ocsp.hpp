#pragma once
// OCSP (RFC 6960) for Plug & Charge: requests built from OCPP's OCSPRequestData or from a
// certificate and its issuer, and the checks a response must pass before the CSMS believes it
// (the responder's signature and authority, the nonce, thisUpdate/nextUpdate). No network:
// the service posts the request.

#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "chargegrid/base/openssl_ptr.hpp"

namespace chargegrid::server::plug_and_charge {

// OCPP's OCSPRequestDataType: one certificate as its responder knows it (hashes and serial
// in hexadecimal).
struct OcspRequestData {
  std::string hash_algorithm;  // SHA256, SHA384, SHA512
  std::string issuer_name_hash;
  std::string issuer_key_hash;
  std::string serial_number;
  std::string responder_url;
};

// The request data for `certificate` issued by `issuer` (SHA-256); the responder URL is the
// certificate's first OCSP access location (empty when it names none).
OcspRequestData request_data_of(X509* certificate, X509* issuer);

// A response the CSMS cannot use; `kind` says which check failed.
class OcspInvalid : public std::runtime_error {
 public:
  enum class Kind { kMalformed, kSignature, kStale, kMismatch };
  OcspInvalid(Kind what_failed, const std::string& what)
      : std::runtime_error(what), kind(what_failed) {}
  Kind kind;
};

using OcspCertId = base::OpenSslPtr<OCSP_CERTID, OCSP_CERTID_free>;
using OcspRequest = base::OpenSslPtr<OCSP_REQUEST, OCSP_REQUEST_free>;

// One certificate's OCSP request, DER-encoded for an HTTP POST.
class OcspQuery {
 public:
  // Throws std::invalid_argument for an unknown hash algorithm, hashes of the wrong length,
  // or a serial number that is not hexadecimal.
  OcspQuery(const OcspRequestData& data, bool with_nonce);

  const std::string& der() const { return der_; }
  const std::string& responder_url() const { return responder_url_; }
  // The same certificate at the same responder has the same key (the cache's).
  const std::string& key() const { return key_; }
  OCSP_CERTID* cert_id() const { return id_.get(); }
  OCSP_REQUEST* request() const { return request_.get(); }

 private:
  OcspCertId id_;
  OcspRequest request_;
  std::string der_, responder_url_, key_;
};

enum class OcspCertStatus { kGood, kRevoked, kUnknown };

struct OcspVerdict {
  OcspCertStatus status = OcspCertStatus::kUnknown;
  int revocation_reason = -1;  // OCSP_REVOKED_STATUS_*, -1 when none was given
  std::chrono::system_clock::time_point this_update;
  std::optional<std::chrono::system_clock::time_point> next_update;
};

// What a DER response says about `query`'s certificate, after checking that it is a
// successful basic response, signed by the certificate's issuer or a responder the issuer
// delegated to (chained to `trust`; `extra` may help build that chain), that it answers this
// certificate, that an echoed nonce matches, and that it is current (5 minutes of clock skew).
// Throws OcspInvalid.
OcspVerdict verify_response(std::string_view der, const OcspQuery& query, X509_STORE* trust,
                            STACK_OF(X509) * extra);

// The facts of a response without verifying who signed it: its response status and the
// nextUpdate of its single responses (the earliest), for caching a response the station will
// verify itself. Throws OcspInvalid (kMalformed) when it is not a DER OCSP response.
struct OcspFacts {
  int response_status = -1;  // OCSP_RESPONSE_STATUS_*
  std::optional<std::chrono::system_clock::time_point> next_update;
};
OcspFacts read_response(std::string_view der);

}  // namespace chargegrid::server::plug_and_charge
