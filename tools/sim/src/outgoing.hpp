#pragma once
// Every message a simulated station sends, one function each, in the station's OCPP
// version: the action and its payload, built from the station's state with the wire
// builders of messages.hpp (the only place that knows the JSON shapes).

#include <string>

#include "chargegrid/sim/messages.hpp"

namespace chargegrid::sim::detail {

struct Session;

struct OutgoingMessage {
  std::string action;
  Json payload;
};

namespace outgoing {

OutgoingMessage boot_notification(OcppVersion version, const StationIdentity& identity,
                                  const std::string& reason);
OutgoingMessage heartbeat(OcppVersion version);
// 1.6: connector `evse` (0 is the station); 2.0.1: connector 1 of EVSE `evse`.
OutgoingMessage status_notification(OcppVersion version, int evse, const std::string& status,
                                    Timestamp time);
OutgoingMessage authorize(OcppVersion version, const std::string& id_tag);

// Transaction messages (queued, sent in order). 2.0.1 events carry session.seq_no.
OutgoingMessage transaction_started(OcppVersion version, const Session& session, Timestamp time,
                                    bool offline);
OutgoingMessage periodic_meter_values(OcppVersion version, const Session& session, Timestamp time,
                                      bool offline);
// `reason` is the 1.6 StopTransaction reason / 2.0.1 stoppedReason, e.g. "Local", "Remote",
// "EVDisconnected"; the 2.0.1 triggerReason follows from it.
OutgoingMessage transaction_ended(OcppVersion version, const Session& session, Timestamp time,
                                  const std::string& reason, bool offline);
// What TriggerMessage asks for: a meter sample of EVSE `evse` (of its session, if one runs),
// and (2.0.1) a TransactionEvent of a running session.
OutgoingMessage triggered_meter_values(OcppVersion version, int evse, const MeterModel& meter,
                                       Timestamp time);
OutgoingMessage triggered_transaction_event(const Session& session, Timestamp time);
// 2.0.1 and 2.1: what the session's vehicle needs, sent after plug-in: the energy to its
// target state of charge, its departure (if it has one) and its limits; a vehicle that can
// discharge says so under 2.1.
OutgoingMessage ev_charging_needs(OcppVersion version, const Session& session,
                                  std::optional<Timestamp> departure);

}  // namespace outgoing

}  // namespace chargegrid::sim::detail
