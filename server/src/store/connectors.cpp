#include "store/connectors.hpp"

#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

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

void record_statuses(Tx& tx, std::span<const StatusChange> changes) {
  if (changes.empty()) return;
  if (changes.size() == 1) {
    record_status(tx, changes.front());
    return;
  }
  ArrayLiteral station, evse, connector, status, error_code, info, vendor_error, reported_at;
  for (const auto& c : changes) {
    station.add(c.station_id);
    evse.add_int(c.evse_id);
    connector.add_int(c.connector_id);
    status.add(c.status);
    error_code.add_or_null(c.error_code);
    info.add_or_null(c.info);
    vendor_error.add_or_null(c.vendor_error);
    reported_at.add(c.reported_at);
  }
  // One connector's changes, applied one by one with record_status's rule (a report replaces
  // the state unless that is newer), leave the last of those with the latest time: that one
  // is the batch's candidate (ON CONFLICT may touch a row only once per statement).
  tx.exec_params(
      R"(WITH input AS (
           SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[],
                                $6::text[], $7::text[], $8::timestamptz[])
             WITH ORDINALITY AS t(station_id, evse_id, connector_id, status, error_code, info,
                                  vendor_error, reported_at, ord)),
         history AS (
           INSERT INTO status_history (station_id, evse_id, connector_id, status, error_code,
                                       info, reported_at)
           SELECT station_id, evse_id, connector_id, status, error_code, info, reported_at
             FROM input ORDER BY ord)
         INSERT INTO connector_status (station_id, evse_id, connector_id, status, error_code,
                                       info, vendor_error, reported_at)
         SELECT DISTINCT ON (station_id, evse_id, connector_id)
                station_id, evse_id, connector_id, status, error_code, info, vendor_error,
                reported_at
           FROM input
          ORDER BY station_id, evse_id, connector_id, reported_at DESC, ord DESC
         ON CONFLICT (station_id, evse_id, connector_id) DO UPDATE SET
           status = excluded.status, error_code = excluded.error_code, info = excluded.info,
           vendor_error = excluded.vendor_error, reported_at = excluded.reported_at,
           received_at = now()
         WHERE connector_status.reported_at <= excluded.reported_at)",
      station.str(), evse.str(), connector.str(), status.str(), error_code.str(), info.str(),
      vendor_error.str(), reported_at.str());
}

}  // namespace chargegrid::server::store::connectors
