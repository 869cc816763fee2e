// Commands for a station held by another node travel through command_log: the asking node
// writes the command (store::command_log::insert notifies the holder), the holder runs it
// (on_routed_command, the command router) and writes the outcome, and the asking node waits
// here — woken by the holder's notification, and looking once a second in case one is lost.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pqxx/pqxx>

#include "chargegrid/base/text.hpp"
#include "chargegrid/db/pool.hpp"
#include "cluster/cluster.hpp"
#include "logging.hpp"
#include "store/command_log.hpp"
#include "store/database.hpp"

namespace chargegrid::server {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kPollInterval = std::chrono::seconds(1);  // a routed command's fallback check
constexpr auto kRoutingGrace = std::chrono::seconds(2);  // on top of the holder's call timeout

}  // namespace

struct Cluster::Waiter {
  explicit Waiter(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
  std::atomic<bool> woken{false};
};

void Cluster::rescan_commands(pqxx::connection_base& c) {
  std::vector<std::int64_t> ids;
  {
    pqxx::work tx(c);
    ids = store::command_log::waiting_for(tx, node_id_);
    tx.commit();
  }
  if (!ids.empty())
    log::info("cluster_commands_found", {{"node", node_id_}, {"commands", ids.size()}});
  if (on_routed_command)
    for (auto id : ids) on_routed_command(id);
}

void Cluster::wake_waiter(std::int64_t command_id) {
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(waiters_mutex_);
    auto it = waiters_.find(command_id);
    if (it == waiters_.end()) return;  // it gave up already
    waiter = it->second;
  }
  waiter->woken = true;
  asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
}

asio::awaitable<commands::Outcome> Cluster::await_outcome(std::int64_t command_id,
                                                          RemoteHolder holder) {
  auto executor = co_await asio::this_coro::executor;
  auto waiter = std::make_shared<Waiter>(executor);
  {
    std::lock_guard lock(waiters_mutex_);
    waiters_[command_id] = waiter;
  }
  struct Unregister {
    Cluster& cluster;
    std::int64_t id;
    ~Unregister() {
      std::lock_guard lock(cluster.waiters_mutex_);
      cluster.waiters_.erase(id);
    }
  } unregister{*this, command_id};

  const auto deadline = Clock::now() + std::chrono::seconds(config_.call_timeout_s) + kRoutingGrace;
  bool database_failed = false;
  for (;;) {
    if (!waiter->woken.exchange(false)) {
      waiter->timer.expires_at(std::min(Clock::now() + kPollInterval, deadline));
      co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    const bool expired = Clock::now() >= deadline;
    store::command_log::RoutedState state;
    try {
      auto check = [command_id, node = holder.node, expired](store::Tx& tx) {
        return store::command_log::check_routed(tx, command_id, node, expired);
      };
      state = co_await database_.transaction(std::move(check));
      database_failed = false;
    } catch (const std::exception& e) {
      database_failed = true;
      log::debug("cluster_command_check_failed",
                 {{"command_id", command_id}, {"error", base::first_line(e.what())}});
    }
    if (!database_failed && state.outcome != "pending") {
      commands::Outcome outcome;
      outcome.kind = commands::outcome_kind(state.outcome).value_or(commands::Outcome::Kind::Lost);
      outcome.payload = state.response;
      count_outcome("out", state.outcome.empty() ? "lost" : state.outcome);
      if (state.gave_up)
        log::info(
            "cluster_command_given_up",
            {{"command_id", command_id}, {"holder", holder.node}, {"outcome", state.outcome}});
      co_return outcome;
    }
    if (expired && database_failed) {
      count_outcome("out", "database_unavailable");
      throw db::DatabaseUnavailable(
          "the database became unreachable while the command was routed to node " + holder.node +
          "; its outcome is unknown (see GET /commands/" + std::to_string(command_id) + " later)");
    }
  }
}

}  // namespace chargegrid::server
