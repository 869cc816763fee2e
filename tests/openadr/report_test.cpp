// OpenADR reports: each site's USAGE, DEMAND and BASELINE per ended interval of an event that
// asks for them, served by the built-in VTN and posted to a utility's VTN in VEN mode. Real
// servers and PostgreSQL; the meter values and plan slots go in through their repositories.

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "chargegrid/base/time.hpp"
#include "openadr/reports.hpp"
#include "openadr_fixture.hpp"
#include "store/charging_plans.hpp"
#include "store/meter_values.hpp"

using chargegrid::testing::HttpResult;
using chargegrid::testing::ServerFixture;
using nlohmann::json;
namespace http = boost::beast::http;
using Role = chargegrid::server::api::Role;
using Clock = std::chrono::system_clock;
using std::chrono::minutes;

namespace {

std::string at(Clock::time_point t) {
  return chargegrid::base::format_rfc3339(t, chargegrid::base::TimePrecision::kSeconds);
}

// Import register readings (Wh) of one EVSE.
void readings(pqxx::connection& c, const std::string& station, int evse,
              const std::vector<std::pair<Clock::time_point, double>>& values) {
  std::vector<chargegrid::server::store::MeterRow> rows;
  for (const auto& [time, wh] : values) {
    chargegrid::server::store::MeterRow row;
    row.station_id = station;
    row.evse_id = evse;
    row.sampled_at = at(time);
    row.measurand = "Energy.Active.Import.Register";
    row.value = wh;
    row.unit = "Wh";
    rows.push_back(row);
  }
  pqxx::work tx(c);
  chargegrid::server::store::meter_values::append(tx, rows.begin(), rows.end());
  tx.commit();
}

// Three back-to-back 30-minute intervals from `start`, each limiting import to 20 kW, asking
// for USAGE, DEMAND and BASELINE.
json reporting_event(const std::string& program_id, Clock::time_point start, const json& targets) {
  json intervals = json::array();
  for (int id : {0, 1, 2})
    intervals.push_back(
        {{"id", id}, {"payloads", {{{"type", "IMPORT_CAPACITY_LIMIT"}, {"values", {20}}}}}});
  return {{"programID", program_id},
          {"targets", targets},
          {"reportDescriptors",
           {{{"payloadType", "USAGE"}, {"units", "KWH"}},
            {{"payloadType", "DEMAND"}, {"units", "KW"}},
            {{"payloadType", "BASELINE"}, {"units", "KW"}}}},
          {"intervalPeriod", {{"start", at(start)}, {"duration", "PT30M"}}},
          {"intervals", intervals}};
}

double value_of(const json& interval, const std::string& type) {
  for (const auto& p : interval["payloads"])
    if (p["type"] == type) return p["values"][0].get<double>();
  return -1;
}

using ReportFixture = chargegrid::testing::OpenAdrFixture;

}  // namespace

