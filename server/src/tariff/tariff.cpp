#include "tariff/tariff.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>
#include <string_view>

#include "chargegrid/base/time_zone.hpp"

namespace chargegrid::server::tariff {
namespace {

using nlohmann::json;

constexpr int kMinutesPerDay = 24 * 60;
// More bands than any real tariff has; the bound keeps the minute-by-minute week check cheap.
constexpr std::size_t kMaxImportBands = 1000;
constexpr std::size_t kMaxDischargeBands = 100;
constexpr int kDaysPerWeek = 7;
constexpr std::array<std::string_view, kDaysPerWeek> kDayNames = {"mon", "tue", "wed", "thu",
                                                                  "fri", "sat", "sun"};

// ISO 4217 alphabetic codes a price can be given in: the currencies and funds, not the precious
// metals, bond units, drawing rights, "testing" or "no currency".
constexpr std::array<std::string_view, 170> kCurrencies = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR",
    "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW",
    "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG",
    "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
    "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
    "ZWL"};

std::string two_digits(int value) {
  return std::string(1, static_cast<char>('0' + value / 10)) + static_cast<char>('0' + value % 10);
}

std::string clock_text(int minute_of_day) {
  return two_digits(minute_of_day / 60) + ":" + two_digits(minute_of_day % 60);
}

std::string number_text(double value) {
  if (value == std::floor(value)) return std::to_string(static_cast<long long>(value));
  json number = value;
  return number.dump();
}

const json& member(const json& object, const std::string& name, const std::string& path) {
  const auto it = object.find(name);
  if (it == object.end()) throw TariffError(path + "/" + name, name + " is required");
  return *it;
}

void refuse_unknown_members(const json& object, std::initializer_list<std::string_view> known,
                            const std::string& path) {
  for (const auto& [name, value] : object.items()) {
    if (std::find(known.begin(), known.end(), name) == known.end())
      throw TariffError(path + "/" + name, name + " is not a tariff member");
  }
}

std::int64_t price(const json& value, const std::string& path) {
  if (value.is_number_unsigned()) {
    if (value.get<std::uint64_t>() >
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw TariffError(path, "the price is too large");
    return static_cast<std::int64_t>(value.get<std::uint64_t>());
  }
  if (value.is_number_integer()) {
    if (value.get<std::int64_t>() < 0) throw TariffError(path, "a price must not be negative");
    return value.get<std::int64_t>();
  }
  throw TariffError(path, "a price must be a whole number of minor currency units per kWh");
}

std::string currency(const json& value, const std::string& path) {
  if (!value.is_string()) throw TariffError(path, "currency must be a string");
  const auto code = value.get<std::string>();
  if (std::find(kCurrencies.begin(), kCurrencies.end(), code) == kCurrencies.end())
    throw TariffError(path, "'" + code + "' is not an ISO 4217 alphabetic currency code");
  return code;
}

std::vector<int> days(const json& value, const std::string& path) {
  if (!value.is_array() || value.empty())
    throw TariffError(path, "days must be a non-empty array of mon, tue, wed, thu, fri, sat, sun");
  std::vector<int> out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string item_path = path + "/" + std::to_string(i);
    const auto& day = value[i];
    const auto name = day.is_string() ? day.get<std::string>() : std::string();
    const auto it = std::find(kDayNames.begin(), kDayNames.end(), name);
    if (it == kDayNames.end())
      throw TariffError(item_path, (day.is_string() ? "'" + name + "'" : day.dump()) +
                                       " is not a day (mon, tue, wed, thu, fri, sat, sun)");
    const int index = static_cast<int>(it - kDayNames.begin());
    if (std::find(out.begin(), out.end(), index) != out.end())
      throw TariffError(item_path, name + " is listed twice");
    out.push_back(index);
  }
  return out;
}

// "HH:MM" as minutes after midnight; "24:00" (1440) only where `end_of_day_allowed`.
int clock(const json& value, const std::string& path, bool end_of_day_allowed) {
  const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  const bool shaped = value.is_string() && text.size() == 5 && text[2] == ':' &&
                      std::all_of(text.begin(), text.end(),
                                  [](char c) { return c == ':' || (c >= '0' && c <= '9'); });
  if (shaped) {
    const int hours = (text[0] - '0') * 10 + (text[1] - '0');
    const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
    if (hours < 24 && minutes < 60) return hours * 60 + minutes;
    if (hours == 24 && minutes == 0) {
      if (end_of_day_allowed) return kMinutesPerDay;
      throw TariffError(path, "24:00 is only allowed as the end of a band");
    }
  }
  throw TariffError(path, text + " is not a time of day \"HH:MM\"");
}

ImportBand import_band(const json& value, const std::string& path) {
  if (!value.is_object()) throw TariffError(path, "an import band must be an object");
  refuse_unknown_members(value, {"days", "from", "to", "price_minor_per_kwh"}, path);
  ImportBand band;
  band.days = days(member(value, "days", path), path + "/days");
  band.from_minute = clock(member(value, "from", path), path + "/from", false);
  band.to_minute = clock(member(value, "to", path), path + "/to", true);
  if (band.to_minute <= band.from_minute)
    throw TariffError(path + "/to", "to (" + clock_text(band.to_minute) +
                                        ") must be later than from (" +
                                        clock_text(band.from_minute) + ")");
  band.price_minor_per_kwh =
      price(member(value, "price_minor_per_kwh", path), path + "/price_minor_per_kwh");
  return band;
}

double soc(const json& value, const std::string& path) {
  if (!value.is_number() || !std::isfinite(value.get<double>()))
    throw TariffError(path, "a state of charge must be a number of percent");
  const double percent = value.get<double>();
  if (percent < 0 || percent > 100)
    throw TariffError(path, "a state of charge must lie within 0..100 percent");
  return percent;
}

DischargeBand discharge_band(const json& value, const std::string& path) {
  if (!value.is_object()) throw TariffError(path, "a discharge band must be an object");
  refuse_unknown_members(value, {"soc_from", "soc_to", "price_minor_per_kwh"}, path);
  DischargeBand band;
  band.soc_from = soc(member(value, "soc_from", path), path + "/soc_from");
  band.soc_to = soc(member(value, "soc_to", path), path + "/soc_to");
  if (band.soc_to <= band.soc_from)
    throw TariffError(path + "/soc_to", "soc_to must be greater than soc_from");
  band.price_minor_per_kwh =
      price(member(value, "price_minor_per_kwh", path), path + "/price_minor_per_kwh");
  return band;
}

std::string week_span(int day, int from_minute, int to_minute) {
  return std::string(kDayNames[day]) + " " + clock_text(from_minute) + "-" + clock_text(to_minute);
}

// Every minute of the week must belong to exactly one band: the first gap or overlap in week
// order (Monday 00:00 first) refuses the tariff.
void check_week_coverage(const std::vector<ImportBand>& bands) {
  constexpr int kNone = -1;
  std::vector<std::array<int, 2>> owners(kDaysPerWeek * kMinutesPerDay, {kNone, kNone});
  for (std::size_t i = 0; i < bands.size(); ++i) {
    for (const int day : bands[i].days) {
      for (int minute = bands[i].from_minute; minute < bands[i].to_minute; ++minute) {
        auto& owner = owners[day * kMinutesPerDay + minute];
        if (owner[0] == kNone)
          owner[0] = static_cast<int>(i);
        else if (owner[1] == kNone)
          owner[1] = static_cast<int>(i);
      }
    }
  }
  for (int day = 0; day < kDaysPerWeek; ++day) {
    const auto at = [&](int minute) { return owners[day * kMinutesPerDay + minute]; };
    for (int minute = 0; minute < kMinutesPerDay; ++minute) {
      const auto owner = at(minute);
      if (owner[0] != kNone && owner[1] == kNone) continue;
      int end = minute + 1;
      while (end < kMinutesPerDay && at(end) == owner) ++end;
      if (owner[0] == kNone)
        throw TariffError("/import", week_span(day, minute, end) + " is not covered");
      throw TariffError("/import/" + std::to_string(owner[1]),
                        week_span(day, minute, end) + " is covered by import/" +
                            std::to_string(owner[0]) + " and import/" + std::to_string(owner[1]));
    }
  }
}

void check_discharge_bands_apart(const std::vector<DischargeBand>& bands) {
  std::vector<std::size_t> order(bands.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return bands[a].soc_from < bands[b].soc_from;
  });
  for (std::size_t k = 1; k < order.size(); ++k) {
    const auto& before = bands[order[k - 1]];
    const auto& after = bands[order[k]];
    if (after.soc_from < before.soc_to) {
      const auto later = std::max(order[k - 1], order[k]);
      const auto earlier = std::min(order[k - 1], order[k]);
      throw TariffError("/discharge_price_by_soc/" + std::to_string(later),
                        "state of charge " + number_text(after.soc_from) + "-" +
                            number_text(std::min(before.soc_to, after.soc_to)) +
                            " % is covered by discharge_price_by_soc/" + std::to_string(earlier) +
                            " and discharge_price_by_soc/" + std::to_string(later));
    }
  }
}

