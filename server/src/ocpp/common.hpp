#pragma once
// Small helpers shared by the functional-block handlers.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/base/time.hpp"
#include "meter_writer.hpp"
#include "ocpp/handler.hpp"
#include "ocpp/messages.hpp"
#include "services.hpp"
#include "store/sessions.hpp"

namespace chargegrid::server::ocpp {

// Now as RFC 3339 UTC with milliseconds, as OCPP's dateTime.
using base::now_rfc3339;

template <class T>
std::optional<T> optional_field(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

// A token's standing, as both OCPP versions can express it.
struct TokenCheck {
  std::string status;  // Accepted, Blocked, Expired, Invalid, Unknown, NotAtThisTime
  std::optional<std::string> expiry;
  std::optional<std::string> parent;
  std::optional<long long> driver_id;
};
// An unknown token is Accepted when `accept_unknown` (free vend), else Unknown.
TokenCheck check_token(pqxx::transaction_base& tx, const std::string& id_token,
                       bool accept_unknown);
nlohmann::json id_tag_info_16(const TokenCheck& check);
nlohmann::json id_token_info_201(const TokenCheck& check);

// A sampled value the station sent that cannot be read or stored; `path` is its JSON pointer.
struct BadMeterValue : std::runtime_error {
  BadMeterValue(std::string where, std::string message)
      : std::runtime_error(message), path(std::move(where)) {}
  std::string path;
};
// The rows of a meter report's sampled values, units normalised; throws BadMeterValue for a
// value the station sent that cannot be read or stored.
std::vector<MeterRow> meter_rows(const std::string& station_id, int evse_id,
                                 std::optional<int> transaction_id,
                                 const std::vector<MeterValue>& values);

// The energy registers' readings among `rows` (the whole meter, no phase), lowest and
// highest: a session's energy is the span of its register, never a sum of power.
using RegisterSpan = store::sessions::RegisterSpan;
RegisterSpan register_span(const std::vector<MeterRow>& rows);

// Keeps a station report as sent (firmware/log status, events, data transfer ...).
// co_await it with named arguments, not temporaries.
boost::asio::awaitable<void> store_notification(Services& services, const std::string& station_id,
                                                std::string_view kind,
                                                const std::optional<std::string>& status,
                                                std::optional<int> request_id,
                                                const nlohmann::json& payload);

// An operator set a station's registration: "accepted" asks a station waiting in Pending to
// boot again now (TriggerMessage), "rejected" closes its connection. Acts on the station's
// connection on this node, if it has one.
void apply_registration(Services& services, const std::string& station_id,
                        const std::string& registration);

void register_provisioning(HandlerRegistry&, Services&);
void register_authorization(HandlerRegistry&, Services&);
void register_availability(HandlerRegistry&, Services&);
void register_transactions(HandlerRegistry&, Services&);
void register_diagnostics(HandlerRegistry&, Services&);
void register_security(HandlerRegistry&, Services&);
void register_data_transfer(HandlerRegistry&, Services&);
void register_smart_charging(HandlerRegistry&, Services&);

// Registers a 2.0.1 handler for 2.1 too, where the action is the same.
void add_201_and_21(HandlerRegistry& registry, const std::string& action, Handler handler);

}  // namespace chargegrid::server::ocpp
