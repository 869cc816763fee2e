#pragma once
// The group commits (group_commit.hpp) of what every station sends when it connects and
// boots: connector status changes, boots and connections, each written with those of other
// stations in one transaction per batch, and the handshake's read of the station's
// credentials, read for many stations at once; and of the writes that Authorize and a
// session's messages (its start, events and stop) make before they are answered. In cluster
// mode a connection, and the boot of a station unknown when it connected, take the station's
// lease in their batch, and a connection's end gives it back in another (see
// docs/architecture.md).

#include <functional>
#include <optional>
#include <string>

#include "chargegrid/db/fwd.hpp"
#include "chargegrid/protocols/version.hpp"
#include "group_commit.hpp"
#include "security/station_auth.hpp"
#include "store/connectors.hpp"
#include "store/stations.hpp"

namespace chargegrid::server {

class Metrics;
struct Config;

// A BootNotification to record, and what it wrote (store::stations::record_boots; in
// cluster mode with the lease).
using BootWrite = store::stations::BootRow;
using BootRecorded = store::stations::Booted;

// A station that connected (store::stations::connect_all; in cluster mode with the lease).
using ConnectWrite = store::stations::Connection;

// The writes of one CALL that must commit before it is answered (Authorize, a session's
// start, events and stop), run in its batch's transaction with other stations' writes. When
// the batch fails it runs again in a transaction of its own, so it sets what it hands back
// afresh on every run.
struct SessionWrite {
  std::string station_id;  // batches run their writes in station order (see by_station)
  std::function<void(store::Tx&)> write;
};

class StateWriters {
 public:
  StateWriters(boost::asio::io_context& io, db::ConnectionPool& pool, Metrics& metrics,
               std::size_t batch_items, int batch_delay_ms);

  // store::connectors::record_status; true once committed.
  GroupCommit<store::connectors::StatusChange, bool> statuses;
  // store::stations::record_boots.
  GroupCommit<BootWrite, BootRecorded> boots;
  GroupCommit<ConnectWrite, store::stations::Connected> connects;
  // A station id's credentials for its handshake, nullopt when there is no such station.
  GroupCommit<std::string, std::optional<security::StationSecurity>> credentials;
  // SessionWrite: true once committed.
  GroupCommit<SessionWrite, bool> session_writes;
  // Cluster mode: the leases of connections that ended (store::stations::end_leases), queued
  // with submit(): a mass disconnect costs a transaction per batch, not per station.
  GroupCommit<store::stations::LeaseEnd, bool> lease_ends;

  // Writes whatever waits (at shutdown).
  void flush();
};

}  // namespace chargegrid::server
