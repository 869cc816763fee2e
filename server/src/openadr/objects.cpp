#include "openadr/objects.hpp"

#include <cctype>
#include <set>
#include <string_view>

#include "chargegrid/base/time.hpp"

namespace chargegrid::server::openadr {
namespace {

using nlohmann::json;

// A problem found at `where`; thrown inside this file only.
struct Bad {
  std::string text;
};

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw Bad{(where.empty() ? "" : where + ": ") + what};
}

std::string at(const std::string& base, const std::string& member) {
  return base.empty() ? member : base + "/" + member;
}

// Set while checking an object read from another VTN, whose extensions are passed over.
thread_local bool allow_extensions = false;

void only_members(const json& object, const std::string& where,
                  std::initializer_list<const char*> names) {
  if (allow_extensions) return;
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (auto name : names) known = known || key == name;
    if (!known) bad(at(where, key), "is not a member of this object in OpenADR 3.0.1");
  }
}

void object(const json& value, const std::string& where) {
  if (!value.is_object()) bad(where, "must be an object");
}

// Optional members may also be null (the schemas mark them nullable).
const json* optional_member(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

void string_member(const json& object, const std::string& where, const char* name, bool required,
                   std::size_t min_length = 0, std::size_t max_length = 0) {
  const auto* value = optional_member(object, name);
  if (!value) {
    if (required) bad(at(where, name), "is required");
    return;
  }
  if (!value->is_string()) bad(at(where, name), "must be a string");
  const auto size = value->get_ref<const std::string&>().size();
  if (size < min_length) bad(at(where, name), "must not be empty");
  if (max_length && size > max_length)
    bad(at(where, name), "must be at most " + std::to_string(max_length) + " characters");
}

void boolean_member(const json& object, const std::string& where, const char* name) {
  const auto* value = optional_member(object, name);
  if (value && !value->is_boolean()) bad(at(where, name), "must be true or false");
}

void integer_member(const json& object, const std::string& where, const char* name, bool required,
                    std::optional<long long> minimum = std::nullopt) {
  const auto* value = optional_member(object, name);
  if (!value) {
    if (required) bad(at(where, name), "is required");
    return;
  }
  if (!value->is_number_integer()) bad(at(where, name), "must be an integer");
  if (minimum && value->get<long long>() < *minimum)
    bad(at(where, name), "must be at least " + std::to_string(*minimum));
  if (value->get<long long>() > 2147483647 || value->get<long long>() < -2147483648LL)
    bad(at(where, name), "must be a 32-bit integer");
}

void duration_member(const json& object, const std::string& where, const char* name) {
  const auto* value = optional_member(object, name);
  if (!value) return;
  if (!value->is_string() || !parse_duration(value->get<std::string>()))
    bad(at(where, name), "must be an ISO 8601 duration such as PT1H");
}

void interval_period(const json& value, const std::string& where) {
  object(value, where);
  only_members(value, where, {"start", "duration", "randomizeStart"});
  const auto* start = optional_member(value, "start");
  if (!start) bad(at(where, "start"), "is required");
  if (!start->is_string() || !base::parse_rfc3339(start->get<std::string>()))
    bad(at(where, "start"), "must be an RFC 3339 date-time such as 2026-12-05T16:00:00Z");
  duration_member(value, where, "duration");
  duration_member(value, where, "randomizeStart");
}

void values_map(const json& value, const std::string& where) {
  object(value, where);
  only_members(value, where, {"type", "values"});
  string_member(value, where, "type", true, 1, 128);
  const auto* values = optional_member(value, "values");
  if (!values) bad(at(where, "values"), "is required");
  if (!values->is_array()) bad(at(where, "values"), "must be an array");
  for (std::size_t i = 0; i < values->size(); ++i) {
    const auto& item = (*values)[i];
    const auto item_at = at(at(where, "values"), std::to_string(i));
    if (item.is_number() || item.is_string() || item.is_boolean()) continue;
    if (item.is_object()) {  // a point
      only_members(item, item_at, {"x", "y"});
      for (auto axis : {"x", "y"})
        if (!item.contains(axis) || !item[axis].is_number())
          bad(at(item_at, axis), "must be a number");
      continue;
    }
    bad(item_at, "must be a number, string, boolean or point");
  }
}

template <class Fn>
void array_member(const json& object, const std::string& where, const char* name, bool required,
                  Fn each) {
  const auto* value = optional_member(object, name);
  if (!value) {
    if (required) bad(at(where, name), "is required");
    return;
  }
  if (!value->is_array()) bad(at(where, name), "must be an array");
  for (std::size_t i = 0; i < value->size(); ++i)
    each((*value)[i], at(at(where, name), std::to_string(i)));
}

void object_type(const json& value, const std::string& where, const char* expected) {
  const auto* type = optional_member(value, "objectType");
  if (type && *type != expected) bad(at(where, "objectType"), std::string("must be ") + expected);
}

void event_payload_descriptor(const json& value, const std::string& where) {
  object(value, where);
  only_members(value, where, {"objectType", "payloadType", "units", "currency"});
  object_type(value, where, "EVENT_PAYLOAD_DESCRIPTOR");
  string_member(value, where, "payloadType", true, 1, 128);
  string_member(value, where, "units", false);
  string_member(value, where, "currency", false);
}

void report_payload_descriptor(const json& value, const std::string& where) {
  only_members(value, where,
               {"objectType", "payloadType", "readingType", "units", "accuracy", "confidence"});
  string_member(value, where, "payloadType", true, 1, 128);
  string_member(value, where, "readingType", false);
  string_member(value, where, "units", false);
  const auto* accuracy = optional_member(value, "accuracy");
  if (accuracy && !accuracy->is_number()) bad(at(where, "accuracy"), "must be a number");
  integer_member(value, where, "confidence", false, 0);
}

void report_descriptor(const json& value, const std::string& where) {
  object(value, where);
  only_members(value, where,
               {"payloadType", "readingType", "units", "targets", "aggregate", "startInterval",
                "numIntervals", "historical", "frequency", "repeat"});
  string_member(value, where, "payloadType", true, 1, 128);
  string_member(value, where, "readingType", false);
  string_member(value, where, "units", false);
  array_member(value, where, "targets", false, values_map);
  boolean_member(value, where, "aggregate");
  boolean_member(value, where, "historical");
  for (auto name : {"startInterval", "numIntervals", "frequency", "repeat"})
    integer_member(value, where, name, false);
}

void interval(const json& value, const std::string& where) {
  object(value, where);
  only_members(value, where, {"id", "intervalPeriod", "payloads"});
  integer_member(value, where, "id", true);
  if (const auto* period = optional_member(value, "intervalPeriod"))
    interval_period(*period, at(where, "intervalPeriod"));
  array_member(value, where, "payloads", true, values_map);
}

void program(const json& value) {
  object(value, "");
  only_members(value, "",
               {"id", "createdDateTime", "modificationDateTime", "objectType", "programName",
                "programLongName", "retailerName", "retailerLongName", "programType", "country",
                "principalSubdivision", "timeZoneOffset", "intervalPeriod", "programDescriptions",
                "bindingEvents", "localPrice", "payloadDescriptors", "targets"});
  object_type(value, "", "PROGRAM");
  string_member(value, "", "programName", true, 1, 128);
  for (auto name : {"programLongName", "retailerName", "retailerLongName", "programType", "country",
                    "principalSubdivision"})
    string_member(value, "", name, false);
  duration_member(value, "", "timeZoneOffset");
  if (const auto* period = optional_member(value, "intervalPeriod"))
    interval_period(*period, "intervalPeriod");
  array_member(value, "", "programDescriptions", false, [](const json& d, const std::string& w) {
    object(d, w);
    only_members(d, w, {"URL"});
    string_member(d, w, "URL", true, 1);
  });
  boolean_member(value, "", "bindingEvents");
  boolean_member(value, "", "localPrice");
  array_member(value, "", "payloadDescriptors", false, [](const json& d, const std::string& w) {
    object(d, w);
    const auto* type = optional_member(d, "objectType");
    if (type && *type == "REPORT_PAYLOAD_DESCRIPTOR")
      report_payload_descriptor(d, w);
    else
      event_payload_descriptor(d, w);
  });
  array_member(value, "", "targets", false, values_map);
}

void event(const json& value) {
  object(value, "");
  only_members(value, "",
               {"id", "createdDateTime", "modificationDateTime", "objectType", "programID",
                "eventName", "priority", "targets", "reportDescriptors", "payloadDescriptors",
                "intervalPeriod", "intervals"});
  object_type(value, "", "EVENT");
  const auto* program_id = optional_member(value, "programID");
  if (!program_id) bad("programID", "is required");
  if (!program_id->is_string() || !is_object_id(program_id->get<std::string>()))
    bad("programID", "must be an objectID (1 to 128 of A-Z, a-z, 0-9, _ and -)");
  string_member(value, "", "eventName", false);
  integer_member(value, "", "priority", false, 0);
  array_member(value, "", "targets", false, values_map);
  array_member(value, "", "reportDescriptors", false, report_descriptor);
  array_member(value, "", "payloadDescriptors", false, event_payload_descriptor);
  const auto* period = optional_member(value, "intervalPeriod");
  if (period) interval_period(*period, "intervalPeriod");
  array_member(value, "", "intervals", true, interval);
  const auto& intervals = value["intervals"];
  std::set<long long> ids;
  for (std::size_t i = 0; i < intervals.size(); ++i) {
    if (!period && !optional_member(intervals[i], "intervalPeriod"))
      bad("intervals/" + std::to_string(i),
          "has no intervalPeriod and the event has none to give it a start");
    if (!ids.insert(intervals[i]["id"].get<long long>()).second)
      bad("intervals/" + std::to_string(i) + "/id", "repeats another interval's id");
  }
}

template <class Fn>
std::optional<std::string> problem_of(Fn check) {
  try {
    check();
    return std::nullopt;
  } catch (const Bad& b) {
    return b.text;
  }
}

}  // namespace

