#include "chargegrid/scheduler/planner.hpp"

#include <ClpSimplex.hpp>
#include <ClpSolve.hpp>
#include <CoinPackedMatrix.hpp>
#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "network_simplex.hpp"

namespace chargegrid::scheduler {
namespace {

using namespace std::chrono;

// Lexicographic objective as weights: unmet energy dominates cost, cost dominates flatness.
constexpr double flatness_weight = 1e-3;  // per kW of peak import and per unit of unfairness

double slot_hours(const SiteSlots& site) {
  return duration<double, std::ratio<3600>>(site.slot_length).count();
}

std::size_t slot_count(const SiteSlots& site) {
  return site.import_limit_w.size();
}

std::int64_t building(const SiteSlots& site, std::size_t t) {
  return site.building_load_w.empty() ? 0 : site.building_load_w[t];
}

std::int64_t price_at_soc(const PlannedVehicle& v, std::int64_t soc) {
  if (v.discharge_price.empty()) return 0;
  const DischargePricePoint* best = nullptr;
  const DischargePricePoint* lowest = &v.discharge_price.front();
  for (const auto& p : v.discharge_price) {
    if (p.soc_wh < lowest->soc_wh) lowest = &p;
    if (p.soc_wh <= soc && (!best || p.soc_wh > best->soc_wh)) best = &p;
  }
  return (best ? best : lowest)->price_minor_per_kwh;
}

// The lowest charging power the vehicle draws, never above its maximum.
std::int64_t min_charge(const PlannedVehicle& v) {
  return std::clamp<std::int64_t>(v.min_charge_w, 0, v.max_charge_w);
}

// Energy the vehicle can still take: its need, clamped to the room left in the battery.
std::int64_t effective_need(const PlannedVehicle& v) {
  std::int64_t need = std::max<std::int64_t>(v.energy_need_wh, 0);
  if (v.soc_wh && v.capacity_wh)
    need = std::min(need, std::max<std::int64_t>(*v.capacity_wh - *v.soc_wh, 0));
  return need;
}

// Integer rounding loses at most 1 W per vehicle per slot; the LP keeps this much room.
double soc_margin_wh(const SiteSlots& site) {
  return slot_count(site) * slot_hours(site) + 1.0;
}

std::string validate(const PlanRequest& r) {
  const auto& s = r.site;
  std::size_t n = slot_count(s);
  if (n == 0) return "the horizon has no slots";
  if (s.slot_length <= minutes{0}) return "slot length must be positive";
  if (s.export_limit_w.size() != n || s.import_price_minor_per_kwh.size() != n ||
      s.export_price_minor_per_kwh.size() != n)
    return "every per-slot series must have one entry per slot";
  if (!s.building_load_w.empty() && s.building_load_w.size() != n)
    return "building load forecast must be empty or have one entry per slot";
  for (std::size_t t = 0; t < n; ++t) {
    if (s.import_limit_w[t] < 0 || s.export_limit_w[t] < 0)
      return "site limits must not be negative";
    // Otherwise importing and exporting at once would look profitable.
    if (s.export_price_minor_per_kwh[t] > s.import_price_minor_per_kwh[t])
      return "slot " + std::to_string(t) + ": export price above import price";
  }
  if (!(r.departure_front_load_h >= 0 && std::isfinite(r.departure_front_load_h)))
    return "departure front-loading must be a finite time of at least 0 hours";
  if (!(r.overdue_hazard_per_h >= 0 && std::isfinite(r.overdue_hazard_per_h)) ||
      !(r.overdue_laxity_h >= 0 && std::isfinite(r.overdue_laxity_h)))
    return "the overdue departure rate and laxity must be finite and at least 0";
  for (const auto& v : r.vehicles) {
    if (v.max_charge_w < 0 || v.max_discharge_w < 0 || v.min_charge_w < 0)
      return "vehicle " + v.id + ": negative power limit";
    if (v.energy_need_wh < 0) return "vehicle " + v.id + ": negative energy need";
    if (v.capacity_wh && *v.capacity_wh <= 0)
      return "vehicle " + v.id + ": capacity must be positive";
    if (v.soc_wh && (*v.soc_wh < 0 || (v.capacity_wh && *v.soc_wh > *v.capacity_wh)))
      return "vehicle " + v.id + ": state of charge outside the battery";
    if (v.min_soc_wh < 0) return "vehicle " + v.id + ": negative minimum state of charge";
  }
  return {};
}

struct Lp {
  std::vector<double> col_lb, col_ub, obj, row_lb, row_ub;
  std::vector<int> rows, cols;
  std::vector<double> values;
  int add_col(double lb, double ub, double cost) {
    col_lb.push_back(lb);
    col_ub.push_back(ub);
    obj.push_back(cost);
    return static_cast<int>(col_lb.size()) - 1;
  }
  int add_row(double lb, double ub) {
    row_lb.push_back(lb);
    row_ub.push_back(ub);
    return static_cast<int>(row_lb.size()) - 1;
  }
  void set(int row, int col, double value) {
    rows.push_back(row);
    cols.push_back(col);
    values.push_back(value);
  }
};

// Column indices of one vehicle's variables (-1 where the variable does not exist).
struct VehicleColumns {
  std::vector<int> charge, discharge;
};

double energy_weight(const PlanRequest& r) {
  double biggest = 1;
  for (std::size_t t = 0; t < slot_count(r.site); ++t)
    biggest = std::max({biggest, std::abs(double(r.site.import_price_minor_per_kwh[t])),
                        std::abs(double(r.site.export_price_minor_per_kwh[t]))});
  for (const auto& v : r.vehicles)
    for (const auto& p : v.discharge_price)
      biggest = std::max(biggest, std::abs(double(p.price_minor_per_kwh)));
  // Per kWh unmet: far above any cost one kWh can save, and never below what a kWh at risk of
  // an early departure is declared to be worth (a kWh surely missed counts at least as much).
  double value = 100 * biggest;
  if (r.at_risk_value_minor_per_kwh)
    value = std::max(value, static_cast<double>(*r.at_risk_value_minor_per_kwh));
  return value;
}

// Value of a kWh that may arrive after an early departure (see PlanRequest).
double at_risk_value(const PlanRequest& r) {
  return r.at_risk_value_minor_per_kwh ? std::max<double>(0, *r.at_risk_value_minor_per_kwh)
                                       : energy_weight(r);
}

// The vehicle's presence curve with the request's settings.
double presence(const PlanRequest& r, const PlannedVehicle& v, std::size_t t) {
  return presence_probability(r.site, v, t, r.departure_front_load_h, r.overdue_hazard_per_h,
                              r.overdue_laxity_h);
}

bool v2g_planned(const SiteSlots& site, const PlannedVehicle& v) {
  if (!v.soc_wh) return false;
  if (*v.soc_wh <= v.min_soc_wh + soc_margin_wh(site)) return false;
  for (std::size_t t = 0; t < slot_count(site); ++t)
    if (discharge_permitted(site, v, t)) return true;
  return false;
}

struct BuiltLp {
  Lp lp;
  std::vector<VehicleColumns> vehicles;
  std::vector<int> unmet;
};

// Units inside the LP: kW and kWh, money in minor units.
BuiltLp build(const PlanRequest& r, bool with_rounding_margins) {
  BuiltLp b;
  Lp& lp = b.lp;
  const auto& s = r.site;
  const std::size_t n = slot_count(s);
  const double dt = slot_hours(s);
  const double w_energy = energy_weight(r);
  const double w_risk = at_risk_value(r);
  b.vehicles.resize(r.vehicles.size());

  std::vector<int> balance(n);
  int peak = lp.add_col(0, COIN_DBL_MAX, flatness_weight);
  int fairness = lp.add_col(0, 1, flatness_weight);
  for (std::size_t t = 0; t < n; ++t) {
    // Site balance: sum of vehicle power - import + export = -building load.
    double load = building(s, t) / 1000.0;
    balance[t] = lp.add_row(-load, -load);
    double import_cap =
        std::max<double>(s.import_limit_w[t], std::max<double>(building(s, t), 0)) / 1000;
    double export_cap = std::max<double>(s.export_limit_w[t], std::max<double>(-building(s, t), 0));
    if (with_rounding_margins) {
      // Rounding down each vehicle's power can add 1 W of export per connected vehicle.
      std::size_t connected = 0;
      for (const auto& v : r.vehicles) connected += connected_in_slot(s, v, t);
      export_cap = std::max(export_cap - connected, std::max<double>(-building(s, t), 0));
    }
    int imp = lp.add_col(0, import_cap, dt * s.import_price_minor_per_kwh[t]);
    int exp = lp.add_col(0, export_cap / 1000, -dt * s.export_price_minor_per_kwh[t]);
    lp.set(balance[t], imp, -1);
    lp.set(balance[t], exp, 1);
    int peak_row = lp.add_row(0, COIN_DBL_MAX);
    lp.set(peak_row, peak, 1);
    lp.set(peak_row, imp, -1);
  }

  for (std::size_t i = 0; i < r.vehicles.size(); ++i) {
    const auto& v = r.vehicles[i];
    auto& cols = b.vehicles[i];
    cols.charge.assign(n, -1);
    cols.discharge.assign(n, -1);
    const double need = effective_need(v) / 1000.0;
    const bool v2g = v2g_planned(s, v);
    const double discharge_cost = v2g ? price_at_soc(v, *v.soc_wh) : 0;
    int energy_row = lp.add_row(need, need);  // delivered + unmet = need
    int unmet = lp.add_col(0, need, w_energy);
    b.unmet.push_back(unmet);
    lp.set(energy_row, unmet, 1);
    if (need > 0) {
      int fair_row = lp.add_row(0, COIN_DBL_MAX);  // fairness >= unmet share
      lp.set(fair_row, fairness, 1);
      lp.set(fair_row, unmet, -1 / need);
    }
    for (std::size_t t = 0; t < n; ++t) {
      if (!connected_in_slot(s, v, t)) continue;
      if (v.max_charge_w > 0 && (need > 0 || v2g)) {
        // Energy that may arrive after the vehicle has left is worth less (expected energy).
        double at_risk = 1 - presence(r, v, t);
        cols.charge[t] = lp.add_col(0, v.max_charge_w / 1000.0, w_risk * at_risk * dt);
        lp.set(balance[t], cols.charge[t], 1);
        lp.set(energy_row, cols.charge[t], dt);
      }
      if (v2g && discharge_permitted(s, v, t)) {
        cols.discharge[t] = lp.add_col(0, v.max_discharge_w / 1000.0, dt * discharge_cost);
        lp.set(balance[t], cols.discharge[t], -1);
        lp.set(energy_row, cols.discharge[t], -dt);
      }
    }
    if (v2g) {
      // State of charge stays within [min SoC, capacity] after every slot.
      double soc0 = *v.soc_wh / 1000.0;
      double margin = with_rounding_margins ? soc_margin_wh(s) / 1000 : 0;
      double low = v.min_soc_wh / 1000.0 + margin - soc0;
      double high = v.capacity_wh ? *v.capacity_wh / 1000.0 - soc0 : COIN_DBL_MAX;
      // Cumulative net energy as a chain of bounded state variables keeps the matrix sparse.
      int previous = -1;
      for (std::size_t t = 0; t < n; ++t) {
        if (cols.charge[t] < 0 && cols.discharge[t] < 0) continue;
        int state = lp.add_col(low, high, 0);
        int row = lp.add_row(0, 0);
        lp.set(row, state, 1);
        if (previous >= 0) lp.set(row, previous, -1);
        if (cols.charge[t] >= 0) lp.set(row, cols.charge[t], -dt);
        if (cols.discharge[t] >= 0) lp.set(row, cols.discharge[t], dt);
        previous = state;
      }
    }
  }
  return b;
}

struct Solved {
  bool ok = false;
  std::string error;
  double objective = 0;
  std::vector<double> solution;
};

enum class Method { presolved, plain_dual };

Solved solve(const Lp& lp, Method method) {
  Solved out;
  ClpSimplex model;
  model.setLogLevel(0);
  CoinPackedMatrix matrix(true, lp.rows.data(), lp.cols.data(), lp.values.data(),
                          static_cast<CoinBigIndex>(lp.values.size()));
  // The triplet constructor sizes the matrix by the largest index used; pad to the full size.
  matrix.setDimensions(static_cast<int>(lp.row_lb.size()), static_cast<int>(lp.col_lb.size()));
  model.loadProblem(matrix, lp.col_lb.data(), lp.col_ub.data(), lp.obj.data(), lp.row_lb.data(),
                    lp.row_ub.data());
  if (method == Method::presolved) {
    ClpSolve options;
    options.setPresolveType(ClpSolve::presolveOn);
    options.setSolveType(ClpSolve::usePrimal);
    model.initialSolve(options);
  } else {
    model.dual();
  }
  if (!model.isProvenOptimal()) {
    out.error = "LP solver status " + std::to_string(model.status());
    return out;
  }
  out.ok = true;
  out.objective = model.objectiveValue();
  const double* x = model.getColSolution();
  out.solution.assign(x, x + lp.col_lb.size());
  return out;
}

// ---- The production solver: the same problem as a minimum-cost flow in integer watts ----
//
// Without the peak and fairness terms the LP above is a network: per slot a node where import,
// export, building load and the vehicles' power meet; per vehicle a node that must receive its
// need, either as charge from the slots or as "unmet" from the vehicle's own source node (whose
// delivered part returns to the hub, so adding a vehicle leaves every other supply unchanged).
// A V2G vehicle's state of charge is a chain of storage nodes. Flow units are watts held for
// one slot, so the optimum is integer watts as it stands and keeps every constraint exactly.
// Flat and fair come from convex piecewise costs: each slot's import is split into pieces of
// rising cost, and each vehicle's unmet energy into pieces by share of its need whose cost
// rises with the share (so shortfalls are spread in proportion to the needs).

constexpr double cost_scale = 1000;  // integer costs: thousandths of a minor unit per kWh
constexpr int import_pieces = 4;
constexpr int unmet_pieces = 100;

struct FlowVehicle {
  std::vector<int> charge, discharge;  // arc per slot, -1 where none
};

struct FlowModel {
  detail::NetworkSimplex net;
  int hub = -1;
  std::vector<int> slot_node;
  std::vector<FlowVehicle> vehicles;  // in model order
  std::vector<PlannedVehicle> held;   // the vehicles the model holds, in model order
  SiteSlots site;
  double w_energy = 0, w_risk = 0;
  double front_load_h = 0;
  double overdue_hazard_per_h = 0, overdue_laxity_h = 0;
};

// Whole flow units (W for one slot) in an amount of Wh, rounded down.
std::int64_t units_floor(const SiteSlots& site, std::int64_t wh) {
  const std::int64_t slot_s = duration_cast<seconds>(site.slot_length).count();
  std::int64_t scaled = wh * 3600;
  std::int64_t q = scaled / slot_s;
  if (scaled % slot_s != 0 && scaled < 0) --q;
  return q;
}

std::int64_t scaled_cost(double minor_per_kwh) {
  return std::llround(minor_per_kwh * cost_scale);
}

// Splits `total` into `pieces` arcs of rising cost (base, base + 1, ...); zero-size pieces are
// left out.
void add_pieces(FlowModel& m, int from, int to, std::int64_t total, int pieces, std::int64_t base) {
  std::int64_t given = 0;
  for (int k = 0; k < pieces && given < total; ++k) {
    std::int64_t size = (total - given) / (pieces - k);
    if (size == 0) size = total - given;
    m.net.add_arc(from, to, size, base + k);
    given += size;
  }
}

void add_vehicle(FlowModel& m, const PlannedVehicle& v) {
  const auto& s = m.site;
  const std::size_t n = slot_count(s);
  FlowVehicle fv;
  fv.charge.assign(n, -1);
  fv.discharge.assign(n, -1);
  const std::int64_t need = units_floor(s, effective_need(v));
  const bool v2g = v2g_planned(s, v);
  if (need <= 0 && !v2g) {
    m.vehicles.push_back(std::move(fv));
    m.held.push_back(v);
    return;
  }
  const double discharge_cost = v2g ? price_at_soc(v, *v.soc_wh) : 0;
  std::vector<std::size_t> active;
  for (std::size_t t = 0; t < n; ++t)
    if (connected_in_slot(s, v, t) &&
        ((v.max_charge_w > 0 && (need > 0 || v2g)) || (v2g && discharge_permitted(s, v, t))))
      active.push_back(t);
  const bool chain = v2g && !active.empty();
  // Cumulative net energy stays within [low, high] units (state of charge bounds).
  std::int64_t low = 0, high = 0;
  if (chain) {
    low = -units_floor(s, *v.soc_wh - v.min_soc_wh);
    high = v.capacity_wh ? units_floor(s, *v.capacity_wh - *v.soc_wh)
                         : std::numeric_limits<std::int64_t>::max() / 8;
  }
  int own = m.net.add_node(need);
  int sink = m.net.add_node(chain ? low - need : -need);
  if (need > 0) {
    m.net.add_arc(own, m.hub, need, 0);
    add_pieces(m, own, sink, need, unmet_pieces, scaled_cost(m.w_energy));
  }
  int previous = -1;
  for (std::size_t t : active) {
    const std::int64_t risk = scaled_cost(
        m.w_risk * (1 - presence_probability(s, v, t, m.front_load_h, m.overdue_hazard_per_h,
                                             m.overdue_laxity_h)));
    const bool can_charge = v.max_charge_w > 0 && (need > 0 || v2g);
    if (!chain) {
      if (can_charge) fv.charge[t] = m.net.add_arc(m.slot_node[t], sink, v.max_charge_w, risk);
      continue;
    }
    int store = m.net.add_node(previous < 0 ? -low : 0);
    if (previous >= 0) m.net.add_arc(previous, store, high - low, 0);
    if (can_charge) fv.charge[t] = m.net.add_arc(m.slot_node[t], store, v.max_charge_w, risk);
    if (discharge_permitted(s, v, t))
      fv.discharge[t] =
          m.net.add_arc(store, m.slot_node[t], v.max_discharge_w, scaled_cost(discharge_cost));
    previous = store;
  }
  if (chain) m.net.add_arc(previous, sink, high - low, 0);
  m.vehicles.push_back(std::move(fv));
  m.held.push_back(v);
}

void build_flow(FlowModel& m, const PlanRequest& r) {
  const auto& s = r.site;
  m.site = s;
  m.w_energy = energy_weight(r);
  m.w_risk = at_risk_value(r);
  m.front_load_h = r.departure_front_load_h;
  m.overdue_hazard_per_h = r.overdue_hazard_per_h;
  m.overdue_laxity_h = r.overdue_laxity_h;
  const std::size_t n = slot_count(s);
  std::int64_t building_total = 0;
  for (std::size_t t = 0; t < n; ++t) building_total += building(s, t);
  m.hub = m.net.add_node(building_total);
  for (std::size_t t = 0; t < n; ++t) {
    std::int64_t load = building(s, t);
    int node = m.net.add_node(-load);
    m.slot_node.push_back(node);
    std::int64_t import_cap =
        std::max<std::int64_t>(s.import_limit_w[t], std::max<std::int64_t>(load, 0));
    std::int64_t export_cap =
        std::max<std::int64_t>(s.export_limit_w[t], std::max<std::int64_t>(-load, 0));
    add_pieces(m, m.hub, node, import_cap, import_pieces,
               scaled_cost(double(s.import_price_minor_per_kwh[t])));
    if (export_cap > 0)
      m.net.add_arc(node, m.hub, export_cap, -scaled_cost(double(s.export_price_minor_per_kwh[t])));
  }
  for (const auto& v : r.vehicles) add_vehicle(m, v);
}

bool same_site(const SiteSlots& a, const SiteSlots& b) {
  return a.start == b.start && a.slot_length == b.slot_length &&
         a.import_limit_w == b.import_limit_w && a.export_limit_w == b.export_limit_w &&
         a.import_price_minor_per_kwh == b.import_price_minor_per_kwh &&
         a.export_price_minor_per_kwh == b.export_price_minor_per_kwh &&
         a.building_load_w == b.building_load_w;
}

bool same_vehicle(const PlannedVehicle& a, const PlannedVehicle& b) {
  auto quantiles = [](const PlannedVehicle& v) {
    return v.departure_quantiles
               ? std::tuple(true, v.departure_quantiles->p10, v.departure_quantiles->p50,
                            v.departure_quantiles->p90)
               : std::tuple(false, Time{}, Time{}, Time{});
  };
  auto prices = [](const PlannedVehicle& v) {
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    for (const auto& p : v.discharge_price) out.emplace_back(p.soc_wh, p.price_minor_per_kwh);
    return out;
  };
  return a.id == b.id && a.arrival == b.arrival && a.departure == b.departure &&
         a.energy_need_wh == b.energy_need_wh && a.max_charge_w == b.max_charge_w &&
         a.max_discharge_w == b.max_discharge_w && a.soc_wh == b.soc_wh &&
         a.capacity_wh == b.capacity_wh && a.discharge_allowed == b.discharge_allowed &&
         a.min_soc_wh == b.min_soc_wh && prices(a) == prices(b) && quantiles(a) == quantiles(b);
}

// For each vehicle of the request, its index in the model when the request only adds vehicles
// to what the model holds (same site, earlier vehicles unchanged); empty otherwise.
std::optional<std::vector<std::size_t>> extension_of(const FlowModel& m, const PlanRequest& r) {
  if (m.hub < 0 || !same_site(m.site, r.site) || energy_weight(r) != m.w_energy ||
      at_risk_value(r) != m.w_risk || r.departure_front_load_h != m.front_load_h ||
      r.overdue_hazard_per_h != m.overdue_hazard_per_h || r.overdue_laxity_h != m.overdue_laxity_h)
    return {};
  std::unordered_map<std::string, std::size_t> held;
  for (std::size_t k = 0; k < m.held.size(); ++k)
    if (!held.emplace(m.held[k].id, k).second) return {};
  std::vector<std::size_t> index(r.vehicles.size());
  std::unordered_set<std::string> seen;
  std::size_t matched = 0, added = 0;
  for (std::size_t i = 0; i < r.vehicles.size(); ++i) {
    const auto& v = r.vehicles[i];
    if (!seen.insert(v.id).second) return {};
    auto it = held.find(v.id);
    if (it == held.end()) {
      index[i] = m.held.size() + added++;
    } else {
      if (!same_vehicle(m.held[it->second], v)) return {};
      index[i] = it->second;
      ++matched;
    }
  }
  if (matched != m.held.size()) return {};
  return index;
}

Plan extract(const FlowModel& m, const PlanRequest& r, const std::vector<std::size_t>& index) {
  Plan plan;
  const std::size_t n = slot_count(r.site);
  plan.power_w.assign(r.vehicles.size(), std::vector<std::int64_t>(n, 0));
  for (std::size_t i = 0; i < r.vehicles.size(); ++i) {
    const auto& fv = m.vehicles[index[i]];
    for (std::size_t t = 0; t < n; ++t) {
      std::int64_t w = 0;
      if (fv.charge[t] >= 0) w += m.net.flow(fv.charge[t]);
      if (fv.discharge[t] >= 0) w -= m.net.flow(fv.discharge[t]);
      plan.power_w[i][t] = w;
    }
  }
  plan.ok = true;
  return plan;
}

// The LP solved by CLP and rounded down to integer watts: the fallback should the flow solver
// ever stop at its pivot limit.
Plan plan_with_lp(const PlanRequest& request) {
  Plan plan;
  BuiltLp built = build(request, true);
  Solved solved = solve(built.lp, Method::presolved);
  if (!solved.ok) {
    plan.error = solved.error;
    return plan;
  }
  const std::size_t n = slot_count(request.site);
  plan.power_w.assign(request.vehicles.size(), std::vector<std::int64_t>(n, 0));
  for (std::size_t i = 0; i < request.vehicles.size(); ++i) {
    const auto& v = request.vehicles[i];
    for (std::size_t t = 0; t < n; ++t) {
      double kw = 0;
      if (built.vehicles[i].charge[t] >= 0) kw += solved.solution[built.vehicles[i].charge[t]];
      if (built.vehicles[i].discharge[t] >= 0)
        kw -= solved.solution[built.vehicles[i].discharge[t]];
      double w = kw * 1000;
      // Round down (never adds import); values within solver tolerance of an integer snap to it.
      double nearest = std::round(w);
      std::int64_t p = std::abs(w - nearest) < 1e-4 ? static_cast<std::int64_t>(nearest)
                                                    : static_cast<std::int64_t>(std::floor(w));
      std::int64_t lowest = built.vehicles[i].discharge[t] >= 0 ? -v.max_discharge_w : 0;
      plan.power_w[i][t] = std::clamp(p, lowest, v.max_charge_w);
    }
  }
  plan.ok = true;
  return plan;
}

// A vehicle given less than its minimum charging power draws nothing, so the optimum's powers
// below a minimum would be neither drawn nor delivered. Slot by slot, from the first: those
// powers are pooled; a vehicle that has fallen behind its optimum by more than it can still
// take after the slot gets what it is owed first (from the pool, then the import room); the
// pool is then handed out again as whole minimums to the paused vehicles with the least
// slack (behind the most, against the room they have left), the import room lifting one the
// pool cannot; what is left of the pool tops up the vehicles charging in the slot. A shortfall
// so rotates among vehicles instead of starving the same ones. Site limits, power limits and
// battery capacities hold as in the optimum; the shift costs at most one minimum per slot of
// the slot's charging energy.
class MinimumPower {
 public:
  MinimumPower(const PlanRequest& r, Plan& plan)
      : vehicles_(r.vehicles),
        site_(r.site),
        plan_(plan),
        dt_(slot_hours(r.site)),
        count_(r.vehicles.size()),
        slots_(slot_count(r.site)),
        behind_wh_(count_, 0),
        room_after_wh_(count_, std::vector<double>(slots_ + 1, 0)),
        soc_wh_(count_, 0) {
    for (std::size_t i = 0; i < count_; ++i) {
      for (std::size_t t = slots_; t-- > 0;) {
        const auto p = std::max<std::int64_t>(power(i, t), 0);
        const bool connected = connected_in_slot(site_, vehicles_[i], t);
        room_after_wh_[i][t] =
            room_after_wh_[i][t + 1] + (connected ? (vehicles_[i].max_charge_w - p) * dt_ : 0);
      }
      soc_wh_[i] = static_cast<double>(vehicles_[i].soc_wh.value_or(0));
    }
  }

