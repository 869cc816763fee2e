#pragma once
// The root certificates a simulated station trusts, as the CSMS installs, lists and removes
// them: OCPP 1.6 security extension (CentralSystemRootCertificate, ManufacturerRootCertificate),
// the 1.6 Plug & Charge application note's DataTransfer (vendorId
// org.openchargealliance.iso15118pnc: V2G and MO roots, in 2.0.1's message forms), and 2.0.1 /
// 2.1 InstallCertificate, GetInstalledCertificateIds and DeleteCertificate. In memory; a
// station keeps them across reconnects.

#include <string>
#include <vector>

#include "chargegrid/base/certificate_hash.hpp"
#include "chargegrid/sim/messages.hpp"

namespace chargegrid::sim::detail {

class ActionTable;
class StationModel;

// The DataTransfer vendorId of the Plug & Charge application note for OCPP 1.6.
inline constexpr const char* kPncVendorId = "org.openchargealliance.iso15118pnc";

struct InstalledCertificate {
  std::string type;  // as the message that installed it named it
  std::string pem;
  base::CertificateHashData hash;
};

class TrustAnchorStore {
 public:
  // "Accepted", or "Rejected" for text that is not a certificate. A certificate installed
  // again replaces the one it was (same hash data).
  std::string install(const std::string& type, const std::string& pem);
  // Installed certificates of the given types (all when empty).
  std::vector<InstalledCertificate> list(const std::vector<std::string>& types) const;
  // Whether a certificate with this hash data was there (and is now gone).
  bool remove(const base::CertificateHashData& hash);
  std::size_t size() const { return installed_.size(); }

 private:
  std::vector<InstalledCertificate> installed_;
};

// Adds InstallCertificate, GetInstalledCertificateIds and DeleteCertificate for every version.
void add_trust_anchor_actions(ActionTable& table);

// A 1.6 DataTransfer of the Plug & Charge application note (vendorId kPncVendorId): the
// DataTransfer answer, whose data is the 2.0.1 response as a JSON string.
Json pnc_data_transfer(StationModel& station, const Json& payload);

}  // namespace chargegrid::sim::detail
