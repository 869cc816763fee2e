#include "store/connectors.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::connectors {

void record_status(Tx& tx, const StatusChange& r) {
  tx.exec_params(
      R"(INSERT INTO status_history (station_id, evse_id, connector_id, status, error_code,
                                     info, reported_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7))",
      r.station_id, r.evse_id, r.connector_id, r.status, r.error_code, r.info, r.reported_at);
  tx.exec_params(
      R"(INSERT INTO connector_status (station_id, evse_id, connector_id, status, error_code,
                                       info, vendor_error, reported_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (station_id, evse_id, connector_id) DO UPDATE SET
           status = excluded.status, error_code = excluded.error_code, info = excluded.info,
           vendor_error = excluded.vendor_error, reported_at = excluded.reported_at,
           received_at = now()
         WHERE connector_status.reported_at <= excluded.reported_at)",
      r.station_id, r.evse_id, r.connector_id, r.status, r.error_code, r.info, r.vendor_error,
      r.reported_at);
}

}  // namespace chargegrid::server::store::connectors
