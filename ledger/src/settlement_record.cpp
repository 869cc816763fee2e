#include "chargegrid/ledger/settlement_record.hpp"

#include <algorithm>

#include "chargegrid/base/enum_names.hpp"
#include "chargegrid/base/time.hpp"
#include "chargegrid/ledger/jcs.hpp"

namespace chargegrid::ledger {
namespace {

using nlohmann::json;

constexpr auto kVerificationNames =
    base::enum_names<MeterVerification>({{MeterVerification::kVerified, "verified"},
                                         {MeterVerification::kUnverified, "unverified"},
                                         {MeterVerification::kFailed, "failed"},
                                         {MeterVerification::kNotSigned, "not_signed"}});
constexpr auto kKindNames = base::enum_names<SettlementKind>(
    {{SettlementKind::kInterim, "interim"}, {SettlementKind::kFinal, "final"}});

// Field access that names the field in every error.
class Reader {
 public:
  Reader(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object_.is_object()) throw RecordError(path_ + ": must be an object");
  }
  const json& at(const char* name) const {
    auto it = object_.find(name);
    if (it == object_.end()) throw RecordError(field(name) + ": is missing");
    return *it;
  }
  bool has(const char* name) const {
    auto it = object_.find(name);
    return it != object_.end() && !it->is_null();
  }
  std::string field(const char* name) const { return path_.empty() ? name : path_ + "." + name; }
  std::string string(const char* name) const {
    const json& v = at(name);
    if (!v.is_string()) throw RecordError(field(name) + ": must be a string");
    return v.get<std::string>();
  }
  std::string nonempty(const char* name) const {
    auto s = string(name);
    if (s.empty()) throw RecordError(field(name) + ": must not be empty");
    return s;
  }
  std::int64_t integer(const char* name, std::int64_t min = INT64_MIN,
                       std::int64_t max = INT64_MAX) const {
    const json& v = at(name);
    if (!v.is_number_integer()) throw RecordError(field(name) + ": must be an integer");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      throw RecordError(field(name) + ": out of range");
    }
    auto n = v.get<std::int64_t>();
    if (n < min || n > max) throw RecordError(field(name) + ": out of range");
    return n;
  }
  TimePoint time(const char* name) const {
    auto text = string(name);
    auto t = parse_time(text);
    if (!t) throw RecordError(field(name) + ": not an RFC 3339 UTC time: " + text);
    return *t;
  }
  const json& array(const char* name) const {
    const json& v = at(name);
    if (!v.is_array()) throw RecordError(field(name) + ": must be an array");
    return v;
  }
  // Refuses members the schema does not define, so a record has one canonical meaning.
  void only(const std::vector<std::string>& names) const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (std::find(names.begin(), names.end(), it.key()) == names.end())
        throw RecordError(field(it.key().c_str()) + ": unknown member");
    }
  }
  void only(std::initializer_list<const char*> names) const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      bool known = false;
      for (const char* n : names) known = known || it.key() == n;
      if (!known) throw RecordError(field(it.key().c_str()) + ": unknown member");
    }
  }

 private:
  const json& object_;
  std::string path_;
};

constexpr std::int64_t kMaxWh = std::int64_t{1} << 50;
constexpr std::int64_t kMaxMinor = std::int64_t{1} << 50;

json reading_json(const MeterReading& r) {
  return {{"time", format_time(r.time)}, {"register_wh", r.register_wh}};
}

MeterReading reading_from(const Reader& parent, const char* name) {
  Reader r(parent.at(name), parent.field(name));
  r.only({"time", "register_wh"});
  return MeterReading{r.time("time"), r.integer("register_wh", 0, kMaxWh)};
}

