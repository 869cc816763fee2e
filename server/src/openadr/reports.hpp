#pragma once
// OpenADR 3.0.1 reports of what ChargeGrid's sites did during an event: for an event whose
// reportDescriptors ask for USAGE (kWh), DEMAND (kW) or BASELINE (kW), one `report` per site
// the event targets, its one resource AGGREGATED_REPORT, one interval per event interval that
// has ended. USAGE and DEMAND are measured from the meter registers of the site's stations,
// BASELINE is the smart-charging plan's baseline for those slots. The built-in VTN serves them
// (GET /reports); VEN mode posts them to the utility's VTN (URL/reports).

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/openadr.hpp"
#include "store/transaction.hpp"

namespace chargegrid::server::openadr {

inline constexpr const char* kAggregatedReport = "AGGREGATED_REPORT";

// The payload types among USAGE, DEMAND and BASELINE the event's reportDescriptors ask for,
// in that order; empty when the event asks for no report ChargeGrid makes.
std::vector<std::string> requested_payloads(const nlohmann::json& event);

// One ended interval of an event at one site.
struct IntervalReading {
  int id = 0;
  std::chrono::system_clock::time_point start, end;
  double usage_wh = 0;
  std::optional<double> baseline_w;  // none: no plan covered the interval
};

// The report object (without the VTN's id and dates): programID, eventID, clientName,
// reportName, payloadDescriptors and resources[{resourceName AGGREGATED_REPORT, intervals}].
nlohmann::json report_object(const std::string& program_id, const std::string& event_id,
                             const std::string& client_name, std::int64_t site_id,
                             const std::vector<std::string>& payloads,
                             const std::vector<IntervalReading>& readings);

// A site's report of an event, with the intervals that ended by `now` after `after` (none:
// all of them).
struct SiteReport {
  std::int64_t site_id = 0;
  std::string client_name;                                 // the site's ven_name, else "site-<id>"
  std::chrono::system_clock::time_point reported_until{};  // end of its last interval
  nlohmann::json report;
};
// Every site of `reach` the event targets that has at least one such interval.
std::vector<SiteReport> event_reports(
    store::Tx& tx, const nlohmann::json& event,
    const std::vector<store::openadr::SiteIdentity>& reach,
    std::chrono::system_clock::time_point now,
    const std::vector<std::pair<std::int64_t, std::string>>& reported_until = {});

// The report as the built-in VTN serves it: with an id derived from the event and the site,
// objectType REPORT, and the end of its last interval as created and modified date-time.
nlohmann::json served_report(const SiteReport& report);

// The first problem of a report a VEN posts (the 3.0.1 `report` schema: required programID,
// eventID, clientName and resources, each resource a resourceName and its intervals, each
// interval an integer id and its payloads; no members the schema does not name), naming the
// member; nullopt when it is well formed. The VTN's fields are passed over.
std::optional<std::string> report_problem(const nlohmann::json& report);

}  // namespace chargegrid::server::openadr
