#include "store/certificates.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::certificates {

void record_v2g(Tx& tx, const V2gCertificate& c) {
  tx.exec_params(
      "INSERT INTO v2g_certificates (serial, station_id, certificate_type, subject, "
      "fingerprint, not_before, not_after, certificate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      c.serial, c.station_id, c.certificate_type, c.subject, c.fingerprint, c.not_before,
      c.not_after, c.chain_pem);
}

std::vector<RenewalDue> renewals_due(Tx& tx, int renew_days, int limit) {
  const auto rows = tx.exec_params(
      "SELECT station_id, certificate_type, serial FROM ("
      "  SELECT DISTINCT ON (station_id, certificate_type) station_id, certificate_type, serial, "
      "         not_after, renewal_requested_at "
      "  FROM v2g_certificates ORDER BY station_id, certificate_type, not_after DESC) newest "
      "WHERE not_after < now() + make_interval(days => $1) "
      "  AND (renewal_requested_at IS NULL OR renewal_requested_at < now() - interval '1 day') "
      "ORDER BY not_after LIMIT $2",
      renew_days, limit);
  std::vector<RenewalDue> due;
  due.reserve(rows.size());
  for (const auto& row : rows)
    due.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()});
  return due;
}

void mark_renewal_requested(Tx& tx, const std::string& serial) {
  tx.exec_params("UPDATE v2g_certificates SET renewal_requested_at = now() WHERE serial = $1",
                 serial);
}

}  // namespace chargegrid::server::store::certificates
