#include "chargegrid/ledger/energy_report.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "chargegrid/ledger/jcs.hpp"

namespace chargegrid::ledger {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxWh = 1'000'000'000'000'000;  // 10^15 Wh: far above any period

const json& member(const json& object, const std::string& where, const char* name) {
  if (!object.is_object()) throw RecordError(where + ": must be an object");
  auto it = object.find(name);
  if (it == object.end())
    throw RecordError(where + (where.empty() ? "" : ".") + name + ": missing");
  return *it;
}

std::string field(const std::string& where, const char* name) {
  return where.empty() ? name : where + "." + name;
}

std::int64_t integer(const json& object, const std::string& where, const char* name,
                     std::int64_t min = 0, std::int64_t max = kMaxWh) {
  const auto& v = member(object, where, name);
  if (!v.is_number_integer()) throw RecordError(field(where, name) + ": must be an integer");
  const auto n = v.get<std::int64_t>();
  if (n < min || n > max) throw RecordError(field(where, name) + ": out of range");
  return n;
}

std::string text(const json& object, const std::string& where, const char* name) {
  const auto& v = member(object, where, name);
  if (!v.is_string()) throw RecordError(field(where, name) + ": must be a string");
  return v.get<std::string>();
}

TimePoint time(const json& object, const std::string& where, const char* name) {
  auto t = parse_time(text(object, where, name));
  if (!t) throw RecordError(field(where, name) + ": not an RFC 3339 UTC time with milliseconds");
  return *t;
}

void only(const json& object, const std::string& where, std::initializer_list<const char*> names) {
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (std::none_of(names.begin(), names.end(), [&](const char* n) { return key == n; }))
      throw RecordError(field(where, key.c_str()) + ": unknown member");
  }
}

json figures_json(const EnergyFigures& f) {
  return {{"sessions", f.sessions},
          {"sessions_verified", f.sessions_verified},
          {"energy_delivered_wh", f.energy_delivered_wh},
          {"energy_exported_wh", f.energy_exported_wh},
          {"verified_energy_wh", f.verified_energy_wh},
          {"verified_share_ppm", f.verified_share_ppm()}};
}

// Reads the figures of `object` (members of a station or of the totals) and checks them.
EnergyFigures figures_from(const json& object, const std::string& where) {
  EnergyFigures f;
  f.sessions = integer(object, where, "sessions");
  f.sessions_verified = integer(object, where, "sessions_verified", 0, f.sessions);
  f.energy_delivered_wh = integer(object, where, "energy_delivered_wh");
  f.energy_exported_wh = integer(object, where, "energy_exported_wh");
  f.verified_energy_wh = integer(object, where, "verified_energy_wh", 0, f.energy_delivered_wh);
  if (integer(object, where, "verified_share_ppm", 0, 1'000'000) != f.verified_share_ppm())
    throw RecordError(field(where, "verified_share_ppm") +
                      ": does not match verified_energy_wh / energy_delivered_wh");
  return f;
}

bool operator==(const EnergyFigures& a, const EnergyFigures& b) {
  return a.sessions == b.sessions && a.sessions_verified == b.sessions_verified &&
         a.energy_delivered_wh == b.energy_delivered_wh &&
         a.energy_exported_wh == b.energy_exported_wh &&
         a.verified_energy_wh == b.verified_energy_wh;
}

}  // namespace

std::int64_t share_ppm(std::int64_t part, std::int64_t whole) {
  if (whole <= 0 || part < 0) return 0;
  // Long division, one decimal digit at a time, so that part * 10^6 never overflows.
  std::int64_t quotient = part / whole, rest = part % whole;
  for (int digit = 0; digit < 6; ++digit) {
    rest *= 10;
    quotient = quotient * 10 + rest / whole;
    rest %= whole;
  }
  if (2 * rest > whole || (2 * rest == whole && quotient % 2 != 0)) ++quotient;
  return quotient;
}

