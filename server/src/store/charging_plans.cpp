#include "store/charging_plans.hpp"

#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::charging_plans {
namespace {

template <class T>
std::optional<T> optional_of(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<T>();
}

void insert_declaration(Tx& tx, const char* column, std::int64_t id, const Declaration& d) {
  tx.exec_params(std::string("INSERT INTO charging_declarations (") + column +
                     ", departure_time, energy_wh, target_soc) "
                     "VALUES ($1, to_timestamp($2::bigint), $3, $4)",
                 id, d.departure_s, d.energy_wh, d.target_soc);
}

}  // namespace

void declare_for_session(Tx& tx, std::int64_t session_id, const Declaration& declaration) {
  insert_declaration(tx, "session_id", session_id, declaration);
}

void declare_for_association(Tx& tx, std::int64_t association_id, const Declaration& declaration) {
  insert_declaration(tx, "association_id", association_id, declaration);
}

void keep_charging_needs(Tx& tx, std::int64_t session_id, const nlohmann::json& needs) {
  tx.exec_params(
      R"(INSERT INTO ev_charging_needs (session_id, needs, delivered_wh)
         SELECT $1, $2::jsonb,
                coalesce(round((SELECT import_last_wh - import_first_wh FROM transactions
                                 WHERE id = $1)), 0)::bigint
         ON CONFLICT (session_id) DO UPDATE
           SET needs = EXCLUDED.needs, delivered_wh = EXCLUDED.delivered_wh, received_at = now())",
      session_id, needs.dump());
}

std::optional<Site> site(Tx& tx, std::int64_t site_id) {
  auto rows = tx.exec_params(
      "SELECT id, import_limit_w, export_limit_w, time_zone, holidays_version FROM sites "
      "WHERE id = $1",
      site_id);
  if (rows.empty()) return std::nullopt;
  Site s;
  s.id = rows[0][0].as<std::int64_t>();
  s.import_limit_w = optional_of<std::int64_t>(rows[0][1]);
  s.export_limit_w = optional_of<std::int64_t>(rows[0][2]);
  s.time_zone = rows[0][3].as<std::string>();
  s.holidays_version = rows[0][4].as<std::int64_t>();
  return s;
}

std::optional<std::int64_t> site_of_station(Tx& tx, const std::string& station_id) {
  auto rows = tx.exec_params("SELECT site_id FROM stations WHERE id = $1", station_id);
  if (rows.empty()) return std::nullopt;
  return optional_of<std::int64_t>(rows[0][0]);
}

std::optional<std::int64_t> site_of_session(Tx& tx, std::int64_t session_id) {
  auto rows = tx.exec_params(
      "SELECT st.site_id FROM transactions t JOIN stations st ON st.id = t.station_id "
      "WHERE t.id = $1",
      session_id);
  if (rows.empty()) return std::nullopt;
  return optional_of<std::int64_t>(rows[0][0]);
}

std::vector<std::int64_t> sites_with_sessions(Tx& tx) {
  std::vector<std::int64_t> out;
  for (const auto& row :
       tx.exec("SELECT DISTINCT st.site_id FROM transactions t JOIN stations st "
               "ON st.id = t.station_id WHERE t.state = 'active' AND st.site_id IS NOT NULL "
               "ORDER BY 1"))
    out.push_back(row[0].as<std::int64_t>());
  return out;
}

std::vector<SiteStation> site_stations(Tx& tx, std::int64_t site_id) {
  std::vector<SiteStation> out;
  for (const auto& r : tx.exec_params(
           R"(SELECT st.id, coalesce(st.protocol, ''),
                     greatest(1, (SELECT count(DISTINCT c.evse_id) FROM connector_status c
                                   WHERE c.station_id = st.id AND c.evse_id > 0))
                FROM stations st WHERE st.site_id = $1 ORDER BY st.id)",
           site_id))
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<int>()});
  return out;
}

