#pragma once
// What stations tell the server, in the server's own terms, whatever the OCPP version: a
// functional block handles these types once for 1.6, 2.0.1 and 2.1. The version adapters
// (ocpp/adapters/) make them from the generated message structs after schema validation.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chargegrid::server::ocpp {

// BootNotification.
struct BootInfo {
  std::string reason;  // 1.6 has none: "PowerUp"
  std::optional<std::string> vendor, model, serial, firmware, iccid, imsi, meter_type, meter_serial;
};

// StatusNotification. 1.6 connector n is EVSE n with one connector; connector 0 the station.
struct StatusReport {
  int evse_id = 0;
  int connector_id = 0;
  std::string status;
  std::optional<std::string> error_code, info, vendor_error;
  std::optional<std::string> reported_at;  // RFC 3339; 1.6 may leave it out
};

// An identifier a driver presents. 1.6 idTags have no type.
struct IdToken {
  std::string value;
  std::string type;
};

// One sampled value as sent, before units are normalised. The names are the schema's own
// enumeration values (static strings); `path()` is its JSON pointer in the message, made only
// for an error that names the offending field.
struct SampledValue {
  std::string_view measurand = "Energy.Active.Import.Register";
  std::string_view phase, location, context;
  std::string_view format = "Raw";         // 1.6: Raw or SignedData
  std::optional<std::string> text;         // 1.6 sends numbers as text
  std::optional<double> number;            // 2.x
  std::string unit;                        // as sent; empty: the measurand's default
  int multiplier = 0;                      // 2.x power of ten
  std::optional<std::string> signed_data;  // 1.6 SignedData text, 2.x signedMeterValue (JSON)
  std::string_view array;                  // its array's pointer: "/meterValue", a literal
  std::size_t value_index = 0;             // the meter value's index in it
  std::size_t sample_index = 0;            // its own index in the meter value

  // The JSON pointer, e.g. "/meterValue/0/sampledValue/3", followed by `field` ("/value").
  std::string path(std::string_view field = {}) const {
    std::string out(array);
    out += '/';
    out += std::to_string(value_index);
    out += "/sampledValue/";
    out += std::to_string(sample_index);
    out += field;
    return out;
  }
};

struct MeterValue {
  std::string timestamp;
  std::vector<SampledValue> samples;
};

// MeterValues (and the meter data inside transaction messages).
struct MeterReport {
  int evse_id = 0;
  std::optional<std::int64_t> transaction_id;  // 1.6 only: the server-issued id
  std::vector<MeterValue> values;
};

// 1.6 StartTransaction: the server issues the transaction id.
struct TransactionStart {
  int connector_id = 0;
  std::string id_tag;
  std::int64_t meter_start_wh = 0;
  std::string timestamp;
  std::optional<std::int64_t> reservation_id;
};

// 1.6 StopTransaction, with the readings of transactionData.
struct TransactionStop {
  std::int64_t transaction_id = 0;
  std::int64_t meter_stop_wh = 0;
  std::string timestamp;
  std::string reason = "Local";
  std::optional<std::string> id_tag;
  std::vector<MeterValue> readings;
};

// 2.0.1 / 2.1 TransactionEvent: the station names the transaction; events may come in any
// order, each numbered by seq_no.
struct TransactionUpdate {
  std::string event_type;  // Started, Updated, Ended
  std::string timestamp;
  std::string trigger_reason;
  int seq_no = 0;
  bool offline = false;
  std::string transaction_id;
  std::optional<std::string> charging_state, stopped_reason;
  std::optional<int> evse_id, connector_id;
  std::optional<IdToken> id_token;
  std::vector<MeterValue> readings;
};

// SecurityEventNotification.
struct SecurityEvent {
  std::string type;
  std::string timestamp;
  std::optional<std::string> tech_info;
};

// NotifyEVChargingNeeds (2.0.1, 2.1): what the vehicle says it needs, from ISO 15118.
struct EvChargingNeeds {
  int evse_id = 0;
  std::string requested_energy_transfer;  // e.g. AC_three_phase, DC, AC_BPT (2.1)
  std::optional<std::string> departure_time;
  std::optional<double> energy_amount_wh;
  std::optional<double> ev_max_current_a;
  std::optional<double> ev_max_power_w;
  std::optional<double> ev_min_current_a;
  std::optional<double> state_of_charge_percent;  // DC: the battery now
  std::optional<double> ev_energy_capacity_wh;    // DC
  // 2.1 bidirectional (V2X) parameters.
  std::optional<double> ev_max_discharge_power_w;
  std::optional<double> ev_max_discharge_current_a;
  std::optional<double> ev_min_energy_request_wh;
  std::optional<double> ev_target_energy_request_wh;
  std::optional<std::string> control_mode;  // 2.1 ScheduledControl / DynamicControl
  std::optional<int> max_schedule_tuples;
};

}  // namespace chargegrid::server::ocpp
