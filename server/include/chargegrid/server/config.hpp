#pragma once
// Everything chargegridd can be told, with defaults that run on one machine.
// Each field is a flag (--ocpp-port) and an environment variable (CHARGEGRID_OCPP_PORT).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace chargegrid::server {

enum class UnknownStationPolicy { Accept, Pending, Reject };

struct Config {
  std::string bind_address = "0.0.0.0";
  std::uint16_t ocpp_port = 9000;  // 0: any free port
  std::uint16_t http_port = 8080;  // 0: any free port
  std::string database_url;        // empty: run an embedded cluster in data_dir/pg
  std::string data_dir = "./var";
  std::string ready_file;  // written with the bound ports once serving
  UnknownStationPolicy unknown_stations = UnknownStationPolicy::Accept;
  bool accept_unknown_tokens = false;  // free vend: any token not in the table is Accepted

  int threads = 0;  // 0: one per core
  std::size_t db_connections = 4;
  std::size_t db_queue_capacity = 20000;
  std::size_t meter_batch_rows = 4000;  // a batch is written when this many rows wait...
  int meter_batch_delay_ms = 5;         // ...or when the oldest row has waited this long

  std::size_t max_frame_bytes = 64 * 1024;
  int heartbeat_interval_s = 300;
  int call_timeout_s = 30;
  int handshake_timeout_s = 10;
  int keepalive_s = 60;  // WebSocket ping when idle this long; closed after twice that
  std::size_t pending_calls_per_station = 16;

  std::string log_level = "info";
  std::string log_format = "text";  // text (key=value) or json
};

// Parses flags and CHARGEGRID_* variables. Returns nullopt after printing help
// or an error (exit_code tells which).
std::optional<Config> parse_config(int argc, const char* const* argv, int& exit_code);

}  // namespace chargegrid::server
