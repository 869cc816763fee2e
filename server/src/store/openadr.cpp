#include "store/openadr.hpp"

#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::openadr {
namespace {

using nlohmann::json;

// The stored object with the fields the VTN provisions, as the specification names them.
std::string served(const std::string& alias, const char* object_type) {
  const auto time = [&](const char* column) {
    return "to_char(" + alias + "." + column +
           " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
  };
  return "(" + alias + ".object || jsonb_build_object('id', " + alias + ".id, 'createdDateTime', " +
         time("created_at") + ", 'modificationDateTime', " + time("modified_at") +
         ", 'objectType', '" + object_type + "'))::text";
}

// True when the object (alias.object) has a target of $type_param naming one of $values_param.
std::string target_clause(const std::string& alias, int type_param, int values_param) {
  const auto type = "$" + std::to_string(type_param);
  const auto values = "$" + std::to_string(values_param) + "::text[]";
  return "(" + type + "::text IS NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN " +
         "jsonb_typeof(" + alias + ".object->'targets') = 'array' THEN " + alias +
         ".object->'targets' ELSE '[]'::jsonb END) t WHERE t->>'type' = " + type +
         " AND (cardinality(" + values + ") = 0 OR (jsonb_typeof(t->'values') = 'array' AND " +
         "EXISTS (SELECT 1 FROM jsonb_array_elements_text(t->'values') v WHERE v = ANY(" + values +
         "))))))";
}

std::optional<std::string> filter_type(const std::optional<TargetFilter>& f) {
  return f ? std::optional<std::string>(f->type) : std::nullopt;
}
std::string filter_values(const std::optional<TargetFilter>& f) {
  return text_array(f ? f->values : std::vector<std::string>{});
}

const std::string kProgramColumns = "p.id, p.owner_key_id, " + served("p", "PROGRAM");
const std::string kEventColumns = "e.id, e.program_id, p.owner_key_id, " + served("e", "EVENT");

Program program_of(const pqxx::row& row) {
  return {row[0].as<std::string>(), row[1].as<std::int64_t>(), json::parse(row[2].c_str())};
}
Event event_of(const pqxx::row& row) {
  return {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::int64_t>(),
          json::parse(row[3].c_str())};
}

template <class T, class Fn>
std::optional<T> first(const pqxx::result& rows, Fn of) {
  if (rows.empty()) return std::nullopt;
  return of(rows[0]);
}

}  // namespace

Program create_program(Tx& tx, std::int64_t owner_key_id, const json& object) {
  auto rows = tx.exec_params(
      "WITH p AS (INSERT INTO openadr_programs (owner_key_id, program_name, object) "
      "VALUES ($1, $2, $3::jsonb) RETURNING *) SELECT " +
          kProgramColumns + " FROM p",
      owner_key_id, object.at("programName").get<std::string>(), object.dump());
  return program_of(rows[0]);
}

std::optional<Program> find_program(Tx& tx, const std::string& id,
                                    std::optional<std::int64_t> owner) {
  return first<Program>(tx.exec_params("SELECT " + kProgramColumns +
                                           " FROM openadr_programs p WHERE p.id = $1"
                                           " AND ($2::bigint IS NULL OR p.owner_key_id = $2)",
                                       id, owner),
                        program_of);
}

std::vector<json> list_programs(Tx& tx, std::optional<std::int64_t> owner,
                                const std::optional<TargetFilter>& targets, std::int64_t skip,
                                std::int64_t limit) {
  std::vector<json> out;
  for (const auto& row : tx.exec_params(
           "SELECT " + served("p", "PROGRAM") +
               " FROM openadr_programs p WHERE ($1::bigint IS NULL OR p.owner_key_id = $1) AND " +
               target_clause("p", 2, 3) + " ORDER BY p.created_at, p.id OFFSET $4 LIMIT $5",
           owner, filter_type(targets), filter_values(targets), skip, limit))
    out.push_back(json::parse(row[0].c_str()));
  return out;
}

std::optional<Program> update_program(Tx& tx, const std::string& id,
                                      std::optional<std::int64_t> owner, const json& object) {
  return first<Program>(
      tx.exec_params("WITH p AS (UPDATE openadr_programs SET object = $3::jsonb, "
                     "program_name = $4, modified_at = now() WHERE id = $1 AND "
                     "($2::bigint IS NULL OR owner_key_id = $2) RETURNING *) SELECT " +
                         kProgramColumns + " FROM p",
                     id, owner, object.dump(), object.at("programName").get<std::string>()),
      program_of);
}

std::optional<Program> delete_program(Tx& tx, const std::string& id,
                                      std::optional<std::int64_t> owner) {
  auto program = find_program(tx, id, owner);
  if (!program) return std::nullopt;
  tx.exec_params("DELETE FROM openadr_events WHERE program_id = $1", id);
  tx.exec_params("DELETE FROM openadr_programs WHERE id = $1", id);
  return program;
}

