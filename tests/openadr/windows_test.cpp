// From OpenADR objects to demand-response windows, without a server: the object checks, ISO
// 8601 durations, target matching and the translation of each honoured payload.

#include "openadr/windows.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "openadr/objects.hpp"

using nlohmann::json;
namespace openadr = chargegrid::server::openadr;
using openadr::SiteIdentity;

namespace {

// The ElaadNL Grid Aware Charging profile: one IMPORT_CAPACITY_LIMIT in KW, one
// POWER_SERVICE_LOCATION and one VEN_NAME target.
json grid_aware_event() {
  return json::parse(R"({
    "id": "evt-1", "programID": "gac-program", "eventName": "congestion Utrecht",
    "payloadDescriptors": [{"objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                            "payloadType": "IMPORT_CAPACITY_LIMIT", "units": "KW"}],
    "targets": [{"type": "POWER_SERVICE_LOCATION", "values": ["871685900000000001"]},
                {"type": "VEN_NAME", "values": ["chargegrid-depot"]}],
    "intervalPeriod": {"start": "2026-12-05T16:00:00Z", "duration": "PT15M"},
    "intervals": [
      {"id": 0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [40]}]},
      {"id": 1, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [25.5]}]},
      {"id": 2, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [60]}]}]
  })");
}

std::vector<SiteIdentity> sites() {
  return {{1, "chargegrid-depot", "871685900000000001"},
          {2, "chargegrid-depot", "871685900000000002"},
          {3, "other-ven", "871685900000000001"},
          {4, "", ""}};
}

}  // namespace

TEST_CASE("ISO 8601 durations", "[openadr]") {
  using std::chrono::milliseconds;
  CHECK(openadr::parse_duration("PT1H")->length == std::chrono::hours(1));
  CHECK(openadr::parse_duration("PT15M")->length == std::chrono::minutes(15));
  CHECK(openadr::parse_duration("P1DT2H30M")->length ==
        std::chrono::hours(26) + std::chrono::minutes(30));
  CHECK(openadr::parse_duration("P2W")->length == std::chrono::hours(24 * 14));
  CHECK(openadr::parse_duration("PT0.5S")->length == milliseconds(500));
  CHECK(openadr::parse_duration("PT0S")->length == milliseconds(0));
  CHECK(openadr::parse_duration("P9999Y")->open_ended);
  for (auto bad : {"", "P", "PT", "1H", "PT1", "PTH", "P1H", "PT1H1H", "PT1M1H", "PT1.5H", "-PT1H",
                   "P1S", "PT1H ", "P1DT"})
    CHECK_FALSE(openadr::parse_duration(bad));
}

TEST_CASE("Programs and events are checked against the 3.0.1 schemas", "[openadr]") {
  CHECK_FALSE(openadr::event_problem(grid_aware_event()));
  CHECK_FALSE(openadr::program_problem(json{{"programName", "GAC"}}));
  CHECK(*openadr::program_problem(json::object()) == "programName: is required");
  CHECK(*openadr::program_problem(json{{"programName", ""}}) == "programName: must not be empty");
  CHECK(*openadr::program_problem(json{{"programName", "x"}, {"color", "red"}}) ==
        "color: is not a member of this object in OpenADR 3.0.1");
  CHECK(openadr::program_problem(json::array()));

  auto event = grid_aware_event();
  event.erase("programID");
  CHECK(*openadr::event_problem(event) == "programID: is required");
  event = grid_aware_event();
  event["programID"] = "has space";
  CHECK(openadr::event_problem(event)->starts_with("programID: must be an objectID"));
  event = grid_aware_event();
  event["intervalPeriod"]["start"] = "tomorrow";
  CHECK(openadr::event_problem(event)->starts_with("intervalPeriod/start: must be an RFC 3339"));
  event = grid_aware_event();
  event["intervalPeriod"]["duration"] = "15 minutes";
  CHECK(openadr::event_problem(event)->starts_with("intervalPeriod/duration: must be an ISO"));
  event = grid_aware_event();
  event["intervals"][1]["payloads"][0].erase("values");
  CHECK(*openadr::event_problem(event) == "intervals/1/payloads/0/values: is required");
  event = grid_aware_event();
  event["intervals"][1]["id"] = 0;
  CHECK(*openadr::event_problem(event) == "intervals/1/id: repeats another interval's id");
  event = grid_aware_event();
  event.erase("intervalPeriod");
  CHECK(openadr::event_problem(event)->starts_with("intervals/0: has no intervalPeriod"));
  event = grid_aware_event();
  event["targets"][0]["values"] = "871685900000000001";
  CHECK(*openadr::event_problem(event) == "targets/0/values: must be an array");
  event = grid_aware_event();
  event["priority"] = -1;
  CHECK(*openadr::event_problem(event) == "priority: must be at least 0");
  event = grid_aware_event();
  event["objectType"] = "PROGRAM";
  CHECK(*openadr::event_problem(event) == "objectType: must be EVENT");
}

