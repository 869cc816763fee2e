#include "commands/translation.hpp"

#include <algorithm>

#include "security/password.hpp"

namespace chargegrid::server::commands {

using nlohmann::json;
using protocols::OcppVersion;

namespace {

bool is16(OcppVersion v) {
  return v == OcppVersion::v16;
}

[[noreturn]] void wrong_version(OcppVersion v, const std::string& use) {
  throw NotAvailable("the station speaks " + std::string(protocols::subprotocol(v)) + "; use " +
                     use);
}

json id_token_201(const json& body) {
  return {{"idToken", body.at("id_token")}, {"type", body.value("token_type", "Central")}};
}

OcppCall remote_start(const json& b, OcppVersion v, std::int64_t id) {
  if (is16(v)) {
    json p{{"idTag", b.at("id_token")}};
    if (b.contains("evse_id")) p["connectorId"] = b["evse_id"];
    return {"RemoteStartTransaction", p};
  }
  json p{{"idToken", id_token_201(b)}, {"remoteStartId", id}};
  if (b.contains("evse_id")) p["evseId"] = b["evse_id"];
  return {"RequestStartTransaction", p};
}

OcppCall reset(const json& b, OcppVersion v, std::int64_t) {
  const auto type = b.at("type").get<std::string>();
  if (is16(v)) {
    if (b.contains("evse_id")) wrong_version(v, "a reset without evse_id");
    return {"Reset", {{"type", type == "Hard" || type == "Immediate" ? "Hard" : "Soft"}}};
  }
  json p{{"type", type == "Hard" || type == "Immediate" ? "Immediate" : "OnIdle"}};
  if (b.contains("evse_id")) p["evseId"] = b["evse_id"];
  return {"Reset", p};
}

OcppCall unlock_connector(const json& b, OcppVersion v, std::int64_t) {
  if (is16(v)) return {"UnlockConnector", {{"connectorId", b.at("evse_id")}}};
  return {"UnlockConnector",
          {{"evseId", b.at("evse_id")}, {"connectorId", b.value("connector_id", 1)}}};
}

OcppCall change_availability(const json& b, OcppVersion v, std::int64_t) {
  const char* status = b.at("operational").get<bool>() ? "Operative" : "Inoperative";
  const int evse = b.value("evse_id", 0);
  if (is16(v)) return {"ChangeAvailability", {{"connectorId", evse}, {"type", status}}};
  json p{{"operationalStatus", status}};
  if (evse > 0) {
    p["evse"] = {{"id", evse}};
    if (b.contains("connector_id")) p["evse"]["connectorId"] = b["connector_id"];
  }
  return {"ChangeAvailability", p};
}

OcppCall get_configuration(const json& b, OcppVersion v, std::int64_t) {
  if (!is16(v)) wrong_version(v, "get-variables");
  json p = json::object();
  if (b.contains("keys")) p["key"] = b["keys"];
  return {"GetConfiguration", p};
}

OcppCall change_configuration(const json& b, OcppVersion v, std::int64_t) {
  if (!is16(v)) wrong_version(v, "set-variables");
  return {"ChangeConfiguration", {{"key", b.at("key")}, {"value", b.at("value")}}};
}

json component_variable(const json& item) {
  json component{{"name", item.at("component")}};
  if (item.contains("component_instance")) component["instance"] = item["component_instance"];
  if (item.contains("evse_id")) component["evse"] = {{"id", item["evse_id"]}};
  json variable{{"name", item.at("variable")}};
  if (item.contains("variable_instance")) variable["instance"] = item["variable_instance"];
  json out{{"component", component}, {"variable", variable}};
  if (item.contains("attribute_type")) out["attributeType"] = item["attribute_type"];
  return out;
}

OcppCall get_variables(const json& b, OcppVersion v, std::int64_t) {
  if (is16(v)) wrong_version(v, "get-configuration");
  json data = json::array();
  for (const auto& item : b.at("variables")) data.push_back(component_variable(item));
  return {"GetVariables", {{"getVariableData", data}}};
}

OcppCall set_variables(const json& b, OcppVersion v, std::int64_t) {
  if (is16(v)) wrong_version(v, "change-configuration");
  json data = json::array();
  for (const auto& item : b.at("variables")) {
    auto entry = component_variable(item);
    entry["attributeValue"] = item.at("value");
    data.push_back(entry);
  }
  return {"SetVariables", {{"setVariableData", data}}};
}

OcppCall trigger_message(const json& b, OcppVersion v, std::int64_t) {
  json p{{"requestedMessage", b.at("message")}};
  if (b.contains("evse_id")) {
    if (is16(v))
      p["connectorId"] = b["evse_id"];
    else
      p["evse"] = {{"id", b["evse_id"]}};
  }
  return {"TriggerMessage", p};
}

OcppCall clear_cache(const json&, OcppVersion, std::int64_t) {
  return {"ClearCache", json::object()};
}

OcppCall send_local_list(const json& b, OcppVersion v, std::int64_t) {
  json list = json::array();
  for (const auto& entry : b.value("entries", json::array())) {
    json info{{"status", entry.value("status", "Accepted")}};
    if (is16(v)) {
      if (entry.contains("expiry")) info["expiryDate"] = entry["expiry"];
      list.push_back({{"idTag", entry.at("id_token")}, {"idTagInfo", info}});
    } else {
      if (entry.contains("expiry")) info["cacheExpiryDateTime"] = entry["expiry"];
      list.push_back({{"idToken", id_token_201(entry)}, {"idTokenInfo", info}});
    }
  }
  if (is16(v))
    return {"SendLocalList",
            {{"listVersion", b.at("version")},
             {"updateType", b.at("update_type")},
             {"localAuthorizationList", list}}};
  json p{{"versionNumber", b.at("version")}, {"updateType", b.at("update_type")}};
  if (!list.empty()) p["localAuthorizationList"] = list;
  return {"SendLocalList", p};
}

OcppCall get_local_list_version(const json&, OcppVersion, std::int64_t) {
  return {"GetLocalListVersion", json::object()};
}

OcppCall reserve_now(const json& b, OcppVersion v, std::int64_t id) {
  const auto reservation = b.value("reservation_id", id);
  if (is16(v))
    return {"ReserveNow",
            {{"connectorId", b.value("evse_id", 0)},
             {"expiryDate", b.at("expiry")},
             {"idTag", b.at("id_token")},
             {"reservationId", reservation}}};
  json p{{"id", reservation}, {"expiryDateTime", b.at("expiry")}, {"idToken", id_token_201(b)}};
  if (b.contains("evse_id")) p["evseId"] = b["evse_id"];
  return {"ReserveNow", p};
}

OcppCall cancel_reservation(const json& b, OcppVersion, std::int64_t) {
  return {"CancelReservation", {{"reservationId", b.at("reservation_id")}}};
}

OcppCall update_firmware(const json& b, OcppVersion v, std::int64_t id) {
  json p;
  if (is16(v)) {
    p = {{"location", b.at("location")}, {"retrieveDate", b.at("retrieve_at")}};
  } else {
    p = {{"requestId", id},
         {"firmware", {{"location", b.at("location")}, {"retrieveDateTime", b.at("retrieve_at")}}}};
  }
  if (b.contains("retries")) p["retries"] = b["retries"];
  if (b.contains("retry_interval_s")) p["retryInterval"] = b["retry_interval_s"];
  return {"UpdateFirmware", p};
}

OcppCall get_log(const json& b, OcppVersion v, std::int64_t id) {
  json p;
  if (is16(v)) {
    p = {{"location", b.at("location")}};
    if (b.contains("from")) p["startTime"] = b["from"];
    if (b.contains("to")) p["stopTime"] = b["to"];
    if (b.value("log_type", "DiagnosticsLog") != "DiagnosticsLog")
      wrong_version(v, "log_type DiagnosticsLog (1.6 stations only have diagnostics)");
  } else {
    json log{{"remoteLocation", b.at("location")}};
    if (b.contains("from")) log["oldestTimestamp"] = b["from"];
    if (b.contains("to")) log["latestTimestamp"] = b["to"];
    p = {{"logType", b.value("log_type", "DiagnosticsLog")}, {"requestId", id}, {"log", log}};
  }
  if (b.contains("retries")) p["retries"] = b["retries"];
  if (b.contains("retry_interval_s")) p["retryInterval"] = b["retry_interval_s"];
  return {is16(v) ? "GetDiagnostics" : "GetLog", p};
}

// Arguments {"session_id", "station_transaction_id"}: 1.6 stations know the session by the id
// the server issued, 2.0.1 and 2.1 stations by their own.
OcppCall remote_stop(const json& b, OcppVersion v, std::int64_t) {
  if (is16(v)) return {"RemoteStopTransaction", {{"transactionId", b.at("session_id")}}};
  return {"RequestStopTransaction", {{"transactionId", b.at("station_transaction_id")}}};
}

// The call that gives a station its new Basic-auth password: 1.6 AuthorizationKey (the
// password's bytes in hex), 2.0.1 and 2.1 SecurityCtrlr.BasicAuthPassword.
OcppCall set_password(const json& b, OcppVersion v, std::int64_t) {
  const auto password = b.at("password").get<std::string>();
  if (is16(v))
    return {"ChangeConfiguration",
            {{"key", "AuthorizationKey"}, {"value", security::authorization_key_hex(password)}}};
  return {"SetVariables",
          {{"setVariableData",
            {{{"component", {{"name", "SecurityCtrlr"}}},
              {"variable", {{"name", "BasicAuthPassword"}}},
              {"attributeValue", password}}}}}};
}

// A certificate the server's CA signed for the station. Arguments: "certificate_chain" (PEM),
// optional "certificate_type" (2.x; ChargingStationCertificate when absent) and "request_id"
// (2.1: the SignCertificate's requestId).
// The OCPP 1.6 Plug & Charge application note's vendor for ISO 15118 messages.
constexpr const char* kPncVendor = "org.openchargealliance.iso15118pnc";

bool is_v2g_type(const json& b) {
  const auto type = b.value("certificate_type", "");
  return type == "V2GCertificate" || type == "V2G20Certificate";
}

OcppCall certificate_signed(const json& b, OcppVersion v, std::int64_t) {
  json p{{"certificateChain", b.at("certificate_chain")}};
  // 1.6 carries a V2G (SECC) certificate in DataTransfer, as the application note says, with
  // its type: a station reading the data as 2.0.1's CertificateSigned takes a chain without
  // one for its ChargingStationCertificate (the simulator refuses it).
  if (is16(v) && is_v2g_type(b)) {
    p["certificateType"] = b.value("certificate_type", "V2GCertificate");
    return {"DataTransfer",
            {{"vendorId", kPncVendor}, {"messageId", "CertificateSigned"}, {"data", p.dump()}}};
  }
  if (is16(v)) return {"CertificateSigned", p};
  p["certificateType"] = b.value("certificate_type", "ChargingStationCertificate");
  if (v == OcppVersion::v21 && b.contains("request_id")) p["requestId"] = b["request_id"];
  return {"CertificateSigned", p};
}

// Asks a station for a new V2G CSR: "certificate_type" V2GCertificate (default) or
// V2G20Certificate (2.1). 1.6 stations get the application note's DataTransfer.
OcppCall trigger_v2g_certificate(const json& b, OcppVersion v, std::int64_t) {
  const bool v20 = b.value("certificate_type", "V2GCertificate") == "V2G20Certificate";
  if (v20 && v != OcppVersion::v21) wrong_version(v, "trigger-v2g-certificate (V2G20Certificate)");
  const json p{{"requestedMessage", v20 ? "SignV2G20Certificate" : "SignV2GCertificate"}};
  if (is16(v))
    return {"DataTransfer",
            {{"vendorId", kPncVendor}, {"messageId", "TriggerMessage"}, {"data", p.dump()}}};
  return {"TriggerMessage", p};
}

// ---- Smart charging: what the smart-charging service sends (not offered by the REST API) ----

// The purpose as each version names it; arguments use the 2.x names.
std::string profile_purpose(const json& b, OcppVersion v) {
  const auto purpose = b.value("purpose", "TxProfile");
  if (is16(v) && purpose == "ChargingStationMaxProfile") return "ChargePointMaxProfile";
  return purpose;
}

// One EVSE's charging schedule. Arguments: "evse_id", "profile_id", optional "stack_level"
// (0), "purpose" (TxProfile), "transaction_id" (1.6: the server-issued id; 2.x: the
// station's), "start" (RFC 3339), optional "duration_s", "rate_unit" (W or A) and "periods":
// [{"start_s", "limit", optional "phases", "setpoint" and "discharge_limit"}]. A period that
// discharges (a setpoint below zero, or a discharge limit) needs OCPP 2.1, where it runs in
// operation mode CentralSetpoint.
OcppCall set_charging_profile(const json& b, OcppVersion v, std::int64_t) {
  json periods = json::array();
  for (const auto& period : b.at("periods")) {
    json p{{"startPeriod", period.at("start_s")}, {"limit", period.at("limit")}};
    if (period.contains("phases")) p["numberPhases"] = period["phases"];
    if (period.contains("setpoint") || period.contains("discharge_limit")) {
      if (v != OcppVersion::v21)
        wrong_version(v, "a schedule without discharging (OCPP 2.1 has it)");
      p["operationMode"] = "CentralSetpoint";
      if (period.contains("setpoint")) p["setpoint"] = period["setpoint"];
      if (period.contains("discharge_limit")) p["dischargeLimit"] = period["discharge_limit"];
    }
    periods.push_back(std::move(p));
  }
  json schedule{{"chargingRateUnit", b.at("rate_unit")},
                {"startSchedule", b.at("start")},
                {"chargingSchedulePeriod", std::move(periods)}};
  if (b.contains("duration_s")) schedule["duration"] = b["duration_s"];
  json profile{{"stackLevel", b.value("stack_level", 0)},
               {"chargingProfilePurpose", profile_purpose(b, v)},
               {"chargingProfileKind", "Absolute"}};
  if (is16(v)) {
    profile["chargingProfileId"] = b.at("profile_id");
    if (b.contains("transaction_id")) profile["transactionId"] = b["transaction_id"];
    profile["chargingSchedule"] = std::move(schedule);
    return {"SetChargingProfile",
            {{"connectorId", b.at("evse_id")}, {"csChargingProfiles", profile}}};
  }
  profile["id"] = b.at("profile_id");
  if (b.contains("transaction_id")) profile["transactionId"] = b["transaction_id"];
  schedule["id"] = b.at("profile_id");
  profile["chargingSchedule"] = json::array({std::move(schedule)});
  return {"SetChargingProfile", {{"evseId", b.at("evse_id")}, {"chargingProfile", profile}}};
}

// Arguments, each optional and narrowing what is cleared: "profile_id", "evse_id", "purpose",
// "stack_level".
OcppCall clear_charging_profile(const json& b, OcppVersion v, std::int64_t) {
  json criteria = json::object();
  if (b.contains("evse_id")) criteria[is16(v) ? "connectorId" : "evseId"] = b["evse_id"];
  if (b.contains("purpose")) criteria["chargingProfilePurpose"] = profile_purpose(b, v);
  if (b.contains("stack_level")) criteria["stackLevel"] = b["stack_level"];
  if (is16(v)) {
    if (b.contains("profile_id")) criteria["id"] = b["profile_id"];
    return {"ClearChargingProfile", criteria};
  }
  json p = json::object();
  if (b.contains("profile_id")) p["chargingProfileId"] = b["profile_id"];
  if (!criteria.empty()) p["chargingProfileCriteria"] = std::move(criteria);
  return {"ClearChargingProfile", p};
}

// What the station will deliver on an EVSE: "evse_id", "duration_s", optional "rate_unit".
OcppCall get_composite_schedule(const json& b, OcppVersion v, std::int64_t) {
  json p{{"duration", b.at("duration_s")}};
  p[is16(v) ? "connectorId" : "evseId"] = b.at("evse_id");
  if (b.contains("rate_unit")) p["chargingRateUnit"] = b["rate_unit"];
  return {"GetCompositeSchedule", p};
}

// ---- Trust anchors: root certificates a station trusts (the REST API's
// /stations/{id}/certificates and site rollouts). Certificate types use the 2.x names:
// V2GRootCertificate, MORootCertificate, CSMSRootCertificate, ManufacturerRootCertificate and
// (2.1) OEMRootCertificate. 1.6 stations take CSMS and manufacturer roots through the security
// extension (CentralSystemRootCertificate, ManufacturerRootCertificate) and V2G and MO roots
// through the Plug & Charge application note's DataTransfer, whose data is the 2.0.1 request
// as a JSON string.

constexpr const char* kPncVendorId = "org.openchargealliance.iso15118pnc";

bool pnc_type(const std::string& type) {
  return type == "V2GRootCertificate" || type == "MORootCertificate" ||
         type == "V2GCertificateChain";
}

// The 1.6 security extension's name for a 2.x certificate type; empty when it has none.
std::string security_extension_type(const std::string& type) {
  if (type == "CSMSRootCertificate") return "CentralSystemRootCertificate";
  if (type == "ManufacturerRootCertificate") return "ManufacturerRootCertificate";
  return {};
}

void require_type_in(OcppVersion v, const std::string& type) {
  if (type == "OEMRootCertificate" && v != OcppVersion::v21)
    wrong_version(v, "another certificate type (OEM roots need OCPP 2.1)");
}

OcppCall pnc_data_transfer(const std::string& message, const json& request) {
  return {"DataTransfer",
          {{"vendorId", kPncVendorId}, {"messageId", message}, {"data", request.dump()}}};
}

// Arguments: "certificate_type", "certificate" (PEM).
OcppCall install_certificate(const json& b, OcppVersion v, std::int64_t) {
  const auto type = b.at("certificate_type").get<std::string>();
  require_type_in(v, type);
  json request{{"certificateType", type}, {"certificate", b.at("certificate")}};
  if (!is16(v)) return {"InstallCertificate", request};
  if (pnc_type(type)) return pnc_data_transfer("InstallCertificate", request);
  request["certificateType"] = security_extension_type(type);
  return {"InstallCertificate", request};
}

// Arguments: optional "certificate_types" (all when absent). A 1.6 station answers one
// security-extension type per call, or the Plug & Charge types together.
OcppCall get_installed_certificate_ids(const json& b, OcppVersion v, std::int64_t) {
  const auto types = b.value("certificate_types", json::array());
  for (const auto& type : types) require_type_in(v, type.get<std::string>());
  if (!is16(v)) {
    json request = json::object();
    if (!types.empty()) request["certificateType"] = types;
    return {"GetInstalledCertificateIds", request};
  }
  const bool all_pnc = !types.empty() && std::all_of(types.begin(), types.end(), [](auto& t) {
    return pnc_type(t.template get<std::string>());
  });
  if (all_pnc) return pnc_data_transfer("GetInstalledCertificateIds", {{"certificateType", types}});
  if (types.size() != 1 || security_extension_type(types[0]).empty())
    wrong_version(v,
                  "one of CSMSRootCertificate or ManufacturerRootCertificate per call, or "
                  "V2G and MO roots together");
  return {"GetInstalledCertificateIds", {{"certificateType", security_extension_type(types[0])}}};
}

// Arguments: "hash_data" {hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number};
// "certificate_type" (1.6: V2G and MO roots are deleted through the Plug & Charge
// DataTransfer).
OcppCall delete_certificate(const json& b, OcppVersion v, std::int64_t) {
  const auto& h = b.at("hash_data");
  json request{{"certificateHashData",
                {{"hashAlgorithm", h.at("hash_algorithm")},
                 {"issuerNameHash", h.at("issuer_name_hash")},
                 {"issuerKeyHash", h.at("issuer_key_hash")},
                 {"serialNumber", h.at("serial_number")}}}};
  if (is16(v) && pnc_type(b.value("certificate_type", std::string())))
    return pnc_data_transfer("DeleteCertificate", request);
  return {"DeleteCertificate", request};
}

constexpr CommandSpec kCommands[] = {
    {"install-certificate", "", install_certificate},
    {"get-installed-certificate-ids", "", get_installed_certificate_ids},
    {"delete-certificate", "", delete_certificate},
    {"certificate-signed", "", certificate_signed},
    {"trigger-v2g-certificate", "", trigger_v2g_certificate},
    {"remote-stop", "", remote_stop},
    {"set-password", "", set_password},
    {"set-charging-profile", "", set_charging_profile},
    {"clear-charging-profile", "", clear_charging_profile},
    {"get-composite-schedule", "", get_composite_schedule},
    {"remote-start", "RemoteStartCommand", remote_start},
    {"reset", "ResetCommand", reset},
    {"unlock-connector", "UnlockConnectorCommand", unlock_connector},
    {"change-availability", "ChangeAvailabilityCommand", change_availability},
    {"get-configuration", "GetConfigurationCommand", get_configuration},
    {"change-configuration", "ChangeConfigurationCommand", change_configuration},
    {"get-variables", "GetVariablesCommand", get_variables},
    {"set-variables", "SetVariablesCommand", set_variables},
    {"trigger-message", "TriggerMessageCommand", trigger_message},
    {"clear-cache", "EmptyCommand", clear_cache},
    {"send-local-list", "SendLocalListCommand", send_local_list},
    {"get-local-list-version", "EmptyCommand", get_local_list_version},
    {"reserve-now", "ReserveNowCommand", reserve_now},
    {"cancel-reservation", "CancelReservationCommand", cancel_reservation},
    {"update-firmware", "UpdateFirmwareCommand", update_firmware},
    {"get-log", "GetLogCommand", get_log},
};

}  // namespace

std::span<const CommandSpec> command_table() {
  return kCommands;
}

const CommandSpec* find_command(std::string_view name) {
  for (const auto& command : kCommands)
    if (command.name == name) return &command;
  return nullptr;
}

}  // namespace chargegrid::server::commands
