// The canonical energy report: what the verifiable log stores for a regulator's report of the
// energy each station delivered and exported in a period (a month or a quarter), the kind of
// report a low-carbon-fuel-standard credit programme asks of a charging operator.
//
// Serialised as RFC 8785 canonical JSON; docs/energy-report.schema.json describes it. It is told
// apart from a settlement record by its `record_type` ("energy_report"), which settlement records
// do not have. Energy is in Wh; the verified share in parts per million, so the record holds no
// floating-point values.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chargegrid/ledger/settlement_record.hpp"

namespace chargegrid::ledger {

inline constexpr const char* kEnergyReportType = "energy_report";
inline constexpr int kEnergyReportSchemaVersion = 1;

// What one station (or the whole report) delivered in the period: sessions that ended in it.
struct EnergyFigures {
  std::int64_t sessions = 0;
  std::int64_t sessions_verified = 0;    // signed meter data verified
  std::int64_t energy_delivered_wh = 0;  // imported by vehicles
  std::int64_t energy_exported_wh = 0;   // discharged by vehicles (V2G)
  std::int64_t verified_energy_wh = 0;   // delivered in verified sessions
  // verified_energy_wh / energy_delivered_wh in parts per million, half to even; 0 without energy.
  std::int64_t verified_share_ppm() const;
};

struct StationEnergy {
  std::string station_id;
  std::string site_id;  // "" when the station has no site
  EnergyFigures figures;
};

struct EnergyReport {
  int schema_version = kEnergyReportSchemaVersion;
  std::string report_id;                // "rpt-<period>-<site id or all>"
  std::string period;                   // "2026-11" (a month) or "2026-Q4" (a quarter)
  TimePoint period_start;               // UTC, inclusive
  TimePoint period_end;                 // UTC, exclusive
  std::string site_id;                  // "" : every site
  std::vector<StationEnergy> stations;  // ordered by station id, then site
  TimePoint generated_at;

  EnergyFigures totals() const;
};

nlohmann::json to_json(const EnergyReport& report);
// Throws RecordError naming the field that is missing, of the wrong type, out of range or
// inconsistent (a share or total that does not match the figures).
EnergyReport energy_report_from_json(const nlohmann::json& json);
std::string canonical_energy_report(const EnergyReport& report);

// parts per million of `part` in `whole`, rounded half to even; 0 when whole is 0.
std::int64_t share_ppm(std::int64_t part, std::int64_t whole);

}  // namespace chargegrid::ledger
