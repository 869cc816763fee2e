#include "model.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace chargegrid::sim::detail {

namespace {

// Wall-clock time of a steady-clock instant (timestamps on the wire are real time).
Timestamp wall_time(SteadyClock::time_point at) {
  return std::chrono::system_clock::now() -
         std::chrono::duration_cast<std::chrono::system_clock::duration>(SteadyClock::now() - at);
}

}  // namespace

StationModel::StationModel(std::string id_, StationOptions options_, Stats& stats_,
                           FleetProbe* probe_)
    : id(std::move(id_)),
      options(std::move(options_)),
      stats(stats_),
      probe(probe_),
      heartbeat_interval_s(options.default_heartbeat_s),
      meter_interval_s(options.meter_interval_s),
      import_register_wh(options.meter.initial_import_register_wh),
      export_register_wh(options.meter.initial_export_register_wh) {
  options.connectors = std::max(1, options.connectors);
  if (options.time_scale <= 0 || !std::isfinite(options.time_scale)) options.time_scale = 1.0;
  if (options.identity.serial_number.empty()) options.identity.serial_number = id;
  for (int e = 1; e <= options.connectors; ++e) evses.push_back(Evse{.id = e});
  const std::string interval = std::to_string(options.default_heartbeat_s);
  const std::string sample = std::to_string(static_cast<int>(options.meter_interval_s));
  if (options.version == OcppVersion::v16) {
    variables = {
        {"HeartbeatInterval", {interval, false}},
        {"MeterValueSampleInterval", {sample, false}},
        {"NumberOfConnectors", {std::to_string(options.connectors), true}},
        {"MeterValuesSampledData",
         {"Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC", false}},
        {"AuthorizeRemoteTxRequests", {"true", false}},
        {"ConnectionTimeOut", {"60", false}},
        {"LocalPreAuthorize", {"false", false}},
        {"StopTransactionOnEVSideDisconnect", {"true", true}},
        {"SupportedFeatureProfiles",
         {"Core,RemoteTrigger,SmartCharging,LocalAuthListManagement,Reservation,"
          "FirmwareManagement",
          true}},
        {"AuthorizationKey", {"", false, true}},
    };
  } else {
    variables = {
        {"OCPPCommCtrlr/HeartbeatInterval", {interval, false}},
        {"SampledDataCtrlr/TxUpdatedInterval", {sample, false}},
        {"SampledDataCtrlr/TxUpdatedMeasurands",
         {"Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC", false}},
        {"AuthCtrlr/AuthorizeRemoteStart", {"true", false}},
        {"TxCtrlr/EVConnectionTimeOut", {"60", false}},
        {"DeviceDataCtrlr/ItemsPerMessage", {"20", true}},
        {"ChargingStation/Model", {options.identity.model, true}},
        {"ChargingStation/VendorName", {options.identity.vendor, true}},
        {"SecurityCtrlr/BasicAuthPassword", {"", false, true}},
    };
  }
}

std::chrono::nanoseconds StationModel::real(double simulated_seconds) const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(std::max(0.0, simulated_seconds) / options.time_scale));
}

Evse* StationModel::evse(int id_) {
  return id_ >= 1 && id_ <= static_cast<int>(evses.size()) ? &evses[id_ - 1] : nullptr;
}

const Evse* StationModel::evse(int id_) const {
  return id_ >= 1 && id_ <= static_cast<int>(evses.size()) ? &evses[id_ - 1] : nullptr;
}

bool StationModel::any_session() const {
  return std::any_of(evses.begin(), evses.end(), [](const Evse& e) { return e.session; });
}

bool StationModel::idle() const {
  return std::none_of(evses.begin(), evses.end(), [](const Evse& e) { return e.busy(); });
}

bool StationModel::sessions_complete() const {
  return options.sessions > 0 && sessions_begun >= options.sessions && idle();
}

Evse* StationModel::free_evse() {
  for (auto& e : evses)
    if (e.available && !e.busy()) return &e;
  return nullptr;
}

Evse* StationModel::session_with_local_id(int local_id) {
  for (auto& e : evses)
    if (e.session && e.session->local_id == local_id) return &e;
  return nullptr;
}

std::string StationModel::connector_status(int evse_id) const {
  // 1.6 connector 0 is the station as a whole.
  const bool available =
      evse_id == 0 ? evses.front().available || options.connectors > 1 : evse(evse_id)->available;
  const bool busy = evse_id != 0 && evse(evse_id)->session;
  if (busy) return options.version == OcppVersion::v16 ? "Charging" : "Occupied";
  return available ? "Available" : "Unavailable";
}

Session& StationModel::begin_session(Evse& e, std::string id_tag, bool remote,
                                     std::optional<int> remote_start_id) {
  MeterConfig meter_config = options.meter;
  meter_config.seed = options.meter.seed * 7919 + std::hash<std::string>{}(id) +
                      static_cast<std::uint64_t>(session_counter);
  // The station's meter registers carry over from one session to the next.
  meter_config.initial_import_register_wh = import_register_wh;
  meter_config.initial_export_register_wh = export_register_wh;
  const auto now = SteadyClock::now();
  ++session_counter;
  ++stats.sessions_started;
  if (probe) probe->on_session_started();
  const auto ends = options.session_length_s > 0 ? now + real(options.session_length_s)
                                                 : SteadyClock::time_point::max();
  e.session.emplace(Session{
      .local_id = session_counter,
      .evse = e.id,
      .id_tag = std::move(id_tag),
      .transaction_uid =
          id + "-" + std::to_string(session_counter) + "-" +
          std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000000),
      .remote_start_id = remote_start_id,
      .remote = remote,
      .started = now,
      .last_meter = now,
      .next_meter = now + real(meter_interval_s),
      .ends = ends,
      .meter = MeterModel(meter_config),
      .import_at_start_wh = import_register_wh,
      .export_at_start_wh = export_register_wh});
  e.session->meter.set_power_limit_w(e.power_limit_w);
  return *e.session;
}

