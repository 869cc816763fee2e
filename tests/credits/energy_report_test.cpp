// The energy report record (canonical form, validation), reporting periods and the strict CSV
// reader the credit imports use.

#include "chargegrid/ledger/energy_report.hpp"

#include <catch2/catch.hpp>

#include "chargegrid/ledger/jcs.hpp"
#include "credits/csv.hpp"
#include "credits/period.hpp"

using namespace chargegrid;
using nlohmann::json;

namespace {

ledger::EnergyReport sample_report() {
  ledger::EnergyReport r;
  r.report_id = "rpt-2026-11-3";
  r.period = "2026-11";
  r.period_start = *ledger::parse_time("2026-11-01T00:00:00.000Z");
  r.period_end = *ledger::parse_time("2026-12-01T00:00:00.000Z");
  r.site_id = "3";
  r.stations.push_back({"CS-1", "3", {2, 1, 3000, 500, 1000}});
  r.stations.push_back({"CS-2", "3", {1, 1, 2000, 0, 2000}});
  r.generated_at = *ledger::parse_time("2026-12-05T10:00:00.000Z");
  return r;
}

}  // namespace

TEST_CASE("shares are parts per million, half to even", "[unit][credits]") {
  CHECK(ledger::share_ppm(1, 3) == 333333);
  CHECK(ledger::share_ppm(2, 3) == 666667);
  CHECK(ledger::share_ppm(1, 2000000) == 0);  // 0.5 ppm: to even
  CHECK(ledger::share_ppm(3, 2000000) == 2);  // 1.5 ppm: to even
  CHECK(ledger::share_ppm(5, 5) == 1000000);
  CHECK(ledger::share_ppm(0, 0) == 0);
  CHECK(ledger::share_ppm(900'000'000'000'000, 1'000'000'000'000'000) == 900000);
}

TEST_CASE("an energy report round-trips and refuses inconsistent figures", "[unit][credits]") {
  const auto report = sample_report();
  const auto j = ledger::to_json(report);
  CHECK(j["record_type"] == "energy_report");
  CHECK(j["totals"]["energy_delivered_wh"] == 5000);
  CHECK(j["totals"]["verified_share_ppm"] == 600000);
  CHECK(j["stations"][0]["verified_share_ppm"] == 333333);
  const auto canonical = ledger::canonical_energy_report(report);
  CHECK(canonical == ledger::canonicalize(canonical));
  CHECK(ledger::canonical_energy_report(ledger::energy_report_from_json(json::parse(canonical))) ==
        canonical);

  auto broken = [&](auto change) {
    auto copy = j;
    change(copy);
    return copy;
  };
  using ledger::RecordError;
  CHECK_THROWS_AS(
      ledger::energy_report_from_json(broken([](json& c) { c["totals"]["sessions"] = 4; })),
      RecordError);
  CHECK_THROWS_AS(ledger::energy_report_from_json(
                      broken([](json& c) { c["stations"][0]["verified_share_ppm"] = 333334; })),
                  RecordError);
  CHECK_THROWS_AS(ledger::energy_report_from_json(
                      broken([](json& c) { c["stations"][0]["sessions_verified"] = 3; })),
                  RecordError);
  CHECK_THROWS_AS(ledger::energy_report_from_json(
                      broken([](json& c) { c["stations"][1]["station_id"] = "CS-1"; })),
                  RecordError);
  CHECK_THROWS_AS(
      ledger::energy_report_from_json(broken([](json& c) { c["record_type"] = "settlement"; })),
      RecordError);
  CHECK_THROWS_AS(ledger::energy_report_from_json(broken([](json& c) { c["extra"] = 1; })),
                  RecordError);
  CHECK_THROWS_AS(
      ledger::energy_report_from_json(broken([](json& c) { c["period_end"] = c["period_start"]; })),
      RecordError);
  CHECK_THROWS_AS(ledger::energy_report_from_json(
                      broken([](json& c) { c["stations"][0]["energy_exported_wh"] = -1; })),
                  RecordError);
  CHECK_THROWS_AS(ledger::energy_report_from_json(json::array()), RecordError);
}

TEST_CASE("periods are UTC months and quarters", "[unit][credits]") {
  using namespace std::chrono;
  auto nov = server::credits::parse_period("2026-11");
  REQUIRE(nov);
  CHECK(server::credits::day_text(nov->start) == "2026-11-01T00:00:00.000Z");
  CHECK(server::credits::day_text(nov->end) == "2026-12-01T00:00:00.000Z");
  auto dec = server::credits::parse_period("2026-12");
  REQUIRE(dec);
  CHECK(server::credits::day_text(dec->end) == "2027-01-01T00:00:00.000Z");
  auto q1 = server::credits::parse_period("2027-Q1");
  REQUIRE(q1);
  CHECK(server::credits::day_text(q1->start) == "2027-01-01T00:00:00.000Z");
  CHECK(server::credits::day_text(q1->end) == "2027-04-01T00:00:00.000Z");
  for (const auto* bad : {"2026-13", "2026-00", "2026-Q0", "2026-Q5", "2026-1", "1999-01",
                          "2026/11", "", "abcd-11", "2026-11 "})
    CHECK_FALSE(server::credits::parse_period(bad));
  const auto january = sys_days(year(2027) / 1 / 15) + hours(3);
  CHECK(server::credits::previous_month(january).name == "2026-12");
}

TEST_CASE("the CSV reader keeps quoted fields and names the line of a malformed row",
          "[unit][credits]") {
  using server::credits::parse_csv;
  auto ok = parse_csv("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",3\n\n1,2,\"multi\nline\"\n4,5,6");
  REQUIRE_FALSE(ok.error);
  REQUIRE(ok.rows.size() == 4);
  CHECK(ok.rows[1].fields == std::vector<std::string>{"x, y", "say \"hi\"", "3"});
  CHECK(ok.rows[2].line == 4);
  CHECK(ok.rows[2].fields[2] == "multi\nline");
  CHECK(ok.rows[3].line == 6);
  CHECK(parse_csv("a,b\n1,\"2\n").error == "line 2: a quoted field is not closed");
  CHECK(parse_csv("a,b\n1,2\"x\n").error == "line 2: a quote inside an unquoted field");
  CHECK(parse_csv("a,b\n1,\"2\"x\n").error == "line 2: text after a closing quote");
  CHECK(server::credits::csv_line({"a", "b,c", "d\"e"}) == "a,\"b,c\",\"d\"\"e\"\r\n");
}
