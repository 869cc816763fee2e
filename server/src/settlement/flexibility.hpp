#pragma once
// The demand-response credit of a settlement record: the flexibility a session delivered while
// a demand-response window limited its site's import, measured against a baseline.
//
// The baseline is the session uncontrolled: its EVSE's maximum power from plug-in until the
// energy it took had been delivered ("charging as soon as plugged in", the counterfactual EV
// flexibility programmes measure against). In each packet, the share of it inside a window
// that limits import (an import limit or subscription) is compared with what the meter
// measured there:
//
//   flexibility = max(0, baseline energy − imported energy) + exported energy
//
// both prorated by the time the window covers of the packet. The energy the baseline delivers
// is the session's imported energy up to the record's end (for an interim record: so far — a
// lower bound, so the credit is never overstated). Each event's flexibility is credited at the
// tariff's demand_response_credit_minor_per_kwh.

#include <cstdint>
#include <string>
#include <vector>

#include "chargegrid/base/time.hpp"
#include "chargegrid/ledger/settlement_record.hpp"
#include "settlement/packets.hpp"

namespace chargegrid::server::settlement {

struct FlexibilityWindow {
  std::string event_id;
  base::TimePoint start, end;
};

struct FlexibilityInput {
  base::TimePoint plugin;                  // the session's start
  std::int64_t evse_max_power_w = 0;       // the baseline's power
  std::int64_t imported_before_wh = 0;     // by the session's earlier records
  std::vector<FlexibilityWindow> windows;  // that limit the site's import
  std::int64_t credit_minor_per_kwh = 0;
};

struct Flexibility {
  std::vector<ledger::DemandResponseCredit> credits;  // one per event with energy, by event id
  std::int64_t exact_credit_thousandths = 0;          // their sum, unrounded (minor/1000)
};

Flexibility flexibility(const std::vector<Packet>& packets, const FlexibilityInput& input);

}  // namespace chargegrid::server::settlement
