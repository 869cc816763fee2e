#include "chargegrid/scheduler/plan_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <queue>
#include <unordered_map>

#include "chargegrid/scheduler/planner.hpp"

namespace chargegrid::scheduler {
namespace {

using namespace std::chrono;

struct SimVehicle {
  std::string id;
  std::size_t session = 0;        // index into the replay's sessions, by plug-in time
  int arrive = 0, depart = 0;     // usable slots [arrive, depart), relative to the site start
  int p10 = 0, p50 = 0, p90 = 0;  // predicted departure slots (exclusive end)
  double need_wh = 0;
  bool v2g = false;
  double capacity_wh = 0, soc0_wh = 0, min_soc_wh = 0;
};

struct Site {
  std::string id;
  Time start{};
  minutes utc_offset{0};
  int slots = 0;
  std::vector<SimVehicle> vehicles;
  std::vector<std::int64_t> import_limit, export_limit, import_price, export_price;
  std::vector<std::int64_t> building, building_forecast;  // W per slot (zero without building)
  std::vector<bool> in_dr_window;
  std::int64_t min_charge_w = 0;  // SimulationOptions::min_charge_kw
};

// Stylised residential building load by local hour (mean 1): low at night, a morning and a
// larger evening peak.
constexpr double building_shape[24] = {0.6, 0.55, 0.55, 0.55, 0.6, 0.7, 0.9, 1.2,
                                       1.2, 1.0,  0.9,  0.9,  0.9, 0.9, 0.9, 1.0,
                                       1.2, 1.5,  1.6,  1.5,  1.3, 1.2, 1.0, 0.8};

double building_shape_mean() {
  double sum = 0;
  for (double v : building_shape) sum += v;
  return sum / 24;
}

// Real-time guard of a site controller: where the measured building load leaves less room than
// the vehicles' planned power, charging is cut in proportion (and discharging likewise against
// the export limit).
void keep_site_limits(const Site& site, int t, std::vector<std::vector<std::int64_t>>& power) {
  std::int64_t charge = 0, discharge = 0;
  for (const auto& row : power) (row[t] > 0 ? charge : discharge) += row[t];
  std::int64_t net = site.building[t] + charge + discharge;
  if (net > site.import_limit[t] && charge > 0) {
    double keep = std::clamp(double(charge - (net - site.import_limit[t])) / charge, 0.0, 1.0);
    for (auto& row : power)
      if (row[t] > 0) row[t] = static_cast<std::int64_t>(std::floor(row[t] * keep));
  } else if (-net > site.export_limit[t] && discharge < 0) {
    double keep =
        std::clamp(double(-discharge - (-net - site.export_limit[t])) / -discharge, 0.0, 1.0);
    for (auto& row : power)
      if (row[t] < 0) row[t] = -static_cast<std::int64_t>(std::floor(-row[t] * keep));
  }
}

// What a vehicle draws of the power it was given: nothing below its minimum.
void pause_below_minimum(int t, std::int64_t min_w, std::vector<std::vector<std::int64_t>>& power) {
  for (auto& row : power)
    if (row[t] > 0 && row[t] < min_w) row[t] = 0;
}

constexpr std::int64_t v2g_price_minor_per_kwh = 100;  // what V2G operators ask in the replay

int local_hour(const Site& s, int slot, minutes slot_length) {
  auto local = s.start + s.utc_offset + slot_length * slot;
  return static_cast<int>(duration_cast<hours>(local - floor<days>(local)).count());
}

std::int64_t tariff(int hour) {  // minor units per kWh: night, day, evening peak
  if (hour < 6) return 60;
  if (hour >= 17 && hour < 21) return 250;
  return 100;
}

struct Outcome {
  std::vector<std::vector<std::int64_t>> power;  // [vehicle][slot], absolute slots
};

// Net energy a vehicle took while connected, capped at its need (Wh).
double delivered_wh(const SimVehicle& v, const std::vector<std::int64_t>& power, double dt_h) {
  double net = 0;
  for (int t = v.arrive; t < v.depart; ++t) net += power[t] * dt_h;
  return std::clamp(net, 0.0, v.need_wh);
}

void score(const Site& site, const Outcome& o, double dt_h, PolicyResult& r) {
  for (std::size_t i = 0; i < site.vehicles.size(); ++i) {
    const auto& v = site.vehicles[i];
    r.requested_kwh += v.need_wh / 1000;
    double delivered = delivered_wh(v, o.power[i], dt_h);
    r.delivered_kwh += delivered / 1000;
    r.unmet_kwh += (v.need_wh - delivered) / 1000;
  }
  double cost = 0, revenue = 0;
  for (int t = 0; t < site.slots; ++t) {
    std::int64_t vehicles = 0;
    for (std::size_t i = 0; i < site.vehicles.size(); ++i) vehicles += o.power[i][t];
    std::int64_t net = site.building[t] + vehicles;
    r.peak_import_w = std::max(r.peak_import_w, net);
    // Vehicles break a limit when they push the site over it (or add to a building over it).
    if ((net > site.import_limit[t] && vehicles > 0) ||
        (-net > site.export_limit[t] && vehicles < 0))
      ++r.violations;
    if (net > 0)
      cost += net * dt_h / 1000 * site.import_price[t];
    else
      revenue += -net * dt_h / 1000 * site.export_price[t];
  }
  r.cost_minor += std::llround(cost);
  r.export_revenue_minor += std::llround(revenue);
}

// Classic policies: every slot, share the import limit among the connected vehicles.
enum class Classic { uncontrolled, round_robin, edf, llf };

Outcome run_classic(const Site& site, Classic policy, std::int64_t max_w, double dt_h,
                    double departure_quantile) {
  const std::int64_t min_w = site.min_charge_w;
  Outcome o;
  o.power.assign(site.vehicles.size(), std::vector<std::int64_t>(site.slots, 0));
  std::vector<double> remaining(site.vehicles.size());
  for (std::size_t i = 0; i < site.vehicles.size(); ++i) remaining[i] = site.vehicles[i].need_wh;
  auto estimate = [&](const SimVehicle& v) {
    return departure_quantile <= 0.1 ? v.p10 : departure_quantile <= 0.5 ? v.p50 : v.p90;
  };
  for (int t = 0; t < site.slots; ++t) {
    std::vector<std::size_t> present;
    for (std::size_t i = 0; i < site.vehicles.size(); ++i)
      if (site.vehicles[i].arrive <= t && t < site.vehicles[i].depart && remaining[i] > 0.5)
        present.push_back(i);
    // A vehicle's last bit still needs its minimum power.
    auto want = [&](std::size_t i) {
      return std::clamp<std::int64_t>(static_cast<std::int64_t>(remaining[i] / dt_h),
                                      std::min(min_w, max_w), max_w);
    };
    std::int64_t budget = std::max<std::int64_t>(0, site.import_limit[t] - site.building[t]);
    if (policy == Classic::uncontrolled) {
      for (auto i : present) o.power[i][t] = want(i);
    } else if (policy == Classic::round_robin && min_w > 0 &&
               budget / std::max<std::int64_t>(1, static_cast<std::int64_t>(present.size())) <
                   min_w) {
      // Equal shares would be below the minimum: whole minimums in turn, to the vehicles
      // that have had the least so far.
      std::stable_sort(present.begin(), present.end(), [&](auto a, auto b) {
        return site.vehicles[a].need_wh - remaining[a] < site.vehicles[b].need_wh - remaining[b];
      });
      std::vector<std::size_t> served;
      for (auto i : present) {
        if (budget < min_w) break;
        o.power[i][t] = min_w;
        budget -= min_w;
        served.push_back(i);
      }
      for (auto i : served) {  // the rest of the budget tops them up
        const auto give = std::min(budget, want(i) - o.power[i][t]);
        o.power[i][t] += give;
        budget -= give;
      }
    } else if (policy == Classic::round_robin) {
      // Equal shares, handing what a vehicle cannot take to the others.
      std::vector<std::size_t> open = present;
      while (!open.empty() && budget > 0) {
        std::int64_t share = budget / static_cast<std::int64_t>(open.size());
        if (share == 0) break;
        std::vector<std::size_t> still;
        for (auto i : open) {
          std::int64_t give = std::min(share, want(i) - o.power[i][t]);
          o.power[i][t] += give;
          budget -= give;
          if (o.power[i][t] < want(i)) still.push_back(i);
        }
        open.swap(still);
      }
    } else {
      auto key = [&](std::size_t i) {
        const auto& v = site.vehicles[i];
        double slots_left = std::max(estimate(v) - t, 1);
        if (policy == Classic::edf) return slots_left;
        return slots_left - remaining[i] / (max_w * dt_h);  // laxity in slots
      };
      std::stable_sort(present.begin(), present.end(),
                       [&](auto a, auto b) { return key(a) < key(b); });
      for (auto i : present) {
        std::int64_t give = std::min(want(i), budget);
        if (give < min_w) give = 0;  // what is left is below a minimum
        o.power[i][t] = give;
        budget -= give;
      }
    }
    pause_below_minimum(t, min_w, o.power);
    for (auto i : present) remaining[i] -= o.power[i][t] * dt_h;
  }
  return o;
}

PlannedVehicle planned(const SimVehicle& v, const SiteSlots& slots, int plan_start, int depart,
                       double remaining_wh, double soc_wh, std::int64_t max_w, std::int64_t min_w) {
  PlannedVehicle p;
  p.id = v.id;
  p.arrival = slots.start + slots.slot_length * (std::max(v.arrive, plan_start) - plan_start);
  p.departure = slots.start + slots.slot_length * (depart - plan_start);
  p.energy_need_wh = static_cast<std::int64_t>(std::max(remaining_wh, 0.0));
  p.max_charge_w = max_w;
  p.min_charge_w = min_w;
  if (v.v2g) {
    p.discharge_allowed = true;
    p.max_discharge_w = max_w;
    p.capacity_wh = static_cast<std::int64_t>(v.capacity_wh);
    p.soc_wh = std::clamp<std::int64_t>(static_cast<std::int64_t>(soc_wh), 0, *p.capacity_wh);
    p.min_soc_wh = static_cast<std::int64_t>(v.min_soc_wh);
    p.discharge_price = {{0, v2g_price_minor_per_kwh}};
  }
  return p;
}

SiteSlots slots_of(const Site& site, int from, int count, minutes slot_length, bool actual) {
  SiteSlots s;
  s.start = site.start + slot_length * from;
  s.slot_length = slot_length;
  auto take = [&](const std::vector<std::int64_t>& all) {
    return std::vector<std::int64_t>(all.begin() + from, all.begin() + from + count);
  };
  s.import_limit_w = take(site.import_limit);
  s.export_limit_w = take(site.export_limit);
  s.import_price_minor_per_kwh = take(site.import_price);
  s.export_price_minor_per_kwh = take(site.export_price);
  if (std::any_of(site.building.begin(), site.building.end(), [](auto w) { return w != 0; }))
    s.building_load_w = take(actual ? site.building : site.building_forecast);
  return s;
}

Outcome run_hindsight(const Site& site, std::int64_t max_w, minutes slot_length) {
  Outcome o;
  o.power.assign(site.vehicles.size(), std::vector<std::int64_t>(site.slots, 0));
  PlanRequest r;
  r.site = slots_of(site, 0, site.slots, slot_length, true);
  // Any power down to zero: the bound on what perfect knowledge delivers, not a plan the
  // vehicles would all draw under a minimum current.
  for (const auto& v : site.vehicles)
    r.vehicles.push_back(planned(v, r.site, 0, v.depart, v.need_wh, v.soc0_wh, max_w, 0));
  Plan plan = plan_charging(r);
  if (!plan.ok) return o;
  for (std::size_t i = 0; i < site.vehicles.size(); ++i) o.power[i] = plan.power_w[i];
  return o;
}

// The online planner: replans at every arrival, departure, signal change, whenever a vehicle
// outstays the departure it was planned for and, with predicted departures, every
// `replan_every_slots` slots; follows the latest plan in between.
Outcome run_online(const Site& site, std::int64_t max_w, minutes slot_length, double dt_h,
                   const SimulationOptions& opt, bool exact_departures, std::size_t& replans) {
  Outcome o;
  const std::size_t n = site.vehicles.size();
  o.power.assign(n, std::vector<std::int64_t>(site.slots, 0));
  std::vector<double> remaining(n), soc(n);
  std::vector<int> plan_depart(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& v = site.vehicles[i];
    remaining[i] = v.need_wh;
    soc[i] = v.soc0_wh;
    // With predictions, plan up to where the predicted presence reaches zero and let the
    // planner weigh energy by the chance the vehicle is still there.
    int predicted = v.p90 + (v.p90 - v.p50) + 1;
    plan_depart[i] = exact_departures ? v.depart : std::max(predicted, v.arrive + 1);
  }
  std::vector<std::vector<std::int64_t>> plan;  // [vehicle][slot - plan_start]
  std::vector<std::size_t> plan_vehicles;
  int plan_start = 0, plan_slots = 0;
  for (int t = 0; t < site.slots; ++t) {
    bool event = t == 0 || t >= plan_start + plan_slots ||
                 (t > 0 && site.in_dr_window[t] != site.in_dr_window[t - 1]) ||
                 (!exact_departures && opt.replan_every_slots > 0 &&
                  t - plan_start >= opt.replan_every_slots);
    if (!event) {
      // The measured building load leaves less room than the plan assumed.
      std::int64_t planned = site.building[t];
      for (std::size_t i = 0; i < n; ++i) planned += plan[i][t - plan_start];
      if (planned > site.import_limit[t] || -planned > site.export_limit[t]) event = true;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const auto& v = site.vehicles[i];
      if (v.arrive == t || v.depart == t) event = true;
      if (v.arrive <= t && t < v.depart && plan_depart[i] <= t) {
        // Still here after the planned departure: plan for the next quantile, then hourly.
        plan_depart[i] = t + static_cast<int>(hours{1} / slot_length);
        event = true;
      }
    }
    if (event) {
      ++replans;
      plan_start = t;
      plan_slots = std::min(opt.horizon_slots, site.slots - t);
      PlanRequest r;
      r.site = slots_of(site, t, plan_slots, slot_length, false);
      if (!exact_departures) r.at_risk_value_minor_per_kwh = opt.at_risk_value_minor_per_kwh;
      r.departure_front_load_h = opt.departure_front_load_h;
      r.overdue_hazard_per_h = opt.overdue_hazard_per_h;
      r.overdue_laxity_h = opt.overdue_laxity_h;
      // The current slot's building load is measured, later slots are forecast.
      if (!r.site.building_load_w.empty()) r.site.building_load_w[0] = site.building[t];
      plan_vehicles.clear();
      for (std::size_t i = 0; i < n; ++i) {
        const auto& v = site.vehicles[i];
        if (v.arrive > t || v.depart <= t) continue;
        if (remaining[i] <= 0.5 && !v.v2g) continue;
        int depart = std::clamp(plan_depart[i], t + 1, t + plan_slots);
        r.vehicles.push_back(
            planned(v, r.site, t, depart, remaining[i], soc[i], max_w, site.min_charge_w));
        if (!exact_departures) {
          auto at = [&](int slot) { return site.start + slot_length * slot; };
          r.vehicles.back().departure_quantiles = {at(v.p10), at(v.p50), at(v.p90)};
          // Presence is conditional on being here now; the arrival anchors the curve.
          r.vehicles.back().arrival = at(v.arrive);
        }
        plan_vehicles.push_back(i);
      }
      Plan p = plan_charging(r);
      plan.assign(n, std::vector<std::int64_t>(plan_slots, 0));
      if (p.ok)
        for (std::size_t k = 0; k < plan_vehicles.size(); ++k)
          plan[plan_vehicles[k]] = p.power_w[k];
    }
    for (std::size_t i = 0; i < n; ++i) {
      const auto& v = site.vehicles[i];
      if (v.arrive <= t && t < v.depart) o.power[i][t] = plan[i][t - plan_start];
    }
    keep_site_limits(site, t, o.power);
    pause_below_minimum(t, site.min_charge_w, o.power);
    for (std::size_t i = 0; i < n; ++i) {
      remaining[i] -= o.power[i][t] * dt_h;
      soc[i] += o.power[i][t] * dt_h;
    }
  }
  return o;
}

// The replay's sessions (sorted by plug-in) and its sites with their vehicles, limits and
// prices; fills the report's window, session, site, slot and binding figures.
struct Replay {
  std::vector<FinishedSession> sessions;
  std::map<std::string, Site> sites;
  bool built = false;  // false: nothing to replay
};

Replay build_replay(const std::vector<FinishedSession>& input, const SimulationOptions& opt,
                    SimulationReport& report) {
  Replay replay;
  auto& sessions = replay.sessions;
  auto& sites = replay.sites;
  sessions = input;
  std::stable_sort(sessions.begin(), sessions.end(),
                   [](const auto& a, const auto& b) { return a.plugin < b.plugin; });
  if (sessions.empty() || opt.slot_length <= minutes{0}) return replay;
  const minutes L = opt.slot_length;
  const double dt_h = duration<double, std::ratio<3600>>(L).count();
  const auto max_w = static_cast<std::int64_t>(opt.evse_kw * 1000);
  // The held-back part starts at the prediction benchmark's test split.
  const std::size_t first_held_back =
      sessions.size() - static_cast<std::size_t>(std::floor(
                            sessions.size() * std::clamp(opt.held_back_share, 0.0, 1.0)));
  const Time held_back_start = first_held_back < sessions.size()
                                   ? sessions[first_held_back].plugin
                                   : sessions.back().plugin + seconds{1};
  report.held_back_start = held_back_start;
  auto replayed = [&](const FinishedSession& s) {
    if (opt.part == ReplayPart::training && s.plugin >= held_back_start) return false;
    if (opt.part == ReplayPart::held_back && s.plugin < held_back_start) return false;
    if (!opt.workplace) return true;
    auto local = s.plugin + s.utc_offset;
    weekday day{floor<days>(local)};
    auto hour = duration_cast<hours>(local - floor<days>(local)).count();
    return day.iso_encoding() <= 5 && hour >= opt.workplace_from_hour &&
           hour < opt.workplace_to_hour;
  };
  std::vector<Time> plugins;  // of the sessions the replay may take, in order
  for (const auto& s : sessions)
    if (replayed(s)) plugins.push_back(s.plugin);
  if (plugins.empty()) return replay;
  Time window_end = plugins.back() + seconds{1};
  if (opt.end) {
    window_end = *opt.end;
  } else {
    // The busiest window of the part: most plug-ins within `days` days.
    std::size_t best = 0;
    for (std::size_t first = 0, last = 0; last < plugins.size(); ++last) {
      while (plugins[last] - plugins[first] >= days{opt.days}) ++first;
      if (last - first + 1 > best) {
        best = last - first + 1;
        window_end = plugins[first] + days{opt.days};
      }
    }
  }
  const Time window_start = window_end - days{opt.days};
  report.window_start = window_start;
  report.window_end = window_end;

  // Predict each simulated session's departure from the sessions ended before it plugged in.
  DeparturePredictor predictor(opt.predictor);
  auto later = [&](std::size_t a, std::size_t b) {
    return sessions[a].plugout > sessions[b].plugout;
  };
  std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(later)> connected(later);
  auto slot_at = [&](Time start, Time t, bool up) {
    auto d = t - start;
    auto q = d / L;
    return static_cast<int>(up && q * L < d ? q + 1 : q);
  };
  std::uint64_t hash = 1469598103934665603ULL;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    const auto& s = sessions[i];
    while (!connected.empty() && sessions[connected.top()].plugout <= s.plugin) {
      predictor.observe(sessions[connected.top()]);
      connected.pop();
    }
    connected.push(i);
    if (s.plugin < window_start || s.plugin >= window_end || !replayed(s)) continue;
    Prediction p = predictor.predict({s.user_id, s.site_id, s.plugin, s.utc_offset, {}, {}});
    Site& site = sites[s.site_id];
    if (site.id.empty()) {
      site.id = s.site_id;
      site.start = floor<days>(window_start);
      site.utc_offset = s.utc_offset;
    }
    for (int copy = 0; copy < std::max(1, opt.vehicle_multiplier); ++copy) {
      SimVehicle v;
      v.id = s.user_id + "#" + std::to_string(i) + "." + std::to_string(copy);
      v.session = i;
      v.arrive = slot_at(site.start, s.plugin, true);
      v.depart = std::max(v.arrive, slot_at(site.start, s.plugout, false));
      v.p10 = slot_at(site.start, p.departure_p10, false);
      v.p50 = slot_at(site.start, p.departure_p50, false);
      v.p90 = slot_at(site.start, p.departure_p90, false);
      // The energy the vehicle took, capped at what the EVSE can deliver while it stays.
      v.need_wh = std::min<double>(s.energy_wh, (v.depart - v.arrive) * max_w * dt_h);
      hash = (hash ^ (i * 31 + copy)) * 1099511628211ULL;
      v.v2g = (hash % 10000) < opt.v2g_share * 10000;
      if (v.v2g) {
        v.capacity_wh = 60000;
        v.min_soc_wh = 12000;
        v.soc0_wh =
            std::clamp(v.capacity_wh - v.need_wh - 10000, v.min_soc_wh, v.capacity_wh - v.need_wh);
      }
      if (v.depart > v.arrive) site.vehicles.push_back(v);
      ++report.sessions;
    }
  }

