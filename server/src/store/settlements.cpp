#include "store/settlements.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::settlements {
namespace {

template <class T>
std::optional<T> optional_of(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<T>();
}

constexpr const char* kUtc = R"('YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')";

}  // namespace

std::optional<SessionFacts> session(Tx& tx, std::int64_t session_id) {
  const std::string utc = kUtc;
  auto rows = tx.exec_params(
      "SELECT t.id, t.state, t.station_id, t.transaction_uid, coalesce(t.evse_id, 0), "
      "t.connector_id, coalesce(t.id_token, ''), "
      "to_char(coalesce(t.started_at, t.created_at) AT TIME ZONE 'UTC', " +
          utc +
          "), "
          "to_char(coalesce(t.ended_at, t.updated_at) AT TIME ZONE 'UTC', " +
          utc +
          "), "
          "t.meter_start_wh, t.meter_stop_wh, s.id, s.latitude, s.longitude, s.altitude_m, "
          "coalesce(s.time_zone, 'UTC'), "
          "(extract(epoch FROM (coalesce(t.started_at, t.created_at) AT TIME ZONE "
          "  coalesce(s.time_zone, 'UTC')) - (coalesce(t.started_at, t.created_at) AT TIME ZONE "
          "  'UTC')) / 60)::int "
          "FROM transactions t JOIN stations st ON st.id = t.station_id "
          "LEFT JOIN sites s ON s.id = st.site_id WHERE t.id = $1",
      session_id);
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  SessionFacts f;
  f.id = r[0].as<std::int64_t>();
  f.state = r[1].as<std::string>();
  f.station_id = r[2].as<std::string>();
  f.transaction_uid = r[3].as<std::string>();
  f.evse_id = r[4].as<int>();
  f.connector_id = optional_of<int>(r[5]);
  f.id_token = r[6].as<std::string>();
  f.started_at = r[7].as<std::string>();
  f.ended_at = r[8].as<std::string>();
  f.meter_start_wh = optional_of<std::int64_t>(r[9]);
  f.meter_stop_wh = optional_of<std::int64_t>(r[10]);
  f.site_id = optional_of<std::int64_t>(r[11]);
  f.latitude = optional_of<double>(r[12]);
  f.longitude = optional_of<double>(r[13]);
  f.altitude_m = optional_of<double>(r[14]);
  f.time_zone = r[15].as<std::string>();
  f.utc_offset_minutes = r[16].as<int>();
  return f;
}

Registers registers(Tx& tx, const SessionFacts& session) {
  Registers out;
  for (const auto& r : tx.exec_params(
           "SELECT to_char(sampled_at AT TIME ZONE 'UTC', " + std::string(kUtc) +
               "), measurand, value FROM meter_values "
               "WHERE transaction_id = $1 AND station_id = $2 AND phase = '' "
               "AND measurand IN ('Energy.Active.Import.Register', "
               "'Energy.Active.Export.Register') AND value IS NOT NULL ORDER BY sampled_at",
           session.id, session.station_id)) {
    Reading reading{r[0].as<std::string>(), r[2].as<double>()};
    if (r[1].as<std::string>() == "Energy.Active.Import.Register")
      out.import.push_back(std::move(reading));
    else
      out.export_.push_back(std::move(reading));
  }
  return out;
}

std::vector<SignedRow> signed_samples(Tx& tx, const SessionFacts& session) {
  std::vector<SignedRow> out;
  for (const auto& r : tx.exec_params(
           "SELECT to_char(sampled_at AT TIME ZONE 'UTC', " + std::string(kUtc) +
               "), signed_data FROM meter_values "
               "WHERE transaction_id = $1 AND station_id = $2 AND signed_data IS NOT NULL "
               "ORDER BY sampled_at, measurand, phase, location, context",
           session.id, session.station_id))
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>()});
  return out;
}

bool final_exists(Tx& tx, std::int64_t session_id) {
  return !tx.exec_params("SELECT 1 FROM settlements WHERE session_id = $1 AND kind = 'final'",
                         session_id)
              .empty();
}

std::int64_t imported_wh(Tx& tx, std::int64_t session_id) {
  return tx
      .exec_params1(
          "SELECT coalesce(sum(energy_imported_wh), 0)::bigint FROM settlements "
          "WHERE session_id = $1",
          session_id)[0]
      .as<std::int64_t>();
}

std::optional<LastInterim> last_interim(Tx& tx, std::int64_t session_id) {
  auto rows = tx.exec_params(
      "SELECT id, interim_number, record, export_stop_wh FROM settlements "
      "WHERE session_id = $1 AND kind = 'interim' ORDER BY interim_number DESC LIMIT 1",
      session_id);
  if (rows.empty()) return std::nullopt;
  return LastInterim{rows[0][0].as<std::string>(), rows[0][1].as<int>(),
                     rows[0][2].as<std::string>(), optional_of<std::int64_t>(rows[0][3])};
}

std::vector<std::int64_t> claim_open_days(Tx& tx, std::chrono::milliseconds day, int limit) {
  std::vector<std::int64_t> out;
  for (const auto& r : tx.exec_params(
           R"(SELECT t.id FROM transactions t
              CROSS JOIN LATERAL (
                SELECT coalesce((SELECT max(s.ended_at) FROM settlements s
                                 WHERE s.session_id = t.id AND s.kind = 'interim'),
                                coalesce(t.started_at, t.created_at))
                       + make_interval(secs => $1::double precision / 1000) AS day_end) d
              WHERE t.state = 'active' AND d.day_end <= now()
                AND EXISTS (SELECT 1 FROM meter_values m
                            WHERE m.transaction_id = t.id AND m.station_id = t.station_id
                              AND m.phase = '' AND m.value IS NOT NULL
                              AND m.measurand = 'Energy.Active.Import.Register'
                              AND m.sampled_at >= d.day_end)
              ORDER BY t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED)",
           static_cast<std::int64_t>(day.count()), limit))
    out.push_back(r[0].as<std::int64_t>());
  return out;
}

void insert(Tx& tx, const Settlement& s) {
  tx.exec_params(
      R"(INSERT INTO settlements (id, session_id, station_id, site_id, status, reason, log_index,
                                  record, currency, total_minor, energy_imported_wh,
                                  energy_exported_wh, started_at, ended_at, kind,
                                  interim_number, previous_settlement_id, export_stop_wh)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18))",
      s.id, s.session_id, s.station_id, s.site_id, s.status, s.reason,
      static_cast<std::int64_t>(s.log_index), s.record, s.currency, s.total_minor,
      s.energy_imported_wh, s.energy_exported_wh, s.started_at, s.ended_at, s.kind,
      s.interim_number, s.previous_settlement_id, s.export_stop_wh);
}

}  // namespace chargegrid::server::store::settlements
