#include "plug_and_charge/rollout_recovery.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "logging.hpp"
#include "store/certificate_rollouts.hpp"

namespace chargegrid::server::plug_and_charge {

RolloutRecovery::RolloutRecovery(const Config& config, boost::asio::io_context& io,
                                 db::ConnectionPool& pool, Database& database,
                                 commands::CommandRouter& commands, RolloutRunner self)
    : io_(io),
      database_(database),
      commands_(commands),
      self_(std::move(self)),
      cluster_(config.cluster),
      interval_(std::chrono::seconds(std::max(1, config.lease_timeout_s))),
      job_(io, pool, interval_, [this](pqxx::connection_base& c) {
        round(c);
        return false;
      }) {}

void RolloutRecovery::round(pqxx::connection_base& c) {
  // Stations reconnect first; outside cluster mode no other process leaves rollouts behind
  // while this one runs.
  if (std::chrono::steady_clock::now() - started_ < interval_ || (!cluster_ && looked_)) return;
  try {
    pqxx::work tx(c);
    auto orphans = store::certificate_rollouts::take_orphans(tx, self_.node, self_.incarnation);
    tx.commit();
    looked_ = true;
    for (const auto& orphan : orphans) {
      log::info("certificate_rollout_resumed", {{"rollout_id", orphan.id},
                                                {"previous_runner", orphan.previous_runner},
                                                {"pending", orphan.pending.size()},
                                                {"runner", self_.node}});
      resend_rollout(io_.get_executor(), database_, commands_, orphan);
    }
  } catch (const std::exception& e) {
    log::warn("certificate_rollout_recovery_failed",
              {{"error", std::string(e.what()).substr(0, 200)}});
  }
}

}  // namespace chargegrid::server::plug_and_charge
