#include "actions.hpp"

#include <algorithm>
#include <cmath>

#include "chargegrid/base/encoding.hpp"
#include "trust_anchors.hpp"

namespace chargegrid::sim::detail {

namespace {

constexpr auto v16 = OcppVersion::v16;
constexpr auto v201 = OcppVersion::v201;
constexpr auto v21 = OcppVersion::v21;

Json status(const char* value) {
  return {{"status", value}};
}

// --- Reading payloads ----------------------------------------------------------------------

// 1.6 spells the error code as its specification does.
const char* occurrence_violation(OcppVersion version) {
  return version == v16 ? "OccurenceConstraintViolation" : "OccurrenceConstraintViolation";
}

const Json& require(const Json& payload, const char* field, OcppVersion version) {
  if (!payload.is_object() || !payload.contains(field)) {
    throw CallError(occurrence_violation(version), std::string("missing required field ") + field);
  }
  return payload.at(field);
}

int require_int(const Json& payload, const char* field, OcppVersion version) {
  const Json& value = require(payload, field, version);
  if (!value.is_number_integer()) {
    throw CallError("TypeConstraintViolation", std::string(field) + " must be an integer");
  }
  return value.get<int>();
}

std::string require_string(const Json& payload, const char* field, OcppVersion version) {
  const Json& value = require(payload, field, version);
  if (!value.is_string()) {
    throw CallError("TypeConstraintViolation", std::string(field) + " must be a string");
  }
  return value.get<std::string>();
}

// An optional EVSE (1.6 connector) number: nullopt when absent, -1 when it is not an integer.
std::optional<int> optional_evse(const Json& payload, const char* field) {
  if (!payload.contains(field)) return std::nullopt;
  return payload[field].is_number_integer() ? payload[field].get<int>() : -1;
}

// --- Holding charging profiles ------------------------------------------------------------

// What a SetChargingProfile is answered with when the station cannot hold the profile.
Json rejected(const StationModel& st, const char* reason, const std::string& why) {
  Json answer = status("Rejected");
  if (st.version() != v16) {
    answer["statusInfo"] = {{"reasonCode", reason}, {"additionalInfo", why.substr(0, 500)}};
  }
  return answer;
}

// Holds `payload` (a charging profile of the station's version) for EVSE `evse`: Accepted, or
// Rejected where it is not valid for it. A TxProfile needs the transaction it is for running
// there, except the one a remote start brings along for the transaction it begins.
Json install_profile(StationModel& st, int evse, const Json& payload, bool with_remote_start) {
  const auto v = st.version();
  try {
    if (evse != 0 && !st.evse(evse)) return rejected(st, "UnknownEvse", "no such EVSE");
    ChargingProfile profile = read_profile(v, evse, payload, std::chrono::system_clock::now());
    if (profile.purpose == ProfilePurpose::Tx && !with_remote_start) {
      const auto running = st.running_transaction(evse);
      if (!running) return rejected(st, "TxNotFound", "no transaction runs on this EVSE");
      if (profile.transaction_id && *profile.transaction_id != running->id) {
        return rejected(st, "TxNotFound",
                        "transaction " + *profile.transaction_id + " is not running");
      }
    }
    const auto now = SteadyClock::now();
    st.run_meters(now);  // what was drawn so far was drawn under the old limits
    st.profiles.install(st.on_timeline(std::move(profile)));
    st.apply_profiles(now);
    return status("Accepted");
  } catch (const ProfileRejected& e) {
    return rejected(st, "InvalidProfile", e.what());
  } catch (const ProfileMalformed& e) {
    throw CallError(e.code == "OccurrenceConstraintViolation" ? occurrence_violation(v) : e.code,
                    e.what());
  }
}

// --- Starting and stopping sessions --------------------------------------------------------

// A start the CSMS asks for on `requested` (an EVSE / 1.6 connector; nullopt: the station
// chooses a free one). `profile`, if not null, is the TxProfile for the transaction it begins.
Json accept_remote_start(StationModel& st, std::optional<int> requested, RemoteStart start,
                         const Json* profile) {
  Evse* evse = requested ? st.evse(*requested) : st.free_evse();
  if (!evse || evse->busy() || !evse->available || st.stopping) return status("Rejected");
  if (profile && install_profile(st, evse->id, *profile, true)["status"] != "Accepted") {
    return status("Rejected");
  }
  evse->remote_start = std::move(start);
  return status("Accepted");
}

Json remote_start_transaction(StationModel& st, const Json& p) {
  std::string id_tag = require_string(p, "idTag", v16);
  const Json* profile = p.contains("chargingProfile") ? &p["chargingProfile"] : nullptr;
  return accept_remote_start(st, optional_evse(p, "connectorId"), {std::move(id_tag), std::nullopt},
                             profile);
}

Json request_start_transaction(StationModel& st, const Json& p) {
  const Json& token = require(p, "idToken", v201);
  const int remote_start_id = require_int(p, "remoteStartId", v201);
  std::string id_token = require_string(token, "idToken", v201);
  const Json* profile = p.contains("chargingProfile") ? &p["chargingProfile"] : nullptr;
  return accept_remote_start(st, optional_evse(p, "evseId"), {std::move(id_token), remote_start_id},
                             profile);
}

Json remote_stop_transaction(StationModel& st, const Json& p) {
  const int transaction_id = require_int(p, "transactionId", v16);
  for (auto& evse : st.evses) {
    if (!evse.session) continue;
    const auto known = st.transaction_ids.find(evse.session->local_id);
    if (known != st.transaction_ids.end() && known->second == transaction_id) {
      evse.session->stop_reason = "Remote";
      return status("Accepted");
    }
  }
  return status("Rejected");
}

Json request_stop_transaction(StationModel& st, const Json& p) {
  const std::string transaction_id = require_string(p, "transactionId", v201);
  for (auto& evse : st.evses) {
    if (evse.session && evse.session->transaction_uid == transaction_id) {
      evse.session->stop_reason = "Remote";
      return status("Accepted");
    }
  }
  return status("Rejected");
}

// --- Reset, connectors, availability -------------------------------------------------------

Json reset_16(StationModel& st, const Json& p) {
  const std::string type = require_string(p, "type", v16);
  if (type != "Hard" && type != "Soft") throw CallError("PropertyConstraintViolation", "type");
  st.stop_sessions(type == "Hard" ? "HardReset" : "SoftReset");
  st.reboot_requested = true;
  return status("Accepted");
}

Json reset_201(StationModel& st, const Json& p) {
  const std::string type = require_string(p, "type", v201);
  if (type != "Immediate" && type != "OnIdle") {
    throw CallError("PropertyConstraintViolation", "type");
  }
  if (p.contains("evseId")) return status("Rejected");  // EVSE reset not offered
  if (type == "Immediate") st.stop_sessions("ImmediateReset");
  st.reboot_requested = true;
  return status(st.any_session() && type == "OnIdle" ? "Scheduled" : "Accepted");
}

Json unlock_connector_16(StationModel& st, const Json& p) {
  Evse* evse = st.evse(require_int(p, "connectorId", v16));
  if (!evse) return status("NotSupported");
  if (evse->session) evse->session->stop_reason = "UnlockCommand";
  return status("Unlocked");
}

Json unlock_connector_201(StationModel& st, const Json& p) {
  Evse* evse = st.evse(require_int(p, "evseId", v201));
  const int connector = require_int(p, "connectorId", v201);
  if (!evse || connector != 1) return status("UnknownConnector");
  if (evse->session) return status("OngoingAuthorizedTransaction");
  return status("Unlocked");
}

// EVSE `evse_id` (0: all) made operative or not; "Scheduled" while a session runs there.
Json change_availability(StationModel& st, int evse_id, bool operative) {
  if (evse_id != 0 && !st.evse(evse_id)) return status("Rejected");
  const bool busy = evse_id == 0 ? st.any_session() : st.evse(evse_id)->session.has_value();
  for (auto& evse : st.evses) {
    if (evse_id == 0 || evse.id == evse_id) evse.available = operative;
  }
  st.status_dirty = true;
  return status(busy && !operative ? "Scheduled" : "Accepted");
}

Json change_availability_16(StationModel& st, const Json& p) {
  const int connector = require_int(p, "connectorId", v16);
  const std::string type = require_string(p, "type", v16);
  if (type != "Operative" && type != "Inoperative") {
    throw CallError("PropertyConstraintViolation", "type");
  }
  return change_availability(st, connector, type == "Operative");
}

Json change_availability_201(StationModel& st, const Json& p) {
  const std::string operational = require_string(p, "operationalStatus", v201);
  if (operational != "Operative" && operational != "Inoperative") {
    throw CallError("PropertyConstraintViolation", "operationalStatus");
  }
  int evse = 0;
  if (p.contains("evse") && p["evse"].is_object()) evse = require_int(p["evse"], "id", v201);
  return change_availability(st, evse, operational == "Operative");
}

// --- Configuration -------------------------------------------------------------------------

// A new heartbeat or sample interval; false if `value` is not a positive number of seconds.
bool set_interval(StationModel& st, bool heartbeat, const std::string& value) {
  int seconds = 0;
  try {
    seconds = std::stoi(value);
  } catch (const std::exception&) {
    return false;
  }
  if (seconds <= 0) return false;
  if (heartbeat) {
    st.heartbeat_interval_s = seconds;
    st.next_heartbeat = SteadyClock::now() + st.real(seconds);
  } else {
    st.meter_interval_s = seconds;
  }
  return true;
}

Json get_configuration(StationModel& st, const Json& p) {
  Json known = Json::array();
  Json unknown = Json::array();
  const auto add = [&](const std::string& key, const Variable& var) {
    known.push_back({{"key", key}, {"readonly", var.read_only}, {"value", var.value}});
  };
  if (p.contains("key") && p["key"].is_array() && !p["key"].empty()) {
    for (const auto& key : p["key"]) {
      if (!key.is_string()) throw CallError("TypeConstraintViolation", "key");
      const auto found = st.variables.find(key.get<std::string>());
      if (found == st.variables.end()) {
        unknown.push_back(key);
      } else {
        add(found->first, found->second);
      }
    }
  } else {
    for (const auto& [key, var] : st.variables)
      if (!var.write_only) add(key, var);
  }
  Json result = {{"configurationKey", known}};
  if (!unknown.empty()) result["unknownKey"] = unknown;
  return result;
}

Json change_configuration(StationModel& st, const Json& p) {
  const std::string key = require_string(p, "key", v16);
  const std::string value = require_string(p, "value", v16);
  const auto found = st.variables.find(key);
  if (found == st.variables.end()) return status("NotSupported");
  if (found->second.read_only) return status("Rejected");
  if (key == "HeartbeatInterval" || key == "MeterValueSampleInterval") {
    if (!set_interval(st, key == "HeartbeatInterval", value)) return status("Rejected");
  }
  if (key == "AuthorizationKey") {
    // The key is the password's bytes in hex; the next connection uses it.
    auto password = base::hex_decode_to_string(value);
    if (!password || password->size() < 16) return status("Rejected");
    st.options.password = *password;
  }
  found->second.value = value;
  return status("Accepted");
}

bool component_known(const StationModel& st, const std::string& component) {
  return std::any_of(st.variables.begin(), st.variables.end(),
                     [&](const auto& entry) { return entry.first.rfind(component + "/", 0) == 0; });
}

// The results of a GetVariables or SetVariables request: for each item of its non-empty array
// `field`, the component and variable it names and what `answer` adds, given the item, the
// component's and the variable's names.
template <class Answer>
Json variable_results(const Json& p, const char* field, Answer answer) {
  const Json& requests = require(p, field, v201);
  if (!requests.is_array() || requests.empty()) {
    throw CallError("OccurrenceConstraintViolation", std::string(field) + " must not be empty");
  }
  Json results = Json::array();
  for (const auto& item : requests) {
    const std::string component = require_string(require(item, "component", v201), "name", v201);
    const std::string variable = require_string(require(item, "variable", v201), "name", v201);
    Json result = {{"component", item["component"]}, {"variable", item["variable"]}};
    answer(item, component, variable, result);
    results.push_back(result);
  }
  return results;
}

Json get_variables(StationModel& st, const Json& p) {
  auto results = variable_results(
      p, "getVariableData",
      [&](const Json&, const std::string& component, const std::string& variable, Json& result) {
        const auto found = st.variables.find(component + "/" + variable);
        if (found != st.variables.end() && found->second.write_only) {
          result["attributeStatus"] = "Rejected";
        } else if (found != st.variables.end()) {
          result["attributeStatus"] = "Accepted";
          result["attributeValue"] = found->second.value;
        } else {
          result["attributeStatus"] =
              component_known(st, component) ? "UnknownVariable" : "UnknownComponent";
        }
      });
  return {{"getVariableResult", results}};
}

// One SetVariableData item's attributeStatus.
std::string set_variable(StationModel& st, const std::string& component,
                         const std::string& variable, const std::string& value) {
  const std::string key = component + "/" + variable;
  const auto found = st.variables.find(key);
  if (found == st.variables.end()) {
    return component_known(st, component) ? "UnknownVariable" : "UnknownComponent";
  }
  if (found->second.read_only) return "Rejected";
  if (key == "OCPPCommCtrlr/HeartbeatInterval" || key == "SampledDataCtrlr/TxUpdatedInterval") {
    if (!set_interval(st, key == "OCPPCommCtrlr/HeartbeatInterval", value)) return "Rejected";
  }
  if (key == "SecurityCtrlr/BasicAuthPassword") {
    if (value.size() < 16 || value.size() > 40) return "Rejected";
    st.options.password = value;  // used from the next connection on
  }
  found->second.value = value;
  return "Accepted";
}

Json set_variables(StationModel& st, const Json& p) {
  auto results =
      variable_results(p, "setVariableData",
                       [&](const Json& item, const std::string& component,
                           const std::string& variable, Json& result) {
                         const std::string value = require_string(item, "attributeValue", v201);
                         result["attributeStatus"] = set_variable(st, component, variable, value);
                       });
  return {{"setVariableResult", results}};
}

// --- TriggerMessage ------------------------------------------------------------------------

Json trigger_message_16(StationModel& st, const Json& p) {
  const std::string requested = require_string(p, "requestedMessage", v16);
  if (requested == "BootNotification" || requested == "Heartbeat" || requested == "MeterValues" ||
      requested == "StatusNotification") {
    std::optional<int> connector = optional_evse(p, "connectorId");
    if (connector && !st.evse(*connector)) connector.reset();
    st.triggered.push_back({requested, connector});
    return status("Accepted");
  }
  if (requested == "DiagnosticsStatusNotification" || requested == "FirmwareStatusNotification") {
    return status("NotImplemented");
  }
  throw CallError("PropertyConstraintViolation", "unknown requestedMessage " + requested);
}

Json trigger_message_201(StationModel& st, const Json& p) {
  const std::string requested = require_string(p, "requestedMessage", v201);
  std::optional<int> evse;
  if (p.contains("evse") && p["evse"].is_object()) evse = optional_evse(p["evse"], "id");
  if (evse && !st.evse(*evse)) evse.reset();
  if (requested == "BootNotification" && st.booted) return status("Rejected");
  if (requested == "TransactionEvent" &&
      (evse ? !st.evse(*evse)->session.has_value() : !st.any_session())) {
    return status("Rejected");
  }
  if (requested == "BootNotification" || requested == "Heartbeat" || requested == "MeterValues" ||
      requested == "StatusNotification" || requested == "TransactionEvent") {
    st.triggered.push_back({requested, evse});
    return status("Accepted");
  }
  return status("NotImplemented");
}

// --- Smart charging ------------------------------------------------------------------------

Json set_charging_profile(StationModel& st, const Json& p) {
  const auto v = st.version();
  const bool is16 = v == v16;
  const int evse = require_int(p, is16 ? "connectorId" : "evseId", v);
  const Json& profile = require(p, is16 ? "csChargingProfiles" : "chargingProfile", v);
  if (!profile.is_object()) throw CallError("TypeConstraintViolation", "not a charging profile");
  return install_profile(st, evse, profile, false);
}

std::optional<int> optional_int(const Json& object, const char* name) {
  if (!object.is_object() || !object.contains(name)) return std::nullopt;
  if (!object[name].is_number_integer()) {
    throw CallError("TypeConstraintViolation", std::string(name) + " must be an integer");
  }
  return object[name].get<int>();
}

// Clears the profiles that match every criterion given: Accepted, or Unknown if none did.
Json clear_charging_profile(StationModel& st, const Json& p) {
  const auto v = st.version();
  const bool is16 = v == v16;
  static const Json kNone = Json::object();
  const Json& criteria =
      is16 ? p : (p.contains("chargingProfileCriteria") ? p["chargingProfileCriteria"] : kNone);
  const auto id = optional_int(p, is16 ? "id" : "chargingProfileId");
  const auto evse = optional_int(criteria, is16 ? "connectorId" : "evseId");
  const auto stack_level = optional_int(criteria, "stackLevel");
  std::optional<ProfilePurpose> purpose;
  if (criteria.is_object() && criteria.contains("chargingProfilePurpose")) {
    const Json& named = criteria["chargingProfilePurpose"];
    purpose = named.is_string() ? purpose_named(v, named.get<std::string>()) : std::nullopt;
    if (!purpose) return status("Unknown");  // the station holds none of that purpose
  }
  const auto now = SteadyClock::now();
  st.run_meters(now);
  const int cleared = st.profiles.clear(id, evse, purpose, stack_level);
  st.apply_profiles(now);
  return status(cleared > 0 ? "Accepted" : "Unknown");
}

// The schedule the station will apply on an EVSE (0: the station as a whole, its maximum):
// limits in the unit asked for (W if none), periods in simulated seconds from now.
Json get_composite_schedule(StationModel& st, const Json& p) {
  const auto v = st.version();
  const bool is16 = v == v16;
  const int evse = require_int(p, is16 ? "connectorId" : "evseId", v);
  const int duration = require_int(p, "duration", v);
  const std::string unit_name = p.value("chargingRateUnit", std::string("W"));
  if (unit_name != "A" && unit_name != "W") {
    throw CallError("PropertyConstraintViolation", "chargingRateUnit must be A or W");
  }
  if ((evse != 0 && !st.evse(evse)) || duration <= 0) return status("Rejected");
  const RateUnit unit = unit_name == "A" ? RateUnit::A : RateUnit::W;

  // The station as a whole answers to its maximum only.
  std::vector<ChargingProfile> profiles = st.profiles.profiles();
  if (evse == 0) {
    std::erase_if(profiles, [](const ChargingProfile& profile) {
      return profile.purpose != ProfilePurpose::StationMax;
    });
  }
  const double unlimited_w =
      st.options.meter.max_power_w * (evse == 0 ? static_cast<int>(st.evses.size()) : 1);
  const auto now = SteadyClock::now();
  const Timestamp start = std::chrono::floor<std::chrono::seconds>(st.simulated(now));
  const auto composite = composite_schedule(profiles, evse, st.running_transaction(evse), start,
                                            duration, unit, st.electrics(), unlimited_w);
  // Amperes to a tenth, watts whole (1.6 limits are multiples of 0.1).
  const auto rounded = [&](double value) {
    return unit == RateUnit::A ? std::round(value * 10) / 10 : std::round(value);
  };
  Json periods = Json::array();
  for (const auto& period : composite) {
    Json out = {{"startPeriod", static_cast<int>(period.start_s)}};
    out["limit"] = rounded(period.limit);
    if (period.phases) out["numberPhases"] = *period.phases;
    if (period.setpoint && v == OcppVersion::v21) {
      out["operationMode"] = "CentralSetpoint";
      out["setpoint"] = rounded(*period.setpoint);
    }
    periods.push_back(std::move(out));
  }
  const std::string schedule_start = format_timestamp(st.wall(start));
  if (is16) {
    return {{"status", "Accepted"},
            {"connectorId", evse},
            {"scheduleStart", schedule_start},
            {"chargingSchedule",
             {{"duration", duration},
              {"startSchedule", schedule_start},
              {"chargingRateUnit", unit_name},
              {"chargingSchedulePeriod", std::move(periods)}}}};
  }
  return {{"status", "Accepted"},
          {"schedule",
           {{"evseId", evse},
            {"duration", duration},
            {"scheduleStart", schedule_start},
            {"chargingRateUnit", unit_name},
            {"chargingSchedulePeriod", std::move(periods)}}}};
}

// --- Both versions alike -------------------------------------------------------------------

Json clear_cache(StationModel&, const Json&) {
  return status("Accepted");
}

Json data_transfer(StationModel& st, const Json& p) {
  const std::string vendor = require_string(p, "vendorId", st.version());
  if (vendor == kPncVendorId && st.version() == v16) return pnc_data_transfer(st, p);
  if (vendor != st.options.identity.vendor) return status("UnknownVendorId");
  Json result = status("Accepted");
  if (p.contains("data")) result["data"] = p["data"];
  return result;
}

Json send_local_list(StationModel& st, const Json& p) {
  const auto v = st.version();
  const bool is16 = v == v16;
  const int version = require_int(p, is16 ? "listVersion" : "versionNumber", v);
  const std::string update = require_string(p, "updateType", v);
  if (update == "Full") st.local_list.clear();
  for (const auto& entry : p.value("localAuthorizationList", Json::array())) {
    const std::string token = is16 ? require_string(entry, "idTag", v)
                                   : require_string(require(entry, "idToken", v), "idToken", v);
    const char* info_key = is16 ? "idTagInfo" : "idTokenInfo";
    if (entry.contains(info_key))
      st.local_list[token] = entry[info_key].value("status", "Accepted");
    else
      st.local_list.erase(token);  // a differential update without info removes the entry
  }
  if (update == "Differential" && version <= st.local_list_version) {
    return status("VersionMismatch");
  }
  st.local_list_version = version;
  return status("Accepted");
}

Json get_local_list_version(StationModel& st, const Json&) {
  return {{st.version() == v16 ? "listVersion" : "versionNumber", st.local_list_version}};
}

Json reserve_now(StationModel& st, const Json& p) {
  const auto v = st.version();
  const bool is16 = v == v16;
  const int id = require_int(p, is16 ? "reservationId" : "id", v);
  const std::string token =
      is16 ? require_string(p, "idTag", v) : require_string(require(p, "idToken", v), "idToken", v);
  // For one EVSE (1.6 connector), or (0 / none) for any of the station's.
  const int target = optional_evse(p, is16 ? "connectorId" : "evseId").value_or(0);
  if (target != 0 && !st.evse(target)) return status("Rejected");
  const bool occupied = target != 0 ? st.evse(target)->busy()
                                    : std::all_of(st.evses.begin(), st.evses.end(),
                                                  [](const Evse& e) { return e.busy(); });
  if (occupied) return status("Occupied");
  st.reservations[id] = token;
  return status("Accepted");
}

Json cancel_reservation(StationModel& st, const Json& p) {
  const int id = require_int(p, "reservationId", st.version());
  return status(st.reservations.erase(id) ? "Accepted" : "Rejected");
}

// Downloading is not simulated: the station accepts and keeps its firmware.
Json update_firmware_16(StationModel&, const Json&) {
  return Json::object();
}

Json update_firmware_201(StationModel&, const Json&) {
  return status("Accepted");
}

Json get_diagnostics(StationModel& st, const Json&) {
  return {{"fileName", st.id + "-diagnostics.log"}};
}

Json get_log(StationModel& st, const Json&) {
  return {{"status", "Accepted"}, {"filename", st.id + ".log"}};
}

ActionTable make_table() {
  ActionTable table;
  // OCPP 1.6
  table.add(v16, "RemoteStartTransaction", remote_start_transaction);
  table.add(v16, "RemoteStopTransaction", remote_stop_transaction);
  table.add(v16, "Reset", reset_16);
  table.add(v16, "UnlockConnector", unlock_connector_16);
  table.add(v16, "ChangeAvailability", change_availability_16);
  table.add(v16, "GetConfiguration", get_configuration);
  table.add(v16, "ChangeConfiguration", change_configuration);
  table.add(v16, "TriggerMessage", trigger_message_16);
  table.add(v16, "SetChargingProfile", set_charging_profile);
  table.add(v16, "UpdateFirmware", update_firmware_16);
  table.add(v16, "GetDiagnostics", get_diagnostics);
  // OCPP 2.0.1 and 2.1 (which keeps these calls as they were)
  for (const auto version : {v201, v21}) {
    table.add(version, "RequestStartTransaction", request_start_transaction);
    table.add(version, "RequestStopTransaction", request_stop_transaction);
    table.add(version, "Reset", reset_201);
    table.add(version, "UnlockConnector", unlock_connector_201);
    table.add(version, "ChangeAvailability", change_availability_201);
    table.add(version, "GetVariables", get_variables);
    table.add(version, "SetVariables", set_variables);
    table.add(version, "TriggerMessage", trigger_message_201);
    table.add(version, "SetChargingProfile", set_charging_profile);
    table.add(version, "UpdateFirmware", update_firmware_201);
    table.add(version, "GetLog", get_log);
  }
  // Every version alike (field names follow the station's version).
  for (const auto version : {v16, v201, v21}) {
    table.add(version, "GetCompositeSchedule", get_composite_schedule);
    table.add(version, "ClearCache", clear_cache);
    table.add(version, "ClearChargingProfile", clear_charging_profile);
    table.add(version, "DataTransfer", data_transfer);
    table.add(version, "SendLocalList", send_local_list);
    table.add(version, "GetLocalListVersion", get_local_list_version);
    table.add(version, "ReserveNow", reserve_now);
    table.add(version, "CancelReservation", cancel_reservation);
  }
  add_trust_anchor_actions(table);
  return table;
}

}  // namespace

const ActionTable& csms_actions() {
  static const ActionTable table = make_table();
  return table;
}

}  // namespace chargegrid::sim::detail
