#include "settlement/flexibility.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "settlement/pricing.hpp"

namespace chargegrid::server::settlement {
namespace {

double hours_between(base::TimePoint from, base::TimePoint to) {
  return std::chrono::duration<double, std::ratio<3600>>(to - from).count();
}

// Windows of different events may overlap; each moment counts once, for the window that
// started first (then the lower event id).
std::vector<FlexibilityWindow> disjoint(std::vector<FlexibilityWindow> windows) {
  std::sort(windows.begin(), windows.end(), [](const auto& a, const auto& b) {
    return a.start != b.start ? a.start < b.start : a.event_id < b.event_id;
  });
  std::vector<FlexibilityWindow> out;
  base::TimePoint covered_until = base::TimePoint::min();
  for (auto& w : windows) {
    const auto start = std::max(w.start, covered_until);
    if (w.end <= start) continue;
    covered_until = w.end;
    out.push_back({std::move(w.event_id), start, w.end});
  }
  return out;
}

}  // namespace

Flexibility flexibility(const std::vector<Packet>& packets, const FlexibilityInput& input) {
  Flexibility out;
  if (input.windows.empty() || input.evse_max_power_w <= 0 || packets.empty()) return out;
  std::int64_t delivered_wh = input.imported_before_wh;
  for (const auto& p : packets) delivered_wh += p.imported_wh;
  const auto power_w = static_cast<double>(input.evse_max_power_w);
  // What the baseline has delivered by `t`: full power from plug-in, until the session's energy.
  const auto baseline_by = [&](base::TimePoint t) {
    return std::min(power_w * std::max(0.0, hours_between(input.plugin, t)),
                    static_cast<double>(delivered_wh));
  };

  std::map<std::string, double> wh_by_event;
  for (const auto& w : disjoint(input.windows)) {
    for (const auto& p : packets) {
      const auto from = std::max(p.start, w.start), to = std::min(p.end, w.end);
      const double length = hours_between(p.start, p.end);
      if (to <= from || length <= 0) continue;
      const double share = hours_between(from, to) / length;
      const double baseline = baseline_by(to) - baseline_by(from);
      const double flexible = std::max(0.0, baseline - share * static_cast<double>(p.imported_wh)) +
                              share * static_cast<double>(p.exported_wh);
      wh_by_event[w.event_id] += flexible;
    }
  }
  for (const auto& [event_id, wh] : wh_by_event) {
    const auto energy_wh = static_cast<std::int64_t>(std::llround(wh));
    if (energy_wh <= 0) continue;
    const std::int64_t exact = energy_wh * input.credit_minor_per_kwh;  // minor / 1000
    out.exact_credit_thousandths += exact;
    out.credits.push_back({event_id, energy_wh, round_thousandths_half_even(exact)});
  }
  return out;
}

}  // namespace chargegrid::server::settlement
