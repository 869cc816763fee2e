#pragma once
// A site's tariff: the one price model smart charging plans with and settlement bills with.
//
//   {"currency": "EUR",
//    "import": [{"days": ["mon","tue","wed","thu","fri"], "from": "07:00", "to": "22:00",
//                "price_minor_per_kwh": 31}, ...],
//    "export_credit_minor_per_kwh": 8,
//    "demand_response_credit_minor_per_kwh": 20,
//    "discharge_price_by_soc": [{"soc_from": 20, "soc_to": 60, "price_minor_per_kwh": 45}, ...]}
//
// Import bands are in the site's time zone ("to" may be "24:00"); every minute of the week is
// covered by exactly one band, or the whole tariff is refused with the gap or overlap named.
// Prices are integer minor units of the ISO 4217 currency per kWh.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chargegrid/base/time.hpp"

namespace chargegrid::server::tariff {

struct ImportBand {
  std::vector<int> days;  // 0 = Monday ... 6 = Sunday
  int from_minute = 0;    // minutes after local midnight
  int to_minute = 0;      // exclusive; 1440 for "24:00"
  std::int64_t price_minor_per_kwh = 0;
};

struct DischargeBand {
  double soc_from = 0;  // percent, inclusive
  double soc_to = 0;    // percent, exclusive (100 inclusive)
  std::int64_t price_minor_per_kwh = 0;
};

struct Tariff {
  std::string currency;
  std::vector<ImportBand> import;
  std::int64_t export_credit_minor_per_kwh = 0;
  // Paid per kWh of flexibility a session delivers during demand-response windows
  // (settlement/flexibility.hpp).
  std::int64_t demand_response_credit_minor_per_kwh = 0;
  std::vector<DischargeBand> discharge_price_by_soc;
};

// A tariff that does not add up: `path` is the JSON pointer of the offending member
// ("/import/2/to"), the message names the gap or overlap ("tue 22:00-23:00 is not covered").
struct TariffError : std::invalid_argument {
  TariffError(std::string pointer, const std::string& message)
      : std::invalid_argument(message), path(std::move(pointer)) {}
  std::string path;
};

// Throws TariffError.
Tariff parse(const nlohmann::json& document);
nlohmann::json to_json(const Tariff& tariff);

// The import price in force at `utc` for a site in IANA time zone `time_zone` ("Europe/Oslo").
// Throws std::invalid_argument for an unknown time zone.
std::int64_t import_price_at(const Tariff& tariff, base::TimePoint utc,
                             const std::string& time_zone);
// The operator's price for energy discharged at state of charge `soc_percent`; nullopt where no
// band covers it (the vehicle is not offered for discharge there).
std::optional<std::int64_t> discharge_price_at(const Tariff& tariff, double soc_percent);

}  // namespace chargegrid::server::tariff