json soc_json(double percent) {
  if (percent == std::floor(percent)) return static_cast<std::int64_t>(percent);
  return percent;
}

}  // namespace

Tariff parse(const json& document) {
  if (!document.is_object()) throw TariffError("", "a tariff must be a JSON object");
  refuse_unknown_members(document,
                         {"currency", "import", "export_credit_minor_per_kwh",
                          "demand_response_credit_minor_per_kwh", "discharge_price_by_soc"},
                         "");
  Tariff tariff;
  tariff.currency = currency(member(document, "currency", ""), "/currency");

  const json& import = member(document, "import", "");
  if (!import.is_array()) throw TariffError("/import", "import must be an array of bands");
  if (import.size() > kMaxImportBands)
    throw TariffError("/import",
                      "a tariff has at most " + std::to_string(kMaxImportBands) + " import bands");
  for (std::size_t i = 0; i < import.size(); ++i)
    tariff.import.push_back(import_band(import[i], "/import/" + std::to_string(i)));
  check_week_coverage(tariff.import);

  if (const auto it = document.find("export_credit_minor_per_kwh"); it != document.end())
    tariff.export_credit_minor_per_kwh = price(*it, "/export_credit_minor_per_kwh");
  if (const auto it = document.find("demand_response_credit_minor_per_kwh"); it != document.end())
    tariff.demand_response_credit_minor_per_kwh =
        price(*it, "/demand_response_credit_minor_per_kwh");

  if (const auto it = document.find("discharge_price_by_soc"); it != document.end()) {
    if (!it->is_array())
      throw TariffError("/discharge_price_by_soc", "discharge_price_by_soc must be an array");
    if (it->size() > kMaxDischargeBands)
      throw TariffError(
          "/discharge_price_by_soc",
          "a tariff has at most " + std::to_string(kMaxDischargeBands) + " discharge bands");
    for (std::size_t i = 0; i < it->size(); ++i)
      tariff.discharge_price_by_soc.push_back(
          discharge_band((*it)[i], "/discharge_price_by_soc/" + std::to_string(i)));
    check_discharge_bands_apart(tariff.discharge_price_by_soc);
  }
  return tariff;
}

