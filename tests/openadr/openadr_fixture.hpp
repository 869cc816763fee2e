#pragma once
// What the OpenADR tests share: a real server whose built-in VTN they call as a utility, and
// the configuration of a second server that polls it in VEN mode.

#include <string>

#include "../api/api_fixture.hpp"

namespace chargegrid::testing {

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
