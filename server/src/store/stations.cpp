#include "store/stations.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <string_view>
#include <unordered_map>

#include "cluster/messages.hpp"
#include "store/cluster_nodes.hpp"
#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::stations {

namespace {

// Inside the transaction that took the lease: the previous holder, if another node, lets go.
void tell_previous_holder(Tx& tx, const std::string& station_id, const pqxx::field& previous,
                          const std::string& node, std::int64_t epoch) {
  if (previous.is_null()) return;
  const auto holder = previous.as<std::string>();
  if (holder == node) return;
  cluster_nodes::notify(tx, holder, cluster::messages::release(station_id, epoch));
}

// The FROM clause of a read of many stations: $1 their ids, i.ord each one's position (from
// 1), s its row. Ids without a row yield none.
const std::string kStationsInOrder =
    "FROM unnest($1::text[]) WITH ORDINALITY AS i(id, ord) JOIN stations s ON s.id = i.id";

// One value per asked station, in the order asked: read(row) for each row (its position in
// column 0), nullopt for a station without one.
template <class T, class Read>
std::vector<std::optional<T>> per_station(const pqxx::result& rows, std::size_t stations,
                                          Read read) {
  std::vector<std::optional<T>> out(stations);
  for (const auto& row : rows) out[row[0].as<std::size_t>() - 1] = read(row);
  return out;
}

// The epoch of the n-th (from 1) of a station's `count` lease-taking items in a batch whose
// statement left its row at `row_epoch`: each its own, the last the row's; 0 for an item
// that took none (n 0) or a station without a row.
std::int64_t nth_lease_epoch(std::int64_t row_epoch, std::int64_t count, std::int64_t n) {
  return n == 0 || row_epoch == 0 ? 0 : row_epoch - (count - n);
}

// {"node",NULL,...}: the lease nodes of connect_all, NULL where none is taken.
std::string node_array(const std::vector<std::optional<std::string>>& nodes) {
  ArrayLiteral array;
  for (const auto& node : nodes) array.add_or_null(node);
  return array.str();
}

}  // namespace

std::optional<std::int64_t> site_of(Tx& tx, const std::string& station_id) {
  auto rows = tx.exec_params("SELECT site_id FROM stations WHERE id = $1", station_id);
  if (rows.empty() || rows[0][0].is_null()) return std::nullopt;
  return rows[0][0].as<std::int64_t>();
}

std::vector<std::optional<std::int64_t>> sites_of(Tx& tx,
                                                  std::span<const std::string> station_ids) {
  return per_station<std::int64_t>(
      tx.exec_params("SELECT i.ord, s.site_id " + kStationsInOrder + " WHERE s.site_id IS NOT NULL",
                     text_array(station_ids)),
      station_ids.size(), [](const pqxx::row& row) { return row[1].as<std::int64_t>(); });
}

void record_seen(Tx& tx, const std::vector<std::string>& station_ids, int precision_s) {
  // Rows locked in byte order of their ids, as the batches of boots and connections lock
  // them (StateWriters), so that neither waits for the other in a cycle.
  tx.exec_params(
      R"(UPDATE stations SET last_seen_at = now()
         WHERE id IN (SELECT id FROM stations
                       WHERE id = ANY($1::text[])
                         AND (last_seen_at IS NULL
                              OR last_seen_at < now() - make_interval(secs => $2))
                       ORDER BY id COLLATE "C" FOR NO KEY UPDATE))",
      text_array(station_ids), precision_s);
}

