// Provisioning: BootNotification, Heartbeat, NotifyReport.

#include "chargegrid/base/enum_names.hpp"
#include "cluster/cluster.hpp"
#include "commands/command_router.hpp"
#include "connections/station_connection.hpp"
#include "logging.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/common.hpp"
#include "security/security.hpp"
#include "store/stations.hpp"

namespace chargegrid::server::ocpp {

using protocols::OcppVersion;

namespace {

// The registration an unknown station starts with under each policy.
constexpr auto kPolicyRegistration =
    base::enum_names<UnknownStationPolicy>({{UnknownStationPolicy::Accept, "accepted"},
                                            {UnknownStationPolicy::Pending, "pending"},
                                            {UnknownStationPolicy::Reject, "rejected"}});

Handler boot_notification(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto info = adapters::read<BootInfo>(ctx.version, ctx.payload);
    const std::string initial(kPolicyRegistration.name(services.config.unknown_stations));
    // Cluster mode: a station unknown when it connected has no lease yet; it is taken with
    // the row that registers it.
    const bool take_lease =
        services.cluster.enabled() && services.stations.lease_epoch(ctx.station_id) == 0;
    const bool register_unknown = services.config.unknown_stations != UnknownStationPolicy::Reject;
    // Empty when the station is unknown and unknown ones are rejected: no row is made for it.
    const store::stations::Boot boot{info.reason, info.vendor,     info.model,
                                     info.serial, info.firmware,   info.iccid,
                                     info.imsi,   info.meter_type, info.meter_serial};
    // With other stations' boots in one transaction; answered only once committed.
    BootWrite write{
        ctx.station_id, ctx.version,      boot,
        initial,        register_unknown, take_lease ? services.cluster.node_id() : std::string()};
    auto recorded = co_await services.writers.boots.write(std::move(write));
    const auto registration = recorded.registration.value_or(std::string());
    const auto lease_epoch = recorded.lease_epoch;
    if (take_lease && !registration.empty())
      services.cluster.lease_taken(ctx.station_id, lease_epoch, ctx.connection);
    if (registration.empty()) {
      // Nothing is kept for an id nobody registered: no row, no answer in the replay cache.
      services.metrics.count_connection("boot_rejected_unknown");
      std::size_t suppressed = 0;
      if (services.security.refusal_log().allow("boot_rejected_unknown", suppressed))
        log::warn("station_unknown_rejected", {{"station", ctx.station_id},
                                               {"policy", "unknown-stations reject"},
                                               {"similar_since_last", suppressed}});
    }

    std::string status = "Rejected";
    auto connection_registration = StationConnection::Registration::Rejected;
    int interval = services.config.heartbeat_interval_s;
    if (registration == "accepted") {
      status = "Accepted";
      connection_registration = StationConnection::Registration::Accepted;
    } else if (registration == "pending") {
      status = "Pending";
      connection_registration = StationConnection::Registration::Pending;
      interval = std::min(interval, 60);  // ask again soon: an operator may accept it
    } else {
      interval = std::max(interval, 600);  // retry after a while, not in a loop
    }
    ctx.connection->set_registration(connection_registration);
    log::info("station_booted", {{"station", ctx.station_id},
                                 {"status", status},
                                 {"vendor", info.vendor.value_or("")},
                                 {"model", info.model.value_or("")},
                                 {"firmware", info.firmware.value_or("")}});
    co_return CallReply::ok(
        {{"status", status}, {"currentTime", now_rfc3339()}, {"interval", interval}});
  };
}

// Heartbeats are answered from memory, so they keep flowing while the database is
// away; the station's last-seen time is written in batches by the server.
Handler heartbeat() {
  return [](CallContext&) -> boost::asio::awaitable<CallReply> {
    co_return CallReply::ok({{"currentTime", now_rfc3339()}});
  };
}

Handler notify_report(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const std::optional<std::string> no_status;
    co_await store_notification(services, ctx.station_id, "NotifyReport", no_status,
                                ctx.payload.json().at("requestId").get<int>(), ctx.payload.json());
    co_return CallReply::ok(nlohmann::json::object());
  };
}

}  // namespace

void apply_registration(Services& services, const std::string& station_id,
                        const std::string& registration) {
  auto connection = services.stations.find(station_id);
  if (!connection) return;
  if (registration == "accepted") {
    connection->set_registration(StationConnection::Registration::Accepted);
    commands::StationCommand boot_again;
    boot_again.station_id = station_id;
    boot_again.name = "trigger-message";
    boot_again.arguments = {{"message", "BootNotification"}};
    boot_again.origin = commands::Origin::internal("registration");
    services.commands.post(std::move(boot_again));
  } else if (registration == "rejected") {
    connection->close(boost::beast::websocket::close_code::policy_error, "registration rejected");
  }
}

void register_provisioning(HandlerRegistry& registry, Services& services) {
  registry.add(OcppVersion::v16, "BootNotification", boot_notification(services));
  registry.add(OcppVersion::v16, "Heartbeat", heartbeat());
  add_201_and_21(registry, "BootNotification", boot_notification(services));
  add_201_and_21(registry, "Heartbeat", heartbeat());
  add_201_and_21(registry, "NotifyReport", notify_report(services));
}

}  // namespace chargegrid::server::ocpp
