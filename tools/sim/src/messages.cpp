#include "chargegrid/sim/messages.hpp"

#include <cmath>
#include <cstdio>

#include "chargegrid/base/enum_names.hpp"
#include "chargegrid/base/time.hpp"

namespace chargegrid::sim {

namespace {

constexpr auto kVersionNames = base::enum_names<OcppVersion>(
    {{OcppVersion::v16, "1.6"}, {OcppVersion::v201, "2.0.1"}, {OcppVersion::v21, "2.1"}});

}  // namespace

std::string to_string(OcppVersion version) {
  return std::string(kVersionNames.name(version));
}

std::string subprotocol(OcppVersion version) {
  return "ocpp" + to_string(version);
}

std::optional<OcppVersion> parse_version(const std::string& text) {
  if (text == "1.6" || text == "1.6J" || text == "1.6j" || text == "ocpp1.6") {
    return OcppVersion::v16;
  }
  if (text == "2.0.1" || text == "ocpp2.0.1") return OcppVersion::v201;
  if (text == "2.1" || text == "ocpp2.1") return OcppVersion::v21;
  return std::nullopt;
}

// To the nearest millisecond: a sample due on a whole second must not read as the millisecond
// before it (time-scaled, a millisecond is `time_scale` of the station's: at x900 almost a
// second of a vehicle drawing 7 kW, 2 Wh a register read would be off by).
std::string format_timestamp(Timestamp time) {
  return base::format_rfc3339(std::chrono::round<std::chrono::milliseconds>(time),
                              base::TimePrecision::kMilliseconds);
}

std::string make_call(const std::string& message_id, const std::string& action,
                      const Json& payload) {
  return Json::array({2, message_id, action, payload}).dump();
}

std::string make_call_result(const std::string& message_id, const Json& payload) {
  return Json::array({3, message_id, payload}).dump();
}

std::string make_call_error(const std::string& message_id, const std::string& error_code,
                            const std::string& description, const Json& details) {
  return Json::array({4, message_id, error_code, description, details}).dump();
}

std::optional<Frame> parse_frame(const std::string& text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array() || doc.size() < 3 || !doc[0].is_number_integer() || !doc[1].is_string()) {
    return std::nullopt;
  }
  Frame frame;
  frame.message_id = doc[1].get<std::string>();
  switch (doc[0].get<int>()) {
    case 2:
      if (doc.size() != 4 || !doc[2].is_string() || !doc[3].is_object()) return std::nullopt;
      frame.type = MessageType::call;
      frame.action = doc[2].get<std::string>();
      frame.payload = std::move(doc[3]);
      return frame;
    case 3:
      if (doc.size() != 3) return std::nullopt;
      frame.type = MessageType::call_result;
      frame.payload = std::move(doc[2]);
      return frame;
    case 4:
      if (doc.size() != 5 || !doc[2].is_string() || !doc[3].is_string()) return std::nullopt;
      frame.type = MessageType::call_error;
      frame.error_code = doc[2].get<std::string>();
      frame.error_description = doc[3].get<std::string>();
      frame.payload = std::move(doc[4]);
      return frame;
    default:
      return std::nullopt;
  }
}

