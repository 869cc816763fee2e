// DataTransfer: kept as sent; no vendor extensions are installed, so every
// vendor is answered UnknownVendorId.

#include "ocpp/common.hpp"

namespace chargegrid::server::ocpp {

using protocols::OcppVersion;

namespace {

Handler data_transfer(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const std::optional<std::string> no_status;
    co_await store_notification(services, ctx.station_id, "DataTransfer", no_status, std::nullopt,
                                ctx.payload.json());
    co_return CallReply::ok({{"status", "UnknownVendorId"}});
  };
}

}  // namespace

void register_data_transfer(HandlerRegistry& registry, Services& services) {
  registry.add(OcppVersion::v16, "DataTransfer", data_transfer(services));
  add_201_and_21(registry, "DataTransfer", data_transfer(services));
}

}  // namespace chargegrid::server::ocpp
