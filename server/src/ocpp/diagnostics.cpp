// Diagnostics and firmware: the status notifications of uploads and updates,
// NotifyEvent and (2.0.1) LogStatusNotification, kept as sent.

#include "ocpp/common.hpp"

namespace chargegrid::server::ocpp {

using protocols::OcppVersion;

namespace {

Handler keep(Services& services, std::string kind) {
  return [&services, kind](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto status = optional_field<std::string>(ctx.payload.json(), "status");
    co_await store_notification(services, ctx.station_id, kind, status,
                                optional_field<int>(ctx.payload.json(), "requestId"),
                                ctx.payload.json());
    co_return CallReply::ok(nlohmann::json::object());
  };
}

}  // namespace

void register_diagnostics(HandlerRegistry& registry, Services& services) {
  registry.add(OcppVersion::v16, "DiagnosticsStatusNotification",
               keep(services, "DiagnosticsStatusNotification"));
  registry.add(OcppVersion::v16, "FirmwareStatusNotification",
               keep(services, "FirmwareStatusNotification"));
  for (const char* action : {"FirmwareStatusNotification", "LogStatusNotification", "NotifyEvent"})
    add_201_and_21(registry, action, keep(services, action));
}

}  // namespace chargegrid::server::ocpp