void save_prediction(Tx& tx, std::int64_t session_id, const Prediction& p) {
  tx.exec_params(
      R"(INSERT INTO session_predictions (session_id, departure_p10, departure_p50, departure_p90,
                                          energy_p10_wh, energy_p50_wh, energy_p90_wh, basis)
         VALUES ($1, to_timestamp($2::bigint), to_timestamp($3::bigint), to_timestamp($4::bigint),
                 $5, $6, $7, $8)
         ON CONFLICT (session_id) DO NOTHING)",
      session_id, p.departure_p10_s, p.departure_p50_s, p.departure_p90_s, p.energy_p10_wh,
      p.energy_p50_wh, p.energy_p90_wh, p.basis);
}

std::vector<Vehicle> vehicles(Tx& tx, std::int64_t site_id) {
  std::vector<Vehicle> out;
  const auto rows = tx.exec_params(R"(
    SELECT t.id, t.station_id, coalesce(st.protocol, t.protocol), coalesce(t.evse_id, 1),
           t.transaction_uid, coalesce(t.driver_id::text, t.id_token, ''),
           extract(epoch FROM coalesce(t.started_at, t.created_at))::bigint,
           coalesce(round(t.import_last_wh - t.import_first_wh), 0)::bigint,
           d.departure_s, d.energy_wh, d.target_soc, d.id IS NOT NULL,
           n.needs::text, coalesce(n.delivered_wh, 0),
           extract(epoch FROM p.departure_p10)::bigint, extract(epoch FROM p.departure_p50)::bigint,
           extract(epoch FROM p.departure_p90)::bigint, p.energy_p10_wh, p.energy_p50_wh,
           p.energy_p90_wh, p.basis,
           (SELECT coalesce(cp.status, cp.outcome) FROM charging_profiles cp
             WHERE cp.session_id = t.id AND cp.kind = 'set' AND cp.outcome IS NOT NULL
             ORDER BY cp.id DESC LIMIT 1)
      FROM transactions t
      JOIN stations st ON st.id = t.station_id
      LEFT JOIN LATERAL (
        SELECT cd.id, extract(epoch FROM cd.departure_time)::bigint AS departure_s,
               cd.energy_wh, cd.target_soc
          FROM charging_declarations cd
         WHERE cd.session_id = t.id
            OR cd.association_id IN (SELECT a.id FROM station_associations a
                                      WHERE a.transaction_id = t.id)
         ORDER BY cd.declared_at DESC, cd.id DESC LIMIT 1) d ON true
      LEFT JOIN ev_charging_needs n ON n.session_id = t.id
      LEFT JOIN session_predictions p ON p.session_id = t.id
     WHERE st.site_id = $1 AND t.state = 'active'
     ORDER BY t.id)",
                                   site_id);
  for (const auto& r : rows) {
    Vehicle v;
    v.session_id = r[0].as<std::int64_t>();
    v.station_id = r[1].as<std::string>();
    v.protocol = r[2].as<std::string>();
    v.evse_id = r[3].as<int>();
    v.station_transaction_id = r[4].as<std::string>();
    v.user_id = r[5].as<std::string>();
    v.started_s = r[6].as<std::int64_t>();
    v.delivered_wh = r[7].as<std::int64_t>();
    if (r[11].as<bool>())
      v.declaration = Declaration{optional_of<std::int64_t>(r[8]), optional_of<std::int64_t>(r[9]),
                                  optional_of<double>(r[10])};
    v.charging_needs = r[12].is_null() ? nlohmann::json() : nlohmann::json::parse(r[12].c_str());
    v.delivered_wh_at_needs = r[13].as<std::int64_t>();
    if (!r[14].is_null())
      v.prediction =
          Prediction{r[14].as<std::int64_t>(), r[15].as<std::int64_t>(), r[16].as<std::int64_t>(),
                     r[17].as<std::int64_t>(), r[18].as<std::int64_t>(), r[19].as<std::int64_t>(),
                     r[20].as<std::string>()};
    v.last_profile_status = optional_of<std::string>(r[21]);
    out.push_back(std::move(v));
  }
  return out;
}