namespace {
// OCPP 2.0.1 serialNumber / firmwareVersion limits; 1.6 is shorter (25) for serials.
std::string truncate(const std::string& text, std::size_t max) {
  return text.size() > max ? text.substr(0, max) : text;
}

std::string format_number(double value) {
  // Integral values without a decimal point, others with the decimals they have (up to three),
  // as meters print them.
  if (std::floor(value) == value && std::abs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", value);
  std::string text = buffer;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

// The station's serial number (as `serial_key`) and firmware version, where it has them.
void add_serial_and_firmware(Json& into, const StationIdentity& identity, const char* serial_key) {
  if (!identity.serial_number.empty()) into[serial_key] = truncate(identity.serial_number, 25);
  if (!identity.firmware_version.empty()) {
    into["firmwareVersion"] = truncate(identity.firmware_version, 50);
  }
}

}  // namespace

namespace v16 {

Json boot_notification(const StationIdentity& identity) {
  Json payload = {{"chargePointVendor", truncate(identity.vendor, 20)},
                  {"chargePointModel", truncate(identity.model, 20)}};
  add_serial_and_firmware(payload, identity, "chargePointSerialNumber");
  return payload;
}

Json heartbeat() {
  return Json::object();
}

Json status_notification(int connector_id, const std::string& status, Timestamp time,
                         const std::string& error_code) {
  return {{"connectorId", connector_id},
          {"errorCode", error_code},
          {"status", status},
          {"timestamp", format_timestamp(time)}};
}

Json authorize(const std::string& id_tag) {
  return {{"idTag", truncate(id_tag, 20)}};
}

Json start_transaction(int connector_id, const std::string& id_tag, std::int64_t meter_start_wh,
                       Timestamp time) {
  return {{"connectorId", connector_id},
          {"idTag", truncate(id_tag, 20)},
          {"meterStart", meter_start_wh},
          {"timestamp", format_timestamp(time)}};
}

namespace {
Json sampled_values(const std::vector<SampledValue>& values, const std::string& context) {
  Json out = Json::array();
  for (const auto& v : values) {
    Json item = {{"value", format_number(v.value)},
                 {"context", context},
                 {"format", "Raw"},
                 {"measurand", v.measurand},
                 {"unit", v.unit}};
    if (!v.phase.empty()) item["phase"] = v.phase;
    if (!v.location.empty()) item["location"] = v.location;
    out.push_back(std::move(item));
  }
  return out;
}
}  // namespace

Json meter_values(int connector_id, std::optional<int> transaction_id,
                  const std::vector<SampledValue>& values, Timestamp time,
                  const std::string& context) {
  Json payload = {
      {"connectorId", connector_id},
      {"meterValue", Json::array({{{"timestamp", format_timestamp(time)},
                                   {"sampledValue", sampled_values(values, context)}}})}};
  if (transaction_id) payload["transactionId"] = *transaction_id;
  return payload;
}

Json stop_transaction(int transaction_id, const std::string& id_tag, std::int64_t meter_stop_wh,
                      Timestamp time, const std::string& reason,
                      const std::vector<SampledValue>& final_values) {
  Json payload = {{"transactionId", transaction_id},
                  {"meterStop", meter_stop_wh},
                  {"timestamp", format_timestamp(time)},
                  {"reason", reason}};
  if (!id_tag.empty()) payload["idTag"] = truncate(id_tag, 20);
  if (!final_values.empty()) {
    payload["transactionData"] =
        Json::array({{{"timestamp", format_timestamp(time)},
                      {"sampledValue", sampled_values(final_values, "Transaction.End")}}});
  }
  return payload;
}

}  // namespace v16

namespace v201 {

Json boot_notification(const StationIdentity& identity, const std::string& reason) {
  Json station = {{"model", truncate(identity.model, 20)},
                  {"vendorName", truncate(identity.vendor, 50)}};
  add_serial_and_firmware(station, identity, "serialNumber");
  return {{"chargingStation", station}, {"reason", reason}};
}

Json heartbeat() {
  return Json::object();
}

Json status_notification(int evse_id, int connector_id, const std::string& status, Timestamp time) {
  return {{"timestamp", format_timestamp(time)},
          {"connectorStatus", status},
          {"evseId", evse_id},
          {"connectorId", connector_id}};
}

Json authorize(const std::string& id_token, const std::string& token_type) {
  return {{"idToken", {{"idToken", truncate(id_token, 36)}, {"type", token_type}}}};
}

namespace {
// A meterValue array of one sample.
Json meter_value_array(const std::vector<SampledValue>& values, Timestamp time,
                       const std::string& context) {
  Json sampled = Json::array();
  for (const auto& v : values) {
    Json item = {{"value", v.value},
                 {"context", context},
                 {"measurand", v.measurand},
                 {"unitOfMeasure", {{"unit", v.unit}}}};
    if (!v.phase.empty()) item["phase"] = v.phase;
    if (!v.location.empty()) item["location"] = v.location;
    sampled.push_back(std::move(item));
  }
  return Json::array({{{"timestamp", format_timestamp(time)}, {"sampledValue", sampled}}});
}
}  // namespace

Json transaction_event(const TransactionEvent& event) {
  Json info = {{"transactionId", truncate(event.transaction_id, 36)}};
  if (event.charging_state) info["chargingState"] = *event.charging_state;
  if (event.stopped_reason) info["stoppedReason"] = *event.stopped_reason;
  if (event.remote_start_id) info["remoteStartId"] = *event.remote_start_id;

  Json payload = {{"eventType", event.event_type},
                  {"timestamp", format_timestamp(event.time)},
                  {"triggerReason", event.trigger_reason},
                  {"seqNo", event.seq_no},
                  {"transactionInfo", info}};
  if (event.offline) payload["offline"] = true;
  if (event.id_token) {
    payload["idToken"] = {{"idToken", truncate(*event.id_token, 36)},
                          {"type", event.id_token_type}};
  }
  if (event.evse_id) payload["evse"] = {{"id", *event.evse_id}, {"connectorId", 1}};
  if (!event.meter_values.empty()) {
    payload["meterValue"] = meter_value_array(event.meter_values, event.time, event.context);
  }
  return payload;
}

Json meter_values(int evse_id, const std::vector<SampledValue>& values, Timestamp time,
                  const std::string& context) {
  return {{"evseId", evse_id}, {"meterValue", meter_value_array(values, time, context)}};
}

Json notify_ev_charging_needs(OcppVersion version, const ChargingNeeds& needs) {
  const auto whole = [](double value) { return std::round(std::max(0.0, value)); };
  const bool bidirectional = version == OcppVersion::v21 && needs.ev_max_discharge_power_w;
  Json charging = {{"requestedEnergyTransfer", bidirectional       ? "AC_BPT"
                                               : needs.phases == 1 ? "AC_single_phase"
                                                                   : "AC_three_phase"},
                   {"acChargingParameters",
                    {{"energyAmount", whole(needs.energy_amount_wh)},
                     {"evMinCurrent", whole(needs.ev_min_current_a)},
                     {"evMaxCurrent", whole(needs.ev_max_current_a)},
                     {"evMaxVoltage", whole(needs.ev_max_voltage_v)}}}};
  if (needs.departure) charging["departureTime"] = format_timestamp(*needs.departure);
  if (bidirectional) {
    charging["controlMode"] = "ScheduledControl";
    Json v2x = {{"minChargePower", 0},
                {"maxChargePower", whole(needs.ev_max_power_w)},
                {"minDischargePower", 0},
                {"maxDischargePower", whole(*needs.ev_max_discharge_power_w)},
                {"evTargetEnergyRequest", whole(needs.energy_amount_wh)}};
    // Below zero: energy the vehicle may give before it needs charging (down to its minimum).
    if (needs.ev_min_energy_request_wh) {
      v2x["evMinEnergyRequest"] = std::round(*needs.ev_min_energy_request_wh);
    }
    charging["v2xChargingParameters"] = std::move(v2x);
  }
  return {{"evseId", needs.evse_id}, {"chargingNeeds", std::move(charging)}};
}

}  // namespace v201

}  // namespace chargegrid::sim
