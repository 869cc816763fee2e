#include "settlement/packets.hpp"

#include <algorithm>
#include <cmath>

namespace chargegrid::server::settlement {
namespace {

using base::TimePoint;

struct Series {
  std::vector<RegisterReading> readings;  // by time, never decreasing
};

// Sorted, repeats merged, readings below an earlier one dropped with an error each.
Series clean(std::vector<RegisterReading> readings, const char* name,
             std::vector<std::string>& errors) {
  std::sort(readings.begin(), readings.end(), [](const auto& a, const auto& b) {
    return a.time < b.time || (a.time == b.time && a.wh < b.wh);
  });
  Series out;
  for (const auto& r : readings) {
    if (!out.readings.empty()) {
      const auto& last = out.readings.back();
      if (r.wh < last.wh) {
        errors.push_back(std::string(name) + " register went backwards at " +
                         base::format_rfc3339(r.time) + ": " + std::to_string(std::llround(r.wh)) +
                         " Wh after " + std::to_string(std::llround(last.wh)) + " Wh");
        continue;
      }
      if (r.time == last.time) continue;  // the same instant again: the first value stays
    }
    out.readings.push_back(r);
  }
  return out;
}

// The register at `t`: linear between the readings around it, the nearest one outside them.
double register_at(const Series& s, TimePoint t) {
  const auto& r = s.readings;
  auto after = std::lower_bound(r.begin(), r.end(), t,
                                [](const RegisterReading& a, TimePoint v) { return a.time < v; });
  if (after == r.end()) return r.back().wh;
  if (after->time == t || after == r.begin()) return after->wh;
  auto before = std::prev(after);
  const double span = std::chrono::duration<double>(after->time - before->time).count();
  const double part = std::chrono::duration<double>(t - before->time).count();
  return before->wh + (after->wh - before->wh) * part / span;
}

bool reading_within(const Series& s, TimePoint a, TimePoint b) {
  auto it = std::lower_bound(s.readings.begin(), s.readings.end(), a,
                             [](const RegisterReading& r, TimePoint v) { return r.time < v; });
  return it != s.readings.end() && it->time <= b;
}

// Whole-Wh register values at each boundary, pinned at the ends when given, never decreasing.
std::vector<std::int64_t> registers(const Series& s, const std::vector<TimePoint>& bounds,
                                    std::optional<std::int64_t> first,
                                    std::optional<std::int64_t> last) {
  std::vector<std::int64_t> out;
  out.reserve(bounds.size());
  for (auto t : bounds)
    out.push_back(s.readings.empty() ? 0
                                     : static_cast<std::int64_t>(std::llround(register_at(s, t))));
  if (first) out.front() = *first;
  if (last) out.back() = *last;
  // Pinned ends may lie outside what the samples say: keep every packet at zero or above.
  for (std::size_t i = 1; i < out.size(); ++i) out[i] = std::max(out[i], out[i - 1]);
  if (last && out.back() != *last) {
    // The stop register is below a sample: the samples give way to the pinned value.
    for (auto& v : out) v = std::min(v, *last);
  }
  return out;
}

// The start and stop registers are readings too, at the session's start and end: between them
// and the sampled readings the register is interpolated (a session with no samples rises evenly
// from start to stop).
Series with_ends(Series series, TimePoint start, TimePoint end, std::optional<std::int64_t> first,
                 std::optional<std::int64_t> last) {
  auto& r = series.readings;
  if (first && (r.empty() || r.front().time > start))
    r.insert(r.begin(), {start, static_cast<double>(*first)});
  if (last && (r.empty() || r.back().time < end)) r.push_back({end, static_cast<double>(*last)});
  return series;
}

}  // namespace

std::vector<TimePoint> boundaries(TimePoint start, TimePoint end, std::chrono::minutes interval,
                                  std::chrono::minutes utc_offset) {
  std::vector<TimePoint> out{start};
  if (end <= start || interval.count() <= 0) {
    out.push_back(std::max(start, end));
    return out;
  }
  // The first aligned boundary after start: local time is a whole number of intervals.
  const auto local = start + utc_offset;
  const auto since_epoch =
      std::chrono::duration_cast<std::chrono::milliseconds>(local.time_since_epoch());
  const auto step = std::chrono::duration_cast<std::chrono::milliseconds>(interval);
  auto aligned_local = since_epoch - (since_epoch % step + step) % step + step;
  TimePoint next =
      TimePoint(std::chrono::duration_cast<TimePoint::duration>(aligned_local)) - utc_offset;
  for (; next < end; next += interval) out.push_back(next);
  out.push_back(end);
  return out;
}

Packets make_packets(const PacketInput& input) {
  Packets out;
  const auto import = clean(input.import, "import", out.errors);
  const auto exported = clean(input.export_, "export", out.errors);
  if (import.readings.empty() && !input.import_start_wh)
    out.errors.push_back("no import register reading for the session");
  if (input.import_start_wh && input.import_stop_wh &&
      *input.import_stop_wh < *input.import_start_wh)
    out.errors.push_back("import register went backwards over the session: " +
                         std::to_string(*input.import_stop_wh) + " Wh at the end after " +
                         std::to_string(*input.import_start_wh) + " Wh at the start");
  if (input.export_start_wh && input.export_stop_wh &&
      *input.export_stop_wh < *input.export_start_wh)
    out.errors.push_back("export register went backwards over the session: " +
                         std::to_string(*input.export_stop_wh) + " Wh at the end after " +
                         std::to_string(*input.export_start_wh) + " Wh at the start");
  const auto bounds = boundaries(input.start, input.end, input.interval, input.utc_offset);
  auto in = registers(
      with_ends(import, input.start, input.end, input.import_start_wh, input.import_stop_wh),
      bounds, input.import_start_wh, input.import_stop_wh);
  out.has_export = !exported.readings.empty() || input.export_start_wh || input.export_stop_wh;
  auto ex = registers(
      with_ends(exported, input.start, input.end, input.export_start_wh, input.export_stop_wh),
      bounds, input.export_start_wh, input.export_stop_wh);
  for (std::size_t i = 1; i < bounds.size(); ++i) {
    Packet p;
    p.start = bounds[i - 1];
    p.end = bounds[i];
    p.imported_wh = std::max<std::int64_t>(0, in[i] - in[i - 1]);
    p.exported_wh = out.has_export ? std::max<std::int64_t>(0, ex[i] - ex[i - 1]) : 0;
    // Registers the session was settled from count as readings at its ends.
    const bool import_read = reading_within(import, p.start, p.end) ||
                             (input.import_start_wh && i == 1) ||
                             (input.import_stop_wh && i + 1 == bounds.size());
    const bool export_read = reading_within(exported, p.start, p.end) ||
                             (input.export_start_wh && i == 1) ||
                             (input.export_stop_wh && i + 1 == bounds.size());
    p.estimated = !import_read || (out.has_export && !export_read);
    out.intervals.push_back(p);
  }
  out.import_start_wh = in.front();
  out.import_stop_wh = in.back();
  if (out.has_export) {
    out.export_start_wh = ex.front();
    out.export_stop_wh = ex.back();
  }
  return out;
}

}  // namespace chargegrid::server::settlement
