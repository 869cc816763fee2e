#pragma once
// Money for a session's packets. Prices are integer minor units of an ISO 4217 currency per kWh;
// each packet is priced at the rate in force at its start. Amounts are summed exactly (in
// thousandths of a minor unit: Wh × minor/kWh) and rounded once per record, half to even
// (banker's rounding). Each price component shows its own rounded amount; the record's total is
// the exact sum rounded once, so it may differ from the sum of the shown components by less than
// one minor unit per component.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/base/time.hpp"
#include "chargegrid/ledger/settlement_record.hpp"
#include "settlement/packets.hpp"
#include "tariff/tariff.hpp"

namespace chargegrid::server::settlement {

// What the site's tariff says, as lookups (tariff/tariff.hpp gives them).
struct Prices {
  std::string currency;  // ISO 4217
  std::function<std::int64_t(base::TimePoint)> import_minor_per_kwh;
  std::int64_t export_credit_minor_per_kwh = 0;
};

struct Money {
  std::vector<ledger::PriceComponent> components;
  std::int64_t total_minor = 0;
  std::int64_t exact_thousandths = 0;  // the total before rounding (minor / 1000)
};

// The lookups of a site's tariff in IANA time zone `time_zone`; throws std::invalid_argument for
// an unknown time zone.
Prices prices_of(const tariff::Tariff& tariff, const std::string& time_zone);

// x / 1000 rounded half to even.
std::int64_t round_thousandths_half_even(std::int64_t thousandths);

// Import charged per distinct price ("energy"), export credited ("export_credit", negative).
Money price(const std::vector<Packet>& packets, const Prices& prices);

}  // namespace chargegrid::server::settlement