TEST_CASE("Targets name sites by power service location and VEN name together", "[openadr]") {
  auto match = openadr::match_targets(grid_aware_event()["targets"], sites());
  CHECK(match.sites == std::vector<std::int64_t>{1});
  CHECK(match.unmatched.empty());

  // One type alone: every site with that name.
  match = openadr::match_targets(
      json::parse(R"([{"type": "VEN_NAME", "values": ["chargegrid-depot"]}])"), sites());
  CHECK(match.sites == std::vector<std::int64_t>{1, 2});
  match = openadr::match_targets(json::parse(R"([{"type": "POWER_SERVICE_LOCATION",
                       "values": ["871685900000000001", "871685900000000002"]}])"),
                                 sites());
  CHECK(match.sites == std::vector<std::int64_t>{1, 2, 3});

  // No targets: every site in reach.
  CHECK(openadr::match_targets(json(), sites()).sites == std::vector<std::int64_t>{1, 2, 3, 4});
  CHECK(openadr::match_targets(json::array(), sites()).sites.size() == 4);

  // A name no site in reach has is reported, so the VTN can refuse it.
  match = openadr::match_targets(
      json::parse(R"([{"type": "POWER_SERVICE_LOCATION", "values": ["871685900000000009"]}])"),
      sites());
  CHECK(match.sites.empty());
  CHECK(match.unmatched == std::vector<std::string>{"POWER_SERVICE_LOCATION '871685900000000009'"});

  // Targets of other kinds only: no site.
  CHECK(openadr::match_targets(json::parse(R"([{"type": "GROUP", "values": ["north"]}])"), sites())
            .sites.empty());
}

TEST_CASE("The ElaadNL grid-aware charging event becomes one window per interval", "[openadr]") {
  const auto translation = openadr::translate(grid_aware_event(), json::object(), {1});
  REQUIRE(translation.problems.empty());
  REQUIRE(translation.windows.size() == 3);
  const auto& w = translation.windows;
  CHECK(w[0].event_id == "evt-1");
  CHECK(w[0].program_id == "gac-program");
  CHECK(w[0].site_id == 1);
  CHECK(w[0].starts_at == "2026-12-05T16:00:00.000Z");
  CHECK(w[0].ends_at == "2026-12-05T16:15:00.000Z");
  CHECK(w[0].import_limit_w == 40000);
  CHECK(w[1].starts_at == "2026-12-05T16:15:00.000Z");
  CHECK(w[1].import_limit_w == 25500);
  CHECK(w[2].ends_at == "2026-12-05T16:45:00.000Z");
  CHECK_FALSE(w[2].export_limit_w);
  CHECK(w[2].currency.empty());
}

