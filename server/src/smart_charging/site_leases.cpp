#include "smart_charging/site_leases.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <set>

#include "chargegrid/db/pool.hpp"
#include "logging.hpp"
#include "store/charging_plans.hpp"
#include "store/database.hpp"
#include "store/site_leases.hpp"

namespace chargegrid::server::smart_charging {

namespace leases = store::site_leases;
using Clock = std::chrono::steady_clock;

SiteLeases::SiteLeases(Database& database, std::string node_id, std::chrono::seconds timeout)
    : database_(database), node_id_(std::move(node_id)), timeout_(timeout) {}

std::chrono::milliseconds SiteLeases::tick_interval() const {
  // Renewals come every fifth of the timeout; replan requests are looked for at least every
  // second.
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(1), timeout_ / 5);
}

boost::asio::awaitable<std::optional<std::int64_t>> SiteLeases::claim(std::int64_t site_id,
                                                                      const std::string& reason,
                                                                      bool ask_holder) {
  if (released_) co_return std::nullopt;
  const auto now = Clock::now();
  // A lease this node renewed recently enough is planned under without asking the database.
  if (auto it = held_.find(site_id); it != held_.end() && now < it->second.deadline - timeout_ / 5)
    co_return it->second.epoch;
  const auto timeout_s = static_cast<int>(timeout_.count());
  auto taken = co_await database_.transaction([&](store::Tx& tx) -> std::optional<leases::Held> {
    if (auto held = leases::take(tx, site_id, node_id_, timeout_s)) return held;
    if (ask_holder) leases::request_replan(tx, site_id, reason, node_id_);
    return std::nullopt;
  });
  if (!taken) {
    held_.erase(site_id);
    co_return std::nullopt;
  }
  auto& lease = held_[site_id];
  if (lease.epoch != taken->epoch) {
    log::info("smart_charging_site_lease_taken",
              {{"site_id", site_id}, {"node", node_id_}, {"epoch", taken->epoch}});
    lease.since = Clock::now();
  }
  lease.epoch = taken->epoch;
  lease.seen_requests = taken->replan_requests;  // this plan answers them
  lease.deadline = now + timeout_;
  co_return lease.epoch;
}

boost::asio::awaitable<std::vector<std::pair<std::int64_t, std::string>>> SiteLeases::tick() {
  const auto started = Clock::now();
  const bool renewal = started >= next_renewal_;
  const auto timeout_s = static_cast<int>(timeout_.count());
  struct Seen {
    std::vector<leases::Held> mine;
    std::vector<leases::Held> taken;
  };
  Seen seen;
  seen.mine = co_await database_.transaction([&](store::Tx& tx) {
    return renewal ? leases::renew(tx, node_id_, timeout_s) : leases::held(tx, node_id_);
  });
  if (renewal && !released_) {
    // In a transaction of its own: the renewal's row locks are not held while taking others.
    std::set<std::int64_t> mine;
    for (const auto& h : seen.mine) mine.insert(h.site_id);
    seen.taken = co_await database_.transaction([&](store::Tx& tx) {
      std::vector<std::int64_t> free;
      for (auto site : store::charging_plans::sites_with_sessions(tx))
        if (!mine.contains(site)) free.push_back(site);
      return leases::take(tx, free, node_id_, timeout_s);
    });
  }
  if (renewal) next_renewal_ = started + timeout_ / 5;

  std::vector<std::pair<std::int64_t, std::string>> replans;
  std::set<std::int64_t> listed;
  for (const auto& h : seen.mine) {
    listed.insert(h.site_id);
    auto it = held_.find(h.site_id);
    if (it == held_.end() || it->second.epoch != h.epoch) {
      // Held in the database but not known here (e.g. a restart under the same id): plan it.
      held_[h.site_id] = {h.epoch, h.replan_requests, started, started + timeout_};
      replans.emplace_back(h.site_id, "lease_taken");
      continue;
    }
    if (renewal) it->second.deadline = started + timeout_;
    if (h.replan_requests > it->second.seen_requests) {
      it->second.seen_requests = h.replan_requests;
      replans.emplace_back(h.site_id, h.replan_reason.empty() ? "requested" : h.replan_reason);
    }
  }
  for (const auto& h : seen.taken) {
    listed.insert(h.site_id);
    log::info("smart_charging_site_lease_taken",
              {{"site_id", h.site_id}, {"node", node_id_}, {"epoch", h.epoch}});
    held_[h.site_id] = {h.epoch, h.replan_requests, started, started + timeout_};
    replans.emplace_back(h.site_id, "lease_taken");
  }
  // Leases taken by claim() while this tick's query ran are not in its answer yet.
  for (auto it = held_.begin(); it != held_.end();) {
    if (!listed.contains(it->first) && it->second.since < started) {
      log::warn("smart_charging_site_lease_lost", {{"site_id", it->first}, {"node", node_id_}});
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  co_return replans;
}

void SiteLeases::release_all(db::ConnectionPool& pool) {
  released_ = true;
  pool.try_submit([node = node_id_](pqxx::connection& c) {
    pqxx::work tx(c);
    leases::release_all(tx, node);
    tx.commit();
  });
}

}  // namespace chargegrid::server::smart_charging