json to_json(const Tariff& tariff) {
  json import = json::array();
  for (const auto& band : tariff.import) {
    json day_names = json::array();
    for (const int day : band.days) day_names.push_back(kDayNames.at(day));
    import.push_back({{"days", day_names},
                      {"from", clock_text(band.from_minute)},
                      {"to", clock_text(band.to_minute)},
                      { "price_minor_per_kwh",
                        band.price_minor_per_kwh }});
  }
  json discharge = json::array();
  for (const auto& band : tariff.discharge_price_by_soc)
    discharge.push_back({{"soc_from", soc_json(band.soc_from)},
                         {"soc_to", soc_json(band.soc_to)},
                         {"price_minor_per_kwh", band.price_minor_per_kwh}});
  return {{"currency", tariff.currency},
          {"import", import},
          {"export_credit_minor_per_kwh", tariff.export_credit_minor_per_kwh},
          {"demand_response_credit_minor_per_kwh", tariff.demand_response_credit_minor_per_kwh},
          {"discharge_price_by_soc", discharge}};
}

std::int64_t import_price_at(const Tariff& tariff, base::TimePoint utc,
                             const std::string& time_zone) {
  const base::LocalDateTime local = base::TimeZone(time_zone).to_local(utc);
  const int minute = local.minute_of_day();
  for (const auto& band : tariff.import) {
    if (minute < band.from_minute || minute >= band.to_minute) continue;
    if (std::find(band.days.begin(), band.days.end(), local.weekday) != band.days.end())
      return band.price_minor_per_kwh;
  }
  throw std::invalid_argument("tariff: no import band covers " +
                              week_span(local.weekday, minute, minute + 1));
}

std::optional<std::int64_t> discharge_price_at(const Tariff& tariff, double soc_percent) {
  for (const auto& band : tariff.discharge_price_by_soc) {
    const bool below_end = soc_percent < band.soc_to || (band.soc_to == 100 && soc_percent == 100);
    if (soc_percent >= band.soc_from && below_end) return band.price_minor_per_kwh;
  }
  return std::nullopt;
}

}  // namespace chargegrid::server::tariff
