#pragma once
// The ChargeGrid server: OCPP WebSocket and HTTP listeners on one io_context
// with a thread per core, the database pool, and the OCPP handlers. Used by
// chargegridd and, in-process, by the integration tests.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chargegrid/server/config.hpp"

namespace chargegrid::server {

namespace commands {
class CommandRouter;
}

// One REST API route, as the server serves it (to check against the OpenAPI document).
struct ApiRoute {
  std::string method;   // "GET", "POST", ...
  std::string pattern;  // "/api/v1/sites/{site_id}"
  std::vector<std::string> roles;
  std::string body_schema;  // components/schemas name, empty for none
};

class Server {
 public:
  // `database_url` must name a reachable database whose schema is migrated.
  Server(Config config, std::string database_url);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners and starts serving on background threads.
  void start();
  // Stops accepting, closes station connections (1001 going away), lets queued
  // database work finish, and joins the threads. Idempotent.
  void stop();
  // Blocks until stop() has completed (or SIGINT/SIGTERM when handle_signals()).
  void wait();
  // SIGINT/SIGTERM stop the server; SIGHUP reloads the certificates (reload_certificates).
  void handle_signals();
  // Reads the TLS certificate, key and CA files again; new connections use them. Returns the
  // failures (the previous files stay in use then); empty on success.
  std::vector<std::string> reload_certificates();

  std::uint16_t ocpp_port() const;
  std::uint16_t ocpp_tls_port() const;  // 0 when TLS is off
  std::uint16_t http_port() const;
  bool station_connected(const std::string& station_id) const;

  std::vector<ApiRoute> api_routes() const;

  // The one way out to the stations (server/src/commands/command_router.hpp).
  commands::CommandRouter& commands();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chargegrid::server