  void run() {
    for (std::size_t t = 0; t < slots_; ++t) {
      const bool discharge_cut = keep_within_batteries(t);
      std::int64_t site_w = building(site_, t);
      for (std::size_t i = 0; i < count_; ++i) site_w += power(i, t);
      headroom_w_ = std::max<std::int64_t>(0, site_.import_limit_w[t] - site_w);
      pool_below_minimums(t);
      pay_what_is_owed(t);
      if (!paused_.empty()) {
        lift_paused(t);
        top_up_charging(t);
      }
      if (discharge_cut) keep_import_limit(t);
      keep_export_limit(t);
      for (std::size_t i = 0; i < count_; ++i) soc_wh_[i] += power(i, t) * dt_;
    }
  }

 private:
  std::int64_t& power(std::size_t i, std::size_t t) { return plan_.power_w[i][t]; }
  std::int64_t minimum(std::size_t i) const { return min_charge(vehicles_[i]); }

  // The most the battery takes in this slot as it stands before it (no bound where its state
  // of charge or capacity is unknown).
  std::int64_t battery_room_w(std::size_t i) const {
    const auto& v = vehicles_[i];
    if (!(v.soc_wh && v.capacity_wh)) return std::numeric_limits<std::int64_t>::max();
    return std::max<std::int64_t>(
        0, static_cast<std::int64_t>(std::floor((*v.capacity_wh - soc_wh_[i]) / dt_ + 1e-9)));
  }

