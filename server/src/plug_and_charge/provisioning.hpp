#pragma once
// The contract-certificate provisioning service (CPS) behind Get15118EVCertificate: the EV's
// EXI request goes out as it came (base64) and the EXI answer comes back for the station.
// One small interface; the HTTP adapter speaks to a configured endpoint.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace chargegrid::server::plug_and_charge {

struct EvCertificateRequest {
  std::string schema_version;  // iso15118SchemaVersion, e.g. urn:iso:15118:2:2013:MsgDef
  std::string action;          // Install or Update
  std::string exi_request;     // base64, as the station sent it
};

struct EvCertificateAnswer {
  bool accepted = false;
  std::string exi_response;  // base64
  std::optional<int> remaining_contracts;
  std::string failure;  // why not, for the log and statusInfo
};

class ProvisioningService {
 public:
  virtual ~ProvisioningService() = default;
  // Blocking; called off the I/O threads. Never throws: a failure is an answer.
  virtual EvCertificateAnswer get_ev_certificate(const EvCertificateRequest& request) = 0;
};

// POSTs {"iso15118SchemaVersion", "action", "exiRequest"} as JSON to `url` (with
// `credentials`, when set, as the Authorization header) and expects 200 with
// {"exiResponse", optional "remainingContracts"} (or {"status": "Failed"}). Anything else, a
// timeout or a connection error is a failure.
std::unique_ptr<ProvisioningService> http_provisioning_service(std::string url,
                                                               std::string credentials,
                                                               std::chrono::milliseconds timeout);

}  // namespace chargegrid::server::plug_and_charge
