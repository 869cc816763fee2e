#include "store/sessions.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::sessions {

namespace {

std::optional<std::int64_t> optional_id(const pqxx::field& field) {
  return field.is_null() ? std::nullopt : std::optional<std::int64_t>(field.as<std::int64_t>());
}

}  // namespace

Started start_issued(Tx& tx, const IssuedStart& s) {
  auto rows = tx.exec_params(
      R"(INSERT INTO transactions (id, station_id, transaction_uid, protocol, evse_id,
                                   connector_id, id_token, driver_id, started_at,
                                   meter_start_wh, import_first_wh, import_last_wh, start_key)
         SELECT n, $1, n::text, 'ocpp1.6', $2, CASE WHEN $2 = 0 THEN 0 ELSE 1 END, $3, $4, $5,
                $6::bigint, $6::bigint, $6::bigint, $7
         FROM (SELECT nextval('transactions_id_seq')::int AS n) AS next
         ON CONFLICT (station_id, start_key) WHERE start_key IS NOT NULL
           DO UPDATE SET start_key = excluded.start_key  -- a resend: no change, same id
         RETURNING id, driver_id, xmax = 0)",
      s.station_id, s.connector_id, s.id_tag, s.driver_id, s.timestamp, s.meter_start_wh,
      s.start_key);
  return {rows[0][0].as<int>(), optional_id(rows[0][1]), rows[0][2].as<bool>()};
}

Stopped stop_issued(Tx& tx, const IssuedStop& s) {
  Stopped result;
  auto before = tx.exec_params(
      R"(SELECT state, evse_id, driver_id,
                ended_at = $3::timestamptz AND meter_stop_wh = $4::bigint,
                closed_by_server IS NOT NULL
         FROM transactions WHERE station_id = $1 AND id = $2 FOR UPDATE)",
      s.station_id, s.transaction_id, s.timestamp, s.meter_stop_wh);
  if (before.empty()) return result;
  result.evse_id = before[0][1].is_null() ? 0 : before[0][1].as<int>();
  result.driver_id = optional_id(before[0][2]);
  if (before[0][0].as<std::string>() == "ended") {
    if (before[0][4].as<bool>()) {
      result.found = StopFound::ClosedByServer;
      return result;
    }
    result.found = !before[0][3].is_null() && before[0][3].as<bool>()
                       ? StopFound::AlreadyEnded
                       : StopFound::AlreadyEndedOtherwise;
    return result;
  }
  tx.exec_params(
      R"(UPDATE transactions SET state = 'ended', ended_at = $2, meter_stop_wh = $3::bigint,
                import_first_wh = LEAST(import_first_wh, $4::float8),
                import_last_wh = GREATEST(import_last_wh, $3::bigint, $5::float8),
                export_first_wh = LEAST(export_first_wh, $6::float8),
                export_last_wh = GREATEST(export_last_wh, $7::float8),
                stop_reason = $8, updated_at = now()
         WHERE id = $1)",
      s.transaction_id, s.timestamp, s.meter_stop_wh, s.span.import_min, s.span.import_max,
      s.span.export_min, s.span.export_max, s.reason);
  result.found = StopFound::Ended;
  return result;
}