  // Slack after slot t: the room a vehicle has left to catch up in, less what it is behind by
  // (a vehicle about to leave cannot wait for a later turn).
  double slack(std::size_t i, std::size_t t) const {
    return room_after_wh_[i][t + 1] - behind_wh_[i];
  }

  void least_slack_first(std::vector<std::size_t>& order, std::size_t t) const {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return slack(a, t) < slack(b, t); });
  }

  // Energy moved to earlier slots fills a battery sooner, and energy taken from them leaves
  // less to discharge: the slot's powers first keep within the battery as it now stands.
  // Whether a discharge was cut.
  bool keep_within_batteries(std::size_t t) {
    bool discharge_cut = false;
    for (std::size_t i = 0; i < count_; ++i) {
      const auto& v = vehicles_[i];
      auto& p = power(i, t);
      if (!v.soc_wh) continue;
      if (p > 0) p = std::min(p, battery_room_w(i));
      if (p < 0) {
        const auto floor_w = std::min<std::int64_t>(
            0, -static_cast<std::int64_t>(std::floor((soc_wh_[i] - v.min_soc_wh) / dt_ + 1e-9)));
        discharge_cut = discharge_cut || p < floor_w;
        p = std::max(p, floor_w);
      }
    }
    return discharge_cut;
  }

