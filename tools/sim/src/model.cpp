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

// `anchor` + `seconds`, kept within a century (a validTo in 2100 at time scale 600 would leave
// what a time point holds).
Timestamp shifted(Timestamp anchor, double seconds) {
  constexpr double kCentury = 100 * 365.25 * 86400;
  return anchor + std::chrono::duration_cast<Timestamp::duration>(
                      std::chrono::duration<double>(std::clamp(seconds, -kCentury, kCentury)));
}

// Deterministic uniform draws in [0, 1) (splitmix64).
double next_unit(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);
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
      export_register_wh(options.meter.initial_export_register_wh),
      wall_anchor_(std::chrono::system_clock::now()),
      steady_anchor_(SteadyClock::now()) {
  options.connectors = std::max(1, options.connectors);
  if (options.time_scale <= 0 || !std::isfinite(options.time_scale)) options.time_scale = 1.0;
  if (options.identity.serial_number.empty()) options.identity.serial_number = id;
  if (!options.script.empty()) options.sessions = static_cast<int>(options.script.size());
  for (int e = 1; e <= options.connectors; ++e) evses.push_back(Evse{.id = e});
  if (options.iso15118.enabled)
    iso15118 = std::make_unique<Iso15118Vehicle>(Iso15118Credentials::load(options.iso15118),
                                                 options.iso15118, id);
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
  // The vehicle that plugs in.
  std::uint64_t draw = meter_config.seed;
  const double spread = std::max(0.0, options.ev.soc_spread_percent);
  meter_config.initial_soc_percent = std::clamp(
      options.meter.initial_soc_percent + spread * (2 * next_unit(draw) - 1), 0.0, 100.0);
  meter_config.bidirectional =
      options.meter.bidirectional || next_unit(draw) < options.ev.v2g_share;
  const auto now = SteadyClock::now();
  // A scripted session (the station's own, sessions_begun counted already): its vehicle wants
  // its recorded energy, below the taper, and leaves at its recorded plug-out.
  const ScriptedSession* scripted = nullptr;
  if (!remote && !options.script.empty() && sessions_begun >= 1 &&
      sessions_begun <= static_cast<int>(options.script.size())) {
    scripted = &options.script[static_cast<std::size_t>(sessions_begun - 1)];
    constexpr double kTargetSoc = 80;
    meter_config.battery_capacity_wh =
        std::max(options.meter.battery_capacity_wh, scripted->energy_wh * 1.25 + 1000);
    meter_config.target_soc_percent = kTargetSoc;
    meter_config.initial_soc_percent =
        std::max(0.0, kTargetSoc - 100 * std::max(0.0, scripted->energy_wh) /
                                       meter_config.battery_capacity_wh);
    meter_config.bidirectional = false;
  }
  ++session_counter;
  ++stats.sessions_started;
  if (probe) probe->on_session_started();
  auto ends = options.session_length_s > 0 ? now + real(options.session_length_s)
                                           : SteadyClock::time_point::max();
  if (scripted) ends = std::max(now, on_script(scripted->plug_out_s));
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
      .next_meter = first_meter_sample(now),
      .ends = ends,
      .meter = MeterModel(meter_config),
      .import_at_start_wh = import_register_wh,
      .export_at_start_wh = export_register_wh});
  apply_profiles(now);
  return *e.session;
}

SteadyClock::time_point StationModel::first_meter_sample(SteadyClock::time_point now) const {
  const auto interval = real(meter_interval_s);
  if (!options.meter_aligned_to || interval.count() <= 0) return now + interval;
  // The next instant after `now` on the aligned grid, moved onto the steady clock.
  const auto wall_now = wall_time(now);
  const auto since =
      std::chrono::duration_cast<std::chrono::nanoseconds>(wall_now - *options.meter_aligned_to);
  auto steps = since.count() >= 0 ? since / interval + 1 : 0;
  const auto next =
      *options.meter_aligned_to + std::chrono::duration_cast<Timestamp::duration>(interval * steps);
  return now + std::chrono::duration_cast<SteadyClock::duration>(next - wall_now);
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
      queue_meter_values(e, s.next_meter);
      s.next_meter += real(meter_interval_s);
    }
    // Its time is up: a session the driver authorized here ends with the driver's token;
    // one the CSMS started ends when the vehicle is unplugged.
    // The vehicle drew nothing after its time was up, however late this runs.
    if (now >= s.ends) end_session(e, s.ends, s.remote ? "EVDisconnected" : "Local");
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

Timestamp StationModel::simulated(SteadyClock::time_point at) const {
  return shifted(wall_anchor_,
                 std::chrono::duration<double>(at - steady_anchor_).count() * options.time_scale);
}

Timestamp StationModel::simulated(Timestamp wall_time) const {
  return shifted(wall_anchor_, std::chrono::duration<double>(wall_time - wall_anchor_).count() *
                                   options.time_scale);
}