std::int64_t EnergyFigures::verified_share_ppm() const {
  return share_ppm(verified_energy_wh, energy_delivered_wh);
}

EnergyFigures EnergyReport::totals() const {
  EnergyFigures t;
  for (const auto& s : stations) {
    t.sessions += s.figures.sessions;
    t.sessions_verified += s.figures.sessions_verified;
    t.energy_delivered_wh += s.figures.energy_delivered_wh;
    t.energy_exported_wh += s.figures.energy_exported_wh;
    t.verified_energy_wh += s.figures.verified_energy_wh;
  }
  return t;
}

json to_json(const EnergyReport& r) {
  json stations = json::array();
  for (const auto& s : r.stations) {
    auto entry = figures_json(s.figures);
    entry["station_id"] = s.station_id;
    entry["site_id"] = s.site_id;
    stations.push_back(std::move(entry));
  }
  return {{"record_type", kEnergyReportType},
          {"schema_version", r.schema_version},
          {"report_id", r.report_id},
          {"period", r.period},
          {"period_start", format_time(r.period_start)},
          {"period_end", format_time(r.period_end)},
          {"site_id", r.site_id},
          {"stations", stations},
          {"totals", figures_json(r.totals())},
          {"generated_at", format_time(r.generated_at)}};
}

EnergyReport energy_report_from_json(const json& j) {
  if (!j.is_object()) throw RecordError("the report must be a JSON object");
  only(j, "",
       {"record_type", "schema_version", "report_id", "period", "period_start", "period_end",
        "site_id", "stations", "totals", "generated_at"});
  if (text(j, "", "record_type") != kEnergyReportType)
    throw RecordError(std::string("record_type: must be \"") + kEnergyReportType + "\"");
  EnergyReport r;
  r.schema_version = static_cast<int>(integer(j, "", "schema_version", 1, 1000));
  if (r.schema_version != kEnergyReportSchemaVersion)
    throw RecordError("schema_version: unsupported version " + std::to_string(r.schema_version));
  r.report_id = text(j, "", "report_id");
  if (r.report_id.empty()) throw RecordError("report_id: empty");
  r.period = text(j, "", "period");
  r.period_start = time(j, "", "period_start");
  r.period_end = time(j, "", "period_end");
  if (r.period_end <= r.period_start) throw RecordError("period_end: not after period_start");
  r.site_id = text(j, "", "site_id");
  const auto& stations = member(j, "", "stations");
  if (!stations.is_array()) throw RecordError("stations: must be an array");
  std::set<std::pair<std::string, std::string>> seen;  // a station that moved has a row per site
  for (std::size_t i = 0; i < stations.size(); ++i) {
    const auto where = "stations[" + std::to_string(i) + "]";
    const auto& s = stations[i];
    if (!s.is_object()) throw RecordError(where + ": must be an object");
    only(s, where,
         {"station_id", "site_id", "sessions", "sessions_verified", "energy_delivered_wh",
          "energy_exported_wh", "verified_energy_wh", "verified_share_ppm"});
    StationEnergy station{text(s, where, "station_id"), text(s, where, "site_id"),
                          figures_from(s, where)};
    if (station.station_id.empty()) throw RecordError(where + ".station_id: empty");
    if (!seen.insert({station.station_id, station.site_id}).second)
      throw RecordError(where + ".station_id: listed twice for its site");
    r.stations.push_back(std::move(station));
  }
  const auto& totals = member(j, "", "totals");
  only(totals, "totals",
       {"sessions", "sessions_verified", "energy_delivered_wh", "energy_exported_wh",
        "verified_energy_wh", "verified_share_ppm"});
  if (!(figures_from(totals, "totals") == r.totals()))
    throw RecordError("totals: not the sum of the stations' figures");
  r.generated_at = time(j, "", "generated_at");
  return r;
}

std::string canonical_energy_report(const EnergyReport& report) {
  return canonical_json(to_json(report));
}

}  // namespace chargegrid::ledger