  // Powers below a vehicle's minimum go to the pool; their vehicles pause.
  void pool_below_minimums(std::size_t t) {
    pool_w_ = 0;
    paused_.clear();
    for (std::size_t i = 0; i < count_; ++i) {
      auto& p = power(i, t);
      if (p > 0 && p < minimum(i)) {
        pool_w_ += p;
        behind_wh_[i] += p * dt_;
        p = 0;
        paused_.push_back(i);
      }
    }
  }

  // A vehicle behind by more than it can still take after this slot is owed the rest now,
  // whether the optimum gave it power here or not: from the pool, then the import room.
  void pay_what_is_owed(std::size_t t) {
    for (std::size_t i = 0; i < count_; ++i) {
      const auto& v = vehicles_[i];
      const double owed_wh = -slack(i, t);
      auto& p = power(i, t);
      if (owed_wh <= 0 || p < 0 || !connected_in_slot(site_, v, t)) continue;
      auto extra = static_cast<std::int64_t>(std::ceil(owed_wh / dt_));
      if (p == 0) extra = std::max(extra, minimum(i));
      extra = std::min({extra, v.max_charge_w - p, battery_room_w(i) - p});
      extra = std::min(extra, pool_w_ + headroom_w_);
      if (extra <= 0 || p + extra < minimum(i)) continue;
      const auto from_pool = std::min(pool_w_, extra);
      pool_w_ -= from_pool;
      headroom_w_ -= extra - from_pool;
      p += extra;
      behind_wh_[i] -= extra * dt_;
    }
  }

