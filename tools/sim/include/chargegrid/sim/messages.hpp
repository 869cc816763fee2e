#pragma once
// OCPP-J message payloads a simulated station sends, built by hand from the OCPP 1.6J
// and 2.0.1 specifications (independent of the server's own protocol code, so the
// simulator is a second implementation to test the server against).

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/sim/meter.hpp"

namespace chargegrid::sim {

using Json = nlohmann::json;
using Timestamp = std::chrono::system_clock::time_point;

// 2.1 stations send what 2.0.1 ones do (the 2.1 schemas keep those messages) plus what 2.1
// adds, such as discharging under a central setpoint.
enum class OcppVersion { v16, v201, v21 };
// "1.6" / "2.0.1" / "2.1" and the WebSocket subprotocol name, "ocpp1.6" / "ocpp2.0.1" /
// "ocpp2.1".
std::string to_string(OcppVersion version);
std::string subprotocol(OcppVersion version);
// Accepts "1.6", "1.6J", "ocpp1.6", "2.0.1", "ocpp2.0.1", "2.1", "ocpp2.1"; nullopt otherwise.
std::optional<OcppVersion> parse_version(const std::string& text);

// RFC 3339 UTC with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
std::string format_timestamp(Timestamp time);

// The OCPP-J envelope.
enum class MessageType { call = 2, call_result = 3, call_error = 4 };
std::string make_call(const std::string& message_id, const std::string& action,
                      const Json& payload);
std::string make_call_result(const std::string& message_id, const Json& payload);
std::string make_call_error(const std::string& message_id, const std::string& error_code,
                            const std::string& description, const Json& details = Json::object());

// A parsed frame; nullopt from parse_frame when the text is not a valid OCPP-J frame.
struct Frame {
  MessageType type;
  std::string message_id;
  std::string action;      // CALL only
  Json payload;            // CALL / CALLRESULT payload, CALLERROR details
  std::string error_code;  // CALLERROR only
  std::string error_description;
};
std::optional<Frame> parse_frame(const std::string& text);

struct StationIdentity {
  std::string vendor = "ChargeGrid";
  std::string model = "SimStation";
  std::string serial_number;
  std::string firmware_version = "1.0.0";
};

namespace v16 {
Json boot_notification(const StationIdentity& identity);
Json heartbeat();
Json status_notification(int connector_id, const std::string& status, Timestamp time,
                         const std::string& error_code = "NoError");
Json authorize(const std::string& id_tag);
Json start_transaction(int connector_id, const std::string& id_tag, std::int64_t meter_start_wh,
                       Timestamp time);
// transaction_id is omitted for samples outside a transaction.
Json meter_values(int connector_id, std::optional<int> transaction_id,
                  const std::vector<SampledValue>& values, Timestamp time,
                  const std::string& context = "Sample.Periodic");
Json stop_transaction(int transaction_id, const std::string& id_tag, std::int64_t meter_stop_wh,
                      Timestamp time, const std::string& reason,
                      const std::vector<SampledValue>& final_values = {});
}  // namespace v16

namespace v201 {
Json boot_notification(const StationIdentity& identity, const std::string& reason = "PowerUp");
Json heartbeat();
Json status_notification(int evse_id, int connector_id, const std::string& status, Timestamp time);
Json authorize(const std::string& id_token, const std::string& token_type = "ISO14443");
// MeterValues outside a transaction (e.g. triggered): one sample of EVSE `evse_id`.
Json meter_values(int evse_id, const std::vector<SampledValue>& values, Timestamp time,
                  const std::string& context = "Trigger");

struct TransactionEvent {
  std::string event_type;      // "Started", "Updated", "Ended"
  std::string trigger_reason;  // e.g. "Authorized", "MeterValuePeriodic", "StopAuthorized"
  int seq_no = 0;
  Timestamp time;
  std::string transaction_id;
  std::optional<std::string> charging_state;  // "Charging", "EVConnected", ...
  std::optional<std::string> stopped_reason;  // Ended only, e.g. "Local", "Remote"
  std::optional<int> remote_start_id;
  bool offline = false;
  std::optional<std::string> id_token;
  std::string id_token_type = "ISO14443";  // eMAID for an ISO 15118 vehicle
  std::optional<int> evse_id;              // connector 1 of that EVSE
  std::vector<SampledValue> meter_values;
  std::string context = "Sample.Periodic";
};
Json transaction_event(const TransactionEvent& event);

// What a vehicle says it needs after plug-in (NotifyEVChargingNeeds, ISO 15118 through the
// station), in 2.0.1 or 2.1.
struct ChargingNeeds {
  int evse_id = 1;
  int phases = 3;
  std::optional<Timestamp> departure;
  double energy_amount_wh = 0;
  double ev_min_current_a = 6;
  double ev_max_current_a = 16;
  double ev_max_voltage_v = 400;
  double ev_max_power_w = 11000;
  // 2.1, a vehicle that can discharge: sent as AC_BPT with v2xChargingParameters.
  std::optional<double> ev_max_discharge_power_w;
  std::optional<double> ev_min_energy_request_wh;  // below zero: what it may give first
};
Json notify_ev_charging_needs(OcppVersion version, const ChargingNeeds& needs);
}  // namespace v201

}  // namespace chargegrid::sim
