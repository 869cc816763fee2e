#include "store/site_leases.hpp"

#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::site_leases {

namespace {

Held held_of(const pqxx::row& r) {
  return {r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<std::int64_t>(),
          r[3].is_null() ? std::string() : r[3].as<std::string>()};
}

std::vector<Held> all_of(const pqxx::result& rows) {
  std::vector<Held> out;
  for (const auto& r : rows) out.push_back(held_of(r));
  return out;
}

}  // namespace

std::vector<Held> take(Tx& tx, const std::vector<std::int64_t>& site_ids, const std::string& node,
                       int timeout_s) {
  if (site_ids.empty()) return {};
  // The node's own unexpired lease keeps its epoch; any other take is a take-over. Leases
  // another live node holds are left out before any row is locked (a conflicting row stays
  // locked even when the WHERE below refuses it), and the rest are locked in id order, so two
  // nodes taking many sites do not deadlock.
  return all_of(tx.exec_params(
      R"(INSERT INTO site_leases AS l (site_id, held_by, lease_epoch, acquired_at, expires_at)
           SELECT s.id, $2, 1, now(), now() + make_interval(secs => $3)
             FROM sites s
            WHERE s.id = ANY($1::bigint[])
              AND NOT EXISTS (SELECT 1 FROM site_leases o JOIN cluster_live_nodes n
                                ON n.id = o.held_by
                               WHERE o.site_id = s.id AND o.held_by <> $2
                                 AND o.expires_at > now())
            ORDER BY s.id
         ON CONFLICT (site_id) DO UPDATE SET
           held_by = EXCLUDED.held_by,
           lease_epoch = CASE WHEN l.held_by = EXCLUDED.held_by AND l.expires_at > now()
                              THEN l.lease_epoch ELSE l.lease_epoch + 1 END,
           acquired_at = CASE WHEN l.held_by = EXCLUDED.held_by AND l.expires_at > now()
                              THEN l.acquired_at ELSE now() END,
           expires_at = EXCLUDED.expires_at
         WHERE l.held_by IS NULL OR l.held_by = EXCLUDED.held_by OR l.expires_at <= now()
            OR NOT EXISTS (SELECT 1 FROM cluster_live_nodes n WHERE n.id = l.held_by)
         RETURNING l.site_id, l.lease_epoch, l.replan_requests, l.replan_reason)",
      integer_array(site_ids), node, timeout_s));
}

std::optional<Held> take(Tx& tx, std::int64_t site_id, const std::string& node, int timeout_s) {
  auto taken = take(tx, std::vector<std::int64_t>{site_id}, node, timeout_s);
  if (taken.empty()) return std::nullopt;
  return taken.front();
}

std::vector<Held> renew(Tx& tx, const std::string& node, int timeout_s) {
  // Locked in id order, as take() does.
  return all_of(tx.exec_params(
      R"(UPDATE site_leases SET expires_at = now() + make_interval(secs => $2)
          WHERE site_id IN (SELECT site_id FROM site_leases
                             WHERE held_by = $1 AND expires_at > now()
                             ORDER BY site_id FOR UPDATE)
            AND held_by = $1 AND expires_at > now()
          RETURNING site_id, lease_epoch, replan_requests, replan_reason)",
      node, timeout_s));
}

std::vector<Held> held(Tx& tx, const std::string& node) {
  return all_of(tx.exec_params(
      R"(SELECT site_id, lease_epoch, replan_requests, replan_reason FROM site_leases
          WHERE held_by = $1 AND expires_at > now())",
      node));
}

bool request_replan(Tx& tx, std::int64_t site_id, const std::string& reason,
                    const std::string& node) {
  return tx.exec_params(
               R"(UPDATE site_leases
                     SET replan_requests = replan_requests + 1, replan_reason = $2
                   WHERE site_id = $1 AND held_by IS NOT NULL AND held_by <> $3)",
               site_id, reason, node)
             .affected_rows() > 0;
}

bool holds(Tx& tx, std::int64_t site_id, const std::string& node, std::int64_t epoch) {
  return !tx.exec_params(
                R"(SELECT 1 FROM site_leases
                    WHERE site_id = $1 AND held_by = $2 AND lease_epoch = $3
                      AND expires_at > now()
                    FOR SHARE)",
                site_id, node, epoch)
              .empty();
}

void release_all(Tx& tx, const std::string& node) {
  tx.exec_params("UPDATE site_leases SET held_by = NULL, expires_at = NULL WHERE held_by = $1",
                 node);
}

}  // namespace chargegrid::server::store::site_leases
