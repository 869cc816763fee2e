// The demand-response credit: flexibility against the uncontrolled baseline, per event, only
// inside windows, never counting a moment twice.

#include "settlement/flexibility.hpp"

#include <catch2/catch.hpp>

#include "chargegrid/base/time.hpp"

using namespace chargegrid::server::settlement;
using std::chrono::hours;
using std::chrono::minutes;

namespace {

const auto t0 = *chargegrid::base::parse_rfc3339("2026-03-02T17:00:00Z");

// Quarter-hour packets from t0 with the given imported Wh.
std::vector<Packet> quarters(const std::vector<std::int64_t>& imported,
                             const std::vector<std::int64_t>& exported = {}) {
  std::vector<Packet> out;
  for (std::size_t i = 0; i < imported.size(); ++i)
    out.push_back({t0 + minutes(15 * i), t0 + minutes(15 * (i + 1)), imported[i],
                   i < exported.size() ? exported[i] : 0, false});
  return out;
}

}  // namespace

TEST_CASE("a vehicle held back during a window is credited what it did not draw",
          "[settlement][flexibility]") {
  // 11 kW uncontrolled would draw 2,750 Wh a quarter; the session took 8,000 Wh in all, so the
  // baseline is 2,750, 2,750, 2,500, 0. The window covers the first hour; the vehicle drew
  // 1,000 Wh a quarter in it and the rest afterwards.
  FlexibilityInput in;
  in.plugin = t0;
  in.evse_max_power_w = 11000;
  in.windows = {{"evt-peak", t0, t0 + hours(1)}};
  in.credit_minor_per_kwh = 20;
  const auto packets = quarters({1000, 1000, 1000, 1000, 4000});
  const auto flex = flexibility(packets, in);
  REQUIRE(flex.credits.size() == 1);
  CHECK(flex.credits[0].event_id == "evt-peak");
  CHECK(flex.credits[0].energy_wh == 1750 + 1750 + 1500);  // the fourth quarter: baseline 0
  CHECK(flex.exact_credit_thousandths == 5000 * 20);
  CHECK(flex.credits[0].amount_minor == 100);
}

TEST_CASE("no window, no power or a vehicle that drew its baseline earns nothing",
          "[settlement][flexibility]") {
  FlexibilityInput in;
  in.plugin = t0;
  in.evse_max_power_w = 11000;
  in.credit_minor_per_kwh = 20;
  CHECK(flexibility(quarters({2750, 2750}), in).credits.empty());  // no window
  in.windows = {{"evt", t0, t0 + hours(1)}};
  CHECK(flexibility(quarters({2750, 2750}), in).credits.empty());  // drew as uncontrolled
  in.evse_max_power_w = 0;
  CHECK(flexibility(quarters({0, 0, 5500}), in).credits.empty());
}

TEST_CASE("a window covering part of a packet counts that part only", "[settlement][flexibility]") {
  FlexibilityInput in;
  in.plugin = t0;
  in.evse_max_power_w = 12000;  // 3,000 Wh a quarter
  in.credit_minor_per_kwh = 10;
  // The window starts 5 minutes into the second quarter and ends 5 minutes into the third.
  in.windows = {{"evt", t0 + minutes(20), t0 + minutes(35)}};
  // The session took 9,000 Wh: baseline 3,000 a quarter for three quarters.
  const auto flex = flexibility(quarters({3000, 1500, 1500, 3000}), in);
  REQUIRE(flex.credits.size() == 1);
  // Second quarter: 10 of 15 minutes: baseline 2,000 − 1,000 drawn; third: 5 of 15: 1,000 − 500.
  CHECK(flex.credits[0].energy_wh == 1000 + 500);
}

TEST_CASE("overlapping events share the time, and export counts as flexibility",
          "[settlement][flexibility]") {
  FlexibilityInput in;
  in.plugin = t0;
  in.evse_max_power_w = 12000;
  in.credit_minor_per_kwh = 10;
  in.windows = {{"evt-b", t0 + minutes(15), t0 + minutes(45)}, {"evt-a", t0, t0 + minutes(30)}};
  // Baseline 3,000 a quarter while the 6,000 Wh the session took lasts: quarters 0 and 1.
  // Quarter 0 (evt-a): 3,000 − 0; quarter 1 (evt-a, which started first): 3,000 − 0 + 400
  // exported; quarter 2 (evt-b): baseline 0, 200 exported.
  const auto flex = flexibility(quarters({0, 0, 0, 6000}, {0, 400, 200}), in);
  REQUIRE(flex.credits.size() == 2);
  CHECK(flex.credits[0].event_id == "evt-a");
  CHECK(flex.credits[0].energy_wh == 6400);
  CHECK(flex.credits[1].event_id == "evt-b");
  CHECK(flex.credits[1].energy_wh == 200);
  CHECK(flex.exact_credit_thousandths == 6600 * 10);
}

TEST_CASE("an interim record's baseline continues from the energy settled before",
          "[settlement][flexibility]") {
  // Plugged in an hour before these packets at 4 kW: by t0 the baseline has delivered 4,000 Wh.
  // The earlier records settled 3,000 Wh; these packets 2,000 more: 5,000 in all, so the
  // baseline delivers the last 1,000 Wh in the first quarter here.
  FlexibilityInput in;
  in.plugin = t0 - hours(1);
  in.evse_max_power_w = 4000;
  in.imported_before_wh = 3000;
  in.credit_minor_per_kwh = 10;
  in.windows = {{"evt", t0, t0 + hours(1)}};
  const auto flex = flexibility(quarters({0, 0, 1000, 1000}), in);
  REQUIRE(flex.credits.size() == 1);
  CHECK(flex.credits[0].energy_wh == 1000);
}
