#include "plug_and_charge/rollout_recovery.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "logging.hpp"
#include "store/database.hpp"

namespace chargegrid::server::plug_and_charge {

namespace asio = boost::asio;

struct RolloutRecovery::Impl {
  Impl(const Config& c, asio::io_context& i, Database& d, commands::CommandRouter& r)
      : config(c), io(i), database(d), commands(r), timer(i) {}

  static asio::awaitable<void> loop(std::shared_ptr<Impl> self) {
    while (!self->stopped) {
      try {
        co_await resume_orphaned_rollouts(self->database, self->commands, self->runner);
      } catch (const std::exception& e) {
        log::warn("certificate_rollout_recovery_failed", {{"error", e.what()}});
      }
      // Outside cluster mode no other process leaves rollouts behind while this one runs.
      if (!self->config.cluster) co_return;
      self->timer.expires_after(std::chrono::seconds(self->config.lease_timeout_s));
      co_await self->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  const Config& config;
  asio::io_context& io;
  Database& database;
  commands::CommandRouter& commands;
  asio::steady_timer timer;
  RolloutRunner runner;
  std::atomic<bool> stopped{false};
};

RolloutRecovery::RolloutRecovery(const Config& config, asio::io_context& io, Database& database,
                                 commands::CommandRouter& commands)
    : impl_(std::make_shared<Impl>(config, io, database, commands)) {}

RolloutRecovery::~RolloutRecovery() = default;

void RolloutRecovery::start(RolloutRunner runner) {
  impl_->runner = std::move(runner);
  asio::co_spawn(impl_->io, Impl::loop(impl_), asio::detached);
}

void RolloutRecovery::stop() {
  impl_->stopped = true;
  asio::post(impl_->io, [impl = impl_] { impl->timer.cancel(); });
}

}  // namespace chargegrid::server::plug_and_charge
