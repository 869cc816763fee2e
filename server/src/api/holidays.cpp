// A site's public holidays: a built-in calendar and dates of its own, which smart charging's
// departure predictor counts as Sundays. Facility managers set their sites' (PUT replaces both,
// after every check); whoever may read the site reads them, with the holidays in force over a
// range of dates.

#include "chargegrid/scheduler/holidays.hpp"

#include <algorithm>
#include <map>

#include "api/context.hpp"
#include "chargegrid/base/time.hpp"
#include "store/outbox.hpp"
#include "store/site_holidays.hpp"

namespace chargegrid::server::api {

namespace {

using std::chrono::sys_days;
namespace holidays = store::site_holidays;

// How many years GET ?from=&to= may span.
constexpr int kLongestRangeYears = 10;

json day_json(sys_days date, const std::string& name) {
  return {{"date", base::format_date(date)}, {"name", name.empty() ? json(nullptr) : json(name)}};
}

json holidays_json(const holidays::Holidays& h) {
  json dates = json::array();
  for (const auto& d : h.days) dates.push_back(day_json(d.date, d.name.value_or("")));
  return {{"calendar", h.calendar ? json(*h.calendar) : json(nullptr)}, {"dates", dates}};
}

// The holidays in force from `from` to `to` (inclusive): the calendar's and the site's own.
json in_force(const holidays::Holidays& h, sys_days from, sys_days to) {
  std::vector<scheduler::Holiday> own;
  for (const auto& d : h.days) own.push_back({d.date, d.name.value_or(""), false});
  json out = json::array();
  for (const auto& day : scheduler::holidays_between(h.calendar.value_or(""), own, from, to)) {
    auto entry = day_json(day.date, day.name);
    entry["source"] = day.from_calendar ? "calendar" : "site";
    out.push_back(std::move(entry));
  }
  return out;
}

// A ?name=2026-01-01 query parameter (400 when it is not a date).
std::optional<sys_days> query_date(const ApiRequest& r, const std::string& name) {
  const auto text = r.query_text(name);
  if (!text) return std::nullopt;
  const auto day = base::parse_date(*text);
  if (!day)
    throw bad_request("query parameter " + name + " must be a date such as 2026-12-24, not '" +
                      *text + "'");
  return day;
}

// The PUT body. The SiteHolidays schema has checked it (the calendar one the server has, each
// date a real day); 422 for a date listed twice.
struct Requested {
  std::optional<std::string> calendar;
  std::vector<holidays::Day> days;
};
Requested requested(const json& body) {
  Requested out;
  if (!body["calendar"].is_null()) out.calendar = body["calendar"].get<std::string>();
  std::map<sys_days, std::size_t> seen;
  const auto& dates = body["dates"];
  for (std::size_t i = 0; i < dates.size(); ++i) {
    const auto text = dates[i]["date"].get<std::string>();
    const auto day = base::parse_date(text).value();
    if (auto [at, fresh] = seen.emplace(day, i); !fresh)
      throw unprocessable("dates[" + std::to_string(i) + "].date: " + text +
                          " is listed twice (also dates[" + std::to_string(at->second) + "])");
    const auto name = dates[i].find("name");
    out.days.push_back({day, name == dates[i].end() || name->is_null()
                                 ? std::nullopt
                                 : std::optional(name->get<std::string>())});
  }
  std::sort(out.days.begin(), out.days.end(),
            [](const holidays::Day& a, const holidays::Day& b) { return a.date < b.date; });
  return out;
}

}  // namespace

void add_holiday_routes(Router& router, ApiContext& api) {
  router.add(http::verb::get, "/api/v1/sites/{site_id}/holidays",
             {Role::Admin, Role::FacilityManager, Role::Utility}, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("site_id");
               require_site(r.principal, id);
               const auto from = query_date(r, "from");
               const auto to = query_date(r, "to");
               if (from.has_value() != to.has_value())
                 throw bad_request(
                     "query parameters from and to go together (from=2026-01-01&to=2026-12-31)");
               if (from && *to < *from) throw unprocessable("to: must not be before from");
               using std::chrono::year_month_day;
               if (from && year_month_day{*to}.year() - year_month_day{*from}.year() >=
                               std::chrono::years{kLongestRangeYears})
                 throw unprocessable("to: from and to may span at most " +
                                     std::to_string(kLongestRangeYears) + " calendar years");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 const auto found = holidays::find(tx, id);
                 if (!found) throw not_found("no site " + std::to_string(id));
                 auto out = holidays_json(*found);
                 if (from) {
                   out["from"] = base::format_date(*from);
                   out["to"] = base::format_date(*to);
                   out["in_force"] = in_force(*found, *from, *to);
                 }
                 return out;
               });
               co_return json_answer(r.http, http::status::ok, body);
             });

  router.add(http::verb::put, "/api/v1/sites/{site_id}/holidays",
             {Role::Admin, Role::FacilityManager}, "SiteHolidays",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("site_id");
               require_site(r.principal, id);
               const auto wanted = requested(r.body);
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 if (!holidays::put(tx, id, wanted.calendar, wanted.days))
                   throw not_found("no site " + std::to_string(id));
                 // Its predictor learns them: the smart-charging loop rebuilds it as it replans.
                 store::outbox::append(tx, store::outbox::kSiteChanged, {{"site_ids", {id}}});
                 return holidays_json(*holidays::find(tx, id));
               });
               co_return json_answer(r.http, http::status::ok, body);
             });
}

}  // namespace chargegrid::server::api
