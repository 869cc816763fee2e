// A site's public holidays over the REST API: a built-in calendar and dates of its own, stored
// whole after every check, read back with the holidays in force over a range, scoped like the
// site itself.

#include "api_fixture.hpp"
#include "chargegrid/base/time.hpp"
#include "chargegrid/scheduler/holidays.hpp"
#include "store/site_holidays.hpp"

using namespace chargegrid::testing;
using boost::beast::http::verb;
using chargegrid::server::api::Role;

namespace {

json depot_holidays() {
  return json::parse(R"({
    "calendar": "NO",
    "dates": [{"date": "2026-12-23", "name": "Staff party"}, {"date": "2026-03-02"}]
  })");
}

// The site's holidays as the store holds them.
chargegrid::server::store::site_holidays::Holidays stored_holidays(ApiFixture& f,
                                                                   std::int64_t site) {
  auto c = f.sql();
  pqxx::work tx(c);
  auto found = chargegrid::server::store::site_holidays::find(tx, site);
  REQUIRE(found);
  return *found;
}

}  // namespace

TEST_CASE("a site's holidays are stored whole and read back with those in force over a range") {
  ApiFixture f;
  const auto id = f.make_site("Depot");
  const auto site = std::to_string(id);
  const auto path = "/sites/" + site + "/holidays";
  auto manager = f.client(f.make_key(Role::FacilityManager, {id}));

  // None at first.
  auto none = manager.get(path);
  REQUIRE(none.status == 200);
  CHECK(none.data == json::parse(R"({"calendar": null, "dates": []})"));

  // Answered as stored: by date, a date without a name has a null one.
  const auto as_stored = json::parse(R"({
    "calendar": "NO",
    "dates": [{"date": "2026-03-02", "name": null}, {"date": "2026-12-23", "name": "Staff party"}]
  })");
  auto set = manager.put(path, depot_holidays());
  REQUIRE(set.status == 200);
  CHECK(set.data == as_stored);
  CHECK(manager.get(path).data == as_stored);
  CHECK(f.client(f.make_key(Role::Utility, {id})).get(path).data == as_stored);
  CHECK(stored_holidays(f, id).version == 1);

  // The holidays in force: the calendar's (Easter and Whitsun counted from 5 April 2026) and the
  // site's own, both ends of the range included.
  auto may = manager.get(path + "?from=2026-05-01&to=2026-05-25");
  REQUIRE(may.status == 200);
  CHECK(may.data["from"] == "2026-05-01");
  CHECK(may.data["to"] == "2026-05-25");
  CHECK(may.data["calendar"] == "NO");
  CHECK(may.data["in_force"] == json::parse(R"([
    {"date": "2026-05-01", "name": "Labour Day", "source": "calendar"},
    {"date": "2026-05-14", "name": "Ascension Day", "source": "calendar"},
    {"date": "2026-05-17", "name": "Constitution Day", "source": "calendar"},
    {"date": "2026-05-24", "name": "Whit Sunday", "source": "calendar"},
    {"date": "2026-05-25", "name": "Whit Monday", "source": "calendar"}])"));
  auto winter = manager.get(path + "?from=2026-12-23&to=2027-01-01");
  REQUIRE(winter.status == 200);
  CHECK(winter.data["in_force"] == json::parse(R"([
    {"date": "2026-12-23", "name": "Staff party", "source": "site"},
    {"date": "2026-12-24", "name": "Christmas Eve", "source": "calendar"},
    {"date": "2026-12-25", "name": "Christmas Day", "source": "calendar"},
    {"date": "2026-12-26", "name": "Boxing Day", "source": "calendar"},
    {"date": "2026-12-31", "name": "New Year's Eve", "source": "calendar"},
    {"date": "2027-01-01", "name": "New Year's Day", "source": "calendar"}])"));
  CHECK(manager.get(path + "?from=2026-03-02&to=2026-03-02").data["in_force"] ==
        json::parse(R"([{"date": "2026-03-02", "name": null, "source": "site"}])"));
  CHECK(manager.get(path + "?from=2026-06-01&to=2026-06-30").data["in_force"] == json::array());

  // A second PUT replaces both: no calendar now, one date of its own.
  auto replaced = f.admin().put(path, json::parse(R"({"calendar": null,
                                      "dates": [{"date": "2026-05-14", "name": "Closed"}]})"));
  REQUIRE(replaced.status == 200);
  CHECK(replaced.data["calendar"].is_null());
  CHECK(manager.get(path + "?from=2026-05-01&to=2026-05-31").data["in_force"] ==
        json::parse(R"([{"date": "2026-05-14", "name": "Closed", "source": "site"}])"));
  const auto now_stored = stored_holidays(f, id);
  CHECK_FALSE(now_stored.calendar);
  REQUIRE(now_stored.days.size() == 1);
  CHECK(now_stored.days[0].date == std::chrono::sys_days{std::chrono::year{2026} / 5 / 14});
  CHECK(now_stored.version == 2);
  // Up to a thousand dates.
  json many{{"calendar", "NO"}, {"dates", json::array()}};
  for (int d = 0; d < 1000; ++d)
    many["dates"].push_back({{"date", chargegrid::base::format_date(
                                          std::chrono::sys_days{std::chrono::year{2026} / 1 / 1} +
                                          std::chrono::days{d})}});
  auto thousand = manager.put(path, many);
  REQUIRE(thousand.status == 200);
  CHECK(thousand.data["dates"].size() == 1000);
  CHECK(f.query_value("SELECT count(*) FROM site_holidays WHERE site_id = " + site) == "1000");

  // The holidays go with their site.
  REQUIRE(f.admin().del("/sites/" + site).status == 204);
  CHECK(f.query_value("SELECT count(*) FROM site_holidays") == "0");
  CHECK(f.admin().get(path).status == 404);
  CHECK(f.admin().put(path, depot_holidays()).status == 404);
}

