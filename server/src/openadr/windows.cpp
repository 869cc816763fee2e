#include "openadr/windows.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "chargegrid/base/sha256.hpp"
#include "chargegrid/base/time.hpp"
#include "openadr/objects.hpp"

namespace chargegrid::server::openadr {
namespace {

using base::TimePoint;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kPowerServiceLocation = "POWER_SERVICE_LOCATION";
constexpr const char* kVenName = "VEN_NAME";
constexpr const char* kOpenEnd = "9999-12-31T23:59:59Z";

const json& array_or_empty(const json& object, const char* name) {
  static const json empty = json::array();
  auto it = object.find(name);
  return it != object.end() && it->is_array() ? *it : empty;
}

std::vector<std::string> text_values(const json& values_map) {
  std::vector<std::string> out;
  for (const auto& v : array_or_empty(values_map, "values"))
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// ISO 4217 currencies whose minor unit is not a hundredth.
int minor_unit_exponent(const std::string& currency) {
  static const std::map<std::string, int> exceptions{
      {"BIF", 0}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0}, {"ISK", 0}, {"JPY", 0}, {"KMF", 0},
      {"KRW", 0}, {"PYG", 0}, {"RWF", 0}, {"UGX", 0}, {"UYI", 0}, {"VND", 0}, {"VUV", 0},
      {"XAF", 0}, {"XOF", 0}, {"XPF", 0}, {"BHD", 3}, {"IQD", 3}, {"JOD", 3}, {"KWD", 3},
      {"LYD", 3}, {"OMR", 3}, {"TND", 3}, {"CLF", 4}, {"UYW", 4}};
  auto it = exceptions.find(currency);
  return it == exceptions.end() ? 2 : it->second;
}

bool is_currency_code(const std::string& text) {
  return text.size() == 3 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

struct Descriptor {
  std::string units, currency;
};

// payloadType -> descriptor: the event's descriptors, else the program's.
std::map<std::string, Descriptor> descriptors(const json& event, const json& program) {
  std::map<std::string, Descriptor> out;
  for (const auto* source : {&program, &event})
    for (const auto& d : array_or_empty(*source, "payloadDescriptors")) {
      if (!d.is_object() || !d.contains("payloadType") || !d["payloadType"].is_string()) continue;
      if (d.value("objectType", "EVENT_PAYLOAD_DESCRIPTOR") != "EVENT_PAYLOAD_DESCRIPTOR") continue;
      Descriptor descriptor;
      if (d.contains("units") && d["units"].is_string()) descriptor.units = d["units"];
      if (d.contains("currency") && d["currency"].is_string()) descriptor.currency = d["currency"];
      out[d["payloadType"].get<std::string>()] = descriptor;
    }
  return out;
}

// The fraction of randomizeStart by which `site` starts late: the same for every
// translation of the event.
double random_fraction(const std::string& event_id, std::int64_t site) {
  const auto digest = base::sha256(event_id + "/" + std::to_string(site));
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n = (n << 8) | digest[i];
  return static_cast<double>(n >> 11) / static_cast<double>(1ULL << 53);
}

struct Period {
  TimePoint start;
  std::optional<TimePoint> end;  // nullopt: no end
  milliseconds randomize{0};
};

// What one interval asks, in the windows table's units.
struct Asks {
  std::optional<double> import_limit_w, export_limit_w, import_subscription_w;
  std::optional<double> import_price_minor, export_price_minor;
  std::string currency;
  bool any() const {
    return import_limit_w || export_limit_w || import_subscription_w || import_price_minor ||
           export_price_minor;
  }
};

class Translator {
 public:
  Translator(const json& event, const json& program)
      : event_(event), descriptors_(descriptors(event, program)) {}

  Translation run(const std::vector<std::int64_t>& sites) {
    Translation out;
    const auto periods = interval_periods();
    std::vector<Asks> asks;
    for (const auto& interval : array_or_empty(event_, "intervals"))
      asks.push_back(asks_of(interval));
    out.problems = problems_;
    const auto event_id = event_.value("id", std::string());
    for (auto site : sites) {
      const double fraction = random_fraction(event_id, site);
      for (std::size_t i = 0; i < periods.size(); ++i) {
        if (!periods[i] || !asks[i].any()) continue;
        const auto delay = milliseconds(
            static_cast<long long>(std::floor(fraction * periods[i]->randomize.count())));
        store::demand_response::Window w;
        w.event_id = event_id;
        w.program_id = event_.value("programID", std::string());
        w.site_id = site;
        w.starts_at = base::format_rfc3339(periods[i]->start + delay);
        w.ends_at = periods[i]->end ? base::format_rfc3339(*periods[i]->end + delay) : kOpenEnd;
        w.import_limit_w = asks[i].import_limit_w;
        w.export_limit_w = asks[i].export_limit_w;
        w.import_subscription_w = asks[i].import_subscription_w;
        w.import_price_minor_per_kwh = asks[i].import_price_minor;
        w.export_price_minor_per_kwh = asks[i].export_price_minor;
        w.currency = asks[i].currency;
        out.windows.push_back(std::move(w));
      }
    }
    return out;
  }

  std::vector<IntervalSpan> spans(std::int64_t site) {
    std::vector<IntervalSpan> out;
    const auto periods = interval_periods();
    const auto& intervals = array_or_empty(event_, "intervals");
    const double fraction = random_fraction(event_.value("id", std::string()), site);
    for (std::size_t i = 0; i < periods.size(); ++i) {
      if (!periods[i] || !periods[i]->end) continue;
      const auto delay = milliseconds(
          static_cast<long long>(std::floor(fraction * periods[i]->randomize.count())));
      const auto& id = intervals[i].contains("id") ? intervals[i]["id"] : json();
      out.push_back({id.is_number_integer() ? id.get<int>() : static_cast<int>(i),
                     periods[i]->start + delay, *periods[i]->end + delay});
    }
    return out;
  }

 private:
  void problem(std::string text) { problems_.push_back(std::move(text)); }

  // Each interval's period (nullopt where it has none that can be used).
  std::vector<std::optional<Period>> interval_periods() {
    std::vector<std::optional<Period>> out;
    const json* event_period =
        event_.contains("intervalPeriod") && event_["intervalPeriod"].is_object()
            ? &event_["intervalPeriod"]
            : nullptr;
    // Where a contiguous interval begins (has_next false: nowhere, the last one had no end).
    TimePoint next_start{};
    bool has_next = false;
    if (event_period) {
      if (auto start = base::parse_rfc3339(event_period->value("start", ""))) {
        next_start = *start;
        has_next = true;
      }
    }
    const auto& intervals = array_or_empty(event_, "intervals");
    for (std::size_t i = 0; i < intervals.size(); ++i) {
      const auto where = "intervals/" + std::to_string(i);
      const json* own =
          intervals[i].contains("intervalPeriod") && intervals[i]["intervalPeriod"].is_object()
              ? &intervals[i]["intervalPeriod"]
              : nullptr;
      // Each member comes from the interval's own period, else the event's.
      auto member = [&](const char* name) -> std::string {
        for (const auto* p : {own, event_period})
          if (p && p->contains(name) && (*p)[name].is_string()) return (*p)[name];
        return "";
      };
      TimePoint start = next_start;
      bool has_start = has_next;
      if (own && own->contains("start")) {
        auto own_start = base::parse_rfc3339(own->value("start", ""));
        has_start = own_start.has_value();
        if (own_start) start = *own_start;
      }
      if (!has_start) {
        problem(where + " follows an interval that has no end, so it has no start");
        out.push_back(std::nullopt);
        has_next = false;
        continue;
      }
      Period period{start, std::nullopt, milliseconds(0)};
      const auto duration =
          parse_duration(member("duration").empty() ? "PT0S" : member("duration"));
      // PT0S, the default, is "until further notice" for limits and prices.
      if (duration && !duration->open_ended && duration->length.count() > 0)
        period.end = start + duration->length;
      if (auto randomize = parse_duration(member("randomizeStart")); randomize)
        period.randomize = randomize->open_ended ? milliseconds(0) : randomize->length;
      has_next = period.end.has_value();
      if (has_next) next_start = *period.end;
      out.push_back(period);
    }
    return out;
  }

  std::optional<double> number(const json& values_map, const std::string& where) {
    const auto& values = array_or_empty(values_map, "values");
    if (values.empty() || !values[0].is_number()) {
      problem(where + ": a " + values_map.value("type", "") + " value must be a number");
      return std::nullopt;
    }
    return values[0].get<double>();
  }

  // W per unit of a capacity payload.
  std::optional<double> watts_per_unit(const std::string& type, const std::string& where) {
    const auto units = descriptors_.count(type) ? descriptors_[type].units : "";
    if (units.empty() || units == "KW") return 1000.0;
    if (units == "W") return 1.0;
    if (units == "MW") return 1e6;
    problem(where + ": " + type + " in units '" + units + "' cannot be used; use KW or W");
    return std::nullopt;
  }

  std::optional<double> capacity(const json& payload, const std::string& type,
                                 const std::string& where) {
    auto value = number(payload, where);
    auto factor = watts_per_unit(type, where);
    if (!value || !factor) return std::nullopt;
    if (*value < 0) {
      problem(where + ": a " + type + " must not be negative");
      return std::nullopt;
    }
    return *value * *factor;
  }

  // A price in minor units per kWh, and its currency.
  std::optional<double> price(const json& payload, const std::string& type,
                              const std::string& where, std::string& currency) {
    auto value = number(payload, where);
    if (!value) return std::nullopt;
    const auto descriptor = descriptors_.count(type) ? descriptors_[type] : Descriptor{};
    if (!is_currency_code(descriptor.currency)) {
      problem(where + ": a " + type +
              " needs an ISO 4217 currency in its payload descriptor (e.g. EUR)");
      return std::nullopt;
    }
    double per_kwh = *value;
    if (descriptor.units == "MWH")
      per_kwh /= 1000.0;
    else if (!descriptor.units.empty() && descriptor.units != "KWH") {
      problem(where + ": a " + type + " per '" + descriptor.units + "' cannot be used; use KWH");
      return std::nullopt;
    }
    if (!currency.empty() && currency != descriptor.currency) {
      problem(where + ": PRICE and EXPORT_PRICE must be in one currency");
      return std::nullopt;
    }
    currency = descriptor.currency;
    return per_kwh * std::pow(10.0, minor_unit_exponent(currency));
  }

  Asks asks_of(const json& interval) {
    Asks asks;
    const auto& payloads = array_or_empty(interval, "payloads");
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      const auto& payload = payloads[i];
      const auto type = payload.value("type", std::string());
      const auto where =
          "intervals/" + std::to_string(interval.value("id", 0)) + "/payloads/" + std::to_string(i);
      if (type == "IMPORT_CAPACITY_LIMIT")
        asks.import_limit_w = capacity(payload, type, where);
      else if (type == "EXPORT_CAPACITY_LIMIT")
        asks.export_limit_w = capacity(payload, type, where);
      else if (type == "IMPORT_CAPACITY_SUBSCRIPTION")
        asks.import_subscription_w = capacity(payload, type, where);
      else if (type == "PRICE")
        asks.import_price_minor = price(payload, type, where, asks.currency);
      else if (type == "EXPORT_PRICE")
        asks.export_price_minor = price(payload, type, where, asks.currency);
      // Other payload types ask nothing of a site's charging.
    }
    return asks;
  }

  const json& event_;
  std::map<std::string, Descriptor> descriptors_;
  std::vector<std::string> problems_;
};

}  // namespace

TargetMatch match_targets(const json& targets, const std::vector<SiteIdentity>& reach) {
  TargetMatch out;
  if (!targets.is_array() || targets.empty()) {
    for (const auto& site : reach) out.sites.push_back(site.site_id);
    std::sort(out.sites.begin(), out.sites.end());
    return out;
  }
  std::set<std::string> locations, ven_names;
  bool by_location = false, by_ven = false;
  for (const auto& target : targets) {
    const auto type = target.value("type", std::string());
    if (type == kPowerServiceLocation) {
      by_location = true;
      for (auto& v : text_values(target)) locations.insert(v);
    } else if (type == kVenName) {
      by_ven = true;
      for (auto& v : text_values(target)) ven_names.insert(v);
    }
  }
  auto known = [&](auto field, const std::set<std::string>& values, const char* type) {
    for (const auto& value : values) {
      bool found = std::any_of(reach.begin(), reach.end(),
                               [&](const SiteIdentity& s) { return s.*field == value; });
      if (!found) out.unmatched.push_back(std::string(type) + " '" + value + "'");
    }
  };
  known(&SiteIdentity::power_service_location, locations, kPowerServiceLocation);
  known(&SiteIdentity::ven_name, ven_names, kVenName);
  if (!by_location && !by_ven) return out;
  for (const auto& site : reach) {
    if (by_location && !locations.contains(site.power_service_location)) continue;
    if (by_ven && !ven_names.contains(site.ven_name)) continue;
    out.sites.push_back(site.site_id);
  }
  std::sort(out.sites.begin(), out.sites.end());
  return out;
}

std::vector<IntervalSpan> interval_spans(const json& event, std::int64_t site) {
  return Translator(event, json::object()).spans(site);
}

Translation translate(const json& event, const json& program,
                      const std::vector<std::int64_t>& sites) {
  return Translator(event, program).run(sites);
}

}  // namespace chargegrid::server::openadr
