#include "ocpp/adapters/adapters.hpp"

#include <stdexcept>
#include <string>

namespace chargegrid::server::ocpp::adapters {

using protocols::OcppVersion;

namespace {

// Picks the version's adapter function; one a version lacks is null.
template <class Message>
Message dispatch(OcppVersion version, const nlohmann::json& payload,
                 Message (*v16)(const nlohmann::json&), Message (*v201)(const nlohmann::json&),
                 Message (*v21)(const nlohmann::json&), const char* what) {
  switch (version) {
    case OcppVersion::v16:
      if (v16) return v16(payload);
      break;
    case OcppVersion::v201:
      if (v201) return v201(payload);
      break;
    case OcppVersion::v21:
      if (v21) return v21(payload);
      break;
  }
  throw std::logic_error(std::string("OCPP ") + std::string(protocols::subprotocol(version)) +
                         " has no " + what);
}

}  // namespace

template <>
BootInfo read<BootInfo>(OcppVersion version, const nlohmann::json& payload) {
  return dispatch(version, payload, &v16::boot_info, &v201::boot_info, &v21::boot_info,
                  "BootNotification");
}
template <>
StatusReport read<StatusReport>(OcppVersion version, const nlohmann::json& payload) {
  return dispatch(version, payload, &v16::status_report, &v201::status_report, &v21::status_report,
                  "StatusNotification");
}
template <>
IdToken read<IdToken>(OcppVersion version, const nlohmann::json& payload) {
  return dispatch(version, payload, &v16::authorize, &v201::authorize, &v21::authorize,
                  "Authorize");
}
template <>
MeterReport read<MeterReport>(OcppVersion version, const nlohmann::json& payload) {
  return dispatch(version, payload, &v16::meter_values, &v201::meter_values, &v21::meter_values,
                  "MeterValues");
}
template <>
TransactionStart read<TransactionStart>(OcppVersion version, const nlohmann::json& payload) {
  return dispatch<TransactionStart>(version, payload, &v16::start_transaction, nullptr, nullptr,
                                    "StartTransaction");
}
template <>
TransactionStop read<TransactionStop>(OcppVersion version, const nlohmann::json& payload) {
  return dispatch<TransactionStop>(version, payload, &v16::stop_transaction, nullptr, nullptr,
                                   "StopTransaction");
}
template <>
TransactionUpdate read<TransactionUpdate>(OcppVersion version, const nlohmann::json& payload) {
  return dispatch<TransactionUpdate>(version, payload, nullptr, &v201::transaction_event,
                                     &v21::transaction_event, "TransactionEvent");
}
template <>
SecurityEvent read<SecurityEvent>(OcppVersion version, const nlohmann::json& payload) {
  return dispatch(version, payload, &v16::security_event, &v201::security_event,
                  &v21::security_event, "SecurityEventNotification");
}
template <>
EvChargingNeeds read<EvChargingNeeds>(OcppVersion version, const nlohmann::json& payload) {
  return dispatch<EvChargingNeeds>(version, payload, nullptr, &v201::charging_needs,
                                   &v21::charging_needs, "NotifyEVChargingNeeds");
}

}  // namespace chargegrid::server::ocpp::adapters
