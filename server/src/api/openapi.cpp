#include "api/openapi.hpp"

namespace chargegrid::server::api {

const nlohmann::json& openapi_document() {
  static const nlohmann::json document = nlohmann::json::parse(openapi_text());
  return document;
}

}  // namespace chargegrid::server::api