EventRecorded record_event(Tx& tx, const StationEvent& e) {
  EventRecorded result;
  auto inserted = tx.exec_params(
      R"(INSERT INTO transaction_events (station_id, transaction_uid, seq_no, event_type,
                                         trigger_reason, occurred_at, offline, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
         ON CONFLICT DO NOTHING)",
      e.station_id, e.transaction_id, e.seq_no, e.event_type, e.trigger_reason, e.timestamp,
      e.offline, e.payload);
  result.replay = inserted.affected_rows() == 0;
  const bool ended = e.event_type == "Ended";
  const auto& span = e.span;
  auto created = tx.exec_params(
      R"(INSERT INTO transactions (station_id, transaction_uid, protocol, evse_id,
                                   connector_id, id_token, driver_id, state, charging_state,
                                   started_at, ended_at, ended_seq_no, stop_reason,
                                   last_seq_no, import_first_wh, import_last_wh,
                                   export_first_wh, export_last_wh, meter_start_wh,
                                   meter_stop_wh)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8 THEN 'ended' ELSE 'active' END,
                 $9, $10, CASE WHEN $8 THEN $10::timestamptz END,
                 CASE WHEN $8 THEN $11::int END, $12, $11, $13::float8, $14::float8,
                 $15::float8, $16::float8,
                 round($13::float8)::bigint, CASE WHEN $8 THEN round($14::float8)::bigint END)
         ON CONFLICT (station_id, transaction_uid) DO NOTHING
         RETURNING id, driver_id)",
      e.station_id, e.transaction_id, e.protocol, e.evse_id, e.connector_id, e.id_token,
      e.driver_id, ended, e.charging_state, e.timestamp, e.seq_no, e.stopped_reason,
      span.import_min, span.import_max, span.export_min, span.export_max);
  if (!created.empty()) {
    result.id = created[0][0].as<int>();
    result.driver_id = optional_id(created[0][1]);
    result.ended = ended;
    return result;
  }
  auto before = tx.exec_params(
      R"(SELECT id, driver_id, state = 'ended', ended_seq_no, last_seq_no
         FROM transactions WHERE station_id = $1 AND transaction_uid = $2 FOR UPDATE)",
      e.station_id, e.transaction_id);
  result.id = before[0][0].as<int>();
  result.driver_id = optional_id(before[0][1]);
  if (result.replay) return result;
  const bool was_ended = before[0][2].as<bool>();
  // seqNo is never negative: -1 stands for "no Ended event recorded".
  const int ended_seq = before[0][3].is_null() ? -1 : before[0][3].as<int>();
  const bool newest = before[0][4].is_null() || e.seq_no >= before[0][4].as<int>();
  if (!was_ended) {
    auto changed = tx.exec_params(
        R"(UPDATE transactions t SET
             evse_id = COALESCE(evse_id, $2), connector_id = COALESCE(connector_id, $3),
             id_token = COALESCE(id_token, $4), driver_id = COALESCE(driver_id, $5),
             state = CASE WHEN $6 THEN 'ended' ELSE 'active' END,
             charging_state = CASE WHEN $7 THEN COALESCE($8, charging_state)
                                   ELSE charging_state END,
             started_at = CASE WHEN $9 = 'Started' THEN $10::timestamptz
                               ELSE LEAST(started_at, $10::timestamptz) END,
             ended_at = CASE WHEN $6 THEN $10::timestamptz END,
             ended_seq_no = CASE WHEN $6 THEN $11::int END,
             stop_reason = COALESCE(stop_reason, $12),
             last_seq_no = GREATEST(last_seq_no, $11),
             import_first_wh = LEAST(import_first_wh, $13::float8),
             import_last_wh = GREATEST(import_last_wh, $14::float8),
             export_first_wh = LEAST(export_first_wh, $15::float8),
             export_last_wh = GREATEST(export_last_wh, $16::float8),
             meter_start_wh = LEAST(meter_start_wh, round($13::float8)::bigint),
             meter_stop_wh = CASE WHEN $6 THEN round(GREATEST(import_last_wh, $14::float8))::bigint
                                  END,
             updated_at = now()
           WHERE id = $1
           RETURNING driver_id)",
        result.id, e.evse_id, e.connector_id, e.id_token, e.driver_id, ended, newest,
        e.charging_state, e.event_type, e.timestamp, e.seq_no, e.stopped_reason, span.import_min,
        span.import_max, span.export_min, span.export_max);
    result.driver_id = optional_id(changed[0][0]);
    result.ended = ended;
  } else if (!ended && e.seq_no < ended_seq) {
    // An event from before the end, delivered late: it completes how the session began
    // (its start, its first readings, who it was); how it ended stays as it is.
    tx.exec_params(
        R"(UPDATE transactions SET
             evse_id = COALESCE(evse_id, $2), connector_id = COALESCE(connector_id, $3),
             id_token = COALESCE(id_token, $4), driver_id = COALESCE(driver_id, $5),
             started_at = CASE WHEN $6 = 'Started' THEN $7::timestamptz
                               ELSE LEAST(started_at, $7::timestamptz) END,
             import_first_wh = LEAST(import_first_wh, $8::float8),
             export_first_wh = LEAST(export_first_wh, $9::float8),
             meter_start_wh = LEAST(meter_start_wh, round($8::float8)::bigint),
             last_seq_no = GREATEST(last_seq_no, $10),
             updated_at = now()
           WHERE id = $1)",
        result.id, e.evse_id, e.connector_id, e.id_token, e.driver_id, e.event_type, e.timestamp,
        span.import_min, span.export_min, e.seq_no);
  } else {
    // A second Ended, or an event numbered after the end: kept in transaction_events, but
    // the ended session does not change.
    result.after_end = true;
  }
  return result;
}

