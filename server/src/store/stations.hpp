#pragma once
// stations: the one writer of the stations table — registration and boot metadata, the
// connection state, and in cluster mode the lease (held_by, lease_epoch) that says which node
// holds a station's connection (docs/cluster.md).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "chargegrid/protocols/version.hpp"
#include "store/transaction.hpp"

namespace chargegrid::server::store::stations {

// The site a station belongs to (nullopt: none, or no such station).
std::optional<std::int64_t> site_of(Tx& tx, const std::string& station_id);
// site_of() for many stations in one statement, in the order of `station_ids`.
std::vector<std::optional<std::int64_t>> sites_of(Tx& tx, std::span<const std::string> station_ids);

// Stations heard from recently (batched: one statement for many). A row whose last_seen_at is
// already less than `precision_s` old (a connection or boot just wrote it, or an earlier
// call) is left alone, unlocked: the time is kept to within `precision_s`.
void record_seen(Tx& tx, const std::vector<std::string>& station_ids, int precision_s);

// What a BootNotification says about a station.
struct Boot {
  std::string reason;
  std::optional<std::string> vendor, model, serial, firmware, iccid, imsi, meter_type, meter_serial;
};
// A BootNotification to record (record_boots). A known station keeps the registration an
// operator gave it; an unknown one is registered as `initial_registration` if
// `register_unknown`, else nothing is written for it.
struct BootRow {
  std::string station_id;
  protocols::OcppVersion version = protocols::OcppVersion::v16;
  Boot boot;
  std::string initial_registration;
  bool register_unknown = true;
  // Cluster mode: the node taking the lease of the row the boot makes or finds; empty: none.
  std::string lease_node;
};
// What a boot wrote: the station's registration, nullopt when no row was made; the lease's
// epoch when one was taken (0: none).
struct Booted {
  std::optional<std::string> registration;
  std::int64_t lease_epoch = 0;
};
// Records many boots in a few statements (not one per boot), the rows locked in byte order
// of their ids as record_seen and connect_all lock them; what each boot wrote, in order. A
// station named twice keeps its last boot's values and both get its registration; a lease
// is taken as connect_all takes it (each lease-taking boot its own epoch, the previous
// holder told to let go).
std::vector<Booted> record_boots(Tx& tx, std::span<const BootRow> boots);

// ---- Connections and leases ----

// What a connecting station's handshake is checked against.
struct Credentials {
  int security_profile = 0;
  std::string password_hash;  // empty: none set
};
// Of each id, in order: its credentials, nullopt when there is no such station.
std::vector<std::optional<Credentials>> credentials_of(Tx& tx, std::span<const std::string> ids);

// What a connecting station's row says; `found` false when it has none yet.
struct Connected {
  bool found = false;
  std::string registration;  // pending, accepted, rejected
  std::optional<std::int64_t> site_id;
  std::int64_t lease_epoch = 0;  // cluster mode: the lease this node took (0: none)
};
// A station that connected, for connect_all.
struct Connection {
  std::string station_id;
  protocols::OcppVersion version = protocols::OcppVersion::v16;
  // Cluster mode: the node taking the station's lease over with the connection; empty
  // outside cluster mode (no lease).
  std::string lease_node;
};
// Marks many stations connected (protocol, last seen) in one statement, their rows locked in
// byte order of their ids as record_seen locks them: what each one's row says, in order. A
// connection with a lease_node takes the station's lease over in the same statement, and the
// node that held it is told to let go. A station named twice gets its row's answer twice and
// keeps its last protocol; with leases each of its connections gets an epoch of its own, the
// last one the newest, so the end of an earlier one never ends the later one's lease.
std::vector<Connected> connect_all(Tx& tx, std::span<const Connection> connections);
// Outside cluster mode: the connection that held the station ended; it is offline.
void end_connection(Tx& tx, const std::string& station_id);

// A connection that ended in cluster mode: `node`'s lease of the station up to `epoch`.
struct LeaseEnd {
  std::string station_id;
  std::string node;
  std::int64_t epoch = 0;
};
// Ends many such leases in one statement, the rows locked in byte order of their ids: only
// `node`'s lease up to `epoch` ends (a newer connection here or elsewhere keeps the station
// online). A station named twice ends up to its highest epoch.
void end_leases(Tx& tx, std::span<const LeaseEnd> ends);

// The live node other than `self` holding a station, with its epoch and the station's version.
struct Holder {
  std::string node;
  std::int64_t epoch = 0;
  protocols::OcppVersion version = protocols::OcppVersion::v16;
};
std::optional<Holder> remote_holder(Tx& tx, const std::string& station_id, const std::string& self);
// remote_holder() for many stations in one statement, in the order of `station_ids`.
std::vector<std::optional<Holder>> remote_holders(Tx& tx, std::span<const std::string> station_ids,
                                                  const std::string& self);

using StationEpoch = std::pair<std::string, std::int64_t>;
// Ends every lease `node` holds (it left, restarted or died); returns how many.
std::size_t free_leases_of(Tx& tx, const std::string& node);
// Of `ids`: those another live node holds; those free (no live holder) are taken by `self`;
// returns (held elsewhere, now or already held by self).
std::pair<std::vector<StationEpoch>, std::vector<StationEpoch>> reconcile(
    Tx& tx, const std::vector<std::string>& ids, const std::string& self, std::size_t& taken);
// Leases `node` took longer ago than `seconds`.
std::vector<StationEpoch> leases_older_than(Tx& tx, const std::string& node, int seconds);
// Ends `node`'s leases of these stations, unless a newer take-over raised the epoch since.
std::size_t release(Tx& tx, const std::string& node, const std::vector<StationEpoch>& leases);

// ---- What operators set through the REST API ----
// Values come as the API's JSON: {"name", "site_id", "registration", "security_profile"}; a
// patch changes only the members it has (JSON merge-patch; null clears).

// Registers a station before it ever connected (registration "accepted" unless given; the
// schema's default security profile unless given).
void create(Tx& tx, const std::string& station_id, const std::string& station_json);
// Gives a station without a site (one that booted unregistered) the operator's values; one
// waiting in Pending is accepted unless the values say otherwise.
struct Adopted {
  std::optional<std::string> registration;
  int security_profile = 0;
};
Adopted adopt(Tx& tx, const std::string& station_id, const std::string& station_json);
void update(Tx& tx, const std::string& station_id, const std::string& patch_json);
void remove(Tx& tx, const std::string& station_id);
// Stores a Basic-auth password's hash; returns when it was set (RFC 3339).
std::string set_password_hash(Tx& tx, const std::string& station_id, const std::string& hash);

}  // namespace chargegrid::server::store::stations