std::string indexed(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// The version 3 members: the kind, the period (inside the session, ending at `end`, holding
// every interval) and the link to the previous record (present exactly when the period does not
// begin at the session's start).
void read_chain(const Reader& top, SettlementRecord& r) {
  const auto kind_text = top.string("settlement_kind");
  const auto kind = kKindNames.parse(kind_text);
  if (!kind)
    throw RecordError("settlement_kind: must be \"interim\" or \"final\", not " + kind_text);
  r.settlement_kind = *kind;
  Reader period(top.at("period"), "period");
  period.only({"start", "end"});
  r.period = {period.time("start"), period.time("end")};
  if (r.period.end < r.period.start) throw RecordError("period.end: before period.start");
  if (r.period.start < r.start) throw RecordError("period.start: before the session's start");
  if (r.period.end != r.end) throw RecordError("period.end: is not the record's end");
  for (std::size_t i = 0; i < r.intervals.size(); ++i) {
    if (r.intervals[i].start < r.period.start || r.intervals[i].end > r.period.end)
      throw RecordError(indexed("intervals", i) + ": outside the period");
  }
  const auto& previous = top.at("previous_settlement_id");
  if (previous.is_null()) {
    if (r.period.start != r.start)
      throw RecordError("previous_settlement_id: null, but the period does not begin at start");
  } else {
    r.previous_settlement_id = top.nonempty("previous_settlement_id");
    if (r.period.start == r.start)
      throw RecordError("previous_settlement_id: set, but the period begins at start");
    if (*r.previous_settlement_id == r.settlement_id)
      throw RecordError("previous_settlement_id: is the record's own id");
  }
}

}  // namespace

const char* settlement_kind_name(SettlementKind kind) {
  return kKindNames.name(kind).data();
}

std::int64_t SettlementRecord::energy_imported_wh() const {
  std::int64_t total = 0;
  for (const auto& i : intervals) total += i.imported_wh;
  return total;
}

std::int64_t SettlementRecord::energy_exported_wh() const {
  std::int64_t total = 0;
  for (const auto& i : intervals) total += i.exported_wh;
  return total;
}

std::string format_time(TimePoint time) {
  return base::format_rfc3339(time, base::TimePrecision::kMilliseconds);
}

std::optional<TimePoint> parse_time(const std::string& text) {
  // Exactly the form format_time writes, so every time has one spelling in the record.
  const auto t = base::parse_rfc3339(text);
  if (!t) return std::nullopt;
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(*t);
  if (format_time(ms) != text) return std::nullopt;
  return ms;
}

nlohmann::json to_json(const SettlementRecord& r) {
  json intervals = json::array();
  for (const auto& i : r.intervals) {
    intervals.push_back({{"start", format_time(i.start)},
                         {"end", format_time(i.end)},
                         {"imported_wh", i.imported_wh},
                         {"exported_wh", i.exported_wh}});
    if (r.schema_version >= kSettlementSchemaVersion2) intervals.back()["estimated"] = i.estimated;
  }
  json prices = json::array();
  for (const auto& p : r.prices) {
    prices.push_back({{"kind", p.kind},
                      {"unit_price_minor", p.unit_price_minor},
                      {"unit", p.unit},
                      {"quantity_milli", p.quantity_milli},
                      {"amount_minor", p.amount_minor}});
  }
  json credits = json::array();
  for (const auto& c : r.demand_response_credits) {
    credits.push_back(
        {{"event_id", c.event_id}, {"energy_wh", c.energy_wh}, {"amount_minor", c.amount_minor}});
  }
  json evidence = {{"status", kVerificationNames.name(r.meter_evidence.status)},
                   {"signed_data", r.meter_evidence.signed_data},
                   {"detail", r.meter_evidence.detail}};
  if (r.meter_evidence.public_key) evidence["public_key"] = *r.meter_evidence.public_key;
  json out = {
      {"schema_version", r.schema_version},
      {"settlement_id", r.settlement_id},
      {"session_id", r.session_id},
      {"transaction_id", r.transaction_id},
      {"station_id", r.station_id},
      {"evse_id", r.evse_id},
      {"id_token", r.id_token},
      {"site",
       {{"id", r.site.id},
        {"location",
         {{"latitude_microdeg", r.site.location.latitude_microdeg},
          {"longitude_microdeg", r.site.location.longitude_microdeg},
          {"altitude_mm", r.site.location.altitude_mm}}}}},
      {"start", format_time(r.start)},
      {"end", format_time(r.end)},
      {"meter_start", reading_json(r.meter_start)},
      {"meter_stop", reading_json(r.meter_stop)},
      {"intervals", intervals},
      {"energy_imported_wh", r.energy_imported_wh()},
      {"energy_exported_wh", r.energy_exported_wh()},
      {"currency", r.currency},
      {"prices", prices},
      {"demand_response_credits", credits},
      {"total_minor", r.total_minor},
      {"meter_evidence", evidence},
      {"settled_at", format_time(r.settled_at)},
  };
  if (r.connector_id) out["connector_id"] = *r.connector_id;
  if (r.schema_version >= kSettlementSchemaVersion2) out["errors"] = r.errors;
  if (r.schema_version >= kSettlementSchemaVersion3) {
    out["settlement_kind"] = kKindNames.name(r.settlement_kind);
    out["period"] = {{"start", format_time(r.period.start)}, {"end", format_time(r.period.end)}};
    out["previous_settlement_id"] =
        r.previous_settlement_id ? json(*r.previous_settlement_id) : json(nullptr);
  }
  return out;
}

