#pragma once
// The OpenAPI 3.1 document of the REST API (server/api/openapi.py generates it
// at build time). Served at /api/v1/openapi.json; its component schemas check
// request bodies.

#include <nlohmann/json.hpp>
#include <string_view>

namespace chargegrid::server::api {

std::string_view openapi_text();
const nlohmann::json& openapi_document();

}  // namespace chargegrid::server::api
