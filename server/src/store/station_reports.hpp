#pragma once
// station_reports: the one writer of what stations report for operators and audits —
// notifications kept as sent (station_notifications), security events (security_events,
// from the station or from the CSMS itself) and the certificates issued to stations
// (station_certificates).

#include <optional>
#include <string>

#include "store/transaction.hpp"

namespace chargegrid::server::store::station_reports {

// A report kept as sent: firmware and log status, events, data transfer, charging needs...
void keep_notification(Tx& tx, const std::string& station_id, const std::string& kind,
                       const std::optional<std::string>& status, std::optional<int> request_id,
                       const std::string& payload_json);

struct SecurityEvent {
  std::string station_id;
  std::string type;
  std::optional<std::string> occurred_at;  // RFC 3339; none: now
  std::optional<std::string> tech_info;
  std::string source = "station";  // station, or csms for what the CSMS saw
  std::optional<std::string> remote_address;
};
void record_security_event(Tx& tx, const SecurityEvent& event);

struct IssuedCertificate {
  std::string serial;
  std::string station_id;
  std::string subject;
  std::string fingerprint;
  std::string not_before, not_after;  // RFC 3339
  std::string chain_pem;
};
void record_certificate(Tx& tx, const IssuedCertificate& certificate);

}  // namespace chargegrid::server::store::station_reports
