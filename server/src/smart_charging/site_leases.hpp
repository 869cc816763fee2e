#pragma once
// Cluster mode: the sites this node plans. Each site is planned by the one node holding its
// lease (store/site_leases.hpp); a replan trigger seen by another node takes the lease when it
// is free or expired, and otherwise asks the holder to replan. The holder renews its leases,
// picks up the other nodes' requests, and every node takes over the expired leases of sites
// with sessions, so a dead holder's sites move within about 1.2 lease timeouts.
// See docs/smart-charging.md "Cluster mode". Use on the service's strand only.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chargegrid/db/fwd.hpp"

namespace chargegrid::server {
class Database;
}

namespace chargegrid::server::smart_charging {

class SiteLeases {
 public:
  // `node_id` empty: not in cluster mode, every site is this node's.
  SiteLeases(Database& database, std::string node_id, std::chrono::seconds timeout);

  bool enabled() const { return !node_id_.empty(); }
  const std::string& node_id() const { return node_id_; }
  // How often tick() should run.
  std::chrono::milliseconds tick_interval() const;

  // The epoch under which this node may plan the site now, taking the lease when it is free
  // or expired; nullopt when another live node holds it (then, with `ask_holder`, that node
  // is asked to replan for `reason`).
  boost::asio::awaitable<std::optional<std::int64_t>> claim(std::int64_t site_id,
                                                            const std::string& reason,
                                                            bool ask_holder);

  // Renews the leases held (when due), reads the replans other nodes asked for and takes the
  // free or expired leases of sites with sessions. Returns the sites to replan here, with why.
  boost::asio::awaitable<std::vector<std::pair<std::int64_t, std::string>>> tick();

  // Drops what this node knows of the site's lease (a plan found it gone): the next claim asks
  // the database.
  void forget(std::int64_t site_id) { held_.erase(site_id); }

  // Gives every lease back (a clean stop), without waiting for the answer, and takes none
  // afterwards. Any thread.
  void release_all(db::ConnectionPool& pool);

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  struct Lease {
    std::int64_t epoch = 0;
    std::int64_t seen_requests = 0;
    SteadyTime since;     // when this node learnt it holds it
    SteadyTime deadline;  // it may plan until then (the renewal's start plus the timeout)
  };

  Database& database_;
  const std::string node_id_;
  const std::chrono::seconds timeout_;
  std::map<std::int64_t, Lease> held_;
  SteadyTime next_renewal_{};
  std::atomic<bool> released_{false};
};

}  // namespace chargegrid::server::smart_charging