TEST_CASE("bad holidays are refused naming what to fix, and the stored ones stay") {
  ApiFixture f;
  auto admin = f.admin();
  const auto id = f.make_site("Depot");
  const auto path = "/sites/" + std::to_string(id) + "/holidays";
  REQUIRE(admin.put(path, depot_holidays()).status == 200);
  const auto before = admin.get(path).data;

  const auto refused = [&](const json& body, const std::string& detail) {
    auto r = admin.put(path, body);
    INFO(body.dump());
    CHECK(r.status == 422);
    CHECK(r.content_type == "application/problem+json");
    CHECK(r.detail() == detail);
  };
  const auto with_dates = [](std::initializer_list<const char*> days) {
    json body{{"calendar", "NO"}, {"dates", json::array()}};
    for (const char* d : days) body["dates"].push_back({{"date", d}});
    return body;
  };

  // A calendar the server does not have.
  json sweden = depot_holidays();
  sweden["calendar"] = "SE";
  refused(sweden, "calendar: must be one of \"NO\", null");
  json lower = depot_holidays();
  lower["calendar"] = "no";
  refused(lower, "calendar: must be one of \"NO\", null");

  // Dates that are not dates.
  refused(with_dates({"2026-13-01"}),
          "dates[0].date: must be a date such as 2026-12-24, not "
          "'2026-13-01'");
  refused(with_dates({"2026-12-24", "2026-02-30"}),
          "dates[1].date: must be a date such as 2026-12-24, not '2026-02-30'");
  refused(with_dates({"26-12-24"}),
          "dates[0].date: must be a date such as 2026-12-24, not "
          "'26-12-24'");
  refused(with_dates({"2026-12-24T00:00:00Z"}),
          "dates[0].date: must be a date such as 2026-12-24, not '2026-12-24T00:00:00Z'");
  refused(with_dates({"0000-01-01"}),
          "dates[0].date: must be a date such as 2026-12-24, not '0000-01-01'");
  refused(with_dates({"2026-1-05"}),
          "dates[0].date: must be a date such as 2026-12-24, not "
          "'2026-1-05'");

  // A date listed twice.
  refused(with_dates({"2026-12-24", "2026-12-25", "2026-12-24"}),
          "dates[2].date: 2026-12-24 is listed twice (also dates[0])");

  // More than a thousand dates.
  json too_many{{"calendar", nullptr}, {"dates", json::array()}};
  for (int d = 0; d < 1001; ++d)
    too_many["dates"].push_back(
        {{"date",
          chargegrid::base::format_date(std::chrono::sys_days{std::chrono::year{2030} / 1 / 1} +
                                        std::chrono::days{d})}});
  refused(too_many, "dates: must have at most 1000 items");

  // Wrong types, missing and unknown members.
  json typed = depot_holidays();
  typed["calendar"] = 47;
  refused(typed, "calendar: must be string or null, not integer");
  typed = depot_holidays();
  typed["dates"] = "2026-12-24";
  refused(typed, "dates: must be array, not string");
  typed = depot_holidays();
  typed["dates"][0]["date"] = 20261224;
  refused(typed, "dates[0].date: must be string, not integer");
  typed = depot_holidays();
  typed["dates"][0]["name"] = 5;
  refused(typed, "dates[0].name: must be string or null, not integer");
  typed = depot_holidays();
  typed["dates"][0]["name"] = "";
  refused(typed, "dates[0].name: must be at least 1 characters long");
  typed = depot_holidays();
  typed["dates"][0]["name"] = std::string(201, 'x');
  refused(typed, "dates[0].name: must be at most 200 characters long");
  typed = depot_holidays();
  typed.erase("calendar");
  refused(typed, "calendar: is required");
  typed = depot_holidays();
  typed.erase("dates");
  refused(typed, "dates: is required");
  typed = depot_holidays();
  typed["country"] = "NO";
  refused(typed, "country: is not a known field");
  typed = depot_holidays();
  typed["dates"][0]["weekday"] = "wed";
  refused(typed, "dates[0].weekday: is not a known field");
  CHECK(admin.put(path, json::array()).status == 422);
  CHECK(admin.send(verb::put, path, "{\"calendar\":").status == 400);

  // Nothing of the refused bodies was stored, not even a change of the version.
  CHECK(admin.get(path).data == before);
  CHECK(stored_holidays(f, id).version == 1);

  // The range of GET: both ends, dates, in order, at most ten calendar years.
  const auto bad_query = [&](const std::string& query, int status, const std::string& detail) {
    auto r = admin.get(path + query);
    INFO(query);
    CHECK(r.status == status);
    CHECK(r.detail() == detail);
  };
  bad_query("?from=2026-01-01", 400,
            "query parameters from and to go together (from=2026-01-01&to=2026-12-31)");
  bad_query("?to=2026-01-01", 400,
            "query parameters from and to go together (from=2026-01-01&to=2026-12-31)");
  bad_query("?from=2026-02-30&to=2026-03-01", 400,
            "query parameter from must be a date such as 2026-12-24, not '2026-02-30'");
  bad_query("?from=2026-01-01&to=tomorrow", 400,
            "query parameter to must be a date such as 2026-12-24, not 'tomorrow'");
  bad_query("?from=2026-02-01&to=2026-01-31", 422, "to: must not be before from");
  bad_query("?from=2026-01-01&to=2036-01-01", 422,
            "to: from and to may span at most 10 calendar years");
  auto decade = admin.get(path + "?from=2026-01-01&to=2035-12-31");
  REQUIRE(decade.status == 200);
  // Ten years of the calendar, and the two dates of the site's own.
  CHECK(decade.data["in_force"].size() ==
        chargegrid::scheduler::public_holidays("NO", 2026, 2035).size() + 2);
}