namespace {
const char* kFinishedColumns = R"(
  SELECT coalesce(t.driver_id::text, t.id_token, ''), st.site_id, t.station_id,
         extract(epoch FROM t.started_at)::bigint, extract(epoch FROM t.ended_at)::bigint,
         greatest(coalesce(round(t.import_last_wh - t.import_first_wh),
                           t.meter_stop_wh - t.meter_start_wh, 0), 0)::bigint,
         si.time_zone, t.id
    FROM transactions t JOIN stations st ON st.id = t.station_id JOIN sites si ON si.id = st.site_id
   WHERE t.state = 'ended' AND st.site_id IS NOT NULL AND t.started_at IS NOT NULL
     AND t.ended_at > t.started_at)";

Finished finished_of(const pqxx::row& r) {
  return {r[0].as<std::string>(),  r[1].as<std::int64_t>(), r[2].as<std::string>(),
          r[3].as<std::int64_t>(), r[4].as<std::int64_t>(), r[5].as<std::int64_t>(),
          r[6].as<std::string>(),  r[7].as<std::int64_t>()};
}
}  // namespace

std::vector<Finished> finished_sessions(Tx& tx, std::size_t limit) {
  std::vector<Finished> out;
  const auto rows = tx.exec_params(std::string("SELECT * FROM (") + kFinishedColumns +
                                       " ORDER BY t.ended_at DESC LIMIT $1) q ORDER BY 5",
                                   static_cast<std::int64_t>(limit));
  for (const auto& r : rows) out.push_back(finished_of(r));
  return out;
}

std::vector<Finished> finished_sessions_of_site(Tx& tx, std::int64_t site_id, std::size_t limit) {
  std::vector<Finished> out;
  const auto rows =
      tx.exec_params(std::string("SELECT * FROM (") + kFinishedColumns +
                         " AND st.site_id = $1 ORDER BY t.ended_at DESC LIMIT $2) q ORDER BY 5",
                     site_id, static_cast<std::int64_t>(limit));
  for (const auto& r : rows) out.push_back(finished_of(r));
  return out;
}

std::optional<Finished> finished_session(Tx& tx, std::int64_t session_id) {
  const auto rows = tx.exec_params(std::string(kFinishedColumns) + " AND t.id = $1", session_id);
  if (rows.empty()) return std::nullopt;
  return finished_of(rows[0]);
}

