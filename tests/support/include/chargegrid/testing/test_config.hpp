#pragma once
// The configuration of a server a test starts in its own process: loopback, free ports, few
// threads and connections, plain ws, and its files in the system's temporary folder.

#include <filesystem>

#include "chargegrid/server/config.hpp"

namespace chargegrid::testing {

inline server::Config test_config() {
  server::Config config;
  config.bind_address = "127.0.0.1";
  config.ocpp_port = 0;
  config.http_port = 0;
  config.threads = 2;
  config.db_connections = 2;
  config.meter_batch_delay_ms = 2;
  config.log_level = "warn";
  config.tls = false;  // the wss listener has its own tests (tests/security)
  // State the server keeps in files (the ledger's signing key) stays out of the source tree.
  config.data_dir = (std::filesystem::temp_directory_path() / "chargegrid-tests").string();
  return config;
}

}  // namespace chargegrid::testing
