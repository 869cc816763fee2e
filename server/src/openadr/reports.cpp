#include "openadr/reports.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chargegrid/base/sha256.hpp"
#include "chargegrid/base/time.hpp"
#include "openadr/objects.hpp"
#include "openadr/windows.hpp"

namespace chargegrid::server::openadr {

using nlohmann::json;
using Clock = std::chrono::system_clock;

namespace {

constexpr const char* kUsage = "USAGE";
constexpr const char* kDemand = "DEMAND";
constexpr const char* kBaseline = "BASELINE";

// Three decimals: Wh resolution in kWh, W in kW.
double milli_round(double value) {
  return std::round(value * 1000.0) / 1000.0;
}

std::string iso_seconds(std::chrono::milliseconds length) {
  const auto ms = length.count();
  if (ms % 1000 == 0) return "PT" + std::to_string(ms / 1000) + "S";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "PT%.3fS", static_cast<double>(ms) / 1000.0);
  return buffer;
}

}  // namespace

std::vector<std::string> requested_payloads(const json& event) {
  std::vector<std::string> out;
  if (!event.contains("reportDescriptors") || !event["reportDescriptors"].is_array()) return out;
  for (const char* type : {kUsage, kDemand, kBaseline})
    for (const auto& d : event["reportDescriptors"])
      if (d.is_object() && d.value("payloadType", std::string()) == type) {
        out.emplace_back(type);
        break;
      }
  return out;
}

json report_object(const std::string& program_id, const std::string& event_id,
                   const std::string& client_name, std::int64_t site_id,
                   const std::vector<std::string>& payloads,
                   const std::vector<IntervalReading>& readings) {
  json descriptors = json::array();
  for (const auto& type : payloads)
    descriptors.push_back({{"objectType", "REPORT_PAYLOAD_DESCRIPTOR"},
                           {"payloadType", type},
                           {"readingType", type == kBaseline ? "PROJECTION" : "DIRECT_READ"},
                           {"units", type == kUsage ? "KWH" : "KW"}});
  json intervals = json::array();
  for (const auto& r : readings) {
    const auto length = std::chrono::duration_cast<std::chrono::milliseconds>(r.end - r.start);
    const double hours = static_cast<double>(length.count()) / 3.6e6;
    json interval_payloads = json::array();
    for (const auto& type : payloads) {
      if (type == kUsage)
        interval_payloads.push_back({{"type", type}, {"values", {milli_round(r.usage_wh / 1000)}}});
      else if (type == kDemand)
        interval_payloads.push_back(
            {{"type", type},
             {"values", {milli_round(hours > 0 ? r.usage_wh / 1000 / hours : 0.0)}}});
      else if (r.baseline_w)  // BASELINE only where a plan covered the interval
        interval_payloads.push_back(
            {{"type", type}, {"values", {milli_round(*r.baseline_w / 1000)}}});
    }
    intervals.push_back(
        {{"id", r.id},
         {"intervalPeriod",
          {{"start", base::format_rfc3339(r.start)}, {"duration", iso_seconds(length)}}},
         {"payloads", std::move(interval_payloads)}});
  }
  return {
      {"programID", program_id},
      {"eventID", event_id},
      {"clientName", client_name},
      {"reportName", event_id + " site " + std::to_string(site_id)},
      {"payloadDescriptors", std::move(descriptors)},
      {"resources",
       json::array({{{"resourceName", kAggregatedReport}, {"intervals", std::move(intervals)}}})}};
}

std::vector<SiteReport> event_reports(
    store::Tx& tx, const json& event, const std::vector<store::openadr::SiteIdentity>& reach,
    Clock::time_point now,
    const std::vector<std::pair<std::int64_t, std::string>>& reported_until) {
  std::vector<SiteReport> out;
  const auto payloads = requested_payloads(event);
  if (payloads.empty()) return out;
  const auto event_id = event.value("id", std::string());
  const auto program_id = event.value("programID", std::string());
  const auto match = match_targets(event.value("targets", json()), reach);
  for (auto site_id : match.sites) {
    std::optional<Clock::time_point> after;
    for (const auto& [site, until] : reported_until)
      if (site == site_id) after = base::parse_rfc3339(until);
    std::vector<IntervalReading> readings;
    for (const auto& span : interval_spans(event, site_id)) {
      if (span.end > now || (after && span.end <= *after)) continue;
      const auto from = base::format_rfc3339(span.start), to = base::format_rfc3339(span.end);
      readings.push_back({span.id, span.start, span.end,
                          store::openadr::site_import_wh(tx, site_id, from, to),
                          store::openadr::site_baseline_w(tx, site_id, from, to)});
    }
    if (readings.empty()) continue;
    SiteReport report;
    report.site_id = site_id;
    for (const auto& site : reach)
      if (site.site_id == site_id) report.client_name = site.ven_name;
    if (report.client_name.empty()) report.client_name = "site-" + std::to_string(site_id);
    for (const auto& r : readings) report.reported_until = std::max(report.reported_until, r.end);
    report.report =
        report_object(program_id, event_id, report.client_name, site_id, payloads, readings);
    out.push_back(std::move(report));
  }
  return out;
}