std::vector<Recorded> record_profiles(Tx& tx, std::span<const ProfileSent> profiles) {
  std::vector<Recorded> out;
  if (profiles.empty()) return out;
  // The batch as one JSON document, parsed once by PostgreSQL.
  auto batch = nlohmann::json::array();
  for (const auto& p : profiles)
    batch.push_back({{"kind", p.kind},
                     {"purpose", p.purpose},
                     {"site_id", p.site_id ? nlohmann::json(*p.site_id) : nullptr},
                     {"station_id", p.station_id},
                     {"evse_id", p.evse_id},
                     {"session_id", p.session_id ? nlohmann::json(*p.session_id) : nullptr},
                     {"start_s", p.start_s ? nlohmann::json(*p.start_s) : nullptr},
                     {"rate_unit", p.rate_unit},
                     {"schedule", p.schedule},
                     {"sent_by", p.sent_by}});
  // A profile keeps the chargingProfileId of its session's (without a session: its station
  // EVSE's) earlier profiles of its purpose; the first takes its row's id, and later rows of
  // the same batch for the same target share it.
  const auto rows = tx.exec_params(
      R"(WITH input AS (
           SELECT e.n, r.* FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, n),
                  jsonb_to_record(e.doc) AS r(kind text, purpose text, site_id bigint,
                                             station_id text, evse_id integer, session_id integer,
                                             start_s bigint, rate_unit text, schedule jsonb,
                                             sent_by text)),
         fresh AS (
           SELECT i.*, nextval(pg_get_serial_sequence('charging_profiles', 'id')) AS id,
                  -- Two lookups, each on its index (a CASE over the row's columns would
                  -- scan the table for every row).
                  coalesce((SELECT min(c.profile_id) FROM charging_profiles c
                             WHERE c.session_id = i.session_id AND c.purpose = i.purpose
                               AND c.kind = 'set'),
                           (SELECT min(c.profile_id) FROM charging_profiles c
                             WHERE i.session_id IS NULL AND c.station_id = i.station_id
                               AND c.evse_id = i.evse_id AND c.session_id IS NULL
                               AND c.purpose = i.purpose AND c.kind = 'set')) AS earlier
             FROM input i ORDER BY i.n),
         resolved AS (
           SELECT f.*, coalesce(f.earlier,
                                min(f.id) FILTER (WHERE f.kind = 'set') OVER (
                                  PARTITION BY f.purpose, f.session_id,
                                               CASE WHEN f.session_id IS NULL
                                                    THEN f.station_id END,
                                               CASE WHEN f.session_id IS NULL
                                                    THEN f.evse_id END),
                                f.id) AS profile_id
             FROM fresh f),
         inserted AS (
           INSERT INTO charging_profiles (id, profile_id, kind, purpose, site_id, station_id,
                                          evse_id, session_id, start_at, rate_unit, schedule,
                                          sent_by)
           SELECT id, profile_id, kind, purpose, site_id, station_id, evse_id, session_id,
                  to_timestamp(start_s), NULLIF(rate_unit, ''), schedule, NULLIF(sent_by, '')
             FROM resolved)
       SELECT id, profile_id FROM resolved ORDER BY n)",
      batch.dump());
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back({row[0].as<std::int64_t>(), row[1].as<std::int64_t>()});
  return out;
}

void record_outcome(Tx& tx, std::int64_t row_id, std::int64_t command_id,
                    const std::string& outcome, const std::optional<std::string>& status) {
  tx.exec_params(
      "UPDATE charging_profiles SET command_id = NULLIF($2, 0), outcome = $3, status = $4, "
      "answered_at = now() WHERE id = $1",
      row_id, command_id, outcome, status);
}

void record_outcomes(Tx& tx, std::span<const Outcome> outcomes) {
  if (outcomes.empty()) return;
  ArrayLiteral row, command, outcome, status;
  for (const auto& o : outcomes) {
    row.add_int(o.row_id);
    command.add_int(o.command_id);
    outcome.add(o.outcome);
    status.add_or_null(o.status);
  }
  tx.exec_params(
      R"(UPDATE charging_profiles p
            SET command_id = NULLIF(t.command_id, 0), outcome = t.outcome, status = t.status,
                answered_at = now()
           FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[])
             AS t(id, command_id, outcome, status)
          WHERE p.id = t.id)",
      row.str(), command.str(), outcome.str(), status.str());
}

namespace {
LastProfile last_of(const pqxx::row& row) {
  return LastProfile{row[1].as<std::int64_t>(), row[3].as<std::int64_t>(), row[4].as<std::string>(),
                     row[5].as<int>(), nlohmann::json::parse(row[2].c_str())};
}
}  // namespace

std::map<std::int64_t, LastProfile> last_accepted(Tx& tx,
                                                  const std::vector<std::int64_t>& session_ids,
                                                  const std::string& purpose) {
  std::map<std::int64_t, LastProfile> out;
  if (session_ids.empty()) return out;
  const auto rows = tx.exec_params(
      R"(SELECT s.id, p.id, p.schedule::text, p.profile_id, p.station_id, p.evse_id
           FROM unnest($1::bigint[]) AS s(id)
           CROSS JOIN LATERAL (
             SELECT id, schedule, profile_id, station_id, evse_id FROM charging_profiles
              WHERE session_id = s.id AND purpose = $2 AND kind = 'set' AND status = 'Accepted'
                AND NOT EXISTS (SELECT 1 FROM charging_profiles c WHERE c.session_id = s.id
                                  AND c.kind = 'clear' AND c.id > charging_profiles.id)
              ORDER BY id DESC LIMIT 1) p)",
      integer_array(session_ids), purpose);
  for (const auto& row : rows) out.emplace(row[0].as<std::int64_t>(), last_of(row));
  return out;
}

