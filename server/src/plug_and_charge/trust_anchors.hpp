#pragma once
// Trust anchors on stations: the root certificates (V2G, MO, CSMS, manufacturer and, on 2.1,
// OEM roots) the REST API installs, lists and removes through the command router's
// install-certificate, get-installed-certificate-ids and delete-certificate rows, and the
// rollout of one root to every station of a site with each station's outcome kept
// (store/certificate_rollouts). docs/iso15118.md.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chargegrid/base/certificate_hash.hpp"

namespace chargegrid::server {
class Database;
namespace commands {
class CommandRouter;
struct Origin;
}  // namespace commands
namespace store::certificate_rollouts {
struct Orphan;
}
}  // namespace chargegrid::server

namespace chargegrid::server::plug_and_charge {

// The certificate types of trust anchors, as OCPP 2.x names them.
const std::vector<std::string>& trust_anchor_types();

// A root certificate the server asks a station to install: one PEM certificate, a CA.
struct RootCertificate {
  std::string type;
  std::string pem;
  base::CertificateFacts facts;
};
// Throws InvalidRoot with what is wrong (not PEM, not a certificate, more than one, not a CA,
// an unknown type).
RootCertificate read_root(const std::string& type, const std::string& pem);
class InvalidRoot : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// An installed certificate as a station names it, and its id in the REST API:
// "<type>.<hashAlgorithm>.<issuerNameHash>.<issuerKeyHash>.<serialNumber>".
struct InstalledCertificate {
  std::string type;
  base::CertificateHashData hash;
};
std::string certificate_id(const InstalledCertificate& certificate);
std::optional<InstalledCertificate> parse_certificate_id(std::string_view id);
// {"id", "certificate_type", "hash_data": {hash_algorithm, issuer_name_hash, issuer_key_hash,
// serial_number}}
nlohmann::json to_json(const InstalledCertificate& certificate);
nlohmann::json hash_json(const base::CertificateHashData& hash);

// A station's answer to one of the three calls, with the 1.6 Plug & Charge DataTransfer
// unwrapped: the status ("Accepted", "Rejected", "NotFound", ...; for a DataTransfer the
// station refused, its own status such as "UnknownVendorId") and the 2.x-form payload.
struct StationAnswer {
  std::string status;
  nlohmann::json payload;
  bool pnc_unsupported = false;  // a 1.6 station without the Plug & Charge DataTransfer
};
// Throws std::runtime_error when a DataTransfer's data is not the JSON it should be.
StationAnswer unwrap(const std::string& ocpp_action, const nlohmann::json& response);

// The certificates of a GetInstalledCertificateIds answer (2.x certificateHashDataChain, or
// 1.6 certificateHashData for `requested_type`).
std::vector<InstalledCertificate> installed_in(const nlohmann::json& payload,
                                               const std::string& requested_type);

// The calls a listing of `types` (all when empty) takes for a station of `protocol`
// ("ocpp1.6", ...): each a value for get-installed-certificate-ids' "certificate_types".
std::vector<std::vector<std::string>> listing_calls(const std::string& protocol,
                                                    const std::vector<std::string>& types);

// The process sending a rollout's installs: the node's id and incarnation (cluster_nodes; also
// outside cluster mode, where no node is live).
struct RolloutRunner {
  std::string node;
  std::int64_t incarnation = 0;
};

// Starts installing `root` on every station of `site_id`: a rollout whose stations all wait,
// run by `runner`, then each station's outcome as it comes (offline stations at once).
// Returns the rollout's id once it is stored; the calls go on in the background.
boost::asio::awaitable<std::int64_t> start_rollout(
    Database& database, commands::CommandRouter& router, std::int64_t site_id,
    const RootCertificate& root, const commands::Origin& origin, const RolloutRunner& runner);

// Sends the pending stations of a rollout taken over from a runner that stopped
// (RolloutRecovery) the install again, in the background on `executor`; their outcomes are
// stored as a rollout's are. A station that got the first install answers the second alike:
// installing a root it holds changes nothing.
void resend_rollout(const boost::asio::any_io_executor& executor, Database& database,
                    commands::CommandRouter& router,
                    const store::certificate_rollouts::Orphan& rollout);

}  // namespace chargegrid::server::plug_and_charge
