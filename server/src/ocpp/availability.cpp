// Availability: StatusNotification, the live state of each connector plus its history,
// written with other stations' changes in one transaction (StateWriters::statuses).

#include "events/domain_events.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/common.hpp"
#include "store/connectors.hpp"

namespace chargegrid::server::ocpp {

using protocols::OcppVersion;

namespace {

Handler status_notification(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    auto r = adapters::read<StatusReport>(ctx.version, ctx.payload);
    // 1.6 may leave the time out: the report is as of its arrival.
    if (!r.reported_at) r.reported_at = now_rfc3339();
    store::connectors::StatusChange change{ctx.station_id, r.evse_id,     r.connector_id,
                                           r.status,       r.error_code,  r.info,
                                           r.vendor_error, *r.reported_at};
    // Answered only once committed.
    co_await services.writers.statuses.write(std::move(change));
    services.events.publish(events::ConnectorStatus{ctx.station_id, r.evse_id, r.connector_id,
                                                    r.status, r.error_code, *r.reported_at});
    co_return CallReply::ok(nlohmann::json::object());
  };
}

}  // namespace

void register_availability(HandlerRegistry& registry, Services& services) {
  registry.add(OcppVersion::v16, "StatusNotification", status_notification(services));
  add_201_and_21(registry, "StatusNotification", status_notification(services));
}

}  // namespace chargegrid::server::ocpp
