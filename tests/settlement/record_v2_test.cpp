// Schema version 2 of the settlement record: estimated intervals and errors, read back as
// written; a version 1 record may carry neither.

#include <catch2/catch.hpp>

#include "../ledger/log_records.hpp"
#include "chargegrid/ledger/settlement_record.hpp"

using namespace chargegrid::ledger;

TEST_CASE("a version 2 record keeps its estimated intervals and errors", "[settlement][record]") {
  auto record = testing::synthetic_record("v2");
  record.schema_version = kSettlementSchemaVersion2;
  record.intervals[1].estimated = true;
  record.errors = {"import register went backwards at 2026-03-01T08:40:00.000Z"};
  const auto json = to_json(record);
  CHECK(json["intervals"][0]["estimated"] == false);
  CHECK(json["intervals"][1]["estimated"] == true);
  auto back = record_from_json(json);
  CHECK(back.schema_version == 2);
  CHECK(back.intervals[1].estimated);
  CHECK(back.errors == record.errors);
  CHECK(canonical_record(back) == canonical_record(record));

  auto missing = json;
  missing["intervals"][0].erase("estimated");
  CHECK_THROWS_WITH(record_from_json(missing), "intervals[0].estimated: is missing");
  auto wrong = json;
  wrong["errors"] = {1};
  CHECK_THROWS_WITH(record_from_json(wrong), "errors[0]: must be a string");

  // Version 1 has neither member.
  auto v1 = to_json(testing::synthetic_record("v1"));
  CHECK(v1.find("errors") == v1.end());
  v1["errors"] = nlohmann::json::array();
  CHECK_THROWS_WITH(record_from_json(v1), "errors: unknown member");
}
