#pragma once
// What the security tests against a running server share: a server configured for TLS with
// the test PKI, stations registered with a security profile and password, and the security
// events the server stored.

#include <optional>
#include <string>
#include <vector>

#include "security/password.hpp"
#include "server_fixture.hpp"
#include "test_pki.hpp"

namespace chargegrid::testing {

// The test server's settings with wss on a free port, this PKI's server certificate and CA.
inline server::Config tls_config(const TestPki& pki) {
  auto config = test_config();
  config.tls = true;
  config.ocpp_tls_port = 0;
  config.tls_cert_file = pki.file("server.pem");
  config.tls_key_file = pki.file("server.key");
  config.ca_cert_file = pki.file("ca.pem");
  config.ca_key_file = pki.file("ca.key");
  config.data_dir = pki.path().string();
  return config;
}

// Registers a station with a security profile and (when not empty) a password.
inline void add_station(const ServerFixture& fixture, const std::string& id, int profile,
                        const std::string& password = {}) {
  auto c = fixture.sql();
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO stations (id, security_profile, password_hash) VALUES ($1, $2, $3)", id, profile,
      password.empty()
          ? std::optional<std::string>()
          : std::optional<std::string>(server::security::hash_station_password(password)));
  tx.commit();
}

// Waits until the station has `count` CSMS security events (they are stored asynchronously).
inline std::vector<std::string> wait_for_events(const ServerFixture& fixture, const std::string& id,
                                                std::size_t count) {
  std::vector<std::string> events;
  ServerFixture::eventually([&] {
    events = csms_events(fixture, id);
    return events.size() >= count;
  });
  return events;
}

// How many of `events` mention `text` (events stored at nearly the same time may be stored in
// either order).
inline std::size_t count_with(const std::vector<std::string>& events, const std::string& text) {
  std::size_t n = 0;
  for (const auto& e : events) n += contains(e, text) ? 1 : 0;
  return n;
}

inline nlohmann::json boot_16() {
  return {{"chargePointVendor", "ChargeGrid"}, {"chargePointModel", "Secure"}};
}
inline nlohmann::json boot_201() {
  return {{"reason", "PowerUp"},
          {"chargingStation", {{"model", "Secure"}, {"vendorName", "ChargeGrid"}}}};
}

}  // namespace chargegrid::testing