Event create_event(Tx& tx, const std::string& program_id, const json& object) {
  auto rows = tx.exec_params(
      "WITH e AS (INSERT INTO openadr_events (program_id, object) VALUES ($1, $2::jsonb) "
      "RETURNING *) SELECT " +
          kEventColumns + " FROM e JOIN openadr_programs p ON p.id = e.program_id",
      program_id, object.dump());
  return event_of(rows[0]);
}

std::optional<Event> find_event(Tx& tx, const std::string& id, std::optional<std::int64_t> owner) {
  return first<Event>(
      tx.exec_params("SELECT " + kEventColumns +
                         " FROM openadr_events e JOIN openadr_programs p ON p.id = e.program_id"
                         " WHERE e.id = $1 AND ($2::bigint IS NULL OR p.owner_key_id = $2)",
                     id, owner),
      event_of);
}

std::vector<Event> events_of_program(Tx& tx, const std::string& program_id) {
  std::vector<Event> out;
  for (const auto& row :
       tx.exec_params("SELECT " + kEventColumns +
                          " FROM openadr_events e JOIN openadr_programs p ON p.id = e.program_id"
                          " WHERE e.program_id = $1 ORDER BY e.created_at, e.id",
                      program_id))
    out.push_back(event_of(row));
  return out;
}

std::vector<json> list_events(Tx& tx, std::optional<std::int64_t> owner,
                              const std::optional<std::string>& program_id,
                              const std::optional<TargetFilter>& targets, std::int64_t skip,
                              std::int64_t limit) {
  std::vector<json> out;
  for (const auto& row : tx.exec_params(
           "SELECT " + served("e", "EVENT") +
               " FROM openadr_events e JOIN openadr_programs p ON p.id = e.program_id"
               " WHERE ($1::bigint IS NULL OR p.owner_key_id = $1)"
               " AND ($2::text IS NULL OR e.program_id = $2) AND " +
               target_clause("e", 3, 4) + " ORDER BY e.created_at, e.id OFFSET $5 LIMIT $6",
           owner, program_id, filter_type(targets), filter_values(targets), skip, limit))
    out.push_back(json::parse(row[0].c_str()));
  return out;
}

std::optional<Event> update_event(Tx& tx, const std::string& id, std::optional<std::int64_t> owner,
                                  const std::string& program_id, const json& object) {
  return first<Event>(
      tx.exec_params("WITH e AS (UPDATE openadr_events SET object = $3::jsonb, program_id = $4,"
                     " modified_at = now() WHERE id = $1 AND ($2::bigint IS NULL OR program_id IN"
                     " (SELECT id FROM openadr_programs WHERE owner_key_id = $2)) RETURNING *)"
                     " SELECT " +
                         kEventColumns + " FROM e JOIN openadr_programs p ON p.id = e.program_id",
                     id, owner, object.dump(), program_id),
      event_of);
}

std::optional<Event> delete_event(Tx& tx, const std::string& id,
                                  std::optional<std::int64_t> owner) {
  auto event = find_event(tx, id, owner);
  if (!event) return std::nullopt;
  tx.exec_params("DELETE FROM openadr_events WHERE id = $1", id);
  return event;
}

std::vector<SiteIdentity> sites_in_reach(Tx& tx, std::int64_t key_id) {
  std::vector<SiteIdentity> out;
  for (const auto& row :
       tx.exec_params("SELECT s.id, coalesce(s.ven_name, ''),"
                      " coalesce(s.power_service_location, '')"
                      " FROM sites s, api_keys k WHERE k.id = $1 AND (k.role = 'admin' OR s.id IN"
                      " (SELECT site_id FROM api_key_sites WHERE api_key_id = k.id)) ORDER BY s.id",
                      key_id))
    out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::string>()});
  return out;
}

std::vector<SiteIdentity> all_sites(Tx& tx) {
  std::vector<SiteIdentity> out;
  for (const auto& row :
       tx.exec("SELECT s.id, coalesce(s.ven_name, ''),"
               " coalesce(s.power_service_location, '') FROM sites s ORDER BY s.id"))
    out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::string>()});
  return out;
}

std::vector<RemoteEvent> lock_remote_events(Tx& tx) {
  // A transaction-scoped advisory lock: cluster nodes polling the same VTN apply one at a time.
  tx.exec("SELECT pg_advisory_xact_lock(hashtext('openadr_remote_events'))");
  std::vector<RemoteEvent> out;
  for (const auto& row :
       tx.exec("SELECT event_id, event::text, program::text, array_to_json(site_ids)::text"
               " FROM openadr_remote_events"))
    out.push_back({row[0].as<std::string>(), json::parse(row[1].c_str()),
                   json::parse(row[2].c_str()),
                   json::parse(row[3].c_str()).get<std::vector<std::int64_t>>()});
  return out;
}

