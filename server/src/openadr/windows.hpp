#pragma once
// From an OpenADR event to demand-response windows: which sites its targets name, and what
// each interval asks of each of them (store/demand_response.hpp). Pure: the sites come in as
// data, so the built-in VTN and VEN mode translate the same way.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/demand_response.hpp"
#include "store/openadr.hpp"

namespace chargegrid::server::openadr {

using store::openadr::SiteIdentity;

struct TargetMatch {
  std::vector<std::int64_t> sites;  // sorted
  // Target values that name no site of `reach` ("POWER_SERVICE_LOCATION 'EAN-1'").
  std::vector<std::string> unmatched;
};

// The sites of `reach` an event's `targets` (an array of valuesMap, or null) name. Each target
// type the event uses narrows the sites: a site is named when, for every POWER_SERVICE_LOCATION
// and VEN_NAME target, its own name is among the values. No targets: every site of `reach`.
// Targets of other types are not matched against sites; an event with only such targets names
// none.
TargetMatch match_targets(const nlohmann::json& targets, const std::vector<SiteIdentity>& reach);

struct Translation {
  std::vector<store::demand_response::Window> windows;
  // What the event asks that cannot be honoured (an unknown unit, a price without currency);
  // the built-in VTN refuses such an event, VEN mode logs and applies the rest.
  std::vector<std::string> problems;
};

// The windows `event` (a well-formed event object with its id) imposes on `sites`. The
// payload descriptors come from the event, else from `program`. Intervals without their own
// intervalPeriod follow each other from the event's start; randomizeStart delays each site's
// windows by an offset in [0, randomizeStart] that depends only on the event and the site, so
// translating the same event again gives the same windows.
Translation translate(const nlohmann::json& event, const nlohmann::json& program,
                      const std::vector<std::int64_t>& sites);

// Each interval of `event` as `site` sees it (randomizeStart applied as for its windows): the
// interval's id and span. Intervals without a usable start, or without an end (PT0S, P9999Y),
// are left out.
struct IntervalSpan {
  int id = 0;
  std::chrono::system_clock::time_point start, end;
};
std::vector<IntervalSpan> interval_spans(const nlohmann::json& event, std::int64_t site);

}  // namespace chargegrid::server::openadr
