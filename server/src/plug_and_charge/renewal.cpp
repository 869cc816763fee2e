#include "plug_and_charge/renewal.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <set>

#include "commands/command_router.hpp"
#include "logging.hpp"
#include "store/certificates.hpp"

namespace chargegrid::server::plug_and_charge {

namespace asio = boost::asio;

namespace {
// Stations asked in one pass at most; the rest wait for the next.
constexpr int kPerPass = 200;
}  // namespace

struct CertificateRenewal::Impl : std::enable_shared_from_this<Impl> {
  Impl(const Config& c, asio::io_context& i, Database& d, commands::CommandRouter& r)
      : config(c), io(i), database(d), commands(r), timer(i) {}

  static asio::awaitable<void> loop(std::shared_ptr<Impl> self) {
    while (!self->stopped) {
      try {
        co_await self->pass();
      } catch (const std::exception& e) {
        log::warn("v2g_renewal_failed", {{"error", e.what()}});
      }
      self->timer.expires_after(std::chrono::seconds(self->config.v2g_renew_check_s));
      co_await self->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  asio::awaitable<void> pass() {
    const int renew_days = config.v2g_renew_days;
    const auto due = co_await database.transaction([renew_days](pqxx::work& tx) {
      return store::certificates::renewals_due(tx, renew_days, kPerPass);
    });
    for (const auto& certificate : due) {
      {
        // One request per certificate at a time: a station slow to answer is not asked twice.
        std::lock_guard lock(mutex);
        if (!in_flight.insert(certificate.serial).second) continue;
      }
      commands::StationCommand command;
      command.station_id = certificate.station_id;
      command.name = "trigger-v2g-certificate";
      command.arguments = {{"certificate_type", certificate.certificate_type}};
      command.origin = commands::Origin::internal("pki");
      auto self = shared_from_this();
      commands.post(std::move(command), [self, certificate](commands::CommandResult r) {
        {
          std::lock_guard lock(self->mutex);
          self->in_flight.erase(certificate.serial);
        }
        // An offline station is asked again on the next pass.
        if (r.outcome.kind != commands::Outcome::Kind::Answered) return;
        log::info("v2g_renewal_requested",
                  {{"station", certificate.station_id}, {"serial", certificate.serial}});
        asio::co_spawn(
            self->io,
            [self, serial = certificate.serial]() -> asio::awaitable<void> {
              co_await self->database.transaction([&serial](pqxx::work& tx) {
                store::certificates::mark_renewal_requested(tx, serial);
              });
            },
            asio::detached);
      });
    }
  }

  const Config& config;
  asio::io_context& io;
  Database& database;
  commands::CommandRouter& commands;
  asio::steady_timer timer;
  std::atomic<bool> stopped{false};
  std::mutex mutex;
  std::set<std::string> in_flight;  // serials whose station is being asked
};

CertificateRenewal::CertificateRenewal(const Config& config, asio::io_context& io,
                                       Database& database, commands::CommandRouter& commands)
    : impl_(std::make_shared<Impl>(config, io, database, commands)) {}

CertificateRenewal::~CertificateRenewal() = default;

void CertificateRenewal::start() {
  if (impl_->config.cpo_sub_ca2_cert_file.empty()) return;
  asio::co_spawn(impl_->io, Impl::loop(impl_), asio::detached);
}

void CertificateRenewal::stop() {
  impl_->stopped = true;
  asio::post(impl_->io, [impl = impl_] { impl->timer.cancel(); });
}

}  // namespace chargegrid::server::plug_and_charge
