// The pki target: what Plug & Charge reads from stations and OCSP responders. The first byte
// picks the path, the rest is the input:
//   0  a V2G CSR (PEM) through CertificateAuthority::sign_v2g_csr (ISO 15118-2 rules)
//   1  the same through the ISO 15118-20 rules
//   2  an OCSP response (DER) through read_response and verify_response
//   3  a contract chain (PEM) through check_contract_chain
//   4  OCSPRequestData fields (lines: algorithm, name hash, key hash, serial) into an OcspQuery
// Properties: only the documented exceptions leave; a response is never believed without a
// trust anchor; a chain never verifies against an empty store.

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "plug_and_charge/contract.hpp"
#include "plug_and_charge/ocsp.hpp"
#include "security/pki.hpp"
#include "targets.hpp"

namespace chargegrid::fuzz {

namespace {

namespace pnc = server::plug_and_charge;
namespace security = server::security;

// A development CA made once, in a folder of its own.
const security::CertificateAuthority& ca() {
  static const auto authority = [] {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("chargegrid-fuzz-pki-" + std::to_string(::getpid()));
    const auto pki = security::ensure_development_pki(dir);
    auto loaded = security::CertificateAuthority::load(pki.ca_cert, pki.ca_key);
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    return loaded;
  }();
  return *authority;
}

// A request for a certificate nobody issued; nothing may vouch for it without roots.
const pnc::OcspQuery& query() {
  static const pnc::OcspQuery q(
      {"SHA256", std::string(64, 'A'), std::string(64, 'B'), "1BA861FD16606374", ""}, true);
  return q;
}

void csr(const std::string& input, security::V2gProfile profile) {
  security::V2gCsrRules rules;
  rules.profile = profile;
  rules.secc_id = "FUZZ-SECC";
  rules.organisation = "ChargeGrid fuzz";
  try {
    const auto issued = ca().sign_v2g_csr(input, rules);
    // Whatever got through carries the subject the rules demand.
    require(issued.info.subject.find("CN=FUZZ-SECC") != std::string::npos,
            "a V2G certificate was issued for another CN");
  } catch (const security::CsrRejected&) {
  }
}

void ocsp_response(const std::string& input) {
  try {
    pnc::read_response(input);
  } catch (const pnc::OcspInvalid& e) {
    require(e.kind == pnc::OcspInvalid::Kind::kMalformed, "read_response's only failure");
  }
  pnc::TrustStore empty(X509_STORE_new());
  try {
    pnc::verify_response(input, query(), empty.get(), nullptr);
    require(false, "an OCSP response was believed without a trust anchor");
  } catch (const pnc::OcspInvalid&) {
  }
}

void contract_chain(const std::string& input) {
  pnc::TrustStore empty(X509_STORE_new());
  const auto check = pnc::check_contract_chain(input, "DEPNC0000000001", empty.get());
  require(check.status != pnc::CertificateStatus::kAccepted,
          "a contract chain verified against no roots");
  require(check.chain.empty() && check.ocsp.empty(), "a refused chain left certificates");
}

void request_data(const std::string& input) {
  std::istringstream lines(input);
  pnc::OcspRequestData data;
  std::getline(lines, data.hash_algorithm);
  std::getline(lines, data.issuer_name_hash);
  std::getline(lines, data.issuer_key_hash);
  std::getline(lines, data.serial_number);
  try {
    const pnc::OcspQuery q(data, false);
    require(!q.der().empty(), "an OCSP request without bytes");
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace

int pki(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0:
      csr(input, security::V2gProfile::kIso15118_2);
      break;
    case 1:
      csr(input, security::V2gProfile::kIso15118_20);
      break;
    case 2:
      ocsp_response(input);
      break;
    case 3:
      contract_chain(input);
      break;
    default:
      request_data(input);
      break;
  }
  return 0;
}

}  // namespace chargegrid::fuzz
