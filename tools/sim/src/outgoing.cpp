#include "outgoing.hpp"

#include <algorithm>

#include "model.hpp"

namespace chargegrid::sim::detail::outgoing {

namespace {

bool is16(OcppVersion version) {
  return version == OcppVersion::v16;
}

// 2.0.1 triggerReason for a session ending with this stoppedReason.
std::string trigger_reason_for_stop(const std::string& reason) {
  if (reason == "Remote") return "RemoteStop";
  if (reason == "DeAuthorized") return "Deauthorized";
  if (reason == "ImmediateReset") return "ResetCommand";
  if (reason == "Local") return "StopAuthorized";
  if (reason == "EVDisconnected") return "EVCommunicationLost";
  return "AbnormalCondition";
}

// A TransactionEvent of session `s` at `time`, with its transaction id and current seqNo.
v201::TransactionEvent session_event(const Session& s, const std::string& type,
                                     const std::string& trigger, Timestamp time) {
  v201::TransactionEvent event;
  event.event_type = type;
  event.trigger_reason = trigger;
  event.seq_no = s.seq_no;
  event.time = time;
  event.transaction_id = s.transaction_uid;
  return event;
}

}  // namespace

OutgoingMessage boot_notification(OcppVersion version, const StationIdentity& identity,
                                  const std::string& reason) {
  return {"BootNotification", is16(version) ? v16::boot_notification(identity)
                                            : v201::boot_notification(identity, reason)};
}

OutgoingMessage heartbeat(OcppVersion version) {
  return {"Heartbeat", is16(version) ? v16::heartbeat() : v201::heartbeat()};
}

OutgoingMessage status_notification(OcppVersion version, int evse, const std::string& status,
                                    Timestamp time) {
  return {"StatusNotification", is16(version) ? v16::status_notification(evse, status, time)
                                              : v201::status_notification(evse, 1, status, time)};
}

OutgoingMessage authorize(OcppVersion version, const std::string& id_tag) {
  return {"Authorize", is16(version) ? v16::authorize(id_tag) : v201::authorize(id_tag)};
}

OutgoingMessage transaction_started(OcppVersion version, const Session& s, Timestamp time,
                                    bool offline) {
  if (is16(version)) {
    return {"StartTransaction",
            v16::start_transaction(s.evse, s.id_tag, s.meter.import_register_whole_wh(), time)};
  }
  auto event = session_event(s, "Started", s.remote ? "RemoteStart" : "Authorized", time);
  event.charging_state = "Charging";
  event.remote_start_id = s.remote_start_id;
  event.id_token = s.id_tag;
  event.id_token_type = s.id_token_type;
  event.evse_id = s.evse;
  event.meter_values = s.meter.sample();
  event.context = "Transaction.Begin";
  event.offline = offline;
  return {"TransactionEvent", v201::transaction_event(event)};
}

OutgoingMessage periodic_meter_values(OcppVersion version, const Session& s, Timestamp time,
                                      bool offline) {
  if (is16(version)) {
    // The transactionId is filled in when it is sent (the CSMS may not have given it yet).
    return {"MeterValues", v16::meter_values(s.evse, 0, s.meter.sample(), time)};
  }
  auto event = session_event(s, "Updated", "MeterValuePeriodic", time);
  event.charging_state = s.meter.power_w() == 0 ? "SuspendedEV" : "Charging";
  event.offline = offline;
  event.meter_values = s.meter.sample();
  return {"TransactionEvent", v201::transaction_event(event)};
}

OutgoingMessage transaction_ended(OcppVersion version, const Session& s, Timestamp time,
                                  const std::string& reason, bool offline) {
  // Unplugged: nobody presented a token to stop it.
  const bool unplugged = reason == "EVDisconnected";
  if (is16(version)) {
    return {"StopTransaction", v16::stop_transaction(0, unplugged ? std::string() : s.id_tag,
                                                     s.meter.import_register_whole_wh(), time,
                                                     reason, s.meter.sample())};
  }
  auto event = session_event(s, "Ended", trigger_reason_for_stop(reason), time);
  event.charging_state = unplugged ? "Idle" : "EVConnected";
  event.stopped_reason = reason;
  event.offline = offline;
  event.id_token = reason == "Local" ? std::optional<std::string>(s.id_tag) : std::nullopt;
  event.id_token_type = s.id_token_type;
  event.meter_values = s.meter.sample();
  event.context = "Transaction.End";
  return {"TransactionEvent", v201::transaction_event(event)};
}

OutgoingMessage triggered_meter_values(OcppVersion version, int evse, const MeterModel& meter,
                                       Timestamp time) {
  if (is16(version)) {
    return {"MeterValues", v16::meter_values(evse, std::nullopt, meter.sample(), time, "Trigger")};
  }
  return {"MeterValues", v201::meter_values(evse, meter.sample(), time, "Trigger")};
}

OutgoingMessage triggered_transaction_event(const Session& s, Timestamp time) {
  auto event = session_event(s, "Updated", "Trigger", time);
  event.charging_state = "Charging";
  event.meter_values = s.meter.sample();
  event.context = "Trigger";
  return {"TransactionEvent", v201::transaction_event(event)};
}

OutgoingMessage ev_charging_needs(OcppVersion version, const Session& s,
                                  std::optional<Timestamp> departure) {
  const MeterConfig& ev = s.meter.config();
  v201::ChargingNeeds needs;
  needs.evse_id = s.evse;
  needs.phases = ev.phases;
  needs.departure = departure;
  needs.energy_amount_wh = s.meter.energy_needed_wh();
  needs.ev_max_power_w = s.meter.max_charge_power_w();
  needs.ev_max_current_a = needs.ev_max_power_w / (ev.nominal_voltage_v * ev.phases);
  needs.ev_min_current_a = ev.ev_min_current_a;
  needs.ev_max_voltage_v = ev.phases == 1 ? ev.nominal_voltage_v : ev.nominal_voltage_v * 1.7320508;
  if (s.meter.can_discharge()) {
    needs.ev_max_discharge_power_w = ev.discharge_power_w;
    const double above_minimum_wh =
        std::max(0.0, (s.meter.soc_percent() - ev.min_soc_percent) / 100 * ev.battery_capacity_wh);
    needs.ev_min_energy_request_wh = -above_minimum_wh;
  }
  return {"NotifyEVChargingNeeds", v201::notify_ev_charging_needs(version, needs)};
}

}  // namespace chargegrid::sim::detail::outgoing
