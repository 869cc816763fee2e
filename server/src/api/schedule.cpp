// Smart charging in the API: a site's plan (GET /sites/{id}/schedule, JSON or CSV), the
// profiles sent for a session, and a driver's declaration of departure and energy
// (PATCH /sessions/{id}; POST /associations takes the same fields).

#include <algorithm>
#include <sstream>

#include "api/context.hpp"
#include "api/declarations.hpp"
#include "chargegrid/base/time.hpp"
#include "smart_charging/planning.hpp"
#include "smart_charging/service.hpp"
#include "store/charging_plans.hpp"
#include "store/demand_response.hpp"
#include "store/tariffs.hpp"

namespace chargegrid::server::api {

using std::chrono::seconds;
namespace sc = smart_charging;

namespace {

constexpr auto kLongestRange = std::chrono::hours(24 * 7);

sc::Time parse_time(const std::string& text) {
  return std::chrono::time_point_cast<seconds>(*base::parse_rfc3339(text));
}

// The plan's slots and vehicles over [from, to): the stored plan where it reaches, the site's
// limits with nothing planned elsewhere.
json schedule_of(const json& stored, const sc::Horizon& range,
                 const std::vector<sc::SlotLimits>& limits) {
  std::map<std::string, const json*> planned;
  if (stored.is_object())
    for (const auto& slot : stored["slots"]) planned[slot["start"].get<std::string>()] = &slot;
  const auto stored_slot = stored.is_object() ? stored["slot_seconds"].get<std::int64_t>() : 0;
  json slots = json::array();
  std::vector<std::size_t> stored_index;  // index into the stored plan's slots, or npos
  for (std::size_t i = 0; i < range.slots; ++i) {
    const auto start = sc::format_time(range.slot_start(i));
    if (auto it = planned.find(start); it != planned.end() && stored_slot == range.slot.count()) {
      slots.push_back(*it->second);
      stored_index.push_back(static_cast<std::size_t>(
          (range.slot_start(i) - parse_time(stored["start"].get<std::string>())).count() /
          stored_slot));
      continue;
    }
    stored_index.push_back(std::string::npos);
    const auto& l = limits[i];
    const auto optional = [](const std::optional<std::int64_t>& v) {
      return v ? json(*v) : json(nullptr);
    };
    slots.push_back({{"start", start},
                     {"end", sc::format_time(range.slot_start(i + 1))},
                     {"import_limit_w", optional(l.import_limit_w)},
                     {"export_limit_w", optional(l.export_limit_w)},
                     {"baseline_w", 0},
                     {"planned_import_w", 0},
                     {"planned_export_w", 0},
                     {"flex_up_w", l.import_limit_w ? json(*l.import_limit_w) : json(0)},
                     {"flex_down_w", 0},
                     {"import_price_minor_per_kwh", optional(l.import_price)},
                     {"export_price_minor_per_kwh", optional(l.export_price)},
                     {"event_ids", l.event_ids}});
  }
  json vehicles = json::array();
  if (stored.is_object())
    for (auto vehicle : stored["vehicles"]) {
      json power = json::array();
      for (auto index : stored_index)
        power.push_back(index == std::string::npos ? json(0) : vehicle["power_w"][index]);
      vehicle["power_w"] = std::move(power);
      vehicles.push_back(std::move(vehicle));
    }
  json out{{"from", sc::format_time(range.start)},
           {"to", sc::format_time(range.end())},
           {"slot_seconds", range.slot.count()},
           {"planned_at", nullptr},
           {"planned_reason", nullptr},
           {"planned_by", nullptr},
           {"slots", std::move(slots)},
           {"vehicles", std::move(vehicles)}};
  return out;
}

std::string csv_of(const json& schedule) {
  static const char* columns[] = {"start",
                                  "end",
                                  "import_limit_w",
                                  "export_limit_w",
                                  "baseline_w",
                                  "planned_import_w",
                                  "planned_export_w",
                                  "flex_up_w",
                                  "flex_down_w",
                                  "import_price_minor_per_kwh",
                                  "export_price_minor_per_kwh",
                                  "event_ids"};
  std::ostringstream out;
  for (std::size_t c = 0; c < std::size(columns); ++c) out << (c ? "," : "") << columns[c];
  out << "\r\n";
  for (const auto& slot : schedule["slots"]) {
    for (std::size_t c = 0; c < std::size(columns); ++c) {
      if (c) out << ',';
      const auto& v = slot[columns[c]];
      if (v.is_string()) {
        out << v.get<std::string>();
      } else if (v.is_array()) {
        // Event ids are OpenADR ids: quoted, ';'-separated.
        std::string joined;
        for (const auto& id : v) joined += (joined.empty() ? "" : ";") + id.get<std::string>();
        std::string quoted;
        for (char ch : joined) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        out << '"' << quoted << '"';
      } else if (!v.is_null()) {
        out << v.dump();
      }
    }
    out << "\r\n";
  }
  return out.str();
}

}  // namespace

std::optional<store::charging_plans::Declaration> read_declaration(const json& body) {
  store::charging_plans::Declaration d;
  bool any = false;
  if (body.contains("departure_time") && !body["departure_time"].is_null()) {
    const auto text = body["departure_time"].get<std::string>();
    const auto at = base::parse_rfc3339(text);
    if (!at) throw unprocessable("departure_time: '" + text + "' is not an RFC 3339 time");
    if (*at <= std::chrono::system_clock::now())
      throw unprocessable("departure_time: " + text + " is in the past");
    d.departure_s = std::chrono::duration_cast<seconds>(at->time_since_epoch()).count();
    any = true;
  }
  if (body.contains("energy_wh") && !body["energy_wh"].is_null()) {
    const auto energy = body["energy_wh"].get<std::int64_t>();
    if (energy < 0) throw unprocessable("energy_wh: must not be negative");
    d.energy_wh = energy;
    any = true;
  }
  if (body.contains("target_soc") && !body["target_soc"].is_null()) {
    const auto soc = body["target_soc"].get<double>();
    if (soc < 0 || soc > 100) throw unprocessable("target_soc: must be a percentage (0 to 100)");
    d.target_soc = soc;
    any = true;
  }
  if (!any) return std::nullopt;
  return d;
}

void announce_declaration(ApiContext& api, const std::string& station_id) {
  api.services.events.publish(sc::DeclarationChanged{station_id});
}

void add_schedule_routes(Router& router, ApiContext& api) {
  router.add(
      http::verb::get, "/api/v1/sites/{site_id}/schedule",
      {Role::Admin, Role::FacilityManager, Role::Utility}, "",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto site_id = r.path_id("site_id");
        require_site(r.principal, site_id);
        const auto from_text = r.query_time("from");
        const auto to_text = r.query_time("to");
        const auto slot = seconds{api.services.config.smart_charging_slot_s};
        // By default the slot in progress and the next 24 h of slots.
        const auto from =
            from_text
                ? parse_time(*from_text)
                : sc::horizon_at(std::chrono::floor<seconds>(std::chrono::system_clock::now()),
                                 slot, slot)
                      .start;
        const auto to = to_text ? parse_time(*to_text) : from + std::chrono::hours(24);
        if (to <= from) throw unprocessable("to: must be after from");
        if (to - from > kLongestRange) throw unprocessable("to: at most 7 days after from");
        auto range = sc::horizon_at(from, slot, slot);
        range.slots = static_cast<std::size_t>((to - range.start + slot - seconds{1}) / slot);
        auto body = co_await api.transaction([&](pqxx::work& tx) {
          const auto site = store::charging_plans::site(tx, site_id);
          if (!site) throw not_found("no site " + std::to_string(site_id));
          const auto windows = store::demand_response::for_site(
              tx, site_id, sc::format_time(range.start), sc::format_time(range.end()));
          const auto stored = store::charging_plans::plan(tx, site_id);
          const auto tariff = store::tariffs::find(tx, site_id);
          auto out = schedule_of(
              stored, range,
              sc::slot_limits(range, *site, windows, tariff ? &tariff->tariff : nullptr));
          if (tariff) out["currency"] = tariff->tariff.currency;
          if (const auto made = store::charging_plans::plan_made(tx, site_id)) {
            out["planned_at"] = made->planned_at;
            out["planned_reason"] = made->reason;
            out["planned_by"] = made->planned_by.empty() ? json(nullptr) : json(made->planned_by);
          }
          out["site_id"] = site_id;
          return out;
        });
        if (!wants_csv(r.http)) co_return json_answer(r.http, Status::ok, body);
        auto response = json_response(r.http, Status::ok, csv_of(body));
        response.set(http::field::content_type, "text/csv; charset=utf-8");
        co_return response;
      });

