#include "store/station_reports.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::station_reports {

void keep_notification(Tx& tx, const std::string& station_id, const std::string& kind,
                       const std::optional<std::string>& status, std::optional<int> request_id,
                       const std::string& payload_json) {
  tx.exec_params(
      "INSERT INTO station_notifications (station_id, kind, status, request_id, payload) "
      "VALUES ($1, $2, $3, $4, $5::jsonb)",
      station_id, kind, status, request_id, payload_json);
}

void record_security_event(Tx& tx, const SecurityEvent& e) {
  tx.exec_params(
      "INSERT INTO security_events (station_id, event_type, occurred_at, tech_info, source, "
      "remote_address) VALUES ($1, $2, COALESCE($3::timestamptz, now()), $4, $5, $6)",
      e.station_id, e.type, e.occurred_at, e.tech_info, e.source, e.remote_address);
}

void record_certificate(Tx& tx, const IssuedCertificate& c) {
  tx.exec_params(
      "INSERT INTO station_certificates (serial, station_id, subject, fingerprint, "
      "not_before, not_after, certificate) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      c.serial, c.station_id, c.subject, c.fingerprint, c.not_before, c.not_after, c.chain_pem);
}

}  // namespace chargegrid::server::store::station_reports
