// Availability: StatusNotification, the live state of each connector plus its history.

#include <pqxx/pqxx>

#include "events/domain_events.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/common.hpp"

namespace chargegrid::server::ocpp {

using protocols::OcppVersion;

namespace {

Handler status_notification(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    auto r = adapters::read<StatusReport>(ctx.version, ctx.payload);
    // 1.6 may leave the time out: the report is as of its arrival.
    if (!r.reported_at) r.reported_at = now_rfc3339();
    co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_params(
          R"(INSERT INTO status_history (station_id, evse_id, connector_id, status, error_code,
                                         info, reported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7))",
          ctx.station_id, r.evse_id, r.connector_id, r.status, r.error_code, r.info,
          *r.reported_at);
      // A report older than the state we hold (sent late after a reconnect) goes
      // into the history only.
      tx.exec_params(
          R"(INSERT INTO connector_status (station_id, evse_id, connector_id, status, error_code,
                                           info, vendor_error, reported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (station_id, evse_id, connector_id) DO UPDATE SET
               status = excluded.status, error_code = excluded.error_code, info = excluded.info,
               vendor_error = excluded.vendor_error, reported_at = excluded.reported_at,
               received_at = now()
             WHERE connector_status.reported_at <= excluded.reported_at)",
          ctx.station_id, r.evse_id, r.connector_id, r.status, r.error_code, r.info, r.vendor_error,
          *r.reported_at);
      tx.commit();
    });
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