TEST_CASE("a site's holidays are scoped like the site") {
  ApiFixture f;
  const auto [a, b] = f.make_sites("A", "B");
  const auto path_b = "/sites/" + std::to_string(b) + "/holidays";
  REQUIRE(f.admin().put(path_b, depot_holidays()).status == 200);

  // Another tenant's manager and utility: as if it did not exist.
  auto manager_a = f.client(f.make_key(Role::FacilityManager, {a}));
  CHECK(manager_a.get(path_b).status == 404);
  CHECK(manager_a.get(path_b + "?from=2026-01-01&to=2026-12-31").status == 404);
  CHECK(manager_a.put(path_b, json::parse(R"({"calendar": null, "dates": []})")).status == 404);
  CHECK(manager_a.put("/sites/999999/holidays", depot_holidays()).status == 404);
  auto utility_a = f.client(f.make_key(Role::Utility, {a}));
  CHECK(utility_a.get(path_b).status == 404);
  // Utilities read their own sites' but do not set them; drivers neither.
  auto utility_b = f.client(f.make_key(Role::Utility, {b}));
  CHECK(utility_b.get(path_b).status == 200);
  CHECK(utility_b.put(path_b, depot_holidays()).status == 403);
  const auto driver = f.make_driver("Ada", b);
  auto driver_key = f.client(f.make_key(Role::Driver, {}, driver));
  CHECK(driver_key.get(path_b).status == 403);
  CHECK(driver_key.put(path_b, depot_holidays()).status == 403);
  // B's holidays are as its admin set them.
  CHECK(f.admin().get(path_b).data["calendar"] == "NO");
  CHECK(f.admin().get(path_b).data["dates"].size() == 2);
  CHECK(stored_holidays(f, b).version == 1);
}

TEST_CASE("the API offers exactly the holiday calendars the server has") {
  ApiFixture f;
  auto document = f.admin().get("/openapi.json");
  REQUIRE(document.status == 200);
  json offered = json::array();
  for (auto code : chargegrid::scheduler::holiday_calendars()) offered.push_back(std::string(code));
  offered.push_back(nullptr);
  CHECK(document.data["components"]["schemas"]["SiteHolidays"]["properties"]["calendar"]["enum"] ==
        offered);
}
