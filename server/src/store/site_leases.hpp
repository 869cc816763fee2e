#pragma once
// site_leases: in cluster mode each site is planned by one node at a time. A lease counts while
// its expiry is ahead and its node is live (cluster_live_nodes); every change is one statement,
// so two nodes taking one site at once are ordered by its row lock. Other nodes ask the holder
// for a replan by counting up replan_requests on the row.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::site_leases {

struct Held {
  std::int64_t site_id = 0;
  std::int64_t epoch = 0;
  std::int64_t replan_requests = 0;  // how many replans other nodes asked for so far
  std::string replan_reason;         // the latest one's reason ("" if none)
};

// Takes the leases of `site_ids` that are free, expired, or held by a node that is not live,
// and renews those `node` holds already (same epoch); a take-over bumps the epoch. Returns the
// sites `node` holds afterwards; sites another live node holds, or that do not exist, are
// left out.
std::vector<Held> take(Tx& tx, const std::vector<std::int64_t>& site_ids, const std::string& node,
                       int timeout_s);
std::optional<Held> take(Tx& tx, std::int64_t site_id, const std::string& node, int timeout_s);

// Extends every unexpired lease of `node` by `timeout_s` from now; returns them.
std::vector<Held> renew(Tx& tx, const std::string& node, int timeout_s);
// The unexpired leases of `node`, as they stand (for the replan requests on them).
std::vector<Held> held(Tx& tx, const std::string& node);

// Asks the node holding the site (another than `node`) to replan it; false when no other node
// holds it.
bool request_replan(Tx& tx, std::int64_t site_id, const std::string& reason,
                    const std::string& node);

// True while `node` holds the site at `epoch`; the row stays share-locked until the caller's
// transaction ends, so no take-over commits in between.
bool holds(Tx& tx, std::int64_t site_id, const std::string& node, std::int64_t epoch);

// Gives back every lease of `node` (a clean stop).
void release_all(Tx& tx, const std::string& node);

}  // namespace chargegrid::server::store::site_leases
