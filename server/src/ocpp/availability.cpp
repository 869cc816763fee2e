// Availability: StatusNotification, the live state of each connector plus its history.

#include <pqxx/pqxx>

#include "events/domain_events.hpp"
#include "ocpp/common.hpp"

namespace chargegrid::server::ocpp {

using protocols::OcppVersion;

namespace {

struct StatusReport {
  int evse_id = 0;
  int connector_id = 0;
  std::string status;
  std::optional<std::string> error_code, info, vendor_error;
  std::string reported_at;
};

StatusReport status_report(OcppVersion version, const nlohmann::json& p) {
  StatusReport r;
  if (version == OcppVersion::v16) {
    // 1.6 connector n is EVSE n with one connector; connector 0 is the station.
    const int connector = p.at("connectorId").get<int>();
    r.evse_id = connector;
    r.connector_id = connector == 0 ? 0 : 1;
    r.status = p.at("status").get<std::string>();
    r.error_code = p.at("errorCode").get<std::string>();
    r.info = optional_field<std::string>(p, "info");
    r.vendor_error = optional_field<std::string>(p, "vendorErrorCode");
    r.reported_at = p.value("timestamp", now_rfc3339());
    return r;
  }
  r.evse_id = p.at("evseId").get<int>();
  r.connector_id = p.at("connectorId").get<int>();
  r.status = p.at("connectorStatus").get<std::string>();
  r.reported_at = p.at("timestamp").get<std::string>();
  return r;
}

Handler status_notification(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    auto r = status_report(ctx.version, ctx.payload);
    co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_params(
          R"(INSERT INTO status_history (station_id, evse_id, connector_id, status, error_code,
                                         info, reported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7))",
          ctx.station_id, r.evse_id, r.connector_id, r.status, r.error_code, r.info, r.reported_at);
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
          r.reported_at);
      tx.commit();
    });
    services.events.publish(events::ConnectorStatus{ctx.station_id, r.evse_id, r.connector_id,
                                                    r.status, r.error_code, r.reported_at});
    co_return CallReply::ok(nlohmann::json::object());
  };
}

}  // namespace

void register_availability(HandlerRegistry& registry, Services& services) {
  registry.add(OcppVersion::v16, "StatusNotification", status_notification(services));
  add_201_and_21(registry, "StatusNotification", status_notification(services));
}

}  // namespace chargegrid::server::ocpp
