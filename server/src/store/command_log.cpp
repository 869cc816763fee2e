#include "store/command_log.hpp"

#include <pqxx/pqxx>

#include "cluster/messages.hpp"
#include "store/cluster_nodes.hpp"
#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::command_log {

using nlohmann::json;

std::int64_t next_id(Tx& tx) {
  return tx.exec("SELECT nextval('command_log_id_seq')")[0][0].as<std::int64_t>();
}

std::vector<std::int64_t> next_ids(Tx& tx, std::size_t count) {
  std::vector<std::int64_t> ids;
  ids.reserve(count);
  if (count == 0) return ids;
  for (const auto& row : tx.exec_params(
           "SELECT nextval('command_log_id_seq') AS id FROM generate_series(1, $1) ORDER BY id",
           static_cast<std::int64_t>(count)))
    ids.push_back(row[0].as<std::int64_t>());
  return ids;
}

void insert(Tx& tx, const Entry& e) {
  std::optional<std::string> dispatch;
  if (e.dispatch) dispatch = e.dispatch->dump();
  std::optional<std::string> action;
  if (!e.ocpp_action.empty()) action = e.ocpp_action;
  tx.exec_params(
      R"(INSERT INTO command_log (id, station_id, site_id, api_key_id, origin, command,
                                  ocpp_action, request, outcome, completed_at, routed_from,
                                  routed_to, dispatch, lease_epoch)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9,
                 CASE WHEN $9 = 'pending' THEN NULL ELSE now() END, $10, $11, $12::jsonb, $13))",
      e.id, e.station_id, e.site_id, e.api_key_id, e.origin, e.command, action, e.audited.dump(),
      e.outcome, e.routed_from, e.routed_to, dispatch, e.lease_epoch);
  if (e.routed_to) cluster_nodes::notify(tx, *e.routed_to, cluster::messages::command(e.id));
}

void insert_all(Tx& tx, std::span<const Entry> entries) {
  if (entries.empty()) return;
  if (entries.size() == 1) {
    insert(tx, entries.front());
    return;
  }
  ArrayLiteral id, station, site, api_key, origin, command, action, request, outcome, routed_from,
      routed_to, dispatch, epoch;
  for (const auto& e : entries) {
    id.add_int(e.id);
    station.add(e.station_id);
    site.add_int_or_null(e.site_id);
    api_key.add_int_or_null(e.api_key_id);
    origin.add(e.origin);
    command.add(e.command);
    if (e.ocpp_action.empty())
      action.add_null();
    else
      action.add(e.ocpp_action);
    request.add(e.audited.dump());
    outcome.add(e.outcome);
    routed_from.add_or_null(e.routed_from);
    routed_to.add_or_null(e.routed_to);
    if (e.dispatch)
      dispatch.add(e.dispatch->dump());
    else
      dispatch.add_null();
    epoch.add_int_or_null(e.lease_epoch);
  }
  tx.exec_params(
      R"(INSERT INTO command_log (id, station_id, site_id, api_key_id, origin, command,
                                  ocpp_action, request, outcome, completed_at, routed_from,
                                  routed_to, dispatch, lease_epoch)
         SELECT id, station_id, site_id, api_key_id, origin, command, ocpp_action, request,
                outcome, CASE WHEN outcome = 'pending' THEN NULL ELSE now() END, routed_from,
                routed_to, dispatch, lease_epoch
           FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                       $6::text[], $7::text[], $8::jsonb[], $9::text[], $10::text[], $11::text[],
                       $12::jsonb[], $13::bigint[])
             AS t(id, station_id, site_id, api_key_id, origin, command, ocpp_action, request,
                  outcome, routed_from, routed_to, dispatch, lease_epoch))",
      id.str(), station.str(), site.str(), api_key.str(), origin.str(), command.str(), action.str(),
      request.str(), outcome.str(), routed_from.str(), routed_to.str(), dispatch.str(),
      epoch.str());
  for (const auto& e : entries)
    if (e.routed_to) cluster_nodes::notify(tx, *e.routed_to, cluster::messages::command(e.id));
}

void complete(Tx& tx, std::int64_t id, const std::string& outcome, const json& response) {
  tx.exec_params(
      "UPDATE command_log SET outcome = $2, response = $3::jsonb, completed_at = now() "
      "WHERE id = $1",
      id, outcome, response.dump());
}