namespace {

// The boot values of many stations as array parameters: $n id, protocol, vendor, model,
// serial, firmware, iccid, imsi, meter type, meter serial, reason (11 arrays, in that order).
struct BootArrays {
  std::vector<std::string> ids;
  ArrayLiteral protocol, vendor, model, serial, firmware, iccid, imsi, meter_type, meter_serial,
      reason;
  void add(const BootRow& b) {
    ids.push_back(b.station_id);
    protocol.add(std::string(protocols::subprotocol(b.version)));
    vendor.add_or_null(b.boot.vendor);
    model.add_or_null(b.boot.model);
    serial.add_or_null(b.boot.serial);
    firmware.add_or_null(b.boot.firmware);
    iccid.add_or_null(b.boot.iccid);
    imsi.add_or_null(b.boot.imsi);
    meter_type.add_or_null(b.boot.meter_type);
    meter_serial.add_or_null(b.boot.meter_serial);
    reason.add(b.boot.reason);
  }
  bool empty() const { return ids.empty(); }
};

// unnest() of BootArrays ($1 to $11) as b(id, protocol, vendor, ...), with $12 as the
// column `registration` when `with_registration`.
std::string unnest_boots(bool with_registration) {
  std::string arrays;
  for (int i = 1; i <= (with_registration ? 12 : 11); ++i)
    arrays += (i > 1 ? ", $" : "$") + std::to_string(i) + "::text[]";
  return "unnest(" + arrays +
         ") AS b(id, protocol, vendor, model, serial_number, firmware_version, iccid, imsi, "
         "meter_type, meter_serial_number, boot_reason" +
         (with_registration ? ", registration)" : ")");
}

// The SET list of a boot, its values from the row `from` (b, or excluded in an upsert).
std::string boot_columns(const std::string& from) {
  std::string set;
  for (const char* column : {"protocol", "vendor", "model", "serial_number", "firmware_version",
                             "iccid", "imsi", "meter_type", "meter_serial_number", "boot_reason"})
    set += std::string(column) + " = " + from + "." + column + ", ";
  return set +
         "last_boot_at = now(), last_seen_at = now(), "
         "connected_since = COALESCE(s.connected_since, now())";
}

}  // namespace

