#include "store/cluster_nodes.hpp"

#include <pqxx/pqxx>

#include "cluster/messages.hpp"

namespace chargegrid::server::store::cluster_nodes {

std::optional<Existing> lock(Tx& tx, const std::string& id) {
  auto rows = tx.exec_params(
      "SELECT host, pid, heartbeat_at > now() - lease_timeout FROM cluster_nodes WHERE id = $1 "
      "FOR UPDATE",
      id);
  if (rows.empty()) return std::nullopt;
  return Existing{rows[0][0].as<std::string>(), rows[0][1].as<int>(), rows[0][2].as<bool>()};
}

void upsert(Tx& tx, const Node& n) {
  tx.exec_params(
      R"(INSERT INTO cluster_nodes (id, incarnation, host, pid, ocpp_port, http_port, lease_timeout)
         VALUES ($1, $2, $3, $4, $5, $6, make_interval(secs => $7))
         ON CONFLICT (id) DO UPDATE SET
           incarnation = excluded.incarnation, host = excluded.host, pid = excluded.pid,
           ocpp_port = excluded.ocpp_port, http_port = excluded.http_port,
           lease_timeout = excluded.lease_timeout, started_at = now(), heartbeat_at = now())",
      n.id, n.incarnation, n.host, n.pid, n.ocpp_port, n.http_port, n.lease_timeout_s);
}

bool heartbeat(Tx& tx, const std::string& id, std::int64_t incarnation) {
  return tx.exec_params(
               "UPDATE cluster_nodes SET heartbeat_at = now() WHERE id = $1 AND incarnation = $2",
               id, incarnation)
             .affected_rows() > 0;
}

bool rejoin(Tx& tx, const Node& n) {
  return tx.exec_params(
               R"(INSERT INTO cluster_nodes (id, incarnation, host, pid, ocpp_port, http_port,
                                               lease_timeout)
                    VALUES ($1, $2, $3, $4, $5, $6, make_interval(secs => $7))
                    ON CONFLICT (id) DO NOTHING)",
               n.id, n.incarnation, n.host, n.pid, n.ocpp_port, n.http_port, n.lease_timeout_s)
             .affected_rows() > 0;
}

std::vector<std::string> delete_dead(Tx& tx, const std::string& self) {
  std::vector<std::string> dead;
  for (const auto& row :
       tx.exec_params("DELETE FROM cluster_nodes WHERE id <> $1 AND heartbeat_at < now() - "
                      "lease_timeout RETURNING id",
                      self))
    dead.push_back(row[0].as<std::string>());
  return dead;
}

void leave(Tx& tx, const std::string& id, std::int64_t incarnation) {
  tx.exec_params("DELETE FROM cluster_nodes WHERE id = $1 AND incarnation = $2", id, incarnation);
}

nlohmann::json list(Tx& tx) {
  auto rows = tx.exec(R"(
    SELECT coalesce(json_agg(json_build_object(
             'id', n.id, 'host', n.host, 'pid', n.pid, 'ocpp_port', n.ocpp_port,
             'http_port', n.http_port, 'started_at', n.started_at,
             'heartbeat_at', n.heartbeat_at,
             'lease_timeout_s', extract(epoch FROM n.lease_timeout)::integer,
             'live', n.heartbeat_at > now() - n.lease_timeout,
             'stations_held', (SELECT count(*) FROM stations s WHERE s.held_by = n.id))
           ORDER BY n.id), '[]')::text
      FROM cluster_nodes n)");
  return nlohmann::json::parse(rows[0][0].as<std::string>());
}

void want_events(Tx& tx, const std::string& id, int seconds) {
  tx.exec_params(
      "UPDATE cluster_nodes SET events_wanted_until = greatest(events_wanted_until, now() + "
      "make_interval(secs => $2)) WHERE id = $1",
      id, seconds);
}

bool events_wanted_elsewhere(Tx& tx, const std::string& self) {
  return tx
      .exec_params1(
          "SELECT EXISTS (SELECT 1 FROM cluster_nodes WHERE id <> $1 AND "
          "events_wanted_until > now() AND heartbeat_at > now() - lease_timeout)",
          self)[0]
      .as<bool>();
}

void notify(Tx& tx, const std::string& node, const nlohmann::json& message) {
  tx.exec_params("SELECT pg_notify($1, $2)", cluster::channel(node), message.dump());
}

void notify_holder(Tx& tx, const std::string& station_id, const nlohmann::json& message,
                   const std::string& self) {
  tx.exec_params(
      "SELECT pg_notify($4 || held_by, $2) FROM stations "
      "WHERE id = $1 AND held_by IS NOT NULL AND held_by <> $3",
      station_id, message.dump(), self, cluster::channel(""));
}

void notify_all(Tx& tx, const std::string& channel, const std::string& payload) {
  tx.exec_params("SELECT pg_notify($1, $2)", channel, payload);
}

}  // namespace chargegrid::server::store::cluster_nodes