TEST_CASE("A report object carries USAGE, DEMAND and BASELINE per interval as 3.0.1 names them",
          "[openadr][unit]") {
  const auto start = Clock::time_point{std::chrono::seconds{1'800'000'000}};
  const auto report = chargegrid::server::openadr::report_object(
      "prog", "evt", "depot-ven", 7, {"USAGE", "DEMAND", "BASELINE"},
      {{0, start, start + minutes(15), 2500, 4000.0},
       {1, start + minutes(15), start + minutes(30), 0, std::nullopt}});
  CHECK(!chargegrid::server::openadr::report_problem(report));
  REQUIRE(report["resources"].size() == 1);
  CHECK(report["resources"][0]["resourceName"] == "AGGREGATED_REPORT");
  const auto& first = report["resources"][0]["intervals"][0];
  CHECK(first["intervalPeriod"]["duration"] == "PT900S");
  CHECK(value_of(first, "USAGE") == Approx(2.5));
  CHECK(value_of(first, "DEMAND") == Approx(10.0));
  CHECK(value_of(first, "BASELINE") == Approx(4.0));
  // No plan covered the second interval: no BASELINE rather than a made-up one.
  CHECK(value_of(report["resources"][0]["intervals"][1], "BASELINE") == -1);
  CHECK(chargegrid::server::openadr::requested_payloads(
            {{"reportDescriptors", {{{"payloadType", "BASELINE"}}, {{"payloadType", "SOC"}}}}}) ==
        std::vector<std::string>{"BASELINE"});
}

TEST_CASE_METHOD(ReportFixture, "The built-in VTN reports each site's usage, demand and baseline",
                 "[openadr][integration]") {
  auto site_r = admin().post("/sites", {{"name", "Depot"}, {"ven_name", "depot-ven"}});
  REQUIRE(site_r.status == 201);
  const auto site = site_r.data["id"].get<std::int64_t>();
  const auto elsewhere = make_site("Elsewhere");
  make_station("RP-1", site);
  make_station("RP-2", site);
  make_station("RP-X", elsewhere);
  const auto utility = make_key(Role::Utility, {site});
  const auto other_utility = make_key(Role::Utility, {elsewhere});

  // Intervals [t0, t0+30m), [t0+30m, t0+60m) have ended; the third ends in 20 minutes.
  const auto t0 = std::chrono::floor<minutes>(Clock::now()) - minutes(70);
  {
    auto c = sql();
    readings(c, "RP-1", 1,
             {{t0 - minutes(5), 1000},
              {t0 + minutes(30), 6000},
              {t0 + minutes(60), 8000},
              {t0 + minutes(65), 9000}});
    // Starts charging inside the first interval: counted from its first reading.
    readings(c, "RP-2", 1, {{t0 + minutes(10), 500}, {t0 + minutes(29), 1500}});
    // Another site's station counts nowhere here.
    readings(c, "RP-X", 1, {{t0, 0}, {t0 + minutes(30), 50000}});
    pqxx::work tx(c);
    chargegrid::server::store::charging_plans::save_slots(
        tx, site, std::chrono::duration_cast<std::chrono::seconds>(t0.time_since_epoch()).count(),
        900, {3000, 3000, 5000, 5000}, {10000, 10000, 10000, 10000});
    tx.commit();
  }
  auto program = vtn(http::verb::post, "/programs", utility, {{"programName", "reports"}});
  REQUIRE(program.status == 201);
  const auto program_id = program.data["id"].get<std::string>();
  auto event =
      vtn(http::verb::post, "/events", utility, reporting_event(program_id, t0, json::array()));
  REQUIRE(event.status == 201);
  const auto event_id = event.data["id"].get<std::string>();

  auto reports = vtn(http::verb::get, "/reports?eventID=" + event_id, utility);
  REQUIRE(reports.status == 200);
  REQUIRE(reports.data.size() == 1);
  const auto& report = reports.data[0];
  CHECK(report["objectType"] == "REPORT");
  CHECK(report["programID"] == program_id);
  CHECK(report["eventID"] == event_id);
  CHECK(report["clientName"] == "depot-ven");
  CHECK(report["id"].get<std::string>().rfind("report-", 0) == 0);
  REQUIRE(report["resources"].size() == 1);
  CHECK(report["resources"][0]["resourceName"] == "AGGREGATED_REPORT");
  const auto& intervals = report["resources"][0]["intervals"];
  REQUIRE(intervals.size() == 2);
  CHECK(intervals[0]["id"] == 0);
  CHECK(*chargegrid::base::parse_rfc3339(
            intervals[0]["intervalPeriod"]["start"].get<std::string>()) == t0);
  CHECK(intervals[0]["intervalPeriod"]["duration"] == "PT1800S");
  CHECK(value_of(intervals[0], "USAGE") == Approx(6.0));  // 5 kWh on RP-1, 1 kWh on RP-2
  CHECK(value_of(intervals[0], "DEMAND") == Approx(12.0));
  CHECK(value_of(intervals[0], "BASELINE") == Approx(3.0));
  CHECK(intervals[1]["id"] == 1);
  CHECK(value_of(intervals[1], "USAGE") == Approx(2.0));
  CHECK(value_of(intervals[1], "DEMAND") == Approx(4.0));
  CHECK(value_of(intervals[1], "BASELINE") == Approx(5.0));
  CHECK(vtn(http::verb::get, "/reports", utility).data.size() == 1);
  CHECK(vtn(http::verb::get, "/reports?clientName=someone", utility).data.empty());

  // Out of scope and malformed filters.
  auto foreign = vtn(http::verb::get, "/reports?eventID=" + event_id, other_utility);
  REQUIRE(foreign.status == 200);
  CHECK(foreign.data.empty());
  CHECK(vtn(http::verb::get, "/reports?eventID=no.such", utility).status == 400);
  CHECK(vtn(http::verb::get, "/reports?limit=51", utility).status == 400);
  CHECK(vtn(http::verb::get, "/reports", "").status == 401);

  // A VEN posts its own report: checked against the schema, stored whole or not at all.
  const json posted{
      {"programID", program_id},
      {"eventID", event_id},
      {"clientName", "ven-2"},
      {"resources",
       {{{"resourceName", "AGGREGATED_REPORT"},
         {"intervals", {{{"id", 0}, {"payloads", {{{"type", "USAGE"}, {"values", {1.5}}}}}}}}}}}};
  auto missing = posted;
  missing.erase("resources");
  auto bad = vtn(http::verb::post, "/reports", utility, missing);
  CHECK(bad.status == 400);
  CHECK(bad.data["detail"] == "report: resources: must be an array");
  auto wrong_interval = posted;
  wrong_interval["resources"][0]["intervals"][0]["id"] = "zero";
  CHECK(vtn(http::verb::post, "/reports", utility, wrong_interval).data["detail"] ==
        "report: resources/0/intervals/0/id: must be an integer");
  auto extra = posted;
  extra["colour"] = "red";
  CHECK(vtn(http::verb::post, "/reports", utility, extra).status == 400);
  CHECK(vtn(http::verb::post, "/reports", other_utility, posted).status == 400);
  auto wrong_program = posted;
  wrong_program["programID"] = "another";
  CHECK(vtn(http::verb::post, "/reports", utility, wrong_program).status == 400);
  CHECK(query_value("SELECT count(*) FROM openadr_reports") == "0");
  auto created = vtn(http::verb::post, "/reports", utility, posted);
  REQUIRE(created.status == 201);
  CHECK(created.data["objectType"] == "REPORT");
  CHECK(created.data["clientName"] == "ven-2");
  auto both = vtn(http::verb::get, "/reports?eventID=" + event_id, utility);
  REQUIRE(both.data.size() == 2);
  CHECK(both.data[0]["clientName"] == "ven-2");
  CHECK(vtn(http::verb::get, "/reports?clientName=ven-2", utility).data.size() == 1);
  CHECK(vtn(http::verb::get, "/reports?skip=1", utility).data.size() == 1);
  // The event goes, and its reports with it.
  REQUIRE(vtn(http::verb::delete_, "/events/" + event_id, utility).status == 200);
  CHECK(vtn(http::verb::get, "/reports", utility).data.empty());
}

TEST_CASE_METHOD(ReportFixture, "VEN mode posts its sites' reports to the utility's VTN once each",
                 "[openadr][integration]") {
  auto vtn_site = admin().post("/sites", {{"name", "Depot"},
                                          {"ven_name", "chargegrid"},
                                          {"power_service_location", "871600000000000017"}});
  REQUIRE(vtn_site.status == 201);
  const auto utility = make_key(Role::Utility, {vtn_site.data["id"].get<std::int64_t>()});
  auto program = vtn(http::verb::post, "/programs", utility, {{"programName", "gac"}});
  REQUIRE(program.status == 201);
  const auto program_id = program.data["id"].get<std::string>();
  const auto t0 = std::chrono::floor<minutes>(Clock::now()) - minutes(70);
  const json targets = {{{"type", "POWER_SERVICE_LOCATION"}, {"values", {"871600000000000017"}}}};
  auto event = vtn(http::verb::post, "/events", utility, reporting_event(program_id, t0, targets));
  REQUIRE(event.status == 201);
  const auto event_id = event.data["id"].get<std::string>();

  ServerFixture ven(ven_config(utility));
  {
    auto c = ven.sql();
    {
      pqxx::work tx(c);
      const auto site = tx.exec1(
                              "INSERT INTO sites (name, ven_name, power_service_location) VALUES "
                              "('Depot', 'chargegrid', '871600000000000017') RETURNING id")[0]
                            .as<std::int64_t>();
      tx.exec_params("INSERT INTO stations (id, site_id) VALUES ('VEN-1', $1)", site);
      tx.commit();
    }
    readings(c, "VEN-1", 1, {{t0, 100}, {t0 + minutes(30), 3100}, {t0 + minutes(60), 3600}});
  }
  // The VTN's own site has no meter values; the VEN's report is the one with energy in it.
  HttpResult posted;
  REQUIRE(ven.eventually([&] {
    posted =
        vtn(http::verb::get, "/reports?eventID=" + event_id + "&clientName=chargegrid", utility);
    for (const auto& r : posted.data)
      if (!r.contains("id") || r["id"].get<std::string>().rfind("report-", 0) != 0) return true;
    return false;
  }));
  json from_ven;
  for (const auto& r : posted.data)
    if (r["id"].get<std::string>().rfind("report-", 0) != 0) from_ven = r;
  CHECK(from_ven["programID"] == program_id);
  const auto& intervals = from_ven["resources"][0]["intervals"];
  REQUIRE(intervals.size() == 2);
  CHECK(value_of(intervals[0], "USAGE") == Approx(3.0));
  CHECK(value_of(intervals[0], "DEMAND") == Approx(6.0));
  CHECK(value_of(intervals[1], "USAGE") == Approx(0.5));
  // Posted once: later polls find nothing new until the third interval ends.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(query_value("SELECT count(*) FROM openadr_reports") == "1");
  CHECK(ven.query_value("SELECT count(*) FROM openadr_reports_posted") == "1");
}