std::vector<Booted> record_boots(Tx& tx, std::span<const BootRow> boots) {
  // One entry per station (a statement may change a row only once): its last boot's values,
  // whether any of its boots registers it, and how many of them take the lease.
  struct Entry {
    const BootRow* last = nullptr;
    const BootRow* registering = nullptr;  // the first boot that may register it
    std::string lease_node;
    std::int64_t leases = 0;
    std::optional<std::string> registration;
    std::int64_t lease_epoch = 0;
  };
  std::unordered_map<std::string_view, Entry> entry;
  std::vector<std::int64_t> lease_number(boots.size(), 0);
  for (std::size_t i = 0; i < boots.size(); ++i) {
    const auto& b = boots[i];
    auto& e = entry[b.station_id];
    e.last = &b;
    if (b.register_unknown && !e.registering) e.registering = &b;
    if (!b.lease_node.empty()) {
      e.lease_node = b.lease_node;
      lease_number[i] = ++e.leases;
    }
  }
  // In byte order of the ids, so the rows are locked in that order.
  std::vector<std::string_view> ids;
  ids.reserve(entry.size());
  for (const auto& [id, e] : entry) ids.push_back(id);
  std::sort(ids.begin(), ids.end());

  BootArrays registering, known_only;
  ArrayLiteral initial;
  for (const auto id : ids) {
    const auto& e = entry.at(id);
    if (e.registering) {
      registering.add(*e.last);
      initial.add(e.registering->initial_registration);
    } else {
      known_only.add(*e.last);
    }
  }
  const auto read_registrations = [&](const pqxx::result& rows) {
    for (const auto& row : rows) entry.at(row[0].as<std::string>()).registration = row[1].c_str();
  };
  if (!registering.empty()) {
    // Made or updated; an operator's registration of a known station is kept.
    read_registrations(tx.exec_params(
        "INSERT INTO stations AS s (id, registration, protocol, vendor, model, serial_number, "
        "firmware_version, iccid, imsi, meter_type, meter_serial_number, boot_reason, "
        "last_boot_at, last_seen_at, connected_since) "
        "SELECT b.id, b.registration, b.protocol, b.vendor, b.model, b.serial_number, "
        "b.firmware_version, b.iccid, b.imsi, b.meter_type, b.meter_serial_number, "
        "b.boot_reason, now(), now(), now() FROM " +
            unnest_boots(true) +
            " ORDER BY b.id COLLATE \"C\" "
            "ON CONFLICT (id) DO UPDATE SET " +
            boot_columns("excluded") + " RETURNING s.id, s.registration",
        text_array(registering.ids), registering.protocol.str(), registering.vendor.str(),
        registering.model.str(), registering.serial.str(), registering.firmware.str(),
        registering.iccid.str(), registering.imsi.str(), registering.meter_type.str(),
        registering.meter_serial.str(), registering.reason.str(), initial.str()));
  }
  if (!known_only.empty()) {
    read_registrations(tx.exec_params(
        "WITH locked AS (SELECT id FROM stations WHERE id = ANY($1::text[]) "
        "ORDER BY id COLLATE \"C\" FOR NO KEY UPDATE) "
        "UPDATE stations s SET " +
            boot_columns("b") + " FROM " + unnest_boots(false) +
            " JOIN locked l ON l.id = b.id WHERE s.id = b.id RETURNING s.id, s.registration",
        text_array(known_only.ids), known_only.protocol.str(), known_only.vendor.str(),
        known_only.model.str(), known_only.serial.str(), known_only.firmware.str(),
        known_only.iccid.str(), known_only.imsi.str(), known_only.meter_type.str(),
        known_only.meter_serial.str(), known_only.reason.str()));
  }
  // Cluster mode: the leases of the rows found or made, in one statement.
  std::vector<std::string> lease_ids, lease_nodes;
  std::vector<std::int64_t> lease_counts;
  for (const auto id : ids) {
    const auto& e = entry.at(id);
    if (e.registration && e.leases > 0) {
      lease_ids.emplace_back(id);
      lease_nodes.push_back(e.lease_node);
      lease_counts.push_back(e.leases);
    }
  }
  if (!lease_ids.empty()) {
    const auto rows = tx.exec_params(
        R"(WITH previous AS (
             SELECT id, held_by FROM stations WHERE id = ANY($1::text[])
             ORDER BY id COLLATE "C" FOR NO KEY UPDATE)
           UPDATE stations s SET held_by = c.node, lease_epoch = s.lease_epoch + c.leases,
                                 lease_acquired_at = now()
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS c(id, node, leases)
             JOIN previous p ON p.id = c.id
           WHERE s.id = c.id
           RETURNING s.id, s.lease_epoch, p.held_by)",
        text_array(lease_ids), text_array(lease_nodes), integer_array(lease_counts));
    for (const auto& row : rows) {
      const auto id = row[0].as<std::string>();
      auto& e = entry.at(id);
      e.lease_epoch = row[1].as<std::int64_t>();
      tell_previous_holder(tx, id, row[2], e.lease_node, e.lease_epoch);
    }
  }
  std::vector<Booted> out;
  out.reserve(boots.size());
  for (std::size_t i = 0; i < boots.size(); ++i) {
    const auto& e = entry.at(boots[i].station_id);
    out.push_back({e.registration, nth_lease_epoch(e.lease_epoch, e.leases, lease_number[i])});
  }
  return out;
}

std::vector<std::optional<Credentials>> credentials_of(Tx& tx, std::span<const std::string> ids) {
  return per_station<Credentials>(
      tx.exec_params(
          "SELECT i.ord, s.security_profile, coalesce(s.password_hash, '') " + kStationsInOrder,
          text_array(ids)),
      ids.size(), [](const pqxx::row& row) {
        return Credentials{row[1].as<int>(), row[2].as<std::string>()};
      });
}

