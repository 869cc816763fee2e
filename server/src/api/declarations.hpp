#pragma once
// A driver's declaration of departure and energy (departure_time, energy_wh, target_soc), as
// PATCH /sessions/{id} and POST /associations take it.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "store/charging_plans.hpp"

namespace chargegrid::server::api {

struct ApiContext;

// The declaration in a request body, nullopt when it has none. Throws a 422 ApiError for a
// departure in the past, a negative energy or a target outside 0-100 %.
std::optional<store::charging_plans::Declaration> read_declaration(const nlohmann::json& body);
// Tells smart charging to replan the station's site.
void announce_declaration(ApiContext& api, const std::string& station_id);

}  // namespace chargegrid::server::api
