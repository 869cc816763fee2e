#pragma once
// The SECC (V2G) certificates issued to stations (table v2g_certificates): recorded when
// signed, and found again when one nears its expiry.

#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::certificates {

struct V2gCertificate {
  std::string serial;  // hexadecimal
  std::string station_id;
  std::string certificate_type;  // V2GCertificate or V2G20Certificate
  std::string subject, fingerprint;
  std::string not_before, not_after;  // RFC 3339
  std::string chain_pem;
};
void record_v2g(Tx& tx, const V2gCertificate& certificate);

// A station whose newest certificate of a type expires within the renewal window and has not
// been asked for a successor in the last day.
struct RenewalDue {
  std::string station_id;
  std::string certificate_type;
  std::string serial;
};
std::vector<RenewalDue> renewals_due(Tx& tx, int renew_days, int limit);
void mark_renewal_requested(Tx& tx, const std::string& serial);

}  // namespace chargegrid::server::store::certificates
