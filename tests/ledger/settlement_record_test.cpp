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
  CHECK(mutate([](auto& j) { j["schema_version"] = 3; }).rfind("schema_version", 0) == 0);
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
