#pragma once
// Everything chargegridd can be told, with defaults that run on one machine.
// Each field is a flag (--ocpp-port) and an environment variable (CHARGEGRID_OCPP_PORT).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
  // Seconds after its start during which a claim (POST /associations) may take over a
  // running session that started without a known token (0: never).
  int claim_window_s = 300;

  int threads = 0;  // 0: one per core
  std::size_t db_connections = 4;
  std::size_t db_queue_capacity = 20000;
  std::size_t meter_batch_rows = 4000;  // a batch is written when this many rows wait...
  int meter_batch_delay_ms = 5;         // ...or when the oldest row has waited this long
  // Status changes, boots and connections (group commits): a batch is written when this many
  // wait, or when the oldest has waited this long.
  std::size_t write_batch_items = 2000;
  int write_batch_delay_ms = 5;

  std::size_t max_frame_bytes = 64 * 1024;
  int heartbeat_interval_s = 300;
  int call_timeout_s = 30;
  int handshake_timeout_s = 10;
  int keepalive_s = 60;  // WebSocket ping when idle this long; closed after twice that
  std::size_t pending_calls_per_station = 16;

  // Station security (docs/security.md).
  bool tls = true;                     // the wss listener (security profiles 2 and 3)
  bool http_tls = false;               // https on http_port, with the wss certificate
  std::uint16_t ocpp_tls_port = 9443;  // 0: any free port
  std::string tls_cert_file;           // server certificate chain (PEM); empty: development
  std::string tls_key_file;            // certificate created in data_dir/pki
  std::string tls_ciphers;             // TLS 1.2 suites (OpenSSL names); empty: OCPP's
  std::string station_ca_file;  // CAs profile 3 client certificates chain to; empty: ca_cert_file
  std::string station_cert_identity = "CN";  // subject field that must equal the station id
  std::string ca_cert_file;                  // CA that signs station CSRs (SignCertificate); empty:
  std::string ca_key_file;                   // development CA in data_dir/pki
  int station_cert_days = 365;               // validity of certificates issued to stations
  int min_security_profile = 0;              // 1+: no unauthenticated station connections
  int auth_failures_per_minute = 10;         // per source address, then 429 (0: unlimited)
  std::size_t max_connections = 18000;       // open station connections in total (0: unlimited)
  std::size_t max_connections_per_address = 1000;  // per source address or IPv6 /64 (0: unlimited)
  double messages_per_second = 20;                 // per station, sustained...
  int message_burst = 200;   // ...with this many at once; excess gets CALLERROR
  int outbox_keep_days = 7;  // processed outbox events are deleted this long after (0: kept)
  int idle_timeout_s = 900;  // no OCPP message for this long closes (0: never)

  // ISO 15118 Plug & Charge (docs/iso15118.md).
  std::string v2g_root_file;          // V2G root CA certificate (PEM)
  std::string cpo_sub_ca1_cert_file;  // CPO sub-CA 1 (issued by the V2G root)
  std::string cpo_sub_ca1_key_file;
  std::string cpo_sub_ca2_cert_file;  // CPO sub-CA 2: signs the stations' SECC certificates
  std::string cpo_sub_ca2_key_file;
  std::string v2g_organisation;  // O a V2G CSR must carry; empty: not checked
  std::string v2g_ocsp_url;      // responder named in issued SECC certificates
  int v2g_cert_days = 365;       // validity of issued SECC certificates
  int v2g_renew_days = 30;       // ask for a new one this long before expiry
  int v2g_renew_check_s = 3600;  // how often certificates near expiry are looked for
  std::string mo_roots_dir;      // mobility-operator roots (*.pem) contracts chain to
  int ocsp_timeout_ms = 3000;    // per OCSP request
  int ocsp_cache_max_s = 86400;  // GetCertificateStatus answers kept at most this long
  std::string ocsp_failure_policy = "closed";  // responder unreachable: closed or open
  std::string cps_url;                         // contract-certificate provisioning service
  std::string cps_credentials;                 // its Authorization header value
  int cps_timeout_ms = 10000;

  // Cluster mode (docs/cluster.md): nodes share the database and the listening ports
  // (SO_REUSEPORT); each station is held by one node, recorded as a lease.
  bool cluster = false;      // implied by a node_id
  std::string node_id;       // 1-48 of A-Z a-z 0-9 . _ : -; empty: HOST:PID
  int lease_timeout_s = 15;  // a node silent this long is dead and loses its leases

  // Ledger (docs/settlement.md): the verifiable log is always on; adapters are added to it.
  std::vector<std::string> ledger_adapters;  // webhook, file, evm
  int checkpoint_interval_s = 60;            // a checkpoint when due and the tree has grown
  int ledger_alert_after_s = 300;            // a delivery pending longer is an alert

  // Smart charging (docs/smart-charging.md): profiles that keep each site inside its limits.
  bool smart_charging = false;
  int smart_charging_slot_s = 900;                   // planning slot, a whole number of minutes
  int smart_charging_horizon_s = 86400;              // how far ahead each plan reaches
  std::int64_t smart_charging_evse_power_w = 11000;  // an EVSE's maximum power
  // Benchmarks and tests only (docs/smart-charging.md): the loop plans on a replay timeline
  // that runs this many times as fast as the wall clock (1: the wall clock), from
  // smart_charging_replay_start (RFC 3339, rounded down to a slot boundary; empty: now) at
  // the wall instant smart_charging_replay_wall_start_s (Unix seconds; 0: when the loop starts).
  int smart_charging_time_scale = 1;
  // Hours after an arrival whose day type (weekday, weekend) the departure predictor uses;
  // 0: the arrival's own, as chargegrid-plan-eval's replay (docs/scheduler.md).
  double smart_charging_day_type_shift_h = 9;
  std::string smart_charging_replay_start;
  std::int64_t smart_charging_replay_wall_start_s = 0;
  std::string ledger_key_file;  // the log's Ed25519 note key; empty: DATA_DIR/ledger/log.key
  std::string ledger_origin;    // the log's name for a new key; empty: HOST/ledger
  std::string webhook_url;      // http(s)://...
  std::string webhook_secret;   // whsec_<base64>
  std::string ledger_file;      // JSON Lines file
  std::string evm_rpc_url;
  std::string evm_key_file;  // secp256k1 private key, 64 hex digits
  std::uint64_t evm_chain_id = 0;
  std::string evm_contract;  // anchoring contract address; empty: deployed once, remembered

  // OpenADR VEN mode (docs/openadr.md): a utility's VTN polled for events; empty: off.
  std::string openadr_vtn_url;  // base URL ending in /openadr3/3.0.1
  std::string openadr_client_id;
  std::string openadr_client_secret;
  int openadr_poll_seconds = 30;
  // Settlement (docs/settlement.md): the length of a session's energy packets, in minutes (a
  // divisor of 60; packets are aligned to the hour in the site's time zone).
  int settlement_interval_min = 15;
  // Seconds a station may stay silent about an open session (no event, no register reading)
  // before the server closes and settles it; 0: never. --session-timeout takes 48h, 90m, 30s.
  double session_timeout_s = 48 * 3600;

  std::string log_level = "info";
  std::string log_format = "text";  // text (key=value) or json
};

// A cluster node id: 1-48 characters of A-Z a-z 0-9 . _ : -
bool is_valid_node_id(const std::string& id);

// Parses flags and CHARGEGRID_* variables. Returns nullopt after printing help
// or an error (exit_code tells which).
std::optional<Config> parse_config(int argc, const char* const* argv, int& exit_code);

}  // namespace chargegrid::server