std::vector<Connected> connect_all(Tx& tx, std::span<const Connection> connections) {
  // One entry per station (an UPDATE changes a row once, however many join rows name it):
  // its last protocol and lease node, and how many of its connections take the lease.
  struct Entry {
    std::size_t index;
    std::int64_t leases = 0;
  };
  std::unordered_map<std::string_view, Entry> entry;
  std::vector<std::string> ids, protocols;
  std::vector<std::optional<std::string>> nodes;  // nullopt: no lease taken
  std::vector<std::int64_t> leases;
  // Per connection: its station's entry and, for a lease, its place among the station's.
  std::vector<std::int64_t> lease_number(connections.size(), 0);
  for (std::size_t i = 0; i < connections.size(); ++i) {
    const auto& c = connections[i];
    const auto [it, added] = entry.try_emplace(c.station_id, Entry{ids.size()});
    if (added) {
      ids.push_back(c.station_id);
      protocols.emplace_back();
      nodes.emplace_back();
      leases.push_back(0);
    }
    const auto at = it->second.index;
    protocols[at] = protocols::subprotocol(c.version);
    if (!c.lease_node.empty()) {
      nodes[at] = c.lease_node;
      lease_number[i] = ++leases[at];
    }
  }
  // `previous` locks the rows (in byte order of their ids) and keeps who held each before.
  const auto rows = tx.exec_params(
      R"(WITH previous AS (
           SELECT id, held_by FROM stations WHERE id = ANY($1::text[])
           ORDER BY id COLLATE "C" FOR NO KEY UPDATE)
         UPDATE stations s SET connected_since = now(), last_seen_at = now(),
                               protocol = c.protocol,
                               held_by = COALESCE(c.node, s.held_by),
                               lease_epoch = s.lease_epoch + c.leases,
                               lease_acquired_at = CASE WHEN c.node IS NULL
                                                        THEN s.lease_acquired_at ELSE now() END
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
                WITH ORDINALITY AS c(id, protocol, node, leases, ord)
           JOIN previous p ON p.id = c.id
         WHERE s.id = c.id
         RETURNING c.ord, s.registration, s.site_id, s.lease_epoch, p.held_by)",
      text_array(ids), text_array(protocols), node_array(nodes), integer_array(leases));
  std::vector<Connected> found(ids.size());
  for (const auto& row : rows) {
    const auto at = row[0].as<std::size_t>() - 1;
    auto& connected = found[at];
    connected.found = true;
    connected.registration = row[1].as<std::string>();
    if (!row[2].is_null()) connected.site_id = row[2].as<std::int64_t>();
    if (nodes[at]) {
      connected.lease_epoch = row[3].as<std::int64_t>();
      tell_previous_holder(tx, ids[at], row[4], *nodes[at], connected.lease_epoch);
    }
  }
  std::vector<Connected> out;
  out.reserve(connections.size());
  for (std::size_t i = 0; i < connections.size(); ++i) {
    const auto& e = entry.at(connections[i].station_id);
    auto connected = found[e.index];
    connected.lease_epoch =
        nth_lease_epoch(connected.lease_epoch, leases[e.index], lease_number[i]);
    out.push_back(std::move(connected));
  }
  return out;
}

void end_connection(Tx& tx, const std::string& station_id) {
  tx.exec_params("UPDATE stations SET connected_since = NULL WHERE id = $1", station_id);
}

void end_leases(Tx& tx, std::span<const LeaseEnd> ends) {
  std::vector<std::string> ids, nodes;
  std::vector<std::int64_t> epochs;
  for (const auto& e : ends) {
    ids.push_back(e.station_id);
    nodes.push_back(e.node);
    epochs.push_back(e.epoch);
  }
  // The rule is checked as each row is locked; `id = ANY` keeps both scans of stations on its
  // primary key.
  tx.exec_params(
      R"(WITH ended AS (
           SELECT id, node, max(epoch) AS epoch
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS e(id, node, epoch)
            GROUP BY id, node),
         locked AS (
           SELECT s.id FROM stations s JOIN ended e ON e.id = s.id
            WHERE s.id = ANY($1::text[])
              AND ((s.held_by = e.node AND s.lease_epoch <= e.epoch) OR s.held_by IS NULL)
            ORDER BY s.id COLLATE "C" FOR NO KEY UPDATE OF s)
         UPDATE stations s SET connected_since = NULL, held_by = NULL
           FROM locked l WHERE s.id = l.id AND s.id = ANY($1::text[]))",
      text_array(ids), text_array(nodes), integer_array(epochs));
}

