#pragma once
// What the OpenADR tests share: a real server whose built-in VTN they call as a utility, and
// the configuration of a second server that polls it in VEN mode.

#include <string>
#include <vector>

#include "../api/api_fixture.hpp"

namespace chargegrid::testing {

// An IMPORT_CAPACITY_LIMIT event (kW) of `program_id` for the site at `location` and the VEN
// named chargegrid, from 2026-12-05T16:00Z: one interval of `duration` (ISO 8601) per limit.
inline nlohmann::json capacity_limit_event(const std::string& program_id,
                                           const std::string& location, const std::string& duration,
                                           const std::vector<double>& limits_kw) {
  auto intervals = nlohmann::json::array();
  for (std::size_t i = 0; i < limits_kw.size(); ++i)
    intervals.push_back(
        {{"id", i},
         {"payloads", {{{"type", "IMPORT_CAPACITY_LIMIT"}, {"values", {limits_kw[i]}}}}}});
  return {{"programID", program_id},
          {"payloadDescriptors",
           {{{"objectType", "EVENT_PAYLOAD_DESCRIPTOR"},
             {"payloadType", "IMPORT_CAPACITY_LIMIT"},
             {"units", "KW"}}}},
          {"targets",
           {{{"type", "POWER_SERVICE_LOCATION"}, {"values", {location}}},
            {{"type", "VEN_NAME"}, {"values", {"chargegrid"}}}}},
          {"intervalPeriod", {{"start", "2026-12-05T16:00:00Z"}, {"duration", duration}}},
          {"intervals", intervals}};
}

class OpenAdrFixture : public ApiFixture {
 public:
  // A call to the built-in VTN, `path` below /openadr3/3.0.1.
  HttpResult vtn(boost::beast::http::verb method, const std::string& path, const std::string& key,
                 const nlohmann::json& body = nlohmann::json()) {
    return vtn_raw(method, path, key, body.is_null() ? "" : body.dump());
  }
  HttpResult vtn_raw(boost::beast::http::verb method, const std::string& path,
                     const std::string& key, const std::string& body) {
    return http_request(server().http_port(), method, "/openadr3/3.0.1" + path, key, body);
  }

  // A server configured as a VEN of this one's VTN, authenticating with a utility key as its
  // client secret and polling every second.
  server::Config ven_config(const std::string& utility_key) {
    auto config = test_config();
    config.openadr_vtn_url =
        "http://127.0.0.1:" + std::to_string(server().http_port()) + "/openadr3/3.0.1";
    config.openadr_client_id = "test key";
    config.openadr_client_secret = utility_key;
    config.openadr_poll_seconds = 1;
    return config;
  }
};

}  // namespace chargegrid::testing