  // The paused vehicles, least slack first, get whole minimums again: from the pool, then the
  // import room, then from vehicles with more slack charging above their own minimum (the
  // slot's energy then goes to one more vehicle instead of being lost).
  void lift_paused(std::size_t t) {
    least_slack_first(paused_, t);
    // Who may give, most slack first; what they may give in all bounds the search, so a slot
    // with nothing to give costs one pass.
    std::vector<std::size_t> givers;
    std::int64_t givable_w = 0;
    for (std::size_t j = 0; j < count_; ++j)
      if (power(j, t) > minimum(j)) {
        givers.push_back(j);
        givable_w += power(j, t) - minimum(j);
      }
    std::stable_sort(givers.begin(), givers.end(),
                     [&](std::size_t a, std::size_t b) { return slack(a, t) > slack(b, t); });
    std::vector<std::pair<std::size_t, std::int64_t>> donors;
    for (std::size_t i : paused_) {
      // Served above, or ahead of its plan already (more would go beyond its need).
      if (power(i, t) > 0 || behind_wh_[i] <= 0) continue;
      const auto m = minimum(i);
      if (m > battery_room_w(i)) continue;
      const auto from_pool = std::min(pool_w_, m);
      const auto from_room = std::min(headroom_w_, m - from_pool);
      auto short_w = m - from_pool - from_room;
      if (short_w > givable_w) continue;
      donors.clear();
      for (std::size_t j : givers) {
        if (short_w == 0) break;
        if (slack(j, t) <= slack(i, t)) continue;
        const auto give = std::min(short_w, power(j, t) - minimum(j));
        if (give <= 0) continue;
        donors.emplace_back(j, give);
        short_w -= give;
      }
      if (short_w > 0) continue;
      for (const auto& [j, give] : donors) {
        power(j, t) -= give;
        behind_wh_[j] += give * dt_;
        givable_w -= give;
      }
      pool_w_ -= from_pool;
      headroom_w_ -= from_room;
      power(i, t) = m;
      behind_wh_[i] -= m * dt_;
    }
  }