std::map<std::string, LastProfile> last_station_profiles(Tx& tx,
                                                         std::span<const std::string> station_ids,
                                                         const std::string& purpose) {
  std::map<std::string, LastProfile> out;
  if (station_ids.empty()) return out;
  // The latest accepted profile, unless a clear the station answered came after it.
  const auto rows = tx.exec_params(
      R"(SELECT s.id, p.id, p.schedule::text, p.profile_id, p.station_id, p.evse_id
           FROM unnest($1::text[]) AS s(id)
           CROSS JOIN LATERAL (
             SELECT id, kind, schedule, profile_id, station_id, evse_id FROM charging_profiles
              WHERE station_id = s.id AND evse_id = 0 AND purpose = $2
                AND ((kind = 'set' AND status = 'Accepted') OR
                     (kind = 'clear' AND status IS NOT NULL))
              ORDER BY id DESC LIMIT 1) p
          WHERE p.kind = 'set')",
      text_array(station_ids), purpose);
  for (const auto& row : rows) out.emplace(row[0].as<std::string>(), last_of(row));
  return out;
}

void save_plan(Tx& tx, std::int64_t site_id, const std::string& reason, const nlohmann::json& plan,
               const std::string& planned_by, std::optional<std::int64_t> lease_epoch) {
  tx.exec_params(
      R"(INSERT INTO site_plans (site_id, reason, plan, planned_by, lease_epoch)
           VALUES ($1, $2, $3::jsonb, NULLIF($4, ''), $5)
         ON CONFLICT (site_id) DO UPDATE
           SET plan = EXCLUDED.plan, reason = EXCLUDED.reason, planned_at = now(),
               planned_by = EXCLUDED.planned_by, lease_epoch = EXCLUDED.lease_epoch)",
      site_id, reason, plan.dump(), planned_by, lease_epoch);
}

void save_slots(Tx& tx, std::int64_t site_id, std::int64_t start_s, std::int64_t slot_seconds,
                const std::vector<std::int64_t>& baseline_w,
                const std::vector<std::int64_t>& planned_import_w) {
  tx.exec_params(
      R"(INSERT INTO site_plan_slots (site_id, slot_start, slot_seconds, baseline_w,
                                      planned_import_w)
         SELECT $1, to_timestamp($2 + (s.i - 1) * $3), $3, s.baseline, s.planned
           FROM unnest($4::bigint[], $5::bigint[]) WITH ORDINALITY AS s(baseline, planned, i)
         ON CONFLICT (site_id, slot_start) DO UPDATE
           SET slot_seconds = EXCLUDED.slot_seconds, baseline_w = EXCLUDED.baseline_w,
               planned_import_w = EXCLUDED.planned_import_w)",
      site_id, start_s, slot_seconds, integer_array(baseline_w), integer_array(planned_import_w));
}

nlohmann::json plan(Tx& tx, std::int64_t site_id) {
  auto rows = tx.exec_params("SELECT plan::text FROM site_plans WHERE site_id = $1", site_id);
  if (rows.empty()) return nullptr;
  return nlohmann::json::parse(rows[0][0].c_str());
}

std::optional<PlanMade> plan_made(Tx& tx, std::int64_t site_id) {
  auto rows = tx.exec_params(
      "SELECT to_char(planned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "       reason, coalesce(planned_by, '') "
      "FROM site_plans WHERE site_id = $1",
      site_id);
  if (rows.empty()) return std::nullopt;
  return PlanMade{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                  rows[0][2].as<std::string>()};
}

}  // namespace chargegrid::server::store::charging_plans
