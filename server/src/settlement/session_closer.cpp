#include "settlement/session_closer.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "chargegrid/db/pool.hpp"
#include "logging.hpp"
#include "store/outbox.hpp"
#include "store/sessions.hpp"

namespace chargegrid::server::settlement {
namespace {

using namespace std::chrono_literals;

constexpr int kSessionsPerTransaction = 100;

std::chrono::milliseconds interval_for(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) return 10s;
  return std::clamp<std::chrono::milliseconds>(timeout / 4, 200ms, 10s);
}

// The event a station's stop would have written, and the log line.
void announce(store::Tx& tx, const store::sessions::ServerClosed& closed) {
  store::outbox::append(tx, store::outbox::kSessionEnded,
                        {{"session_id", closed.id},
                         {"station_id", closed.station_id},
                         {"protocol", closed.protocol},
                         {"station_transaction_id", closed.transaction_uid},
                         {"ended_at", closed.ended_at},
                         {"stop_reason", closed.stop_reason},
                         {"meter_stop_wh", closed.meter_stop_wh},
                         {"closed_by_server", true}});
}

}  // namespace

SessionCloser::SessionCloser(boost::asio::io_context& io, db::ConnectionPool& pool,
                             std::chrono::milliseconds timeout)
    : timeout_(std::max(timeout, 0ms)),
      interval_(interval_for(timeout_)),
      job_(io, pool, interval_, [this](pqxx::connection_base& c) {
        sweep(c);
        return false;
      }) {}

void SessionCloser::sweep(pqxx::connection_base& c) {
  try {
    for (bool more = true; more && !job_.stopping();) {
      pqxx::work tx(c);
      std::vector<store::sessions::ServerClosed> closed;
      if (timeout_.count() > 0)
        closed = store::sessions::close_silent(tx, timeout_, kSessionsPerTransaction);
      auto replaced = store::sessions::close_replaced(tx, kSessionsPerTransaction);
      more = closed.size() == kSessionsPerTransaction || replaced.size() == kSessionsPerTransaction;
      closed.insert(closed.end(), replaced.begin(), replaced.end());
      for (const auto& session : closed) announce(tx, session);
      tx.commit();
      for (const auto& session : closed)
        log::info("session_closed_by_server", {{"session", session.id},
                                               {"station", session.station_id},
                                               {"transaction", session.transaction_uid},
                                               {"reason", session.stop_reason},
                                               {"ended_at", session.ended_at},
                                               {"meter_stop", session.meter_stop_wh}});
    }
  } catch (const std::exception& e) {
    log::warn("session_sweep_failed", {{"error", std::string(e.what()).substr(0, 200)}});
  }
}

}  // namespace chargegrid::server::settlement