  // What is left of the pool tops up the vehicles charging in the slot, least slack first.
  void top_up_charging(std::size_t t) {
    charging_.clear();
    for (std::size_t i = 0; i < count_; ++i)
      if (power(i, t) > 0 && power(i, t) < vehicles_[i].max_charge_w) charging_.push_back(i);
    least_slack_first(charging_, t);
    for (std::size_t i : charging_) {
      if (pool_w_ == 0) break;
      const auto give = std::min(
          {pool_w_, vehicles_[i].max_charge_w - power(i, t), battery_room_w(i) - power(i, t)});
      if (give <= 0) continue;
      power(i, t) += give;
      behind_wh_[i] -= give * dt_;
      pool_w_ -= give;
    }
  }

  // Less discharge than the optimum counted on may leave the site over its import limit: the
  // largest charging powers give way (to zero where what is left is below a minimum).
  void keep_import_limit(std::size_t t) {
    std::int64_t vehicles_w = 0;
    for (std::size_t i = 0; i < count_; ++i) vehicles_w += power(i, t);
    std::int64_t over_w = building(site_, t) + vehicles_w - site_.import_limit_w[t];
    charging_.clear();
    for (std::size_t i = 0; i < count_; ++i)
      if (power(i, t) > 0) charging_.push_back(i);
    std::stable_sort(charging_.begin(), charging_.end(), [&](std::size_t a, std::size_t b) {
      return plan_.power_w[a][t] > plan_.power_w[b][t];
    });
    for (std::size_t i : charging_) {
      if (over_w <= 0 || vehicles_w <= 0) break;
      auto& p = power(i, t);
      const auto before = p;
      p -= std::min(over_w, p);
      if (p < minimum(i)) p = 0;
      over_w -= before - p;
      vehicles_w -= before - p;
    }
  }

  // Less charging may leave a discharging site over its export limit: discharge gives way by
  // the excess (which leaves the site at its export limit, never over its import).
  void keep_export_limit(std::size_t t) {
    std::int64_t vehicles_w = 0;
    for (std::size_t i = 0; i < count_; ++i) vehicles_w += power(i, t);
    std::int64_t excess_w = -(building(site_, t) + vehicles_w) - site_.export_limit_w[t];
    for (std::size_t i = 0; i < count_ && vehicles_w < 0 && excess_w > 0; ++i) {
      auto& p = power(i, t);
      if (p >= 0) continue;
      const auto cut = std::min(excess_w, -p);
      p += cut;
      excess_w -= cut;
      vehicles_w += cut;
    }
  }

  const std::vector<PlannedVehicle>& vehicles_;
  const SiteSlots& site_;
  Plan& plan_;
  const double dt_;
  const std::size_t count_, slots_;
  std::vector<double> behind_wh_;  // taken by this adjustment so far (negative: given)
  // Per vehicle and slot: the energy it could still take after the slot (at full power where
  // the optimum leaves room), to tell a vehicle that can catch up later from one that cannot.
  std::vector<std::vector<double>> room_after_wh_;
  std::vector<double> soc_wh_;  // each battery's state of charge before the slot
  // The slot's: the import room left, the pool of powers below a minimum, the vehicles they
  // were taken from, and a list of vehicles charging.
  std::int64_t headroom_w_ = 0, pool_w_ = 0;
  std::vector<std::size_t> paused_, charging_;
};

void keep_minimum_power(const PlanRequest& r, Plan& plan) {
  if (std::none_of(r.vehicles.begin(), r.vehicles.end(),
                   [](const PlannedVehicle& v) { return min_charge(v) > 0; }))
    return;
  MinimumPower(r, plan).run();
}

}  // namespace