TEST_CASE("Units, prices, own interval periods and open ends", "[openadr]") {
  auto event = json::parse(R"({
    "id": "evt-2", "programID": "p",
    "payloadDescriptors": [
      {"payloadType": "EXPORT_CAPACITY_LIMIT", "units": "W"},
      {"payloadType": "PRICE", "units": "KWH", "currency": "EUR"},
      {"payloadType": "EXPORT_PRICE", "currency": "EUR"}],
    "intervals": [
      {"id": 7, "intervalPeriod": {"start": "2026-12-06T08:00:00Z", "duration": "PT2H"},
       "payloads": [{"type": "EXPORT_CAPACITY_LIMIT", "values": [11000]},
                    {"type": "IMPORT_CAPACITY_SUBSCRIPTION", "values": [100]},
                    {"type": "PRICE", "values": [0.31]},
                    {"type": "EXPORT_PRICE", "values": [0.05]}]},
      {"id": 3, "intervalPeriod": {"start": "2026-12-06T12:00:00Z"},
       "payloads": [{"type": "PRICE", "values": [0.12]}, {"type": "SIMPLE", "values": [1]}]},
      {"id": 4, "intervalPeriod": {"start": "2026-12-07T00:00:00Z", "duration": "PT1H"},
       "payloads": [{"type": "SIMPLE", "values": [2]}]}]
  })");
  auto translation = openadr::translate(event, json::object(), {5, 6});
  REQUIRE(translation.problems.empty());
  // Interval 4 asks nothing a site honours; two sites, two windows each.
  REQUIRE(translation.windows.size() == 4);
  const auto& first = translation.windows[0];
  CHECK(first.site_id == 5);
  CHECK(first.export_limit_w == 11000);
  CHECK(first.import_subscription_w == 100000);  // KW when no descriptor says otherwise
  CHECK(first.import_price_minor_per_kwh == Approx(31));
  CHECK(first.export_price_minor_per_kwh == Approx(5));
  CHECK(first.currency == "EUR");
  CHECK(first.ends_at == "2026-12-06T10:00:00.000Z");
  // PT0S, the default duration, holds until further notice.
  CHECK(translation.windows[1].starts_at == "2026-12-06T12:00:00.000Z");
  CHECK(translation.windows[1].ends_at == "9999-12-31T23:59:59Z");
  CHECK(translation.windows[3].site_id == 6);

  // The program's descriptors apply when the event has none; yen have no minor unit.
  event.erase("payloadDescriptors");
  auto program = json::parse(R"({"programName": "tou", "payloadDescriptors": [
      {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "PRICE", "currency": "JPY"},
      {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "EXPORT_PRICE",
       "currency": "JPY"}]})");
  translation = openadr::translate(event, program, {5});
  REQUIRE(translation.problems.empty());
  CHECK(translation.windows[0].import_price_minor_per_kwh == Approx(0.31));
  CHECK(translation.windows[0].export_limit_w == 11000000);  // KW by default
}

TEST_CASE("What cannot be honoured is reported, not guessed", "[openadr]") {
  auto event = grid_aware_event();
  event["payloadDescriptors"][0]["units"] = "A";
  auto translation = openadr::translate(event, json::object(), {1});
  REQUIRE(translation.problems.size() == 3);
  CHECK(translation.problems[0] ==
        "intervals/0/payloads/0: IMPORT_CAPACITY_LIMIT in units 'A' cannot be used; use KW or W");
  CHECK(translation.windows.empty());

  event = grid_aware_event();
  event["intervals"][0]["payloads"] = json::parse(R"([{"type": "PRICE", "values": [0.2]}])");
  translation = openadr::translate(event, json::object(), {1});
  REQUIRE(translation.problems.size() == 1);
  CHECK(translation.problems[0].find("needs an ISO 4217 currency") != std::string::npos);

  event = grid_aware_event();
  event["intervals"][1]["payloads"][0]["values"] = json::parse(R"(["forty"])");
  translation = openadr::translate(event, json::object(), {1});
  REQUIRE(translation.problems.size() == 1);
  CHECK(translation.problems[0] ==
        "intervals/1/payloads/0: a IMPORT_CAPACITY_LIMIT value must be a number");

  event = grid_aware_event();
  event["intervals"][2]["payloads"][0]["values"] = {-5};
  CHECK(openadr::translate(event, json::object(), {1}).problems.size() == 1);
}

TEST_CASE("randomizeStart delays each site's windows by a stable offset", "[openadr]") {
  auto event = grid_aware_event();
  event["intervalPeriod"]["randomizeStart"] = "PT10M";
  std::vector<std::int64_t> many;
  for (std::int64_t site = 1; site <= 40; ++site) many.push_back(site);
  const auto a = openadr::translate(event, json::object(), many);
  const auto b = openadr::translate(event, json::object(), many);
  REQUIRE(a.windows.size() == 120);
  std::set<std::string> starts;
  for (std::size_t i = 0; i < a.windows.size(); ++i) {
    CHECK(a.windows[i].starts_at == b.windows[i].starts_at);  // the same every time
    CHECK(a.windows[i].starts_at >= "2026-12-05T16:00:00.000Z");
    if (i % 3 == 0) {
      CHECK(a.windows[i].starts_at <= "2026-12-05T16:10:00.000Z");
      starts.insert(a.windows[i].starts_at);
      // A site's intervals stay back to back.
      CHECK(a.windows[i].ends_at == a.windows[i + 1].starts_at);
    }
  }
  CHECK(starts.size() > 30);  // spread out, not one offset for all
}