  const std::vector<Role> readers{Role::Admin, Role::FacilityManager, Role::Driver};
  // " AND <the caller may see session $3>" with $1 = site scope, $2 = driver scope.
  static const std::string kVisibleSession = R"(
    SELECT t.id, t.station_id, t.state FROM transactions t JOIN stations st ON st.id = t.station_id
     WHERE t.id = $3
       AND ($1::bigint[] IS NULL OR st.site_id = ANY($1) OR t.driver_id = $2)
       AND ($2::bigint IS NULL OR t.driver_id = $2))";

  add_read_route(
      router, api, "/api/v1/sessions/{session_id}/charging-profiles", readers,
      [](ApiRequest& r, pqxx::work& tx) -> json {
        const auto id = r.path_id("session_id");
        const auto page = r.page();

        if (json_row(tx, kVisibleSession, r.principal.site_scope(), r.principal.driver_scope(), id)
                .is_null())
          throw not_found("no session " + std::to_string(id) + " visible to this key");
        return page_rows(tx, page, R"(
                   SELECT id, profile_id, kind, purpose, station_id, evse_id, session_id, start_at,
                          rate_unit, schedule, command_id, outcome, status, sent_at, answered_at
                     FROM charging_profiles WHERE session_id = $1
                    ORDER BY id LIMIT $2 OFFSET $3)",
                         id);
      });

  router.add(http::verb::patch, "/api/v1/sessions/{session_id}", readers, "SessionPatch",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto id = r.path_id("session_id");
               const auto declaration = read_declaration(r.body);
               if (!declaration)
                 throw unprocessable("give departure_time, energy_wh or target_soc");
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 auto session = json_row(tx, kVisibleSession, r.principal.site_scope(),
                                         r.principal.driver_scope(), id);
                 if (session.is_null())
                   throw not_found("no session " + std::to_string(id) + " visible to this key");
                 if (session["state"] != "active")
                   throw conflict("session " + std::to_string(id) + " has already ended");
                 store::charging_plans::declare_for_session(tx, id, *declaration);
                 return json_row(tx, R"(
                   SELECT $1::int AS session_id, $2::text AS station_id, departure_time,
                          energy_wh, target_soc, declared_at
                     FROM charging_declarations WHERE session_id = $1
                    ORDER BY id DESC LIMIT 1)",
                                 id, session["station_id"].get<std::string>());
               });
               announce_declaration(api, body["station_id"].get<std::string>());
               co_return json_answer(r.http, Status::ok, body);
             });
}

}  // namespace chargegrid::server::api