void StationModel::advance(SteadyClock::time_point now) {
  for (auto& e : evses) {
    if (!e.session) continue;
    if (e.session->stop_reason) {
      end_session(e, now, *e.session->stop_reason);
      continue;
    }
    Session& s = *e.session;
    while (now >= s.next_meter && s.next_meter < s.ends) {
      queue_meter_values(s, s.next_meter);
      s.next_meter += real(meter_interval_s);
    }
    // Its time is up: a session the driver authorized here ends with the driver's token;
    // one the CSMS started ends when the vehicle is unplugged.
    if (now >= s.ends) end_session(e, now, s.remote ? "EVDisconnected" : "Local");
  }
}

void StationModel::stop_sessions(const std::string& reason) {
  for (auto& e : evses)
    if (e.session) e.session->stop_reason = reason;
}

SteadyClock::time_point StationModel::next_event(SteadyClock::time_point until) const {
  for (const auto& e : evses)
    if (e.session) until = std::min({until, e.session->next_meter, e.session->ends});
  return until;
}

void StationModel::set_power_limit(int evse_id, double watts, bool ends_with_session) {
  for (auto& e : evses) {
    if (evse_id != 0 && e.id != evse_id) continue;
    e.power_limit_w = watts;
    e.limit_ends_with_session = ends_with_session;
    if (e.session) e.session->meter.set_power_limit_w(watts);
  }
}

bool StationModel::clear_power_limits() {
  bool had = false;
  for (auto& e : evses) {
    had = had || e.power_limit_w >= 0;
    e.power_limit_w = -1.0;
    e.limit_ends_with_session = false;
    if (e.session) e.session->meter.set_power_limit_w(-1.0);
  }
  return had;
}

void StationModel::queue_meter_values(Session& s, SteadyClock::time_point at) {
  const double simulated_s =
      std::chrono::duration<double>(at - s.last_meter).count() * options.time_scale;
  s.meter.advance(simulated_s);
  s.last_meter = at;
  enqueue_transaction(outgoing::periodic_meter_values(version(), s, wall_time(at), !booted),
                      s.local_id);
  ++s.seq_no;
}

void StationModel::end_session(Evse& e, SteadyClock::time_point now, const std::string& reason) {
  Session& s = *e.session;
  const double simulated_s =
      std::chrono::duration<double>(now - s.last_meter).count() * options.time_scale;
  s.meter.advance(simulated_s);
  s.last_meter = now;
  enqueue_transaction(
      outgoing::transaction_ended(version(), s, std::chrono::system_clock::now(), reason, !booted),
      s.local_id);
  // What this session drew adds to the station's registers (others may have run alongside).
  if (import_register_wh == s.import_at_start_wh && export_register_wh == s.export_at_start_wh) {
    import_register_wh = s.meter.import_register_wh();
    export_register_wh = s.meter.export_register_wh();
  } else {
    import_register_wh += s.meter.import_register_wh() - s.import_at_start_wh;
    export_register_wh += s.meter.export_register_wh() - s.export_at_start_wh;
  }
  e.session.reset();
  if (e.limit_ends_with_session) {
    e.power_limit_w = -1.0;
    e.limit_ends_with_session = false;
  }
  ++stats.sessions_completed;
  if (probe) probe->on_session_completed();
  status_dirty = true;
  next_session = now + real(options.idle_between_sessions_s);
}

void StationModel::enqueue_transaction(OutgoingMessage message, int session) {
  transaction_queue.push_back(
      {std::move(message.action), std::move(message.payload), session, {}, false});
}

void StationModel::handle_transaction_response(const QueuedMessage& message,
                                               const Frame& response) {
  if (response.type != MessageType::call_result || !response.payload.is_object()) return;
  const Json& payload = response.payload;
  Evse* e = session_with_local_id(message.session);
  Session* s = e ? &*e->session : nullptr;
  std::string status;
  if (version() == OcppVersion::v16) {
    if (payload.contains("idTagInfo") && payload["idTagInfo"].is_object()) {
      status = payload["idTagInfo"].value("status", "");
    }
    if (message.action == "StartTransaction" && payload.contains("transactionId") &&
        payload["transactionId"].is_number_integer()) {
      transaction_ids[message.session] = payload["transactionId"].get<int>();
    }
    if (message.action == "StartTransaction" && status != "Accepted" && s && !s->stop_reason) {
      s->stop_reason = "DeAuthorized";
    }
  } else if (payload.contains("idTokenInfo") && payload["idTokenInfo"].is_object()) {
    status = payload["idTokenInfo"].value("status", "");
    if (status != "Accepted" && s && !s->stop_reason) s->stop_reason = "DeAuthorized";
  }
}

}  // namespace chargegrid::sim::detail