bool connected_in_slot(const SiteSlots& site, const PlannedVehicle& v, std::size_t slot) {
  Time begin = site.start + site.slot_length * static_cast<int>(slot);
  Time end = begin + site.slot_length;
  return v.arrival <= begin && v.departure >= end;
}

double presence_probability(const SiteSlots& site, const PlannedVehicle& v, std::size_t slot,
                            double front_load_h, double overdue_hazard_per_h,
                            double overdue_laxity_h) {
  if (!v.departure_quantiles) return 1;
  const auto& q = *v.departure_quantiles;
  if (!(q.p10 <= q.p50 && q.p50 <= q.p90)) return 1;  // inconsistent quantiles carry no risk
  // A vehicle predicted to be gone before it arrived (a stay shorter than the slot rounding) is
  // here all the same: the prediction says nothing about it.
  if (q.p90 <= v.arrival) return 1;
  // Survival curve through the quantiles, linear from the arrival to P10, front-loaded from P10
  // to P50 and from P50 to P90 (departures bunch within hours after each quantile), and after
  // P90 an exponential tail (stays of several days are common): every connected slot keeps some
  // value, so charging a vehicle that is still here always beats leaving its need unmet.
  const double tail_scale_s =
      std::max(duration<double>(q.p90 - q.p50).count(), duration<double>(site.slot_length).count());
  auto survival = [&](Time t) {
    auto hours_between = [](Time a, Time b) { return duration<double>(b - a).count(); };
    const std::pair<Time, double> points[] = {
        {v.arrival, 1.0}, {q.p10, 0.9}, {q.p50, 0.5}, {q.p90, 0.1}};
    if (t <= points[0].first) return 1.0;
    for (std::size_t k = 1; k < 4; ++k) {
      if (t <= points[k].first) {
        double span = hours_between(points[k - 1].first, points[k].first);
        double f = span > 0 ? hours_between(points[k - 1].first, t) / span : 1;
        if (k > 1 && front_load_h > 0 && span > 0) {
          const double scale_s = front_load_h * 3600;
          f = std::expm1(-f * span / scale_s) / std::expm1(-span / scale_s);
        }
        return points[k - 1].second + f * (points[k].second - points[k - 1].second);
      }
    }
    return 0.1 * std::exp(-hours_between(q.p90, t) / tail_scale_s);
  };
  double now = survival(site.start);
  if (now < 1e-3) return 1;  // already past every quantile: plan as if it stays
  Time end = site.start + site.slot_length * static_cast<int>(slot + 1);
  double presence = std::clamp(survival(end) / now, 0.0, 1.0);
  // Past P10 with little to spare before P50: an extra departure rate from now on.
  if (overdue_hazard_per_h > 0 && q.p10 <= site.start && v.max_charge_w > 0) {
    auto hours = [](auto d) { return duration<double, std::ratio<3600>>(d).count(); };
    double laxity_h = hours(q.p50 - site.start) -
                      static_cast<double>(effective_need(v)) / static_cast<double>(v.max_charge_w);
    if (laxity_h < overdue_laxity_h)
      presence *= std::exp(-overdue_hazard_per_h * hours(end - site.start));
  }
  return presence;
}

bool discharge_permitted(const SiteSlots& site, const PlannedVehicle& v, std::size_t slot) {
  if (!v.discharge_allowed || v.max_discharge_w <= 0 || !v.soc_wh) return false;
  if (slot >= slot_count(site) || !connected_in_slot(site, v, slot)) return false;
  return site.export_price_minor_per_kwh[slot] > price_at_soc(v, *v.soc_wh);
}

struct Planner::State {
  FlowModel model;
  bool incremental = false;
};

Planner::Planner() : state_(std::make_unique<State>()) {}
Planner::~Planner() = default;
Planner::Planner(Planner&&) noexcept = default;
Planner& Planner::operator=(Planner&&) noexcept = default;

bool Planner::last_plan_incremental() const {
  return state_->incremental;
}

Plan Planner::plan(const PlanRequest& request) {
  Plan plan = solve_flow(request);
  if (plan.ok) keep_minimum_power(request, plan);
  return plan;
}

Plan Planner::solve_flow(const PlanRequest& request) {
  state_->incremental = false;
  if (auto error = validate(request); !error.empty()) {
    state_->model = FlowModel{};
    Plan plan;
    plan.error = error;
    return plan;
  }
  FlowModel& m = state_->model;
  if (auto index = extension_of(m, request)) {
    for (std::size_t i = 0; i < request.vehicles.size(); ++i)
      if ((*index)[i] >= m.held.size()) add_vehicle(m, request.vehicles[i]);
    if (m.net.solve() == detail::NetworkSimplex::Status::optimal) {
      state_->incremental = true;
      return extract(m, request, *index);
    }
  }
  m = FlowModel{};
  build_flow(m, request);
  if (m.net.solve() != detail::NetworkSimplex::Status::optimal) {
    m = FlowModel{};
    return plan_with_lp(request);
  }
  std::vector<std::size_t> index(request.vehicles.size());
  for (std::size_t i = 0; i < index.size(); ++i) index[i] = i;
  return extract(m, request, index);
}

Plan plan_charging(const PlanRequest& request) {
  return Planner().plan(request);
}

LpOptimum solve_reference_lp(const PlanRequest& request) {
  LpOptimum out;
  if (!validate(request).empty()) return out;
  BuiltLp built = build(request, false);
  Solved solved = solve(built.lp, Method::plain_dual);
  if (!solved.ok) return out;
  out.ok = true;
  out.objective = solved.objective;
  double unmet_kwh = 0;
  for (int c : built.unmet) unmet_kwh += solved.solution[c];
  const double w_energy = energy_weight(request);
  out.unmet_wh = unmet_kwh * 1000;
  // Columns 0 and 1 are the peak and fairness terms (see build()).
  out.cost_minor = solved.objective - w_energy * unmet_kwh -
                   flatness_weight * (solved.solution[0] + solved.solution[1]);
  return out;
}