void save_remote_event(Tx& tx, const RemoteEvent& remote) {
  tx.exec_params(
      "INSERT INTO openadr_remote_events (event_id, program_id, event, program, site_ids)"
      " VALUES ($1, $2, $3::jsonb, $4::jsonb, $5::bigint[]) ON CONFLICT (event_id) DO UPDATE"
      " SET program_id = EXCLUDED.program_id, event = EXCLUDED.event,"
      " program = EXCLUDED.program, site_ids = EXCLUDED.site_ids, read_at = now()",
      remote.event_id, remote.event.value("programID", std::string()), remote.event.dump(),
      remote.program.dump(), integer_array(remote.site_ids));
}

void delete_remote_event(Tx& tx, const std::string& event_id) {
  tx.exec_params("DELETE FROM openadr_remote_events WHERE event_id = $1", event_id);
}

double site_import_wh(Tx& tx, std::int64_t site_id, const std::string& from,
                      const std::string& to) {
  // Readings of a day before `from` at most: an EVSE idle longer than that adds nothing.
  const auto row = tx.exec_params1(
      R"(WITH regs AS (
           SELECT mv.station_id, mv.evse_id, mv.sampled_at, mv.value
             FROM meter_values mv JOIN stations st ON st.id = mv.station_id
            WHERE st.site_id = $1 AND mv.measurand = 'Energy.Active.Import.Register'
              AND mv.phase = '' AND mv.location IN ('', 'Outlet') AND mv.evse_id > 0
              AND mv.value IS NOT NULL
              AND mv.sampled_at >= $2::timestamptz - interval '1 day'
              AND mv.sampled_at <= $3::timestamptz
         ), ends AS (
           SELECT DISTINCT ON (station_id, evse_id) station_id, evse_id, value
             FROM regs ORDER BY station_id, evse_id, sampled_at DESC
         ), starts AS (
           SELECT DISTINCT ON (station_id, evse_id) station_id, evse_id, value
             FROM regs
            ORDER BY station_id, evse_id, (sampled_at <= $2::timestamptz) DESC,
                     abs(extract(epoch FROM sampled_at - $2::timestamptz))
         )
         SELECT coalesce(sum(greatest(e.value - s.value, 0)), 0)::float8
           FROM ends e JOIN starts s USING (station_id, evse_id))",
      site_id, from, to);
  return row[0].as<double>();
}

std::optional<double> site_baseline_w(Tx& tx, std::int64_t site_id, const std::string& from,
                                      const std::string& to) {
  const auto row = tx.exec_params1(
      R"(SELECT (sum(baseline_w * overlap) / nullif(sum(overlap), 0))::float8 FROM (
           SELECT baseline_w,
                  extract(epoch FROM least(slot_start + slot_seconds * interval '1 second',
                                           $3::timestamptz)
                                     - greatest(slot_start, $2::timestamptz)) AS overlap
             FROM site_plan_slots
            WHERE site_id = $1 AND slot_start < $3::timestamptz
              AND slot_start + slot_seconds * interval '1 second' > $2::timestamptz) q)",
      site_id, from, to);
  if (row[0].is_null()) return std::nullopt;
  return row[0].as<double>();
}

json create_report(Tx& tx, const std::string& event_id, const json& object) {
  const auto row = tx.exec_params1(
      "WITH r AS (INSERT INTO openadr_reports (event_id, client_name, object) "
      "VALUES ($1, $2, $3::jsonb) RETURNING *) SELECT " +
          served("r", "REPORT") + " FROM r",
      event_id, object.value("clientName", std::string()), object.dump());
  return json::parse(row[0].c_str());
}

std::vector<json> posted_reports(Tx& tx, std::optional<std::int64_t> owner,
                                 const std::optional<std::string>& event_id) {
  std::vector<json> out;
  for (const auto& row : tx.exec_params(
           "SELECT " + served("r", "REPORT") +
               " FROM openadr_reports r JOIN openadr_events e ON e.id = r.event_id"
               " JOIN openadr_programs p ON p.id = e.program_id"
               " WHERE ($1::bigint IS NULL OR p.owner_key_id = $1)"
               "   AND ($2::text IS NULL OR r.event_id = $2) ORDER BY r.created_at, r.id",
           owner, event_id))
    out.push_back(json::parse(row[0].c_str()));
  return out;
}

std::vector<std::pair<std::int64_t, std::string>> reported_until(Tx& tx,
                                                                 const std::string& event_id) {
  std::vector<std::pair<std::int64_t, std::string>> out;
  for (const auto& r : tx.exec_params(
           "SELECT site_id, to_char(reported_until AT TIME ZONE 'UTC', "
           "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM openadr_reports_posted WHERE event_id = $1",
           event_id))
    out.emplace_back(r[0].as<std::int64_t>(), r[1].as<std::string>());
  return out;
}

void save_reported_until(Tx& tx, const std::string& event_id, std::int64_t site_id,
                         const std::string& until) {
  tx.exec_params(
      R"(INSERT INTO openadr_reports_posted (event_id, site_id, reported_until)
         VALUES ($1, $2, $3::timestamptz)
         ON CONFLICT (event_id, site_id) DO UPDATE
           SET reported_until = EXCLUDED.reported_until, posted_at = now())",
      event_id, site_id, until);
}

}  // namespace chargegrid::server::store::openadr