json served_report(const SiteReport& report) {
  auto out = report.report;
  const auto event_id = out.value("eventID", std::string());
  out["id"] =
      "report-" + base::sha256_hex(event_id + "/" + std::to_string(report.site_id)).substr(0, 24);
  out["objectType"] = "REPORT";
  out["createdDateTime"] = base::format_rfc3339(report.reported_until);
  out["modificationDateTime"] = out["createdDateTime"];
  return out;
}

namespace {

bool short_text(const json& value) {
  return value.is_string() && !value.get<std::string>().empty() &&
         value.get<std::string>().size() <= 128;
}

std::optional<std::string> unknown_member(const json& object, const std::string& where,
                                          std::initializer_list<const char*> names) {
  for (const auto& item : object.items()) {
    const std::string& name = item.key();
    if (std::find_if(names.begin(), names.end(), [&](const char* n) { return name == n; }) ==
        names.end())
      return where + name + ": not a member of the schema";
  }
  return std::nullopt;
}

std::optional<std::string> interval_period_problem(const json& period, const std::string& where) {
  if (!period.is_object()) return where + ": must be an object";
  if (!period.contains("start") || !period["start"].is_string() ||
      !base::parse_rfc3339(period["start"].get<std::string>()))
    return where + "/start: must be an RFC 3339 date-time";
  for (const char* member : {"duration", "randomizeStart"})
    if (period.contains(member) &&
        (!period[member].is_string() || !parse_duration(period[member].get<std::string>())))
      return where + "/" + member + ": must be an ISO 8601 duration";
  return unknown_member(period, where + "/", {"start", "duration", "randomizeStart"});
}

}  // namespace

std::optional<std::string> report_problem(const json& report) {
  if (!report.is_object()) return "must be an object";
  for (const char* member : {"programID", "eventID"})
    if (!report.contains(member) || !report[member].is_string() ||
        !is_object_id(report[member].get<std::string>()))
      return std::string(member) + ": must be an objectID";
  if (!report.contains("clientName") || !short_text(report["clientName"]))
    return "clientName: must be a string of 1 to 128 characters";
  if (report.contains("reportName") && !report["reportName"].is_string() &&
      !report["reportName"].is_null())
    return "reportName: must be a string";
  if (report.contains("payloadDescriptors") && !report["payloadDescriptors"].is_null()) {
    if (!report["payloadDescriptors"].is_array()) return "payloadDescriptors: must be an array";
    for (std::size_t i = 0; i < report["payloadDescriptors"].size(); ++i) {
      const auto& d = report["payloadDescriptors"][i];
      const auto where = "payloadDescriptors/" + std::to_string(i);
      if (!d.is_object() || !d.contains("payloadType") || !short_text(d["payloadType"]))
        return where + "/payloadType: must be a string of 1 to 128 characters";
      if (auto p = unknown_member(
              d, where + "/",
              {"objectType", "payloadType", "readingType", "units", "accuracy", "confidence"}))
        return p;
    }
  }
  if (!report.contains("resources") || !report["resources"].is_array())
    return "resources: must be an array";
  const auto& resources = report["resources"];
  for (std::size_t r = 0; r < resources.size(); ++r) {
    const auto where = "resources/" + std::to_string(r);
    const auto& resource = resources[r];
    if (!resource.is_object()) return where + ": must be an object";
    if (!resource.contains("resourceName") || !short_text(resource["resourceName"]))
      return where + "/resourceName: must be a string of 1 to 128 characters";
    if (resource.contains("intervalPeriod"))
      if (auto p = interval_period_problem(resource["intervalPeriod"], where + "/intervalPeriod"))
        return p;
    if (!resource.contains("intervals") || !resource["intervals"].is_array())
      return where + "/intervals: must be an array";
    const auto& intervals = resource["intervals"];
    for (std::size_t i = 0; i < intervals.size(); ++i) {
      const auto at = where + "/intervals/" + std::to_string(i);
      const auto& interval = intervals[i];
      if (!interval.is_object()) return at + ": must be an object";
      if (!interval.contains("id") || !interval["id"].is_number_integer())
        return at + "/id: must be an integer";
      if (interval.contains("intervalPeriod"))
        if (auto p = interval_period_problem(interval["intervalPeriod"], at + "/intervalPeriod"))
          return p;
      if (!interval.contains("payloads") || !interval["payloads"].is_array())
        return at + "/payloads: must be an array";
      for (std::size_t k = 0; k < interval["payloads"].size(); ++k) {
        const auto& payload = interval["payloads"][k];
        const auto pw = at + "/payloads/" + std::to_string(k);
        if (!payload.is_object() || !payload.contains("type") || !short_text(payload["type"]))
          return pw + "/type: must be a string of 1 to 128 characters";
        if (!payload.contains("values") || !payload["values"].is_array())
          return pw + "/values: must be an array";
        if (auto p = unknown_member(payload, pw + "/", {"type", "values"})) return p;
      }
      if (auto p = unknown_member(interval, at + "/", {"id", "intervalPeriod", "payloads"}))
        return p;
    }
    if (auto p =
            unknown_member(resource, where + "/", {"resourceName", "intervalPeriod", "intervals"}))
      return p;
  }
  return unknown_member(report, "",
                        {"id", "createdDateTime", "modificationDateTime", "objectType", "programID",
                         "eventID", "clientName", "reportName", "payloadDescriptors", "resources"});
}

}  // namespace chargegrid::server::openadr