SettlementRecord record_from_json(const nlohmann::json& json) {
  Reader top(json, "");
  SettlementRecord r;
  r.schema_version = static_cast<int>(top.integer("schema_version"));
  if (r.schema_version < kSettlementSchemaVersion || r.schema_version > kSettlementSchemaVersion3) {
    throw RecordError("schema_version: unsupported version " + std::to_string(r.schema_version));
  }
  const bool v2 = r.schema_version >= kSettlementSchemaVersion2;
  const bool v3 = r.schema_version >= kSettlementSchemaVersion3;
  std::vector<std::string> members{"schema_version",
                                   "settlement_id",
                                   "session_id",
                                   "transaction_id",
                                   "station_id",
                                   "evse_id",
                                   "connector_id",
                                   "id_token",
                                   "site",
                                   "start",
                                   "end",
                                   "meter_start",
                                   "meter_stop",
                                   "intervals",
                                   "energy_imported_wh",
                                   "energy_exported_wh",
                                   "currency",
                                   "prices",
                                   "demand_response_credits",
                                   "total_minor",
                                   "meter_evidence",
                                   "settled_at"};
  if (v2) members.push_back("errors");
  if (v3) members.insert(members.end(), {"settlement_kind", "period", "previous_settlement_id"});
  top.only(members);
  r.settlement_id = top.nonempty("settlement_id");
  r.session_id = top.nonempty("session_id");
  r.transaction_id = top.string("transaction_id");
  r.station_id = top.nonempty("station_id");
  r.evse_id = static_cast<int>(top.integer("evse_id", 0, INT32_MAX));
  if (top.has("connector_id")) {
    r.connector_id = static_cast<int>(top.integer("connector_id", 0, INT32_MAX));
  }
  r.id_token = top.string("id_token");

  Reader site(top.at("site"), "site");
  site.only({"id", "location"});
  r.site.id = site.string("id");
  Reader location(site.at("location"), "site.location");
  location.only({"latitude_microdeg", "longitude_microdeg", "altitude_mm"});
  r.site.location.latitude_microdeg = location.integer("latitude_microdeg", -90000000, 90000000);
  r.site.location.longitude_microdeg =
      location.integer("longitude_microdeg", -180000000, 180000000);
  r.site.location.altitude_mm = location.integer("altitude_mm", -11000000, 10000000);

  r.start = top.time("start");
  r.end = top.time("end");
  if (r.end < r.start) throw RecordError("end: before start");
  r.meter_start = reading_from(top, "meter_start");
  r.meter_stop = reading_from(top, "meter_stop");
  if (r.meter_stop.register_wh < r.meter_start.register_wh) {
    throw RecordError("meter_stop.register_wh: below meter_start.register_wh");
  }

  const auto& intervals = top.array("intervals");
  for (std::size_t i = 0; i < intervals.size(); ++i) {
    Reader it(intervals[i], indexed("intervals", i));
    if (v2) {
      it.only({"start", "end", "imported_wh", "exported_wh", "estimated"});
    } else {
      it.only({"start", "end", "imported_wh", "exported_wh"});
    }
    EnergyInterval interval{it.time("start"), it.time("end"), it.integer("imported_wh", 0, kMaxWh),
                            it.integer("exported_wh", 0, kMaxWh)};
    if (v2) {
      const auto& estimated = it.at("estimated");
      if (!estimated.is_boolean()) throw RecordError(it.field("estimated") + ": must be a boolean");
      interval.estimated = estimated.get<bool>();
    }
    if (interval.end < interval.start) throw RecordError(it.field("end") + ": before start");
    r.intervals.push_back(interval);
  }
  if (top.integer("energy_imported_wh") != r.energy_imported_wh()) {
    throw RecordError("energy_imported_wh: is not the sum of the intervals");
  }
  if (top.integer("energy_exported_wh") != r.energy_exported_wh()) {
    throw RecordError("energy_exported_wh: is not the sum of the intervals");
  }

  r.currency = top.string("currency");
  if (r.currency.size() != 3 || !std::all_of(r.currency.begin(), r.currency.end(),
                                             [](char c) { return c >= 'A' && c <= 'Z'; })) {
    throw RecordError("currency: must be an ISO 4217 code of three capital letters");
  }
  const auto& prices = top.array("prices");
  for (std::size_t i = 0; i < prices.size(); ++i) {
    Reader p(prices[i], indexed("prices", i));
    p.only({"kind", "unit_price_minor", "unit", "quantity_milli", "amount_minor"});
    r.prices.push_back(PriceComponent{
        p.nonempty("kind"), p.integer("unit_price_minor", -kMaxMinor, kMaxMinor), p.string("unit"),
        p.integer("quantity_milli", 0, kMaxWh), p.integer("amount_minor", -kMaxMinor, kMaxMinor)});
  }
  const auto& credits = top.array("demand_response_credits");
  for (std::size_t i = 0; i < credits.size(); ++i) {
    Reader c(credits[i], indexed("demand_response_credits", i));
    c.only({"event_id", "energy_wh", "amount_minor"});
    r.demand_response_credits.push_back(
        DemandResponseCredit{c.nonempty("event_id"), c.integer("energy_wh", -kMaxWh, kMaxWh),
                             c.integer("amount_minor", -kMaxMinor, kMaxMinor)});
  }
  r.total_minor = top.integer("total_minor", -kMaxMinor, kMaxMinor);

  Reader evidence(top.at("meter_evidence"), "meter_evidence");
  evidence.only({"status", "signed_data", "public_key", "detail"});
  std::string status = evidence.string("status");
  const auto parsed = kVerificationNames.parse(status);
  if (!parsed) throw RecordError("meter_evidence.status: unknown status " + status);
  r.meter_evidence.status = *parsed;
  const auto& signed_data = evidence.array("signed_data");
  for (std::size_t i = 0; i < signed_data.size(); ++i) {
    if (!signed_data[i].is_string()) {
      throw RecordError(indexed("meter_evidence.signed_data", i) + ": must be a string");
    }
    r.meter_evidence.signed_data.push_back(signed_data[i].get<std::string>());
  }
  if (evidence.has("public_key")) r.meter_evidence.public_key = evidence.string("public_key");
  r.meter_evidence.detail = evidence.string("detail");
  r.settled_at = top.time("settled_at");
  if (v2) {
    const auto& errors = top.array("errors");
    for (std::size_t i = 0; i < errors.size(); ++i) {
      if (!errors[i].is_string()) throw RecordError(indexed("errors", i) + ": must be a string");
      r.errors.push_back(errors[i].get<std::string>());
    }
  }
  if (v3) read_chain(top, r);
  return r;
}

std::string canonical_record(const SettlementRecord& record) {
  return canonical_json(to_json(record));
}

}  // namespace chargegrid::ledger
