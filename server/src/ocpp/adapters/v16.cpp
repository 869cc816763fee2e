// OCPP 1.6 adapter: generated 1.6 structs to the server's messages.

#include "chargegrid/protocols/v16/authorize.hpp"
#include "chargegrid/protocols/v16/boot_notification.hpp"
#include "chargegrid/protocols/v16/meter_values.hpp"
#include "chargegrid/protocols/v16/security_event_notification.hpp"
#include "chargegrid/protocols/v16/start_transaction.hpp"
#include "chargegrid/protocols/v16/status_notification.hpp"
#include "chargegrid/protocols/v16/stop_transaction.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/adapters/readings.hpp"
#include "ocpp/adapters/text.hpp"

namespace chargegrid::server::ocpp::adapters::v16 {

namespace wire = protocols::v16;

BootInfo boot_info(const Payload& payload) {
  const auto m = payload.take<wire::BootNotificationRequest>();
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

StatusReport status_report(const Payload& payload) {
  const auto m = payload.take<wire::StatusNotificationRequest>();
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

IdToken authorize(const Payload& payload) {
  return {payload.take<wire::AuthorizeRequest>().idTag, ""};
}

namespace {

// 1.6 sends every value as text; SignedData carries the reading in the signature.
template <class Sampled>
SampledValue sample(const Sampled& s) {
  SampledValue out;
  if (s.measurand) out.measurand = name(*s.measurand);
  out.phase = name_or(s.phase, "");
  out.location = name_or(s.location, "");
  out.context = name_or(s.context, "");
  out.format = name_or(s.format, "Raw");
  out.unit = text_or(s.unit, "");
  if (out.format == "SignedData")
    out.signed_data = s.value;
  else
    out.text = s.value;
  return out;
}

template <class MeterValueType>
std::vector<MeterValue> meter_readings(const std::vector<MeterValueType>& values,
                                       std::string_view path) {
  return readings(values, path, [](const auto& s) { return sample(s); });
}

}  // namespace

MeterReport meter_values(const Payload& payload) {
  const auto m = payload.take<wire::MeterValuesRequest>();
  MeterReport report;
  report.evse_id = static_cast<int>(m.connectorId);
  report.transaction_id = m.transactionId;
  report.values = meter_readings(m.meterValue, "/meterValue");
  return report;
}

TransactionStart start_transaction(const Payload& payload) {
  auto m = payload.take<wire::StartTransactionRequest>();
  return {static_cast<int>(m.connectorId), std::move(m.idTag), m.meterStart, std::move(m.timestamp),
          m.reservationId};
}

TransactionStop stop_transaction(const Payload& payload) {
  auto m = payload.take<wire::StopTransactionRequest>();
  TransactionStop stop;
  stop.transaction_id = m.transactionId;
  stop.meter_stop_wh = m.meterStop;
  stop.timestamp = std::move(m.timestamp);
  stop.reason = text_or(m.reason, "Local");
  stop.id_tag = std::move(m.idTag);
  if (m.transactionData) stop.readings = meter_readings(*m.transactionData, "/transactionData");
  return stop;
}

SecurityEvent security_event(const Payload& payload) {
  auto m = payload.take<wire::SecurityEventNotificationRequest>();
  return {std::move(m.type), std::move(m.timestamp), std::move(m.techInfo)};
}

}  // namespace chargegrid::server::ocpp::adapters::v16