  replay.built = true;
  std::size_t binding = 0;
  for (auto& [id, site] : sites) {
    if (site.vehicles.empty()) continue;
    ++report.sites;
    for (const auto& v : site.vehicles) site.slots = std::max(site.slots, v.depart);
    report.slots += site.slots;
    site.import_limit.assign(site.slots, std::numeric_limits<std::int32_t>::max());
    site.export_limit.assign(site.slots, 0);
    site.import_price.resize(site.slots);
    site.export_price.resize(site.slots);
    site.in_dr_window.assign(site.slots, false);
    site.building.assign(site.slots, 0);
    site.building_forecast.assign(site.slots, 0);
    if (opt.building_kw > 0) {
      std::uint64_t seed = 1469598103934665603ULL;
      for (char c : site.id) seed = (seed ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
      const int slots_per_hour = std::max(1, static_cast<int>(hours{1} / L));
      for (int t = 0; t < site.slots; ++t) {
        double forecast =
            opt.building_kw * 1000 * building_shape[local_hour(site, t, L)] / building_shape_mean();
        std::uint64_t h =
            (seed ^ static_cast<std::uint64_t>(t / slots_per_hour)) * 0x9E3779B97F4A7C15ULL;
        double u = static_cast<double>((h >> 11) % 2001) / 1000.0 - 1;  // in [-1, 1]
        site.building_forecast[t] = std::llround(forecast);
        site.building[t] = std::llround(forecast * (1 + opt.building_noise * u));
      }
    }
    Outcome free = run_classic(site, Classic::uncontrolled, max_w, dt_h, opt.departure_quantile);
    std::vector<std::int64_t> demand(site.slots, 0);
    for (const auto& row : free.power)
      for (int t = 0; t < site.slots; ++t) demand[t] += row[t];
    for (int t = 0; t < site.slots; ++t) demand[t] += site.building[t];
    std::int64_t peak = *std::max_element(demand.begin(), demand.end());
    // At least one EVSE's power above the building's own peak.
    auto limit = std::max<std::int64_t>(
        max_w + *std::max_element(site.building.begin(), site.building.end()),
        std::llround(peak * opt.site_limit_share));
    for (int t = 0; t < site.slots; ++t) {
      int hour = local_hour(site, t, L);
      site.import_limit[t] = limit;
      site.import_price[t] = tariff(hour);
      site.export_price[t] = 40;
      int into_window = (hour - opt.dr_start_hour + 24) % 24;
      if (opt.dr_hours > 0 && into_window < opt.dr_hours) {
        site.in_dr_window[t] = true;
        site.import_limit[t] = std::llround(limit * opt.dr_import_share);
        if (opt.dr_export_kw > 0) {
          site.export_limit[t] = std::llround(opt.dr_export_kw * 1000);
          site.export_price[t] = site.import_price[t] - 10;
        }
      }
      if (demand[t] > site.import_limit[t]) ++binding;
    }
    // After the limits: a minimum changes what vehicles draw, not the site the replay builds.
    site.min_charge_w = std::llround(std::max(0.0, opt.min_charge_kw) * 1000);
  }
  report.limit_binding_share = report.slots ? double(binding) / report.slots : 0;
  return replay;
}

}  // namespace

std::int64_t replay_import_price(int local_hour) {
  return tariff(local_hour);
}

ReplayScenario replay_scenario(const std::vector<FinishedSession>& input,
                               const SimulationOptions& opt) {
  SimulationReport report;
  auto replay = build_replay(input, opt, report);
  ReplayScenario out;
  out.window_start = report.window_start;
  out.window_end = report.window_end;
  const minutes L = opt.slot_length;
  const double dt_h = duration<double, std::ratio<3600>>(L).count();
  const auto max_w = static_cast<std::int64_t>(opt.evse_kw * 1000);
  for (const auto& s : replay.sessions)
    if (s.plugout <= out.window_start) out.earlier.push_back(s);
  for (const auto& [id, site] : replay.sites) {
    if (site.vehicles.empty()) continue;
    ReplaySite r;
    r.id = id;
    r.start = site.start;
    r.utc_offset = site.utc_offset;
    r.import_limit_w = site.import_limit.empty() ? 0 : site.import_limit.front();
    const auto optimum = run_hindsight(site, max_w, L);
    for (std::size_t i = 0; i < site.vehicles.size(); ++i) {
      const auto& v = site.vehicles[i];
      ReplaySession rs;
      rs.session = replay.sessions[v.session];
      rs.arrival = site.start + L * v.arrive;
      rs.departure = site.start + L * v.depart;
      rs.need_wh = v.need_wh;
      double net = 0;
      for (int t = v.arrive; t < v.depart; ++t) net += optimum.power[i][t] * dt_h;
      rs.hindsight_wh = std::clamp(net, 0.0, v.need_wh);
      r.sessions.push_back(std::move(rs));
    }
    out.sites.push_back(std::move(r));
  }
  return out;
}

SimulationReport simulate_planning(const std::vector<FinishedSession>& input,
                                   const SimulationOptions& opt) {
  SimulationReport report;
  auto replay = build_replay(input, opt, report);
  const minutes L = opt.slot_length;
  const double dt_h = duration<double, std::ratio<3600>>(L).count();
  const auto max_w = static_cast<std::int64_t>(opt.evse_kw * 1000);
  std::vector<std::string> names = {"chargegrid",
                                    "chargegrid_exact_departures",
                                    "hindsight_optimum",
                                    "uncontrolled",
                                    "round_robin",
                                    "edf",
                                    "llf"};
  if (!replay.built) return report;
  for (const auto& name : names) report.policies[name];
  for (auto& [id, site] : replay.sites) {
    if (site.vehicles.empty()) continue;
    std::size_t replans = 0, exact_replans = 0;
    std::map<std::string, Outcome> outcomes;
    outcomes["chargegrid"] = run_online(site, max_w, L, dt_h, opt, false, replans);
    outcomes["chargegrid_exact_departures"] =
        run_online(site, max_w, L, dt_h, opt, true, exact_replans);
    outcomes["hindsight_optimum"] = run_hindsight(site, max_w, L);
    outcomes["uncontrolled"] =
        run_classic(site, Classic::uncontrolled, max_w, dt_h, opt.departure_quantile);
    outcomes["round_robin"] =
        run_classic(site, Classic::round_robin, max_w, dt_h, opt.departure_quantile);
    outcomes["edf"] = run_classic(site, Classic::edf, max_w, dt_h, opt.departure_quantile);
    outcomes["llf"] = run_classic(site, Classic::llf, max_w, dt_h, opt.departure_quantile);
    report.policies["chargegrid"].replans += replans;
    report.policies["chargegrid_exact_departures"].replans += exact_replans;
    for (const auto& [name, outcome] : outcomes) score(site, outcome, dt_h, report.policies[name]);
    if (!opt.record_sessions) continue;
    // A window only lowers the limit: the highest is the site's own.
    const std::int64_t site_limit =
        site.import_limit.empty()
            ? 0
            : *std::max_element(site.import_limit.begin(), site.import_limit.end());
    for (std::size_t i = 0; i < site.vehicles.size(); ++i) {
      const auto& v = site.vehicles[i];
      SessionResult r;
      r.site_id = site.id;
      r.vehicle_id = v.id;
      r.site_start = site.start;
      r.utc_offset = site.utc_offset;
      r.arrive = v.arrive;
      r.depart = v.depart;
      r.p10 = v.p10;
      r.p50 = v.p50;
      r.p90 = v.p90;
      r.need_wh = v.need_wh;
      r.import_limit_w = site_limit;
      for (const auto& [name, outcome] : outcomes)
        r.delivered_wh[name] = delivered_wh(v, outcome.power[i], dt_h);
      report.session_results.push_back(std::move(r));
    }
  }
  return report;
}

}  // namespace chargegrid::scheduler
