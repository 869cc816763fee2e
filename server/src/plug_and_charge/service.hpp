#pragma once
// ISO 15118 Plug & Charge as the CSMS takes part in it: contract certificates checked against
// the MO roots and their OCSP responders (Authorize), OCSP answers fetched and cached for
// stations (GetCertificateStatus), SECC certificates signed with CPO sub-CA 2 (SignCertificate
// V2GCertificate) and EV certificate requests passed to the provisioning service
// (Get15118EVCertificate). Network calls run on the service's own threads; the coroutines
// resume on their callers' executors. One per Server; thread-safe.

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/server/config.hpp"
#include "plug_and_charge/contract.hpp"
#include "plug_and_charge/ocsp.hpp"
#include "plug_and_charge/provisioning.hpp"
#include "security/pki.hpp"

namespace chargegrid::server::plug_and_charge {

struct ContractAnswer {
  CertificateStatus status = CertificateStatus::kCertChainError;
  std::string reason;  // for the log when not accepted, or when accepted failing open
};

struct CertificateStatusAnswer {
  bool accepted = false;
  std::string ocsp_result;  // base64 DER OCSPResponse
  std::string failure;
  bool from_cache = false;
};

// Posts a DER OCSP request; returns the HTTP status and body. Throws std::runtime_error when
// the responder cannot be reached in time. Replaceable for tests of the service alone.
using OcspTransport =
    std::function<std::pair<int, std::string>(const std::string& url, const std::string& der)>;

class PlugAndCharge {
 public:
  // Loads the configured MO roots and CPO sub-CAs; throws std::runtime_error naming the file
  // at fault. Nothing configured is valid: contracts are then refused as CertChainError and
  // V2G CSRs rejected.
  explicit PlugAndCharge(const Config& config);
  ~PlugAndCharge();
  PlugAndCharge(const PlugAndCharge&) = delete;
  PlugAndCharge& operator=(const PlugAndCharge&) = delete;

  // The contract of `emaid`, shown by its PEM chain or by OCSP request data for its
  // certificates (at least one of them).
  boost::asio::awaitable<ContractAnswer> check_contract(std::string emaid,
                                                        std::optional<std::string> chain_pem,
                                                        std::vector<OcspRequestData> hash_data);

  // The responder's answer for one certificate, from the cache while it is current.
  boost::asio::awaitable<CertificateStatusAnswer> certificate_status(OcspRequestData data);

  boost::asio::awaitable<EvCertificateAnswer> ev_certificate(EvCertificateRequest request);

  // CPO sub-CA 2 (with sub-CA 1 sent after issued certificates); nullptr when not configured.
  std::shared_ptr<const security::CertificateAuthority> v2g_ca() const;

  void set_ocsp_transport(OcspTransport transport);
  void set_provisioning_service(std::unique_ptr<ProvisioningService> service);

  // Stops the worker threads (before the I/O threads go).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chargegrid::server::plug_and_charge