PlanFigures plan_figures(const PlanRequest& request, const Plan& plan) {
  PlanFigures f;
  if (!plan.ok) return f;
  const auto& s = request.site;
  const std::size_t n = slot_count(s);
  const double dt = slot_hours(s);
  double import_cost = 0, export_revenue = 0, discharge_payment = 0;
  for (std::size_t t = 0; t < n; ++t) {
    std::int64_t net = building(s, t);
    for (std::size_t i = 0; i < request.vehicles.size(); ++i) net += plan.power_w[i][t];
    if (net > 0) {
      f.peak_import_w = std::max(f.peak_import_w, net);
      import_cost += net * dt / 1000 * s.import_price_minor_per_kwh[t];
    } else {
      export_revenue += -net * dt / 1000 * s.export_price_minor_per_kwh[t];
    }
  }
  for (std::size_t i = 0; i < request.vehicles.size(); ++i) {
    const auto& v = request.vehicles[i];
    double net_wh = 0;
    for (std::size_t t = 0; t < n; ++t) {
      net_wh += plan.power_w[i][t] * dt;
      if (plan.power_w[i][t] < 0 && v.soc_wh)
        discharge_payment += -plan.power_w[i][t] * dt / 1000 * price_at_soc(v, *v.soc_wh);
    }
    std::int64_t need = effective_need(v);
    auto delivered = std::clamp<std::int64_t>(std::llround(std::floor(net_wh + 1e-9)), 0, need);
    f.delivered_wh += delivered;
    f.unmet_wh += need - delivered;
    if (need > 0) f.max_unmet_share = std::max(f.max_unmet_share, double(need - delivered) / need);
  }
  f.import_cost_minor = std::llround(import_cost);
  f.export_revenue_minor = std::llround(export_revenue);
  f.discharge_payment_minor = std::llround(discharge_payment);
  return f;
}

double plan_objective(const PlanRequest& request, const Plan& plan) {
  const auto& s = request.site;
  const double dt = slot_hours(s);
  double cost = 0, peak = 0, unmet_kwh = 0, unfair = 0;
  for (std::size_t t = 0; t < slot_count(s); ++t) {
    double net = building(s, t);
    for (std::size_t i = 0; i < request.vehicles.size(); ++i) net += plan.power_w[i][t];
    net /= 1000;
    if (net > 0)
      cost += net * dt * s.import_price_minor_per_kwh[t];
    else
      cost += net * dt * s.export_price_minor_per_kwh[t];
    peak = std::max(peak, net);
  }
  for (std::size_t i = 0; i < request.vehicles.size(); ++i) {
    const auto& v = request.vehicles[i];
    double delivered = 0;
    for (std::size_t t = 0; t < slot_count(s); ++t) {
      delivered += plan.power_w[i][t] * dt / 1000;
      if (plan.power_w[i][t] > 0)
        cost += at_risk_value(request) * (1 - presence(request, v, t)) * plan.power_w[i][t] /
                1000.0 * dt;
      if (plan.power_w[i][t] < 0 && v.soc_wh)
        cost += -plan.power_w[i][t] / 1000.0 * dt * price_at_soc(v, *v.soc_wh);
    }
    double need = effective_need(v) / 1000.0;
    double missing = std::max(0.0, need - delivered);
    unmet_kwh += missing;
    if (need > 0) unfair = std::max(unfair, missing / need);
  }
  return energy_weight(request) * unmet_kwh + cost + flatness_weight * (peak + unfair);
}

std::vector<std::string> check_plan(const PlanRequest& request, const Plan& plan) {
  std::vector<std::string> problems;
  const auto& s = request.site;
  const std::size_t n = slot_count(s);
  const double dt = slot_hours(s);
  if (!plan.ok) return {"no plan: " + plan.error};
  if (plan.power_w.size() != request.vehicles.size())
    return {"plan has the wrong number of vehicles"};
  for (const auto& row : plan.power_w)
    if (row.size() != n) return {"plan has the wrong number of slots"};
  auto slot_text = [](std::size_t t) { return "slot " + std::to_string(t); };
  for (std::size_t t = 0; t < n; ++t) {
    std::int64_t vehicles = 0;
    for (std::size_t i = 0; i < request.vehicles.size(); ++i) vehicles += plan.power_w[i][t];
    std::int64_t net = building(s, t) + vehicles;
    // Vehicles may not push the site over a limit; where the building alone is over, they may
    // not add to it.
    if (net > s.import_limit_w[t] && vehicles > 0)
      problems.push_back(slot_text(t) + ": import " + std::to_string(net) + " W over limit " +
                         std::to_string(s.import_limit_w[t]));
    if (-net > s.export_limit_w[t] && vehicles < 0)
      problems.push_back(slot_text(t) + ": export " + std::to_string(-net) + " W over limit " +
                         std::to_string(s.export_limit_w[t]));
  }
  for (std::size_t i = 0; i < request.vehicles.size(); ++i) {
    const auto& v = request.vehicles[i];
    const std::string who = "vehicle " + v.id + " ";
    double soc = v.soc_wh ? double(*v.soc_wh) : 0;
    for (std::size_t t = 0; t < n; ++t) {
      std::int64_t p = plan.power_w[i][t];
      if (p != 0 && !connected_in_slot(s, v, t))
        problems.push_back(who + slot_text(t) + ": power while not connected");
      if (p > v.max_charge_w) problems.push_back(who + slot_text(t) + ": above charge limit");
      if (p > 0 && p < min_charge(v))
        problems.push_back(who + slot_text(t) + ": charging below the vehicle's minimum power");
      if (p < 0) {
        if (-p > v.max_discharge_w)
          problems.push_back(who + slot_text(t) + ": above discharge limit");
        if (!discharge_permitted(s, v, t))
          problems.push_back(who + slot_text(t) +
                             ": discharge not permitted or not worth its price");
      }
      soc += p * dt;
      if (v.soc_wh) {
        if (p < 0 && soc < v.min_soc_wh)
          problems.push_back(who + slot_text(t) + ": discharged below minimum state of charge");
        if (v.capacity_wh && soc > *v.capacity_wh + 1e-6)
          problems.push_back(who + slot_text(t) + ": state of charge above capacity");
      }
    }
  }
  return problems;
}

}  // namespace chargegrid::scheduler