std::optional<std::string> program_problem(const json& value) {
  return problem_of([&] { program(value); });
}

std::optional<std::string> event_problem(const json& value, Members members) {
  allow_extensions = members == Members::kExtensionsAllowed;
  auto problem = problem_of([&] { event(value); });
  allow_extensions = false;
  return problem;
}

json without_vtn_fields(json object) {
  for (auto name : {"id", "createdDateTime", "modificationDateTime", "objectType"})
    object.erase(name);
  return object;
}

bool is_object_id(const std::string& text) {
  if (text.empty() || text.size() > 128) return false;
  for (unsigned char c : text)
    if (!std::isalnum(c) && c != '_' && c != '-') return false;
  return true;
}

std::optional<Duration> parse_duration(const std::string& text) {
  // [-]P[nY][nM][nW|nD][T[nH][nM][n[.f]S]] with at least one part.
  std::string_view s(text);
  if (s.starts_with('-')) return std::nullopt;  // a negative length means nothing here
  if (!s.starts_with('P')) return std::nullopt;
  s.remove_prefix(1);
  bool time = false, any = false;
  double seconds = 0;
  long long years = 0;
  std::string_view date_units = "YMWD", time_units = "HMS";
  std::size_t last_date = 0, last_time = 0;  // units must come in order, once each
  while (!s.empty()) {
    if (s.front() == 'T') {
      if (time) return std::nullopt;
      time = true;
      s.remove_prefix(1);
      if (s.empty()) return std::nullopt;
      continue;
    }
    std::size_t n = 0;
    while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) ++n;
    if (n == 0 || n > 9) return std::nullopt;
    std::size_t digits_end = n;
    if (time && n < s.size() && s[n] == '.') {
      ++n;
      const auto fraction_start = n;
      while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) ++n;
      if (n == fraction_start || n >= s.size() || s[n] != 'S') return std::nullopt;
    }
    if (n >= s.size()) return std::nullopt;
    const double value = std::stod(std::string(s.substr(0, n)));
    const char unit = s[n];
    const auto units = time ? time_units : date_units;
    const auto position = units.find(unit);
    auto& last = time ? last_time : last_date;
    if (position == std::string_view::npos || position + 1 <= last) return std::nullopt;
    last = position + 1;
    if (unit == 'S' && !time) return std::nullopt;
    if (digits_end != n && unit != 'S') return std::nullopt;
    if (!time) {
      if (unit == 'Y') years = static_cast<long long>(value);
      seconds += value * (unit == 'Y'   ? 365 * 86400.0
                          : unit == 'M' ? 30 * 86400.0
                          : unit == 'W' ? 7 * 86400.0
                                        : 86400.0);
    } else {
      seconds += value * (unit == 'H' ? 3600.0 : unit == 'M' ? 60.0 : 1.0);
    }
    any = true;
    s.remove_prefix(n + 1);
  }
  if (!any) return std::nullopt;
  Duration d;
  if (years >= 9999) {
    d.open_ended = true;
    return d;
  }
  d.length = std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0 + 0.5));
  return d;
}

}  // namespace chargegrid::server::openadr
