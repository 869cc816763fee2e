#pragma once
// Contract certificates (ISO 15118 Plug & Charge): the chain an EV presents is checked
// against the configured mobility-operator (MO) roots, and each certificate in it that names
// an OCSP responder is then asked about.

#include <openssl/x509.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plug_and_charge/ocsp.hpp"
#include "security/pki.hpp"

namespace chargegrid::server::plug_and_charge {

// OCPP's AuthorizeCertificateStatusEnumType.
enum class CertificateStatus {
  kAccepted,
  kSignatureError,
  kCertificateExpired,
  kCertificateRevoked,
  kNoCertificateAvailable,
  kCertChainError,
  kContractCancelled,
};
const char* to_string(CertificateStatus status);

using TrustStore = base::OpenSslPtr<X509_STORE, X509_STORE_free>;

// Every *.pem in `dir` (each may hold several certificates) as a trust store; the count of
// certificates read is returned through `count`. Throws security::PkiError when the folder
// cannot be read or holds a file without a certificate.
TrustStore load_trust_folder(const std::filesystem::path& dir, std::size_t* count = nullptr);
// The certificates of one PEM file as a trust store. Throws security::PkiError.
TrustStore load_trust_file(const std::filesystem::path& file);

// An eMAID as compared: without the optional hyphens and in upper case ("DE-8AA-123" and
// "de8aa123" are the same contract).
std::string normalise_emaid(std::string_view emaid);

struct ChainCheck {
  CertificateStatus status = CertificateStatus::kCertChainError;
  std::string reason;  // for the log, when not accepted
  // Leaf first, up to the trusted root, when the chain verified.
  std::vector<security::Certificate> chain;
  // OCSP requests for the chain's certificates that name a responder (not the root's).
  std::vector<OcspRequestData> ocsp;
};

// Checks a PEM chain (leaf first, then sub-CAs) against `roots`: signatures, validity at
// now, basic constraints and path lengths, CA key usage, the leaf's digitalSignature, and
// that the leaf's CN is the eMAID of `emaid`.
ChainCheck check_contract_chain(std::string_view chain_pem, const std::string& emaid,
                                X509_STORE* roots);

// The status a revoked certificate gives: a contract the operator ended (cessation of
// operation, superseded, affiliation changed) is ContractCancelled, others are revoked.
CertificateStatus revoked_status(int ocsp_reason, bool leaf);

}  // namespace chargegrid::server::plug_and_charge
