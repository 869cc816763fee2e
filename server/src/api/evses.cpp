// An EVSE's power model: what the operator says it can deliver (max_power_w, phases,
// bidirectional) next to what the station reports of it (its connectors). Smart charging plans
// with the former (store/evses.hpp).

#include "store/evses.hpp"

#include <cmath>
#include <limits>

#include "api/context.hpp"

namespace chargegrid::server::api {

namespace {

int evse_id_of(const ApiRequest& r) {
  const auto id = r.path_id("evse_id");
  if (id > std::numeric_limits<int>::max()) throw not_found("no EVSE " + std::to_string(id));
  return static_cast<int>(id);
}

// The request's patch, every value checked (the schema has checked the types).
store::evses::EvsePowerPatch patch_of(const json& body) {
  store::evses::EvsePowerPatch patch;
  if (auto power = body.find("max_power_w"); power != body.end()) {
    if (power->is_null()) {
      patch.clear_max_power_w = true;
    } else {
      const double watts = power->get<double>();
      if (!std::isfinite(watts) || watts <= 0)
        throw unprocessable("max_power_w: must be a positive number of watts, not " +
                            power->dump());
      patch.max_power_w = watts;
    }
  }
  if (auto phases = body.find("phases"); phases != body.end()) {
    if (phases->is_null()) {
      patch.clear_phases = true;
    } else {
      const auto count = phases->get<std::int64_t>();
      if (count != 1 && count != 3)
        throw unprocessable("phases: must be 1 or 3, not " + phases->dump());
      patch.phases = static_cast<int>(count);
    }
  }
  if (auto bidirectional = body.find("bidirectional"); bidirectional != body.end())
    patch.bidirectional = bidirectional->get<bool>();
  return patch;
}

// The EVSE as described and as reported; null when it is neither.
json evse(pqxx::transaction_base& tx, const std::string& station_id, int evse_id) {
  const auto described = store::evses::find(tx, station_id, evse_id);
  auto updated_at = json_row(tx, R"(SELECT updated_at FROM evses
                                     WHERE station_id = $1 AND evse_id = $2)",
                             station_id, evse_id);
  auto connectors = json_rows(tx, R"(
      SELECT connector_id, status, error_code, info, reported_at FROM connector_status
       WHERE station_id = $1 AND evse_id = $2 ORDER BY connector_id)",
                              station_id, evse_id);
  if (!described && connectors.empty()) return nullptr;
  json body{{"station_id", station_id},
            {"evse_id", evse_id},
            {"max_power_w", nullptr},
            {"phases", nullptr},
            {"bidirectional", false},
            {"updated_at", updated_at.is_null() ? json(nullptr) : updated_at["updated_at"]},
            {"connectors", connectors}};
  if (described) {
    if (described->max_power_w) body["max_power_w"] = *described->max_power_w;
    if (described->phases) body["phases"] = *described->phases;
    body["bidirectional"] = described->bidirectional;
  }
  return body;
}

}  // namespace

void add_evse_routes(Router& router, ApiContext& api) {
  const std::vector<Role> operators{Role::Admin, Role::FacilityManager};

  router.add(http::verb::get, "/api/v1/stations/{station_id}/evses/{evse_id}", operators, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto station_id = r.path_text("station_id");
               const auto evse_id = evse_id_of(r);
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 station_site_in_scope(tx, r.principal, station_id);
                 auto found = evse(tx, station_id, evse_id);
                 if (found.is_null())
                   throw not_found("station " + station_id + " has no EVSE " +
                                   std::to_string(evse_id) + " described or reported");
                 return found;
               });
               co_return json_answer(r.http, http::status::ok, body);
             });

  router.add(http::verb::patch, "/api/v1/stations/{station_id}/evses/{evse_id}", operators,
             "EvsePowerPatch", [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto station_id = r.path_text("station_id");
               const auto evse_id = evse_id_of(r);
               auto body = co_await api.transaction([&](pqxx::work& tx) {
                 // Out of scope answers 404 before any value is looked at.
                 station_site_in_scope(tx, r.principal, station_id);
                 store::evses::patch(tx, station_id, evse_id, patch_of(r.body));
                 return evse(tx, station_id, evse_id);
               });
               co_return json_answer(r.http, http::status::ok, body);
             });
}

}  // namespace chargegrid::server::api