Timestamp StationModel::wall(Timestamp simulated_time) const {
  return shifted(
      wall_anchor_,
      std::chrono::duration<double>(simulated_time - wall_anchor_).count() / options.time_scale);
}

ChargingProfile StationModel::on_timeline(ChargingProfile profile) const {
  for (auto* time : {&profile.valid_from, &profile.valid_to, &profile.start_schedule})
    if (*time) *time = simulated(**time);
  profile.received = simulated(profile.received);
  return profile;
}

std::optional<RunningTransaction> StationModel::running_transaction(int evse_id) const {
  const Evse* e = evse(evse_id);
  if (!e || !e->session) return std::nullopt;
  const Session& s = *e->session;
  std::string transaction_id = s.transaction_uid;
  if (version() == OcppVersion::v16) {
    const auto known = transaction_ids.find(s.local_id);
    transaction_id = known == transaction_ids.end() ? std::string() : std::to_string(known->second);
  }
  return RunningTransaction{std::move(transaction_id), simulated(s.started)};
}

Electrics StationModel::electrics() const {
  return {options.meter.nominal_voltage_v, options.meter.phases == 1 ? 1 : 3};
}

PowerLimit StationModel::limit_on(int evse_id, SteadyClock::time_point at) const {
  return limit_at(profiles.profiles(), evse_id, running_transaction(evse_id), simulated(at),
                  electrics());
}

void StationModel::apply_profiles(SteadyClock::time_point at) {
  for (auto& e : evses) {
    if (!e.session) continue;
    const PowerLimit limit = limit_on(e.id, at);
    e.session->meter.set_power_limit_w(limit.max_w);
    e.session->meter.set_setpoint_w(limit.setpoint_w);
  }
}

void StationModel::run_meters(SteadyClock::time_point at) {
  for (auto& e : evses)
    if (e.session) run_meter(e, at);
}

void StationModel::run_meter(Evse& e, SteadyClock::time_point to) {
  Session& s = *e.session;
  // Steps of at most a simulated minute, each under the limit in force at its start, and each
  // ending where a profile's limit may change: the meter follows the profiles by the clock,
  // however late the station gets round to reading it.
  while (s.last_meter < to) {
    auto step_end = std::min(to, s.last_meter + real(60));
    const auto from = simulated(s.last_meter);
    const auto edges =
        limit_edges(profiles.profiles(), running_transaction(e.id), from, simulated(step_end));
    if (!edges.empty()) {
      // One nanosecond past the edge: the next step starts under the new limit.
      const auto edge = s.last_meter +
                        real(std::chrono::duration<double>(edges.front() - from).count()) +
                        std::chrono::nanoseconds(1);
      if (edge < step_end) step_end = edge;
    }
    const PowerLimit limit = limit_on(e.id, s.last_meter);
    s.meter.set_power_limit_w(limit.max_w);
    s.meter.set_setpoint_w(limit.setpoint_w);
    s.meter.advance(std::chrono::duration<double>(step_end - s.last_meter).count() *
                    options.time_scale);
    s.last_meter = step_end;
  }
  const PowerLimit limit = limit_on(e.id, to);
  s.meter.set_power_limit_w(limit.max_w);
  s.meter.set_setpoint_w(limit.setpoint_w);
}

void StationModel::queue_meter_values(Evse& e, SteadyClock::time_point at) {
  run_meter(e, at);
  Session& s = *e.session;
  enqueue_transaction(outgoing::periodic_meter_values(version(), s, wall_time(at), !booted),
                      s.local_id);
  ++s.seq_no;
}

void StationModel::end_session(Evse& e, SteadyClock::time_point now, const std::string& reason) {
  run_meter(e, now);
  Session& s = *e.session;
  enqueue_transaction(outgoing::transaction_ended(version(), s, wall_time(now), reason, !booted),
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
  profiles.end_transaction(e.id);  // a TxProfile is for its transaction only
  ++stats.sessions_completed;
  if (probe) probe->on_session_completed();
  status_dirty = true;
  next_session = now + real(options.idle_between_sessions_s);
  if (!options.script.empty() && sessions_begun < static_cast<int>(options.script.size()))
    next_session = scripted_plug_in(static_cast<std::size_t>(sessions_begun));
}

SteadyClock::time_point StationModel::scripted_plug_in(std::size_t index) const {
  return on_script(options.script.at(index).plug_in_s);
}

SteadyClock::time_point StationModel::on_script(double simulated_s) const {
  const auto wall_at =
      options.script_start + std::chrono::duration_cast<Timestamp::duration>(
                                 std::chrono::duration<double>(simulated_s / options.time_scale));
  return SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                  wall_at - std::chrono::system_clock::now());
}

void StationModel::enqueue_transaction(OutgoingMessage message, int session, bool resend_refused) {
  QueuedMessage queued{std::move(message.action), std::move(message.payload), session, {}, false};
  queued.resend_refused = resend_refused;
  transaction_queue.push_back(std::move(queued));
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
