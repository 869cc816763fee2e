#include "events/domain_events.hpp"

namespace chargegrid::server::events {

using nlohmann::json;

namespace {

template <class T>
json or_null(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

template <class T>
void add_if(json& data, const char* key, const std::optional<T>& value) {
  if (value) data[key] = *value;
}

Event connection_event(std::string_view type, const std::string& station,
                       const std::string& protocol, const std::string& remote) {
  Event e;
  e.type = type;
  e.station_id = station;
  e.data = {{"protocol", protocol}, {"remote_address", remote}};
  return e;
}

Event session_event(std::string_view type, const SessionChange& s) {
  Event e;
  e.type = type;
  e.station_id = s.station_id;
  e.driver_id = s.driver_id;
  json data{{"session_id", s.session_id},
            {"evse_id", or_null(s.evse_id)},
            {"driver_id", or_null(s.driver_id)}};
  add_if(data, "station_transaction_id", s.station_transaction_id);
  add_if(data, "seq_no", s.seq_no);
  add_if(data, "trigger_reason", s.trigger_reason);
  add_if(data, "charging_state", s.charging_state);
  add_if(data, "id_token", s.id_token);
  add_if(data, "started_at", s.started_at);
  add_if(data, "ended_at", s.ended_at);
  add_if(data, "stop_reason", s.stop_reason);
  add_if(data, "meter_stop_wh", s.meter_stop_wh);
  e.data = std::move(data);
  return e;
}

Event association_event(std::string_view type, const std::string& station, std::int64_t driver,
                        const json& association) {
  return {
      .type = std::string(type), .station_id = station, .driver_id = driver, .data = association};
}

}  // namespace

Event to_wire(const StationOnline& e) {
  return connection_event(e.kType, e.station_id, e.protocol, e.remote_address);
}

Event to_wire(const StationOffline& e) {
  return connection_event(e.kType, e.station_id, e.protocol, e.remote_address);
}

Event to_wire(const ConnectorStatus& s) {
  Event e;
  e.type = s.kType;
  e.station_id = s.station_id;
  e.data = {{"evse_id", s.evse_id},
            {"connector_id", s.connector_id},
            {"status", s.status},
            {"error_code", or_null(s.error_code)},
            {"reported_at", s.reported_at}};
  return e;
}

Event to_wire(const SessionStarted& e) {
  return session_event(e.kType, e);
}
Event to_wire(const SessionUpdated& e) {
  return session_event(e.kType, e);
}
Event to_wire(const SessionEnded& e) {
  return session_event(e.kType, e);
}

Event to_wire(const CommandResult& c) {
  Event e;
  e.type = c.kType;
  e.station_id = c.station_id;
  e.site_id = c.site_id;
  e.data = {{"command_id", c.command_id},
            {"command", c.command},
            {"ocpp_action", c.ocpp_action},
            {"outcome", c.outcome},
            {"origin", c.origin}};
  if (c.status) e.data["status"] = *c.status;
  return e;
}

Event to_wire(const AssociationCreated& a) {
  return association_event(a.kType, a.station_id, a.driver_id, a.association);
}
Event to_wire(const AssociationEnded& a) {
  return association_event(a.kType, a.station_id, a.driver_id, a.association);
}

}  // namespace chargegrid::server::events