namespace {

// held_by, lease_epoch and protocol from `row`, starting at column `first`.
Holder holder_from_row(const pqxx::row& row, int first) {
  Holder holder;
  holder.node = row[first].as<std::string>();
  holder.epoch = row[first + 1].as<std::int64_t>();
  if (!row[first + 2].is_null())
    if (auto version = protocols::version_from_subprotocol(row[first + 2].as<std::string>()))
      holder.version = *version;
  return holder;
}

}  // namespace

std::optional<Holder> remote_holder(Tx& tx, const std::string& station_id,
                                    const std::string& self) {
  auto rows = tx.exec_params(
      "SELECT s.held_by, s.lease_epoch, s.protocol FROM stations s "
      "JOIN cluster_live_nodes n ON n.id = s.held_by WHERE s.id = $1 AND s.held_by <> $2",
      station_id, self);
  if (rows.empty()) return std::nullopt;
  return holder_from_row(rows[0], 0);
}

std::vector<std::optional<Holder>> remote_holders(Tx& tx, std::span<const std::string> station_ids,
                                                  const std::string& self) {
  return per_station<Holder>(
      tx.exec_params("SELECT i.ord, s.held_by, s.lease_epoch, s.protocol " + kStationsInOrder +
                         " JOIN cluster_live_nodes n ON n.id = s.held_by WHERE s.held_by <> $2",
                     text_array(station_ids), self),
      station_ids.size(), [](const pqxx::row& row) { return holder_from_row(row, 1); });
}

std::size_t free_leases_of(Tx& tx, const std::string& node) {
  return tx
      .exec_params("UPDATE stations SET held_by = NULL, connected_since = NULL WHERE held_by = $1",
                   node)
      .affected_rows();
}

std::pair<std::vector<StationEpoch>, std::vector<StationEpoch>> reconcile(
    Tx& tx, const std::vector<std::string>& ids, const std::string& self, std::size_t& taken) {
  const auto array = text_array(ids);
  std::vector<StationEpoch> elsewhere, mine;
  for (const auto& row : tx.exec_params(
           "SELECT s.id, s.lease_epoch FROM stations s JOIN cluster_live_nodes n ON n.id = "
           "s.held_by WHERE s.id = ANY($1::text[]) AND s.held_by <> $2",
           array, self))
    elsewhere.emplace_back(row[0].as<std::string>(), row[1].as<std::int64_t>());
  // The rows to take are locked in byte order of their ids, as every batch of leases locks
  // them, so that this and a batch of connections cannot deadlock.
  taken = tx.exec_params(
                R"(WITH free AS (
                     SELECT s.id FROM stations s
                      WHERE s.id = ANY($1::text[])
                        AND (s.held_by IS NULL OR
                             NOT EXISTS (SELECT 1 FROM cluster_live_nodes n
                                          WHERE n.id = s.held_by))
                      ORDER BY s.id COLLATE "C" FOR NO KEY UPDATE OF s)
                   UPDATE stations s SET held_by = $2, lease_epoch = s.lease_epoch + 1,
                                         lease_acquired_at = now(),
                                         connected_since = coalesce(s.connected_since, now())
                     FROM free f WHERE s.id = f.id)",
                array, self)
              .affected_rows();
  for (const auto& row : tx.exec_params(
           "SELECT id, lease_epoch FROM stations WHERE id = ANY($1::text[]) AND held_by = $2",
           array, self))
    mine.emplace_back(row[0].as<std::string>(), row[1].as<std::int64_t>());
  return {elsewhere, mine};
}

