#include "smart_charging/planning.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <optional>
#include <utility>

#include "chargegrid/base/enum_names.hpp"
#include "chargegrid/base/time.hpp"

namespace chargegrid::server::smart_charging {
namespace {

using std::chrono::seconds;

Time from_unix(std::int64_t s) {
  return Time{seconds{s}};
}

std::optional<Time> parse_time(const std::string& text) {
  auto parsed = base::parse_rfc3339(text);
  if (!parsed) return std::nullopt;
  return std::chrono::time_point_cast<seconds>(*parsed);
}

std::optional<double> number(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::nullopt;
  return j[key].get<double>();
}

constexpr auto kControlNames =
    base::enum_names<Control>({{Control::controlled, "controlled"},
                               {Control::station_offline, "station_offline"},
                               {Control::profile_rejected, "profile_rejected"}});

nlohmann::json optional_json(const std::optional<std::int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

std::string format_time(Time t) {
  return base::format_rfc3339(t, base::TimePrecision::kSeconds);
}

Horizon horizon_at(Time now, seconds slot, seconds length) {
  Horizon h;
  h.slot = slot;
  const auto since_epoch = now.time_since_epoch().count();
  h.start = from_unix(since_epoch - since_epoch % slot.count());
  h.slots = static_cast<std::size_t>(std::max<std::int64_t>(1, length.count() / slot.count()));
  return h;
}

std::vector<SlotLimits> slot_limits(const Horizon& horizon, const store::charging_plans::Site& site,
                                    const std::vector<store::demand_response::Window>& windows,
                                    const tariff::Tariff* tariff) {
  std::vector<SlotLimits> out(horizon.slots);
  if (tariff)
    for (std::size_t i = 0; i < horizon.slots; ++i) {
      out[i].import_price = tariff::import_price_at(*tariff, horizon.slot_start(i), site.time_zone);
      out[i].export_price = tariff->export_credit_minor_per_kwh;
    }
  struct Parsed {
    Time start, end;
    const store::demand_response::Window* window;
  };
  std::vector<Parsed> parsed;
  for (const auto& w : windows) {
    auto start = parse_time(w.starts_at);
    auto end = parse_time(w.ends_at);
    if (start && end) parsed.push_back({*start, *end, &w});
  }
  const auto narrow = [](std::optional<std::int64_t>& limit, std::optional<double> value) {
    if (!value) return;
    const auto v = static_cast<std::int64_t>(std::floor(std::max(0.0, *value)));
    limit = limit ? std::min(*limit, v) : v;
  };
  for (std::size_t i = 0; i < horizon.slots; ++i) {
    auto& slot = out[i];
    slot.import_limit_w = site.import_limit_w;
    slot.export_limit_w = site.export_limit_w;
    const auto from = horizon.slot_start(i), to = horizon.slot_start(i + 1);
    for (const auto& p : parsed) {
      if (p.start >= to || p.end <= from) continue;
      narrow(slot.import_limit_w, p.window->import_limit_w);
      narrow(slot.export_limit_w, p.window->export_limit_w);
      if (p.window->import_price_minor_per_kwh)
        slot.import_price = std::llround(*p.window->import_price_minor_per_kwh);
      if (p.window->export_price_minor_per_kwh)
        slot.export_price = std::llround(*p.window->export_price_minor_per_kwh);
      if (std::find(slot.event_ids.begin(), slot.event_ids.end(), p.window->event_id) ==
          slot.event_ids.end())
        slot.event_ids.push_back(p.window->event_id);
    }
  }
  return out;
}

Need need_of(const VehicleState& state, const store::charging_plans::Prediction& prediction,
             Time now) {
  const auto& v = state.vehicle;
  const auto& needs = v.charging_needs;
  Need n;
  n.departure_p10 = from_unix(prediction.departure_p10_s);
  n.departure_p50 = from_unix(prediction.departure_p50_s);
  n.departure_p90 = from_unix(prediction.departure_p90_s);
  n.departure_source = "predicted";
  // A declaration replaces the median; ISO 15118 needs do when the driver declared nothing.
  std::optional<Time> iso_departure;
  if (needs.is_object() && needs.contains("departure_time") && needs["departure_time"].is_string())
    iso_departure = parse_time(needs["departure_time"].get<std::string>());
  if (v.declaration && v.declaration->departure_s) {
    n.departure_p50 = from_unix(*v.declaration->departure_s);
    n.departure_source = "declared";
  } else if (iso_departure) {
    n.departure_p50 = *iso_departure;
    n.departure_source = "iso15118";
  }
  n.departure_p50 = std::max(n.departure_p50, now);
  n.departure_p10 = std::min(n.departure_p10, n.departure_p50);
  n.departure_p90 = std::max(n.departure_p90, n.departure_p50);

  std::int64_t total = prediction.energy_p50_wh;
  n.energy_source = "predicted";
  const auto capacity = number(needs, "ev_energy_capacity_wh");
  const auto soc = number(needs, "state_of_charge_percent");
  if (v.declaration && v.declaration->energy_wh) {
    total = *v.declaration->energy_wh;
    n.energy_source = "declared";
  } else if (v.declaration && v.declaration->target_soc && capacity && soc) {
    // What was missing to the target when the needs (and their state of charge) arrived, on
    // top of what the session had delivered by then.
    total = std::min(v.delivered_wh, v.delivered_wh_at_needs) +
            std::llround(std::max(0.0, *v.declaration->target_soc - *soc) / 100 * *capacity);
    n.energy_source = "declared";
  } else if (auto amount = number(needs, "energy_amount_wh")) {
    // Asked for when the needs arrived: what the session has delivered since counts
    // against it.
    total = std::min(v.delivered_wh, v.delivered_wh_at_needs) + std::llround(*amount);
    n.energy_source = "iso15118";
  }
  n.energy_wh = std::max<std::int64_t>(0, total - v.delivered_wh);
  n.max_power_w = state.evse_max_power_w;
  if (auto ev_max = number(needs, "ev_max_power_w"); ev_max && *ev_max > 0)
    n.max_power_w = std::min(n.max_power_w, static_cast<std::int64_t>(*ev_max));
  n.min_power_w = min_power_w(state);
  return n;
}

std::int64_t min_power_w(const VehicleState& state) {
  // ISO 15118 needs name the transfer: DC has no minimum current to respect, AC names its
  // phases. Without them the EVSE's phases, as its profiles in A are computed for.
  const auto& needs = state.vehicle.charging_needs;
  std::string transfer;
  if (needs.is_object() && needs.contains("requested_energy_transfer") &&
      needs["requested_energy_transfer"].is_string())
    transfer = needs["requested_energy_transfer"].get<std::string>();
  if (transfer.rfind("DC", 0) == 0) return 0;
  int phases = std::max(1, state.evse_phases);
  if (transfer.find("single_phase") != std::string::npos) phases = 1;
  if (transfer.find("two_phase") != std::string::npos) phases = 2;
  if (transfer.find("three_phase") != std::string::npos) phases = 3;
  double amps = kMinCurrentA;
  if (auto reported = number(needs, "ev_min_current_a"); reported && *reported > 0)
    amps = *reported;
  return static_cast<std::int64_t>(std::ceil(amps * kVolts * phases));
}

std::vector<Period> periods_of(const std::vector<std::int64_t>& power_w, seconds slot, bool amps,
                               int phases) {
  std::vector<Period> out;
  for (std::size_t i = 0; i < power_w.size(); ++i) {
    double limit = static_cast<double>(std::max<std::int64_t>(0, power_w[i]));
    if (amps) limit = std::floor(limit / (kVolts * std::max(1, phases)) * 10) / 10;
    if (!out.empty() && out.back().limit == limit) continue;
    out.push_back({static_cast<std::int64_t>(i) * slot.count(), limit});
  }
  return out;
}

std::vector<Period> discharge_periods_of(const std::vector<std::int64_t>& power_w, seconds slot) {
  std::vector<Period> out;
  for (std::size_t i = 0; i < power_w.size(); ++i) {
    Period p{static_cast<std::int64_t>(i) * slot.count(),
             static_cast<double>(std::max<std::int64_t>(0, power_w[i])), std::nullopt};
    if (power_w[i] < 0) p.setpoint = static_cast<double>(power_w[i]);
    if (!out.empty() && out.back().limit == p.limit && out.back().setpoint == p.setpoint) continue;
    out.push_back(p);
  }
  return out;
}

bool may_discharge(const VehicleState& state) {
  const auto& needs = state.vehicle.charging_needs;
  const auto discharge = number(needs, "ev_max_discharge_power_w");
  const auto capacity = number(needs, "ev_energy_capacity_wh");
  return state.vehicle.protocol == "ocpp2.1" && state.evse_bidirectional &&
         !state.discharge_bands.empty() && discharge && *discharge > 0 && capacity &&
         *capacity > 0 && number(needs, "state_of_charge_percent").has_value();
}

namespace {

// A price no export price reaches: where no discharge band applies, discharge never pays.
constexpr std::int64_t kNoDischarge = std::numeric_limits<std::int32_t>::max();

// Offers the vehicle for discharge within the tariff's bands: never below the lowest band, at
// each band's price from its lower state of charge, and not in the gaps between bands.
void offer_discharge(const VehicleState& state, std::int64_t max_power_w,
                     scheduler::PlannedVehicle& pv) {
  const auto& needs = state.vehicle.charging_needs;
  const double capacity = *number(needs, "ev_energy_capacity_wh");
  const auto wh = [&](double percent) { return std::llround(percent / 100 * capacity); };
  auto bands = state.discharge_bands;
  std::sort(bands.begin(), bands.end(),
            [](const auto& a, const auto& b) { return a.soc_from < b.soc_from; });
  pv.discharge_allowed = true;
  pv.max_discharge_w = std::min<std::int64_t>(
      max_power_w, static_cast<std::int64_t>(*number(needs, "ev_max_discharge_power_w")));
  pv.capacity_wh = wh(100);
  pv.soc_wh = wh(*number(needs, "state_of_charge_percent"));
  pv.min_soc_wh = wh(bands.front().soc_from);
  for (std::size_t i = 0; i < bands.size(); ++i) {
    pv.discharge_price.push_back({wh(bands[i].soc_from), bands[i].price_minor_per_kwh});
    const bool gap =
        i + 1 < bands.size() ? bands[i + 1].soc_from > bands[i].soc_to : bands[i].soc_to < 100;
    if (gap) pv.discharge_price.push_back({wh(bands[i].soc_to), kNoDischarge});
  }
}

}  // namespace

SitePlan plan_site(scheduler::Planner& planner, const Horizon& horizon,
                   std::vector<SlotLimits> limits, std::vector<VehicleState> vehicles,
                   const std::vector<store::charging_plans::Prediction>& predictions, Time now) {
  SitePlan plan;
  plan.horizon = horizon;
  plan.limits = std::move(limits);
  plan.baseline_w.assign(horizon.slots, 0);

  std::int64_t all_max = 0;
  for (std::size_t k = 0; k < vehicles.size(); ++k) {
    VehiclePlan vp;
    vp.state = std::move(vehicles[k]);
    vp.need = need_of(vp.state, predictions[k], now);
    vp.power_w.assign(horizon.slots, 0);
    // Planned until the slot in which the vehicle leaves; after that the station's own limits.
    const auto until = vp.need.departure_p50 - horizon.start;
    vp.slots_connected = std::min<std::size_t>(
        horizon.slots,
        static_cast<std::size_t>(std::max<std::int64_t>(1, until.count() / horizon.slot.count())));
    all_max += vp.need.max_power_w;
    plan.vehicles.push_back(std::move(vp));
  }

  // Uncontrolled vehicles draw up to their maximum as long as they may be connected.
  for (auto& vp : plan.vehicles) {
    if (vp.state.control == Control::controlled) continue;
    for (std::size_t i = 0; i < horizon.slots; ++i) {
      const bool present = horizon.slot_start(i) < vp.need.departure_p90;
      vp.power_w[i] = present ? vp.need.max_power_w : 0;
      plan.baseline_w[i] += vp.power_w[i];
    }
  }

  scheduler::PlanRequest request;
  request.site.start = horizon.start;
  request.site.slot_length = horizon.slot;
  for (std::size_t i = 0; i < horizon.slots; ++i) {
    const auto& l = plan.limits[i];
    // Unlimited: every vehicle at full power fits.
    const auto import = l.import_limit_w.value_or(all_max + plan.baseline_w[i]);
    request.site.import_limit_w.push_back(std::max<std::int64_t>(0, import - plan.baseline_w[i]));
    request.site.export_limit_w.push_back(l.export_limit_w.value_or(0));
    // Energy drawn in a slot where export pays more than import could have been exported
    // instead: the planner prices it at the export price (and needs export <= import).
    const auto export_price = l.export_price.value_or(0);
    request.site.import_price_minor_per_kwh.push_back(
        std::max(l.import_price.value_or(0), export_price));
    request.site.export_price_minor_per_kwh.push_back(export_price);
  }
  std::vector<std::size_t> planned;  // index into plan.vehicles
  for (std::size_t k = 0; k < plan.vehicles.size(); ++k) {
    const auto& vp = plan.vehicles[k];
    if (vp.state.control != Control::controlled) continue;
    scheduler::PlannedVehicle pv;
    pv.id = std::to_string(vp.state.vehicle.session_id);
    pv.arrival = std::min(horizon.start, Time{seconds{vp.state.vehicle.started_s}});
    // The hard end is the slot boundary at or after the departure: a departure inside a slot
    // still lets the vehicle charge in it (the profile ends there anyway).
    pv.departure = horizon.slot_start(vp.slots_connected);
    pv.energy_need_wh = vp.need.energy_wh;
    pv.max_charge_w = vp.need.max_power_w;
    pv.min_charge_w = vp.need.min_power_w;
    if (may_discharge(vp.state)) offer_discharge(vp.state, vp.state.evse_max_power_w, pv);
    if (vp.need.departure_source == "predicted")
      pv.departure_quantiles = scheduler::PlannedVehicle::DepartureQuantiles{
          vp.need.departure_p10, vp.need.departure_p50,
          std::max(vp.need.departure_p90, pv.departure)};
    request.vehicles.push_back(std::move(pv));
    planned.push_back(k);
  }
  if (request.vehicles.empty()) return plan;
  const auto result = planner.plan(request);
  if (!result.ok) {
    plan.ok = false;
    plan.error = result.error;
    return plan;
  }
  for (std::size_t j = 0; j < planned.size(); ++j)
    plan.vehicles[planned[j]].power_w = result.power_w[j];
  return plan;
}

std::int64_t station_share_w(std::int64_t site_limit_w, std::int64_t station_max_w,
                             std::int64_t site_max_w) {
  if (site_max_w <= 0) return 0;
  return static_cast<std::int64_t>(static_cast<long double>(site_limit_w) * station_max_w /
                                   site_max_w);
}

std::vector<std::optional<std::int64_t>> arrival_share_w(const SitePlan& plan,
                                                         std::size_t site_evses) {
  const auto planned = plan.planned_import_w();
  std::vector<std::optional<std::int64_t>> out(plan.limits.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto& limit = plan.limits[i].import_limit_w;
    if (!limit) continue;
    // A vehicle out of the planner's control stays for the whole horizon (its EVSE is taken);
    // a controlled one until its planned departure.
    std::size_t taken = 0;
    for (const auto& vp : plan.vehicles)
      if (vp.state.control != Control::controlled || vp.slots_connected > i) ++taken;
    const auto free = static_cast<std::int64_t>(site_evses > taken ? site_evses - taken : 1);
    const std::int64_t headroom = std::max<std::int64_t>(0, *limit - planned[i]);
    out[i] = headroom / free / kArrivalStepW * kArrivalStepW;
  }
  return out;
}

std::vector<std::int64_t> SitePlan::planned_import_w() const {
  auto out = baseline_w;
  for (const auto& vp : vehicles) {
    if (vp.state.control != Control::controlled) continue;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += std::max<std::int64_t>(0, vp.power_w[i]);
  }
  return out;
}

nlohmann::json SitePlan::to_json() const {
  nlohmann::json slots = nlohmann::json::array();
  for (std::size_t i = 0; i < horizon.slots; ++i) {
    const auto& l = limits[i];
    std::int64_t planned_import = baseline_w[i];
    std::int64_t controlled = 0;
    for (const auto& vp : vehicles) {
      if (vp.state.control != Control::controlled) continue;
      controlled += std::max<std::int64_t>(0, vp.power_w[i]);
      planned_import += std::max<std::int64_t>(0, vp.power_w[i]);
    }
    std::int64_t planned_export = 0;
    for (const auto& vp : vehicles) planned_export += std::max<std::int64_t>(0, -vp.power_w[i]);
    // Flexibility: how much more the site could take within its limit, how much less it could
    // take by holding back the controlled vehicles.
    const std::int64_t flex_up =
        l.import_limit_w ? std::max<std::int64_t>(0, *l.import_limit_w - planned_import) : 0;
    slots.push_back({{"start", format_time(horizon.slot_start(i))},
                     {"end", format_time(horizon.slot_start(i + 1))},
                     {"import_limit_w", optional_json(l.import_limit_w)},
                     {"export_limit_w", optional_json(l.export_limit_w)},
                     {"baseline_w", baseline_w[i]},
                     {"planned_import_w", planned_import},
                     {"planned_export_w", planned_export},
                     {"flex_up_w", flex_up},
                     {"flex_down_w", controlled},
                     {"import_price_minor_per_kwh", optional_json(l.import_price)},
                     {"export_price_minor_per_kwh", optional_json(l.export_price)},
                     {"event_ids", l.event_ids}});
  }
  nlohmann::json cars = nlohmann::json::array();
  for (const auto& vp : vehicles) {
    std::int64_t planned_wh = 0;
    for (auto p : vp.power_w) planned_wh += p * horizon.slot.count() / 3600;
    const auto& v = vp.state.vehicle;
    cars.push_back({{"session_id", v.session_id},
                    {"station_id", v.station_id},
                    {"evse_id", v.evse_id},
                    {"departure_p10", format_time(vp.need.departure_p10)},
                    {"departure_p50", format_time(vp.need.departure_p50)},
                    {"departure_p90", format_time(vp.need.departure_p90)},
                    {"departure_source", vp.need.departure_source},
                    {"energy_need_wh", vp.need.energy_wh},
                    {"energy_source", vp.need.energy_source},
                    {"planned_energy_wh", planned_wh},
                    {"max_power_w", vp.need.max_power_w},
                    {"min_power_w", vp.need.min_power_w},
                    {"control", kControlNames.name(vp.state.control)},
                    {"power_w", vp.power_w}});
  }
  nlohmann::json out{{"start", format_time(horizon.start)},
                     {"slot_seconds", horizon.slot.count()},
                     {"slots", std::move(slots)},
                     {"vehicles", std::move(cars)}};
  if (!ok) out["error"] = error;
  return out;
}

namespace {

// A schedule's periods (an empty array when it has none).
const nlohmann::json& periods_of_schedule(const nlohmann::json& schedule) {
  static const nlohmann::json kNone = nlohmann::json::array();
  const auto periods = schedule.find("periods");
  return periods != schedule.end() && periods->is_array() ? *periods : kNone;
}

// A schedule's start as unix seconds.
std::optional<double> schedule_start(const nlohmann::json& schedule) {
  const auto at = base::parse_rfc3339(schedule.value("start", std::string()));
  if (!at) return std::nullopt;
  return std::chrono::duration<double>(at->time_since_epoch()).count();
}

// The period in force at unix time `t` (nullptr outside the schedule).
const nlohmann::json* period_at(const nlohmann::json& schedule, double start, double t, int scale) {
  const double offset = (t - start) * scale;
  if (offset < 0 || offset >= schedule.value("duration_s", 0.0)) return nullptr;
  const nlohmann::json* in_force = nullptr;
  for (const auto& p : periods_of_schedule(schedule))
    if (p.value("start_s", 0.0) <= offset) in_force = &p;
  return in_force;
}

double limit_of(const nlohmann::json* period) {
  return period ? period->value("limit", HUGE_VAL) : HUGE_VAL;
}

// `now` and every later moment before `until` at which either schedule's period changes.
std::vector<double> moments(double now, double until,
                            std::initializer_list<std::pair<const nlohmann::json*, double>> of,
                            int scale) {
  std::vector<double> out{now};
  for (const auto& [schedule, start] : of) {
    for (const auto& p : periods_of_schedule(*schedule))
      if (const double t = start + p.value("start_s", 0.0) / scale; t > now && t < until)
        out.push_back(t);
    if (const double end = start + schedule->value("duration_s", 0.0) / scale;
        end > now && end < until)
      out.push_back(end);
  }
  return out;
}

// Whether two schedules agree on everything but when they say it (their start, duration and
// periods): EVSE, purpose, transaction, unit, stack level. Compared in place: a replan of a
// large site asks this for every vehicle.
bool same_address(const nlohmann::json& a, const nlohmann::json& b) {
  const auto is_when = [](const std::string& key) {
    return key == "start" || key == "duration_s" || key == "periods";
  };
  std::size_t in_a = 0, in_b = 0;
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (is_when(it.key())) continue;
    const auto other = b.find(it.key());
    if (other == b.end() || *other != it.value()) return false;
    ++in_a;
  }
  for (auto it = b.begin(); it != b.end(); ++it) in_b += is_when(it.key()) ? 0 : 1;
  return in_a == in_b;  // and so b has nothing a lacks
}

double unix_seconds(Time t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

bool lowers(const nlohmann::json& next, const nlohmann::json* held, Time now, int scale) {
  if (!held) return true;
  const auto a0 = schedule_start(next), b0 = schedule_start(*held);
  if (!a0 || !b0) return true;
  // What the EVSE may draw now decides; equal now, any later moment that `next` lowers.
  const auto from = unix_seconds(now);
  const double next_now = limit_of(period_at(next, *a0, from, scale));
  const double held_now = limit_of(period_at(*held, *b0, from, scale));
  if (next_now != held_now) return next_now < held_now;
  for (const double t : moments(from, HUGE_VAL, {{&next, *a0}, {held, *b0}}, scale))
    if (limit_of(period_at(next, *a0, t, scale)) < limit_of(period_at(*held, *b0, t, scale)))
      return true;
  return false;
}

bool keeps_holding(const nlohmann::json& next, const nlohmann::json& held, Time now, int scale) {
  if (!next.is_object() || !held.is_object() || !same_address(next, held)) return false;
  const auto a0 = schedule_start(next), b0 = schedule_start(held);
  if (!a0 || !b0) return false;
  const double from = unix_seconds(now);
  const double held_end = *b0 + held.value("duration_s", 0.0) / scale;
  const double next_end = *a0 + next.value("duration_s", 0.0) / scale;
  if (held_end - from < (next_end - from) / 2) return false;
  // The period in force, without its own start, is what the EVSE is told at that moment.
  const auto told = [&](const nlohmann::json& schedule, double start, double t) {
    const auto* p = period_at(schedule, start, t, scale);
    if (!p) return nlohmann::json();
    auto out = *p;
    out.erase("start_s");
    return out;
  };
  for (const double t : moments(from, held_end, {{&next, *a0}, {&held, *b0}}, scale))
    if (told(next, *a0, t) != told(held, *b0, t)) return false;
  return true;
}

}  // namespace chargegrid::server::smart_charging
