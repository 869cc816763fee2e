#include "settlement/service.hpp"

#include <nlohmann/json.hpp>

#include "chargegrid/server/config.hpp"
#include "events/outbox_consumer.hpp"
#include "logging.hpp"
#include "store/demand_response.hpp"
#include "store/evses.hpp"
#include "store/outbox.hpp"
#include "store/settlements.hpp"
#include "store/tariffs.hpp"

namespace chargegrid::server::settlement {
namespace {

// The prices of the session's site: its tariff in its time zone; none without a tariff.
std::optional<Prices> site_prices(store::Tx& tx, const store::settlements::SessionFacts& session) {
  if (!session.site_id) return std::nullopt;
  auto site = store::tariffs::find(tx, *session.site_id);
  if (!site) return std::nullopt;
  return prices_of(site->tariff, site->time_zone.empty() ? "UTC" : site->time_zone);
}

// The demand-response windows that limited the session's site in [from, to] (changed and
// withdrawn ones for the time they were in force), with the baseline's power (the EVSE's
// described maximum, else --smart-charging-evse-power) and the tariff's credit rate.
std::optional<FlexibilityInput> site_flexibility(store::Tx& tx,
                                                 const store::settlements::SessionFacts& session,
                                                 base::TimePoint from, base::TimePoint to,
                                                 std::int64_t default_power_w) {
  if (!session.site_id) return std::nullopt;
  FlexibilityInput input;
  for (const auto& w : store::demand_response::in_force(
           tx, *session.site_id, base::format_rfc3339(from), base::format_rfc3339(to))) {
    if (!w.import_limit_w && !w.import_subscription_w) continue;  // prices only
    const auto start = base::parse_rfc3339(w.starts_at), end = base::parse_rfc3339(w.ends_at);
    if (start && end) input.windows.push_back({w.event_id, *start, *end});
  }
  if (input.windows.empty()) return std::nullopt;
  input.plugin = base::parse_rfc3339(session.started_at).value_or(from);
  input.evse_max_power_w = default_power_w;
  if (auto evse = store::evses::find(tx, session.station_id, session.evse_id);
      evse && evse->max_power_w && *evse->max_power_w > 0)
    input.evse_max_power_w = static_cast<std::int64_t>(*evse->max_power_w);
  input.imported_before_wh = store::settlements::imported_wh(tx, session.id);
  if (auto site = store::tariffs::find(tx, *session.site_id))
    input.credit_minor_per_kwh = site->tariff.demand_response_credit_minor_per_kwh;
  return input;
}

}  // namespace

SettlementService::SettlementService(boost::asio::io_context& io, db::ConnectionPool& pool,
                                     const Config& config, PricesForSession prices) {
  options_.interval = std::chrono::minutes(config.settlement_interval_min);
  options_.prices = prices ? std::move(prices) : PricesForSession(site_prices);
  options_.flexibility = [power_w = config.smart_charging_evse_power_w](
                             store::Tx& tx, const store::settlements::SessionFacts& session,
                             base::TimePoint from, base::TimePoint to) {
    return site_flexibility(tx, session, from, to, power_w);
  };
  OutboxConsumer::Options consumer_options;
  consumer_options.poll_interval = std::chrono::milliseconds(500);
  consumer_options.max_backoff = std::chrono::seconds(60);
  consumer_options.deliver_after = kSettleAfter;
  consumer_ = std::make_unique<OutboxConsumer>(
      io, pool, kConsumer, std::vector<std::string>{store::outbox::kSessionEnded},
      [this](store::Tx& tx, const store::outbox::Row& row) {
        const auto session_id = row.payload.at("session_id").get<std::int64_t>();
        auto settled = settle_session(tx, session_id, options_);
        if (settled.recorded)
          log::info("session_settled", {{"session", session_id},
                                        {"settlement", settled.settlement_id},
                                        {"log_index", settled.log_index},
                                        {"status", settled.status}});
      },
      consumer_options);
  closer_ = std::make_unique<SessionCloser>(
      io, pool,
      std::chrono::milliseconds(static_cast<std::int64_t>(config.session_timeout_s * 1000)));
  interims_ = std::make_unique<InterimSweep>(io, pool, options_);
}

SettlementService::~SettlementService() = default;

void SettlementService::start() {
  consumer_->start();
  closer_->start();
  interims_->start();
}

void SettlementService::stop() {
  interims_->stop();
  closer_->stop();
  consumer_->stop();
}

}  // namespace chargegrid::server::settlement
