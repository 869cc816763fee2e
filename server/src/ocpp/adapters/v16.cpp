// OCPP 1.6 adapter: generated 1.6 structs to the server's messages.

#include "chargegrid/protocols/v16/authorize.hpp"
#include "chargegrid/protocols/v16/boot_notification.hpp"
#include "chargegrid/protocols/v16/meter_values.hpp"
#include "chargegrid/protocols/v16/security_event_notification.hpp"
#include "chargegrid/protocols/v16/status_notification.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/adapters/text.hpp"

namespace chargegrid::server::ocpp::adapters::v16 {

namespace wire = protocols::v16;

BootInfo boot_info(const nlohmann::json& payload) {
  const auto m = payload.get<wire::BootNotificationRequest>();
  BootInfo info;
  info.reason = "PowerUp";
  info.vendor = m.chargePointVendor;
  info.model = m.chargePointModel;
  info.serial = m.chargePointSerialNumber ? m.chargePointSerialNumber : m.chargeBoxSerialNumber;
  info.firmware = m.firmwareVersion;
  info.iccid = m.iccid;
  info.imsi = m.imsi;
  info.meter_type = m.meterType;
  info.meter_serial = m.meterSerialNumber;
  return info;
}

StatusReport status_report(const nlohmann::json& payload) {
  const auto m = payload.get<wire::StatusNotificationRequest>();
  StatusReport report;
  // Connector n is EVSE n with one connector; connector 0 is the station.
  report.evse_id = static_cast<int>(m.connectorId);
  report.connector_id = m.connectorId == 0 ? 0 : 1;
  report.status = text(m.status);
  report.error_code = text(m.errorCode);
  report.info = m.info;
  report.vendor_error = m.vendorErrorCode;
  report.reported_at = m.timestamp;
  return report;
}

IdToken authorize(const nlohmann::json& payload) {
  return {payload.get<wire::AuthorizeRequest>().idTag, ""};
}

MeterReport meter_values(const nlohmann::json& payload) {
  const auto m = payload.get<wire::MeterValuesRequest>();
  MeterReport report;
  report.evse_id = static_cast<int>(m.connectorId);
  report.transaction_id = m.transactionId;
  report.values.reserve(m.meterValue.size());
  for (std::size_t i = 0; i < m.meterValue.size(); ++i) {
    const auto& value = m.meterValue[i];
    MeterValue out{value.timestamp, {}};
    out.samples.reserve(value.sampledValue.size());
    for (std::size_t j = 0; j < value.sampledValue.size(); ++j) {
      const auto& s = value.sampledValue[j];
      SampledValue sample;
      if (s.measurand) sample.measurand = text(*s.measurand);
      sample.phase = text_or(s.phase, "");
      sample.location = text_or(s.location, "");
      sample.context = text_or(s.context, "");
      sample.format = text_or(s.format, "Raw");
      sample.unit = text_or(s.unit, "");
      if (sample.format == "SignedData")
        sample.signed_data = s.value;
      else
        sample.text = s.value;
      sample.path = "/meterValue/" + std::to_string(i) + "/sampledValue/" + std::to_string(j);
      out.samples.push_back(std::move(sample));
    }
    report.values.push_back(std::move(out));
  }
  return report;
}

SecurityEvent security_event(const nlohmann::json& payload) {
  auto m = payload.get<wire::SecurityEventNotificationRequest>();
  return {std::move(m.type), std::move(m.timestamp), std::move(m.techInfo)};
}

}  // namespace chargegrid::server::ocpp::adapters::v16
