// Security: SecurityEventNotification, stored for operators and audits.

#include <pqxx/pqxx>

#include "../logging.hpp"
#include "common.hpp"

namespace chargegrid::server::handlers {

namespace {

Handler security_event(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto type = ctx.payload.at("type").get<std::string>();
    const auto at = ctx.payload.at("timestamp").get<std::string>();
    const auto info = optional_field<std::string>(ctx.payload, "techInfo");
    co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_params(
          "INSERT INTO security_events (station_id, event_type, occurred_at, tech_info) "
          "VALUES ($1, $2, $3, $4)",
          ctx.station_id, type, at, info);
      tx.commit();
    });
    log::warn("station_security_event", {{"station", ctx.station_id}, {"type", type}});
    co_return CallReply::ok(nlohmann::json::object());
  };
}

}  // namespace

void register_security(HandlerRegistry& registry, Services& services) {
  add_201_and_21(registry, "SecurityEventNotification", security_event(services));
}

}  // namespace chargegrid::server::handlers
