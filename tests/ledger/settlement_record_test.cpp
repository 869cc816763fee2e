#include "chargegrid/ledger/settlement_record.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

#include "chargegrid/ledger/jcs.hpp"
#include "log_records.hpp"
#include "test_data.hpp"

using namespace chargegrid::ledger;
using namespace std::chrono;

namespace {

// The synthetic record of two hours on connector 2, with demand response and verified meter
// evidence.
SettlementRecord example_record() {
  SettlementRecord r = testing::synthetic_record("stl-0001");
  r.session_id = "sess-42";
  r.transaction_id = "tx-42";
  r.connector_id = 2;
  const TimePoint start = r.start;
  r.end = start + 2h;
  r.meter_stop = MeterReading{start + 2h, 1022000};
  r.intervals = {EnergyInterval{start, start + 1h, 11000, 0},
                 EnergyInterval{start + 1h, start + 2h, 12000, 1000}};
  r.prices = {PriceComponent{"energy", 35, "kWh", 23000, 805}};
  r.demand_response_credits = {DemandResponseCredit{"dr-7", 1000, -20}};
  r.total_minor = 785;
  r.meter_evidence.status = MeterVerification::kVerified;
  r.meter_evidence.signed_data = {"OCMF|{}|{}"};
  r.meter_evidence.public_key = "3059";
  r.settled_at = start + 2h + 5min;
  return r;
}

std::string error_of(const nlohmann::json& json) {
  try {
    record_from_json(json);
  } catch (const RecordError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("a settlement record round-trips through its canonical JSON", "[record]") {
  auto record = example_record();
  std::string canonical = canonical_record(record);
  auto json = nlohmann::json::parse(canonical);
  CHECK(json["energy_imported_wh"] == 23000);
  CHECK(json["energy_exported_wh"] == 1000);
  CHECK(json["start"] == "2026-03-01T08:00:00.000Z");
  CHECK(json["site"]["location"]["latitude_microdeg"] == 52520008);
  auto back = record_from_json(json);
  CHECK(canonical_record(back) == canonical);
  // The canonical form is its own canonical form: members sorted, no whitespace.
  CHECK(canonicalize(canonical) == canonical);
  CHECK(canonical.find(' ') == std::string::npos);
  CHECK(canonical.rfind("{\"connector_id\":2,\"currency\":\"EUR\",", 0) == 0);
}

TEST_CASE("records that are not valid settlement records name the wrong field", "[record]") {
  auto good = to_json(example_record());
  auto mutate = [&](auto change) {
    auto copy = good;
    change(copy);
    return error_of(copy);
  };
  CHECK(error_of(good) == "(accepted)");
  CHECK(mutate([](auto& j) { j.erase("settlement_id"); }) == "settlement_id: is missing");
  CHECK(mutate([](auto& j) { j["schema_version"] = 4; }).rfind("schema_version", 0) == 0);
  CHECK(mutate([](auto& j) { j["evse_id"] = "1"; }) == "evse_id: must be an integer");
  CHECK(mutate([](auto& j) { j["currency"] = "eur"; }).rfind("currency", 0) == 0);
  CHECK(mutate([](auto& j) { j["start"] = "2026-03-01T08:00:00Z"; }).rfind("start", 0) == 0);
  CHECK(mutate([](auto& j) { j["end"] = "2026-03-01T07:00:00.000Z"; }) == "end: before start");
  CHECK(mutate([](auto& j) { j["site"]["location"]["latitude_microdeg"] = 90000001; }) ==
        "site.location.latitude_microdeg: out of range");
  CHECK(mutate([](auto& j) { j["intervals"][1]["imported_wh"] = -5; }) ==
        "intervals[1].imported_wh: out of range");
  CHECK(mutate([](auto& j) { j["energy_imported_wh"] = 1; }) ==
        "energy_imported_wh: is not the sum of the intervals");
  CHECK(mutate([](auto& j) { j["total_minor"] = 7.85; }) == "total_minor: must be an integer");
  CHECK(mutate([](auto& j) { j["extra"] = 1; }) == "extra: unknown member");
  CHECK(mutate([](auto& j) { j["meter_evidence"]["status"] = "maybe"; }) ==
        "meter_evidence.status: unknown status maybe");
  CHECK(mutate([](auto& j) { j["meter_stop"]["register_wh"] = 5; }) ==
        "meter_stop.register_wh: below meter_start.register_wh");
  CHECK(error_of(nlohmann::json::array()) == ": must be an object");
}

TEST_CASE("record times have exactly one spelling", "[record]") {
  CHECK(parse_time("2026-03-01T08:00:00.000Z").has_value());
  CHECK_FALSE(parse_time("2026-03-01T08:00:00.000+00:00").has_value());
  CHECK_FALSE(parse_time("2026-02-30T08:00:00.000Z").has_value());
  CHECK_FALSE(parse_time("2026-03-01T24:00:00.000Z").has_value());
  CHECK_FALSE(parse_time("2026-3-01T08:00:00.0000Z").has_value());
  TimePoint t = sys_days(1999y / December / 31) + 23h + 59min + 59s + 999ms;
  CHECK(format_time(t) == "1999-12-31T23:59:59.999Z");
  CHECK(parse_time(format_time(t)) == t);
}

namespace {

// Checks a JSON value against the subset of JSON Schema the record's schema uses: object
// properties, required members, no additional members, array items, types and constants.
void check_against_schema(const nlohmann::json& value, const nlohmann::json& schema,
                          const std::string& path) {
  INFO(path);
  if (schema.contains("const")) CHECK(value == schema["const"]);
  if (schema.contains("enum")) {
    CHECK(std::find(schema["enum"].begin(), schema["enum"].end(), value) != schema["enum"].end());
  }
  if (!schema.contains("type")) return;
  std::string type = schema["type"];
  if (type == "object") {
    REQUIRE(value.is_object());
    for (const auto& name : schema["required"]) CHECK(value.contains(name.get<std::string>()));
    for (auto it = value.begin(); it != value.end(); ++it) {
      REQUIRE(schema["properties"].contains(it.key()));
      check_against_schema(it.value(), schema["properties"][it.key()], path + "." + it.key());
    }
  } else if (type == "array") {
    REQUIRE(value.is_array());
    for (const auto& item : value) check_against_schema(item, schema["items"], path + "[]");
  } else if (type == "integer") {
    REQUIRE(value.is_number_integer());
    if (schema.contains("minimum"))
      CHECK(value.get<std::int64_t>() >= schema["minimum"].get<std::int64_t>());
    if (schema.contains("maximum"))
      CHECK(value.get<std::int64_t>() <= schema["maximum"].get<std::int64_t>());
  } else if (type == "string") {
    CHECK(value.is_string());
  }
}

}  // namespace

TEST_CASE("records follow the published JSON Schema", "[record]") {
  auto schema = nlohmann::json::parse(
      chargegrid::ledger::testing::read_file(chargegrid::ledger::testing::data_dir() / ".." / ".." /
                                             "docs" / "settlement-record.schema.json"));
  check_against_schema(to_json(example_record()), schema, "record");
  auto minimal = example_record();
  minimal.connector_id.reset();
  minimal.meter_evidence.public_key.reset();
  check_against_schema(to_json(minimal), schema, "record");
}

namespace {

// The second interim settlement of a session that started at the example's start: its period
// is the session's second day, the example's two hours of intervals moved into it.
SettlementRecord interim_record() {
  auto r = example_record();
  r.schema_version = kSettlementSchemaVersion3;
  r.settlement_id = "stl-0002";
  r.settlement_kind = SettlementKind::kInterim;
  r.period = {r.start + 24h, r.start + 48h};
  r.previous_settlement_id = "stl-0001";
  r.end = r.period.end;
  r.meter_start.time = r.period.start;
  r.meter_stop.time = r.period.end;
  for (auto& i : r.intervals) {
    i.start += 24h;
    i.end += 24h;
  }
  r.intervals.front().start = r.period.start;
  r.intervals.back().end = r.period.end;
  r.errors = {"import register went backwards at 2026-03-02T09:00:00Z"};
  r.settled_at = r.period.end + 1min;
  return r;
}

}  // namespace

TEST_CASE("a version 3 record round-trips its kind, period and previous settlement", "[record]") {
  const auto record = interim_record();
  const auto canonical = canonical_record(record);
  const auto json = nlohmann::json::parse(canonical);
  CHECK(json["schema_version"] == 3);
  CHECK(json["settlement_kind"] == "interim");
  CHECK(json["period"] == nlohmann::json({{"start", "2026-03-02T08:00:00.000Z"},
                                          {"end", "2026-03-03T08:00:00.000Z"}}));
  CHECK(json["previous_settlement_id"] == "stl-0001");
  CHECK(json["end"] == "2026-03-03T08:00:00.000Z");
  CHECK(json["start"] == "2026-03-01T08:00:00.000Z");
  const auto back = record_from_json(json);
  CHECK(back.settlement_kind == SettlementKind::kInterim);
  CHECK(back.previous_settlement_id == std::optional<std::string>("stl-0001"));
  CHECK(back.period.start == record.period.start);
  CHECK(canonical_record(back) == canonical);

  // The first record of a chain has a null previous settlement; a final one says so.
  auto first = interim_record();
  first.settlement_kind = SettlementKind::kFinal;
  first.previous_settlement_id.reset();
  first.period.start = first.start;
  first.intervals.front().start = first.start;
  const auto first_json = to_json(first);
  CHECK(first_json["previous_settlement_id"].is_null());
  CHECK(first_json["settlement_kind"] == "final");
  CHECK(canonical_record(record_from_json(first_json)) == canonical_record(first));

  // Versions 1 and 2 stay as they were: none of the version 3 members.
  for (int version : {1, 2}) {
    auto old = example_record();
    old.schema_version = version;
    const auto old_json = to_json(old);
    CHECK_FALSE(old_json.contains("settlement_kind"));
    CHECK_FALSE(old_json.contains("period"));
    CHECK_FALSE(old_json.contains("previous_settlement_id"));
    CHECK(canonical_record(record_from_json(old_json)) == canonical_record(old));
  }
}

TEST_CASE("a version 3 record with a missing or malformed member is refused", "[record]") {
  const auto good = to_json(interim_record());
  auto mutate = [&](auto change) {
    auto copy = good;
    change(copy);
    return error_of(copy);
  };
  CHECK(error_of(good) == "(accepted)");
  CHECK(mutate([](auto& j) { j.erase("settlement_kind"); }) == "settlement_kind: is missing");
  CHECK(mutate([](auto& j) { j.erase("period"); }) == "period: is missing");
  CHECK(mutate([](auto& j) { j.erase("previous_settlement_id"); }) ==
        "previous_settlement_id: is missing");
  CHECK(mutate([](auto& j) { j["settlement_kind"] = "daily"; }).rfind("settlement_kind", 0) == 0);
  CHECK(mutate([](auto& j) { j["settlement_kind"] = 1; }) == "settlement_kind: must be a string");
  CHECK(mutate([](auto& j) { j["period"] = "2026-03-02"; }) == "period: must be an object");
  CHECK(mutate([](auto& j) { j["period"].erase("end"); }) == "period.end: is missing");
  CHECK(mutate([](auto& j) { j["period"]["extra"] = 1; }) == "period.extra: unknown member");
  CHECK(mutate([](auto& j) {
          j["period"]["start"] = "2026-03-02T08:00:00Z";
        }).rfind("period.start: not an RFC 3339", 0) == 0);
  CHECK(mutate([](auto& j) { j["period"]["start"] = "2026-03-03T09:00:00.000Z"; }) ==
        "period.end: before period.start");
  CHECK(mutate([](auto& j) { j["period"]["start"] = "2026-03-01T07:00:00.000Z"; }) ==
        "period.start: before the session's start");
  CHECK(mutate([](auto& j) { j["period"]["end"] = "2026-03-03T07:00:00.000Z"; }) ==
        "period.end: is not the record's end");
  CHECK(mutate([](auto& j) { j["period"]["start"] = "2026-03-02T10:00:00.000Z"; }) ==
        "intervals[0]: outside the period");
  CHECK(mutate([](auto& j) { j["previous_settlement_id"] = ""; }) ==
        "previous_settlement_id: must not be empty");
  CHECK(mutate([](auto& j) { j["previous_settlement_id"] = 7; }) ==
        "previous_settlement_id: must be a string");
  CHECK(mutate([](auto& j) { j["previous_settlement_id"] = nullptr; }) ==
        "previous_settlement_id: null, but the period does not begin at start");
  CHECK(mutate([](auto& j) { j["previous_settlement_id"] = "stl-0002"; }) ==
        "previous_settlement_id: is the record's own id");
  // A version 2 record does not carry them, and a version 3 record needs them all.
  CHECK(mutate([](auto& j) { j["schema_version"] = 2; }) == "period: unknown member");
  auto v2 = to_json(example_record());
  v2["schema_version"] = 2;
  for (auto& i : v2["intervals"]) i["estimated"] = false;
  v2["errors"] = nlohmann::json::array();
  CHECK(error_of(v2) == "(accepted)");
  v2["schema_version"] = 3;
  CHECK(error_of(v2) == "settlement_kind: is missing");
}

TEST_CASE("a version 3 record follows the published JSON Schema", "[record]") {
  auto schema = nlohmann::json::parse(
      chargegrid::ledger::testing::read_file(chargegrid::ledger::testing::data_dir() / ".." / ".." /
                                             "docs" / "settlement-record.schema.json"));
  check_against_schema(to_json(interim_record()), schema, "record");
  for (const auto& name : {"settlement_kind", "period", "previous_settlement_id"})
    CHECK(schema["properties"].contains(name));
}
