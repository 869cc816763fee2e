#pragma once
// What happens in the CSMS, as types. Handlers publish these on the EventBus; in-process
// services listen to the ones they need (EventBus::listen), and each is also rendered as the
// wire Event that live streams (GET /api/v1/events) carry.
//
// Live events are lossy by design (a slow stream is dropped). What a consumer must not miss
// — a session that ended, charging needs that arrived — is also written to the outbox in the
// same transaction as the change (store/outbox.hpp, events/outbox_consumer.hpp).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/event_bus.hpp"

namespace chargegrid::server::events {

struct StationOnline {
  static constexpr std::string_view kType = "station.online";
  std::string station_id;
  std::string protocol;
  std::string remote_address;
};

struct StationOffline {
  static constexpr std::string_view kType = "station.offline";
  std::string station_id;
  std::string protocol;
  std::string remote_address;
};

struct ConnectorStatus {
  static constexpr std::string_view kType = "connector.status";
  std::string station_id;
  int evse_id = 0;
  int connector_id = 0;
  std::string status;
  std::optional<std::string> error_code;
  std::string reported_at;  // RFC 3339
};

// What session.started, session.updated and session.ended share; fields the message that
// caused the event did not carry stay empty.
struct SessionChange {
  std::string station_id;
  std::int64_t session_id = 0;
  std::optional<int> evse_id;
  std::optional<std::int64_t> driver_id;
  std::optional<std::string> station_transaction_id;  // 2.0.1 / 2.1
  std::optional<int> seq_no;
  std::optional<std::string> trigger_reason;
  std::optional<std::string> charging_state;
  std::optional<std::string> id_token;
  std::optional<std::string> started_at;
  std::optional<std::string> ended_at;
  std::optional<std::string> stop_reason;
  std::optional<std::int64_t> meter_stop_wh;
};
struct SessionStarted : SessionChange {
  static constexpr std::string_view kType = "session.started";
};
struct SessionUpdated : SessionChange {
  static constexpr std::string_view kType = "session.updated";
};
struct SessionEnded : SessionChange {
  static constexpr std::string_view kType = "session.ended";
};

// Readings a station sent (one event per message), for in-process services only: live
// streams do not carry them.
struct MeterSample {
  std::string measurand;
  std::string phase;
  std::string location;
  double value = 0;
  std::string unit;
  std::string sampled_at;  // RFC 3339
};
struct MeterValues {
  static constexpr std::string_view kType = "meter.values";
  std::string station_id;
  int evse_id = 0;
  std::optional<std::int64_t> session_id;
  std::vector<MeterSample> samples;
};

// NotifyEVChargingNeeds as the server reads it (ocpp/messages.hpp EvChargingNeeds in JSON:
// evse_id, departure_time, energy_amount_wh, ev_max_power_w, ...), for in-process services;
// the durable copy is the outbox's ev.charging_needs.
struct EvChargingNeedsReceived {
  static constexpr std::string_view kType = "ev.charging_needs";
  std::string station_id;
  int evse_id = 0;
  std::optional<std::int64_t> session_id;
  nlohmann::json needs;
};

struct CommandResult {
  static constexpr std::string_view kType = "command.result";
  std::string station_id;
  std::optional<std::int64_t> site_id;
  std::int64_t command_id = 0;
  std::string command;
  std::string ocpp_action;
  std::string outcome;
  std::string origin;
  std::optional<nlohmann::json> status;
};

// An association as the API shows it (GET /api/v1/associations/{id}).
struct AssociationCreated {
  static constexpr std::string_view kType = "association.created";
  std::string station_id;
  std::int64_t driver_id = 0;
  nlohmann::json association;
};
struct AssociationEnded {
  static constexpr std::string_view kType = "association.ended";
  std::string station_id;
  std::int64_t driver_id = 0;
  nlohmann::json association;
};

// The wire form of each (its `type`, scope and `data`).
Event to_wire(const StationOnline& e);
Event to_wire(const StationOffline& e);
Event to_wire(const ConnectorStatus& e);
Event to_wire(const SessionStarted& e);
Event to_wire(const SessionUpdated& e);
Event to_wire(const SessionEnded& e);
Event to_wire(const CommandResult& e);
Event to_wire(const AssociationCreated& e);
Event to_wire(const AssociationEnded& e);

}  // namespace chargegrid::server::events