void complete_all(Tx& tx, std::span<const Completion> completions) {
  if (completions.empty()) return;
  if (completions.size() == 1) {
    const auto& c = completions.front();
    complete(tx, c.id, c.outcome, c.response);
    return;
  }
  ArrayLiteral id, outcome, response;
  for (const auto& c : completions) {
    id.add_int(c.id);
    outcome.add(c.outcome);
    response.add(c.response.dump());
  }
  tx.exec_params(
      R"(UPDATE command_log c
            SET outcome = t.outcome, response = t.response, completed_at = now()
           FROM unnest($1::bigint[], $2::text[], $3::jsonb[]) AS t(id, outcome, response)
          WHERE c.id = t.id)",
      id.str(), outcome.str(), response.str());
}

std::optional<Dispatch> take_on(Tx& tx, std::int64_t id, const std::string& node) {
  auto rows = tx.exec_params(
      "UPDATE command_log SET dispatched_at = now() WHERE id = $1 AND routed_to = $2 "
      "AND outcome = 'pending' AND dispatched_at IS NULL "
      "RETURNING station_id, ocpp_action, dispatch::text",
      id, node);
  if (rows.empty()) return std::nullopt;
  Dispatch d;
  d.station_id = rows[0][0].as<std::string>();
  if (!rows[0][1].is_null()) d.ocpp_action = rows[0][1].as<std::string>();
  if (!rows[0][2].is_null()) d.payload = json::parse(rows[0][2].as<std::string>(), nullptr, false);
  return d;
}

std::optional<std::string> finish_routed(Tx& tx, std::int64_t id, const std::string& outcome,
                                         const json& response) {
  auto rows = tx.exec_params(
      "UPDATE command_log SET outcome = $2, response = $3::jsonb, completed_at = now(), "
      "dispatch = NULL WHERE id = $1 AND outcome = 'pending' RETURNING routed_from",
      id, outcome, response.dump());
  if (rows.empty() || rows[0][0].is_null()) return std::nullopt;
  auto waiting = rows[0][0].as<std::string>();
  cluster_nodes::notify(tx, waiting, cluster::messages::result(id));
  return waiting;
}

std::vector<std::int64_t> waiting_for(Tx& tx, const std::string& node) {
  std::vector<std::int64_t> ids;
  for (const auto& row :
       tx.exec_params("SELECT id FROM command_log WHERE routed_to = $1 AND outcome = 'pending' "
                      "AND dispatched_at IS NULL ORDER BY id",
                      node))
    ids.push_back(row[0].as<std::int64_t>());
  return ids;
}

RoutedState check_routed(Tx& tx, std::int64_t id, const std::string& holder, bool expired) {
  auto read = [&] {
    return tx.exec_params(
        "SELECT c.outcome, c.response::text, "
        "EXISTS (SELECT 1 FROM cluster_live_nodes n WHERE n.id = $2) "
        "FROM command_log c WHERE c.id = $1",
        id, holder);
  };
  auto rows = read();
  RoutedState state;
  if (rows.empty()) return state;
  state.outcome = rows[0][0].as<std::string>();
  if (!rows[0][1].is_null())
    state.response = json::parse(rows[0][1].as<std::string>(), nullptr, false);
  const bool holder_live = rows[0][2].as<bool>();
  if (state.outcome == "pending" && (expired || !holder_live)) {
    // Given up: a late outcome from the holder is not taken for this one.
    const std::string outcome = expired ? "timeout" : "lost";
    const json response =
        expired ? json::object() : json{{"description", "the node holding the station stopped"}};
    auto marked = tx.exec_params(
        "UPDATE command_log SET outcome = $2, response = $3::jsonb, completed_at = now(), "
        "dispatch = NULL WHERE id = $1 AND outcome = 'pending' RETURNING outcome",
        id, outcome, response.dump());
    if (!marked.empty()) {
      state.outcome = outcome;
      state.response = response;
      state.gave_up = true;
    } else {
      auto again = read();
      state.outcome = again[0][0].as<std::string>();
      if (!again[0][1].is_null())
        state.response = json::parse(again[0][1].as<std::string>(), nullptr, false);
    }
  }
  if (state.response.is_discarded() || state.response.is_null()) state.response = json::object();
  return state;
}

void abandon_routed_to(Tx& tx, const std::string& node) {
  tx.exec_params(
      "UPDATE command_log SET outcome = 'lost', completed_at = now(), dispatch = NULL, "
      "response = jsonb_build_object('description', 'the node holding the station restarted') "
      "WHERE routed_to = $1 AND outcome = 'pending'",
      node);
}

void expire_routed(Tx& tx, int older_than_s) {
  tx.exec_params(
      "UPDATE command_log SET outcome = 'timeout', completed_at = now(), dispatch = NULL "
      "WHERE outcome = 'pending' AND routed_to IS NOT NULL "
      "AND created_at < now() - make_interval(secs => $1)",
      older_than_s);
}

}  // namespace chargegrid::server::store::command_log
