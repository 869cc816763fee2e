// OCPP 2.1 adapter: generated structs to the server's messages (shared with 2.0.1 in
// v2x.hpp).

#include "chargegrid/protocols/v21/authorize.hpp"
#include "chargegrid/protocols/v21/boot_notification.hpp"
#include "chargegrid/protocols/v21/meter_values.hpp"
#include "chargegrid/protocols/v21/notify_ev_charging_needs.hpp"
#include "chargegrid/protocols/v21/security_event_notification.hpp"
#include "chargegrid/protocols/v21/status_notification.hpp"
#include "chargegrid/protocols/v21/transaction_event.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/adapters/v2x.hpp"

namespace chargegrid::server::ocpp::adapters::v21 {

namespace wire = protocols::v21;

BootInfo boot_info(const nlohmann::json& p) {
  return v2x::boot_info<wire::BootNotificationRequest>(p);
}
StatusReport status_report(const nlohmann::json& p) {
  return v2x::status_report<wire::StatusNotificationRequest>(p);
}
IdToken authorize(const nlohmann::json& p) {
  return v2x::authorize<wire::AuthorizeRequest>(p);
}
MeterReport meter_values(const nlohmann::json& p) {
  return v2x::meter_values<wire::MeterValuesRequest>(p);
}
TransactionUpdate transaction_event(const nlohmann::json& p) {
  return v2x::transaction_event<wire::TransactionEventRequest>(p);
}
SecurityEvent security_event(const nlohmann::json& p) {
  return v2x::security_event<wire::SecurityEventNotificationRequest>(p);
}
EvChargingNeeds charging_needs(const nlohmann::json& p) {
  return v2x::charging_needs<wire::NotifyEVChargingNeedsRequest>(p);
}

}  // namespace chargegrid::server::ocpp::adapters::v21
