// Smart charging (2.0.1 and 2.1, use case K17): NotifyEVChargingNeeds, what an ISO 15118
// vehicle says it needs. The needs are kept as sent, handed to in-process listeners, and
// written as a durable event (outbox topic ev.charging_needs) in the same transaction, so a
// planner that must not miss one gets each exactly once. The answer says what will follow:
// Processing when a planner is subscribed (it sends the profile), otherwise NoChargingProfile
// (2.1) or, as 2.0.1 has no such status, Rejected with that reason.

#include <pqxx/pqxx>

#include "events/domain_events.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/common.hpp"
#include "store/outbox.hpp"
#include "store/sessions.hpp"
#include "store/station_reports.hpp"

namespace chargegrid::server::ocpp {

using protocols::OcppVersion;

namespace {

nlohmann::json needs_json(const EvChargingNeeds& n) {
  nlohmann::json out{{"evse_id", n.evse_id},
                     {"requested_energy_transfer", n.requested_energy_transfer}};
  // What the vehicle left out stays out: a planner tells "unknown" from zero.
  const std::pair<const char*, const std::optional<double>&> numbers[] = {
      {"energy_amount_wh", n.energy_amount_wh},
      {"ev_max_current_a", n.ev_max_current_a},
      {"ev_min_current_a", n.ev_min_current_a},
      {"ev_max_power_w", n.ev_max_power_w},
      {"state_of_charge_percent", n.state_of_charge_percent},
      {"ev_energy_capacity_wh", n.ev_energy_capacity_wh},
      {"ev_max_discharge_power_w", n.ev_max_discharge_power_w},
      {"ev_max_discharge_current_a", n.ev_max_discharge_current_a},
      {"ev_min_energy_request_wh", n.ev_min_energy_request_wh},
      {"ev_target_energy_request_wh", n.ev_target_energy_request_wh}};
  for (const auto& [key, value] : numbers)
    if (value) out[key] = *value;
  if (n.departure_time) out["departure_time"] = *n.departure_time;
  if (n.control_mode) out["control_mode"] = *n.control_mode;
  if (n.max_schedule_tuples) out["max_schedule_tuples"] = *n.max_schedule_tuples;
  return out;
}

Handler notify_ev_charging_needs(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto needs = adapters::read<EvChargingNeeds>(ctx.version, ctx.payload);
    auto event = needs_json(needs);
    event["station_id"] = ctx.station_id;
    const std::string sent = ctx.payload.text();
    struct Recorded {
      std::optional<std::int64_t> session_id;
      std::size_t planners = 0;
    };
    auto recorded = co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      Recorded r;
      r.session_id = store::sessions::active_on_evse(tx, ctx.station_id, needs.evse_id);
      event["session_id"] = r.session_id ? nlohmann::json(*r.session_id) : nlohmann::json();
      store::station_reports::keep_notification(tx, ctx.station_id, "NotifyEVChargingNeeds",
                                                std::nullopt, std::nullopt, sent);
      r.planners = store::outbox::append(tx, store::outbox::kChargingNeeds, event);
      tx.commit();
      return r;
    });
    services.events.publish(
        events::EvChargingNeedsReceived{ctx.station_id, needs.evse_id, recorded.session_id, event});
    if (recorded.planners > 0) co_return CallReply::ok({{"status", "Processing"}});
    if (ctx.version == OcppVersion::v21) co_return CallReply::ok({{"status", "NoChargingProfile"}});
    co_return CallReply::ok(
        {{"status", "Rejected"},
         {"statusInfo",
          {{"reasonCode", "NoChargingProfile"},
           {"additionalInfo", "no smart-charging planner runs for this station"}}}});
  };
}

}  // namespace

void register_smart_charging(HandlerRegistry& registry, Services& services) {
  add_201_and_21(registry, "NotifyEVChargingNeeds", notify_ev_charging_needs(services));
}

}  // namespace chargegrid::server::ocpp