void assign_driver(Tx& tx, std::int64_t session_id, std::int64_t driver_id) {
  tx.exec_params("UPDATE transactions SET driver_id = $2, updated_at = now() WHERE id = $1",
                 session_id, driver_id);
}

namespace {

// Ends the sessions `chosen` names (a query of ids, locking them and skipping locked ones) as
// closed by the server: at the last import register reading (the start without one), the last
// register as the stop register. $1 is the closing reason, later parameters are `chosen`'s.
template <class... Params>
std::vector<ServerClosed> close_chosen(Tx& tx, const std::string& chosen, Params&&... params) {
  std::vector<ServerClosed> out;
  const pqxx::result rows = tx.exec_params("WITH chosen AS (" + chosen +
                                               R"()
            UPDATE transactions t SET
              state = 'ended',
              closed_by_server = $1,
              stop_reason = CASE WHEN $1 = 'timeout' THEN 'Timeout' ELSE 'Replaced' END,
              ended_at = GREATEST(coalesce(t.started_at, t.created_at),
                                  (SELECT max(m.sampled_at) FROM meter_values m
                                   WHERE m.transaction_id = t.id AND m.station_id = t.station_id
                                     AND m.phase = '' AND m.value IS NOT NULL
                                     AND m.measurand = 'Energy.Active.Import.Register')),
              meter_stop_wh = coalesce(round(t.import_last_wh)::bigint, t.meter_start_wh),
              updated_at = now()
            FROM chosen WHERE t.id = chosen.id
            RETURNING t.id, t.station_id, t.protocol, t.transaction_uid,
                      to_char(t.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                      coalesce(t.meter_stop_wh, 0), t.stop_reason)",
                                           std::forward<Params>(params)...);
  for (const auto& r : rows) {
    ServerClosed closed;
    closed.id = r[0].as<std::int64_t>();
    closed.station_id = r[1].as<std::string>();
    closed.protocol = r[2].as<std::string>();
    closed.transaction_uid = r[3].as<std::string>();
    closed.ended_at = r[4].as<std::string>();
    closed.meter_stop_wh = r[5].as<std::int64_t>();
    closed.stop_reason = r[6].as<std::string>();
    out.push_back(std::move(closed));
  }
  return out;
}

}  // namespace

std::vector<ServerClosed> close_silent(Tx& tx, std::chrono::milliseconds silent, int limit) {
  return close_chosen(tx,
                      R"(SELECT id FROM transactions
                         WHERE state = 'active'
                           AND updated_at < now() - make_interval(secs => $2)
                         ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)",
                      std::string("timeout"), static_cast<double>(silent.count()) / 1000.0, limit);
}

std::vector<ServerClosed> close_replaced(Tx& tx, int limit) {
  return close_chosen(tx,
                      R"(SELECT o.id FROM transactions o
                         WHERE o.state = 'active' AND o.evse_id IS NOT NULL
                           AND EXISTS (SELECT 1 FROM transactions n
                                       WHERE n.station_id = o.station_id
                                         AND n.evse_id = o.evse_id AND n.id > o.id
                                         AND coalesce(n.started_at, n.created_at) >=
                                             coalesce(o.started_at, o.created_at))
                         ORDER BY o.id LIMIT $2 FOR UPDATE OF o SKIP LOCKED)",
                      std::string("replaced"), limit);
}

std::optional<std::int64_t> active_on_evse(Tx& tx, const std::string& station_id, int evse_id) {
  auto rows = tx.exec_params(
      R"(SELECT id FROM transactions
         WHERE station_id = $1 AND evse_id = $2 AND state = 'active'
         ORDER BY started_at DESC LIMIT 1)",
      station_id, evse_id);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::int64_t>();
}

}  // namespace chargegrid::server::store::sessions
