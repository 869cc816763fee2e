#pragma once
// What the OCPP 2.0.1 and 2.1 adapters share: the two versions spell these messages alike,
// so each function is a template over the version's generated struct. Where 2.1 adds fields
// (bidirectional charging parameters), `if constexpr (requires ...)` reads them.

#include <string>
#include <utility>

#include "ocpp/adapters/readings.hpp"
#include "ocpp/adapters/text.hpp"
#include "ocpp/messages.hpp"
#include "ocpp/payload.hpp"

namespace chargegrid::server::ocpp::adapters::v2x {

template <class Request>
BootInfo boot_info(const Payload& payload) {
  const auto m = payload.template take<Request>();
  BootInfo info;
  info.reason = text(m.reason);
  info.vendor = m.chargingStation.vendorName;
  info.model = m.chargingStation.model;
  info.serial = m.chargingStation.serialNumber;
  info.firmware = m.chargingStation.firmwareVersion;
  if (m.chargingStation.modem) {
    info.iccid = m.chargingStation.modem->iccid;
    info.imsi = m.chargingStation.modem->imsi;
  }
  return info;
}

template <class Request>
StatusReport status_report(const Payload& payload) {
  const auto m = payload.template take<Request>();
  StatusReport report;
  report.evse_id = static_cast<int>(m.evseId);
  report.connector_id = static_cast<int>(m.connectorId);
  report.status = text(m.connectorStatus);
  report.reported_at = m.timestamp;
  return report;
}

template <class Request>
IdToken authorize(const Payload& payload) {
  const auto m = payload.template take<Request>();
  return {m.idToken.idToken, text(m.idToken.type)};
}

// The meterValue array of MeterValues or TransactionEvent; `path` is the array's pointer.
template <class MeterValueType>
std::vector<MeterValue> meter_values(const std::vector<MeterValueType>& values,
                                     std::string_view path) {
  return readings(values, path, [](const auto& s) {
    SampledValue sample;
    if (s.measurand) sample.measurand = name(*s.measurand);
    sample.phase = name_or(s.phase, "");
    sample.location = name_or(s.location, "");
    sample.context = name_or(s.context, "");
    sample.number = s.value;
    // No unitOfMeasure: the measurand's default unit; one without a unit: Wh (the schema's
    // default).
    if (s.unitOfMeasure) {
      sample.unit = s.unitOfMeasure->unit.value_or("Wh");
      sample.multiplier = static_cast<int>(s.unitOfMeasure->multiplier.value_or(0));
    }
    if (s.signedMeterValue) sample.signed_data = nlohmann::json(*s.signedMeterValue).dump();
    return sample;
  });
}

template <class Request>
MeterReport meter_values(const Payload& payload) {
  const auto m = payload.template take<Request>();
  return {static_cast<int>(m.evseId), std::nullopt, meter_values(m.meterValue, "/meterValue")};
}

template <class Request>
TransactionUpdate transaction_event(const Payload& payload) {
  const auto m = payload.template take<Request>();
  TransactionUpdate update;
  update.event_type = text(m.eventType);
  update.timestamp = m.timestamp;
  update.trigger_reason = text(m.triggerReason);
  update.seq_no = static_cast<int>(m.seqNo);
  update.offline = m.offline.value_or(false);
  update.transaction_id = m.transactionInfo.transactionId;
  update.charging_state = optional_text(m.transactionInfo.chargingState);
  update.stopped_reason = optional_text(m.transactionInfo.stoppedReason);
  if (m.evse) {
    update.evse_id = static_cast<int>(m.evse->id);
    if (m.evse->connectorId) update.connector_id = static_cast<int>(*m.evse->connectorId);
  }
  if (m.idToken) update.id_token = IdToken{m.idToken->idToken, text(m.idToken->type)};
  if (m.meterValue) update.readings = meter_values(*m.meterValue, "/meterValue");
  return update;
}

template <class Request>
SecurityEvent security_event(const Payload& payload) {
  auto m = payload.template take<Request>();
  return {std::move(m.type), std::move(m.timestamp), std::move(m.techInfo)};
}

template <class Request>
EvChargingNeeds charging_needs(const Payload& payload) {
  const auto m = payload.template take<Request>();
  const auto& needs = m.chargingNeeds;
  EvChargingNeeds out;
  out.evse_id = static_cast<int>(m.evseId);
  out.requested_energy_transfer = text(needs.requestedEnergyTransfer);
  out.departure_time = needs.departureTime;
  if (m.maxScheduleTuples) out.max_schedule_tuples = static_cast<int>(*m.maxScheduleTuples);
  if (needs.acChargingParameters) {
    const auto& ac = *needs.acChargingParameters;
    out.energy_amount_wh = static_cast<double>(ac.energyAmount);
    out.ev_max_current_a = static_cast<double>(ac.evMaxCurrent);
    out.ev_min_current_a = static_cast<double>(ac.evMinCurrent);
  }
  if (needs.dcChargingParameters) {
    const auto& dc = *needs.dcChargingParameters;
    out.ev_max_current_a = static_cast<double>(dc.evMaxCurrent);
    if (dc.energyAmount) out.energy_amount_wh = static_cast<double>(*dc.energyAmount);
    out.ev_max_power_w = optional_number(dc.evMaxPower);
    out.state_of_charge_percent = optional_number(dc.stateOfCharge);
    out.ev_energy_capacity_wh = optional_number(dc.evEnergyCapacity);
  }
  if constexpr (requires { needs.v2xChargingParameters; }) {
    if (needs.v2xChargingParameters) {
      const auto& v2x = *needs.v2xChargingParameters;
      if (v2x.maxChargePower) out.ev_max_power_w = v2x.maxChargePower;
      if (v2x.maxChargeCurrent) out.ev_max_current_a = v2x.maxChargeCurrent;
      out.ev_max_discharge_power_w = v2x.maxDischargePower;
      out.ev_max_discharge_current_a = v2x.maxDischargeCurrent;
      out.ev_min_energy_request_wh = v2x.evMinEnergyRequest;
      out.ev_target_energy_request_wh = v2x.evTargetEnergyRequest;
      if (v2x.evTargetEnergyRequest && !out.energy_amount_wh)
        out.energy_amount_wh = v2x.evTargetEnergyRequest;
    }
    out.control_mode = optional_text(needs.controlMode);
  }
  return out;
}

}  // namespace chargegrid::server::ocpp::adapters::v2x
