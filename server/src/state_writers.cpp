#include "state_writers.hpp"

#include <algorithm>
#include <numeric>
#include <pqxx/pqxx>

#include "metrics.hpp"

namespace chargegrid::server {

namespace {

GroupCommitOptions options(const char* name, Metrics& metrics, Metrics::WriteBatch kind,
                           std::size_t batch_items, int batch_delay_ms) {
  return {name, batch_items, batch_delay_ms,
          [&metrics, kind](std::size_t items) { metrics.observe_write_batch(kind, items); }};
}

std::vector<bool> write_statuses(store::Tx& tx,
                                 std::span<const store::connectors::StatusChange> changes) {
  store::connectors::record_statuses(tx, changes);
  return std::vector<bool>(changes.size(), true);
}

// The items' positions ordered by station id, byte by byte as PostgreSQL's "C" collation
// (each station's own in their order): batches that lock station rows, and record_seen, lock
// them in one order, so two of them never deadlock.
template <class Item>
std::vector<std::size_t> by_station(std::span<const Item> items) {
  std::vector<std::size_t> order(items.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return items[a].station_id < items[b].station_id;
  });
  return order;
}

std::vector<BootRecorded> write_boots(store::Tx& tx, std::span<const BootWrite> boots) {
  return store::stations::record_boots(tx, boots);
}

std::vector<store::stations::Connected> write_connects(store::Tx& tx,
                                                       std::span<const ConnectWrite> connects) {
  return store::stations::connect_all(tx, connects);
}

std::vector<bool> write_lease_ends(store::Tx& tx, std::span<const store::stations::LeaseEnd> ends) {
  store::stations::end_leases(tx, ends);
  return std::vector<bool>(ends.size(), true);
}

std::vector<bool> run_session_writes(store::Tx& tx, std::span<const SessionWrite> writes) {
  for (const auto i : by_station(writes)) writes[i].write(tx);
  return std::vector<bool>(writes.size(), true);
}

std::vector<std::optional<security::StationSecurity>> read_credentials(
    store::Tx& tx, std::span<const std::string> ids) {
  std::vector<std::optional<security::StationSecurity>> out;
  out.reserve(ids.size());
  for (auto& c : store::stations::credentials_of(tx, ids)) {
    if (c)
      out.push_back(security::StationSecurity{c->security_profile, std::move(c->password_hash)});
    else
      out.emplace_back();
  }
  return out;
}

}  // namespace

StateWriters::StateWriters(boost::asio::io_context& io, db::ConnectionPool& pool, Metrics& metrics,
                           std::size_t batch_items, int batch_delay_ms)
    : statuses(io, pool,
               options("status", metrics, Metrics::WriteBatch::status, batch_items, batch_delay_ms),
               write_statuses),
      boots(io, pool,
            options("boot", metrics, Metrics::WriteBatch::boot, batch_items, batch_delay_ms),
            write_boots),
      connects(
          io, pool,
          options("connect", metrics, Metrics::WriteBatch::connect, batch_items, batch_delay_ms),
          write_connects),
      credentials(io, pool,
                  options("credentials", metrics, Metrics::WriteBatch::credentials, batch_items,
                          batch_delay_ms),
                  read_credentials),
      session_writes(io, pool,
                     options("session_write", metrics, Metrics::WriteBatch::session, batch_items,
                             batch_delay_ms),
                     run_session_writes),
      lease_ends(io, pool,
                 options("lease_end", metrics, Metrics::WriteBatch::lease_end, batch_items,
                         batch_delay_ms),
                 write_lease_ends) {}

void StateWriters::flush() {
  statuses.flush();
  boots.flush();
  connects.flush();
  credentials.flush();
  session_writes.flush();
  lease_ends.flush();
}

}  // namespace chargegrid::server