std::vector<StationEpoch> leases_older_than(Tx& tx, const std::string& node, int seconds) {
  std::vector<StationEpoch> out;
  for (const auto& row : tx.exec_params(
           "SELECT id, lease_epoch FROM stations WHERE held_by = $1 AND lease_acquired_at < "
           "now() - make_interval(secs => $2)",
           node, seconds))
    out.emplace_back(row[0].as<std::string>(), row[1].as<std::int64_t>());
  return out;
}

std::size_t release(Tx& tx, const std::string& node, const std::vector<StationEpoch>& leases) {
  if (leases.empty()) return 0;
  std::vector<std::string> ids;
  std::vector<std::int64_t> epochs;
  for (const auto& [id, epoch] : leases) {
    ids.push_back(id);
    epochs.push_back(epoch);
  }
  return tx
      .exec_params(
          R"(WITH locked AS (
               SELECT s.id FROM stations s
                 JOIN unnest($1::text[], $3::bigint[]) AS seen(id, epoch) ON seen.id = s.id
                WHERE s.held_by = $2 AND s.lease_epoch <= seen.epoch
                ORDER BY s.id COLLATE "C" FOR NO KEY UPDATE OF s)
             UPDATE stations s SET held_by = NULL, connected_since = NULL
               FROM locked l WHERE s.id = l.id)",
          text_array(ids), node, integer_array(epochs))
      .affected_rows();
}

void create(Tx& tx, const std::string& station_id, const std::string& station_json) {
  tx.exec_params(
      R"(INSERT INTO stations (id, name, site_id, registration)
         SELECT $1, $2::jsonb->>'name', ($2::jsonb->>'site_id')::bigint,
                coalesce($2::jsonb->>'registration', 'accepted'))",
      station_id, station_json);
  // Without one, the station keeps the schema's default profile.
  tx.exec_params(
      "UPDATE stations SET security_profile = ($2::jsonb->>'security_profile')::smallint "
      "WHERE id = $1 AND $2::jsonb ? 'security_profile'",
      station_id, station_json);
}

Adopted adopt(Tx& tx, const std::string& station_id, const std::string& station_json) {
  static const std::string sql =
      "UPDATE stations SET " + patch_column("name", "name", "text") + ", " +
      patch_column("site_id", "site_id", "bigint") + ", " +
      patch_column("security_profile", "security_profile", "smallint") +
      // Registering approves a station that waits in Pending, as a new one is.
      ", registration = coalesce($2::jsonb->>'registration', CASE WHEN registration = "
      "'pending' THEN 'accepted' ELSE registration END) WHERE id = $1 "
      "RETURNING registration, security_profile";
  const auto row = tx.exec_params1(sql, station_id, station_json);
  Adopted adopted;
  if (!row[0].is_null()) adopted.registration = row[0].as<std::string>();
  adopted.security_profile = row[1].as<int>();
  return adopted;
}

void update(Tx& tx, const std::string& station_id, const std::string& patch_json) {
  static const std::string sql = "UPDATE stations SET " + patch_column("name", "name", "text") +
                                 ", " + patch_column("site_id", "site_id", "bigint") + ", " +
                                 patch_column("registration", "registration", "text") + ", " +
                                 patch_column("security_profile", "security_profile", "smallint") +
                                 " WHERE id = $1";
  tx.exec_params(sql, station_id, patch_json);
}

void remove(Tx& tx, const std::string& station_id) {
  tx.exec_params("DELETE FROM stations WHERE id = $1", station_id);
}

std::string set_password_hash(Tx& tx, const std::string& station_id, const std::string& hash) {
  return tx
      .exec_params1(
          "UPDATE stations SET password_hash = $2, password_set_at = now() WHERE id = $1 "
          "RETURNING password_set_at",
          station_id, hash)[0]
      .as<std::string>();
}

}  // namespace chargegrid::server::store::stations
