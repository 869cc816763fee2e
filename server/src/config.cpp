#include "chargegrid/server/config.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <map>

#include "chargegrid/base/time.hpp"

namespace chargegrid::server {
namespace {

std::string env_name(const std::string& flag) {
  std::string name = "CHARGEGRID_";
  for (char c : flag) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

// --NAME and --no-NAME, with CHARGEGRID_NAME.
CLI::Option* add_switch(CLI::App& app, const std::string& flag, bool& value,
                        const std::string& help) {
  return app.add_flag("--" + flag + ",!--no-" + flag, value, help)
      ->envname(env_name(flag))
      ->capture_default_str();
}

template <class Add>
void add_plug_and_charge_options(CLI::App&, Config& config, Add& add) {
  add("v2g-root-file", config.v2g_root_file, "ISO 15118: the V2G root CA certificate (PEM)")
      ->check(CLI::ExistingFile);
  add("cpo-sub-ca1-cert-file", config.cpo_sub_ca1_cert_file,
      "ISO 15118: CPO sub-CA 1 certificate (PEM), issued by the V2G root")
      ->check(CLI::ExistingFile);
  add("cpo-sub-ca1-key-file", config.cpo_sub_ca1_key_file, "ISO 15118: CPO sub-CA 1 key (PEM)")
      ->check(CLI::ExistingFile);
  add("cpo-sub-ca2-cert-file", config.cpo_sub_ca2_cert_file,
      "ISO 15118: CPO sub-CA 2 certificate (PEM), issued by sub-CA 1; signs SECC certificates")
      ->check(CLI::ExistingFile);
  add("cpo-sub-ca2-key-file", config.cpo_sub_ca2_key_file, "ISO 15118: CPO sub-CA 2 key (PEM)")
      ->check(CLI::ExistingFile);
  add("v2g-organisation", config.v2g_organisation,
      "ISO 15118: the O a station's V2G CSR must carry; empty: not checked");
  add("v2g-ocsp-url", config.v2g_ocsp_url,
      "ISO 15118: the OCSP responder named in issued SECC certificates; empty: none");
  add("v2g-cert-days", config.v2g_cert_days, "ISO 15118: validity of issued SECC certificates")
      ->check(CLI::Range(1, 3650));
  add("v2g-renew-days", config.v2g_renew_days,
      "ISO 15118: days before a SECC certificate expires that the station is asked to renew it")
      ->check(CLI::Range(1, 365));
  add("v2g-renew-check-seconds", config.v2g_renew_check_s,
      "ISO 15118: seconds between two looks for SECC certificates near their expiry")
      ->check(CLI::Range(1, 86400));
  add("mo-roots-dir", config.mo_roots_dir,
      "ISO 15118: folder of mobility-operator root certificates (*.pem) contract certificates "
      "must chain to")
      ->check(CLI::ExistingDirectory);
  add("ocsp-timeout-ms", config.ocsp_timeout_ms, "ISO 15118: time allowed for one OCSP request")
      ->check(CLI::Range(100, 60000));
  add("ocsp-cache-max-seconds", config.ocsp_cache_max_s,
      "ISO 15118: GetCertificateStatus answers are kept until their nextUpdate, at most this "
      "long (0: not kept)")
      ->check(CLI::Range(0, 7 * 86400));
  add("ocsp-failure-policy", config.ocsp_failure_policy,
      "ISO 15118: a contract's OCSP responder is unreachable: closed (refuse) or open (accept)")
      ->check(CLI::IsMember({"closed", "open"}));
  add("cps-url", config.cps_url,
      "ISO 15118: the contract-certificate provisioning service's endpoint "
      "(Get15118EVCertificate); empty: answered Failed");
  add("cps-credentials", config.cps_credentials,
      "ISO 15118: the Authorization header value sent to --cps-url");
  add("cps-timeout-ms", config.cps_timeout_ms,
      "ISO 15118: time allowed for the provisioning service's answer")
      ->check(CLI::Range(100, 120000));
}

template <class Add>
void add_security_options(CLI::App& app, Config& config, Add& add) {
  add_switch(app, "tls", config.tls, "Serve wss (security profiles 2 and 3) on --ocpp-tls-port");
  add_switch(app, "http-tls", config.http_tls,
             "Serve the HTTP port (REST API, health, metrics) as https with the wss "
             "certificate; needs --tls");
  add("ocpp-tls-port", config.ocpp_tls_port,
      "OCPP wss port (wss://HOST:PORT/ocpp/{stationId}); 0 = any (the default when --ocpp-port "
      "is 0)");
  add("tls-cert-file", config.tls_cert_file,
      "Server certificate chain (PEM); empty: a development certificate in DATA_DIR/pki")
      ->check(CLI::ExistingFile);
  add("tls-key-file", config.tls_key_file, "Private key of --tls-cert-file (PEM)")
      ->check(CLI::ExistingFile);
  add("tls-ciphers", config.tls_ciphers,
      "TLS 1.2 cipher suites (OpenSSL names, ':'-separated); empty: the OCPP set");
  add("station-ca-file", config.station_ca_file,
      "CA certificates (PEM) a profile 3 client certificate must chain to; empty: --ca-cert-file")
      ->check(CLI::ExistingFile);
  add("station-cert-identity", config.station_cert_identity,
      "Client certificate subject field that must equal the station id");
  add("ca-cert-file", config.ca_cert_file,
      "CA certificate (PEM, intermediates after it) that signs station CSRs; empty: a "
      "development CA in DATA_DIR/pki")
      ->check(CLI::ExistingFile);
  add("ca-key-file", config.ca_key_file, "Private key of --ca-cert-file (PEM)")
      ->check(CLI::ExistingFile);
  add("station-cert-days", config.station_cert_days, "Validity of certificates issued to stations")
      ->check(CLI::Range(1, 3650));
  add("min-security-profile", config.min_security_profile,
      "Refuse station connections below this profile (1: no unauthenticated connections; "
      "unknown stations are then refused too)")
      ->check(CLI::Range(0, 3));
  add("auth-failures-per-minute", config.auth_failures_per_minute,
      "Failed station handshakes allowed per source address and minute before 429; 0 = no limit")
      ->check(CLI::Range(0, 100000));
  add("max-connections", config.max_connections, "Open station connections in total; 0 = no limit");
  add("max-connections-per-address", config.max_connections_per_address,
      "Open station connections per source address (IPv6: per /64); 0 = no limit");
  add("messages-per-second", config.messages_per_second,
      "Messages a station may send per second, sustained; excess CALLs get CALLERROR")
      ->check(CLI::Range(0.1, 100000.0));
  add("message-burst", config.message_burst,
      "Messages a station may send at once above the sustained rate")
      ->check(CLI::Range(1, 1000000));
  add("idle-timeout", config.idle_timeout_s,
      "Seconds without an OCPP message before a station connection is closed; 0 = never")
      ->check(CLI::Range(0, 86400 * 7));
}

template <class Add>
void add_ledger_options(CLI::App& app, Config& config, Add& add) {
  app.add_option("--ledger-adapter", config.ledger_adapters,
                 "Deliver every log entry (or checkpoint) to this adapter too: webhook, file or "
                 "evm; repeat for several (the verifiable log is always on)")
      ->envname(env_name("ledger-adapter"))
      ->delimiter(',')
      ->check(CLI::IsMember({"webhook", "file", "evm"}));
  add("checkpoint-interval", config.checkpoint_interval_s,
      "Seconds between signed checkpoints of the verifiable log (one is published only when the "
      "log has grown)")
      ->check(CLI::Range(1, 86400 * 7));
  add("ledger-alert-after", config.ledger_alert_after_s,
      "Seconds a ledger delivery may stay pending before it is an alert (/metrics, "
      "GET /api/v1/ledger/adapters)")
      ->check(CLI::Range(1, 86400 * 30));
  add("ledger-key-file", config.ledger_key_file,
      "The log's Ed25519 signing key (signed-note PRIVATE+KEY+... text); empty: "
      "DATA_DIR/ledger/log.key, created on first start");
  add("ledger-origin", config.ledger_origin,
      "The log's name (checkpoint origin) when its key is created; empty: HOST/ledger");
  add("webhook-url", config.webhook_url, "webhook adapter: the URL records are POSTed to");
  add("webhook-secret", config.webhook_secret,
      "webhook adapter: the Standard Webhooks signing secret (whsec_<base64>)");
  add("ledger-file", config.ledger_file,
      "file adapter: the JSON Lines file (one canonical record per line, line N = entry N)");
  add("evm-rpc-url", config.evm_rpc_url, "evm adapter: the chain's JSON-RPC URL");
  add("evm-key-file", config.evm_key_file,
      "evm adapter: the sending account's secp256k1 private key (64 hex digits)");
  add("evm-chain-id", config.evm_chain_id, "evm adapter: the chain id (EIP-155)");
  add("evm-contract", config.evm_contract,
      "evm adapter: the anchoring contract's address; empty: deployed on first use and "
      "remembered in the database");
  add("settlement-interval", config.settlement_interval_min,
      "Minutes per energy packet of a settlement, aligned to the hour in the site's time zone")
      ->check(CLI::IsMember({1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60}));
  add("session-timeout", config.session_timeout_s,
      "How long a station may stay silent about an open session before the server closes and "
      "settles it (a number with s, m, h or d; plain seconds; 0 = never)")
      ->transform(CLI::AsNumberWithUnit(
          std::map<std::string, double>{{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}}))
      ->check(CLI::Range(0.0, 86400.0 * 365));
}

// What the chosen ledger adapters need; empty when nothing is missing.
std::string ledger_problem(Config& config) {
  std::sort(config.ledger_adapters.begin(), config.ledger_adapters.end());
  config.ledger_adapters.erase(
      std::unique(config.ledger_adapters.begin(), config.ledger_adapters.end()),
      config.ledger_adapters.end());
  for (const auto& adapter : config.ledger_adapters) {
    if (adapter == "webhook" && (config.webhook_url.empty() || config.webhook_secret.empty()))
      return "--ledger-adapter webhook needs --webhook-url and --webhook-secret";
    if (adapter == "webhook" && config.webhook_secret.rfind("whsec_", 0) != 0)
      return "--webhook-secret must be whsec_ followed by the base64 key";
    if (adapter == "file" && config.ledger_file.empty())
      return "--ledger-adapter file needs --ledger-file";
    if (adapter == "evm" &&
        (config.evm_rpc_url.empty() || config.evm_key_file.empty() || config.evm_chain_id == 0))
      return "--ledger-adapter evm needs --evm-rpc-url, --evm-key-file and --evm-chain-id";
  }
  return "";
}

}  // namespace

bool is_valid_node_id(const std::string& id) {
  if (id.empty() || id.size() > 48) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
  });
}

std::optional<Config> parse_config(int argc, const char* const* argv, int& exit_code) {
  Config config;
  CLI::App app{"chargegridd: ChargeGrid charge point management server (OCPP 1.6J, 2.0.1, 2.1)"};
  app.footer(
      "Admin commands (each has --help; --data-dir or --database-url may come before or after):\n"
      "  chargegridd apikey create|list|revoke   REST API keys, in the running server's database\n"
      "  chargegridd database start|stop         the embedded PostgreSQL on its own (cluster "
      "nodes share it)");
  app.set_help_all_flag("--help-all");

  auto add = [&](const std::string& flag, auto& value, const std::string& help) {
    return app.add_option("--" + flag, value, help)->envname(env_name(flag))->capture_default_str();
  };
  add("bind", config.bind_address, "Address the listeners bind to");
  add("ocpp-port", config.ocpp_port,
      "OCPP WebSocket port (ws://HOST:PORT/ocpp/{stationId}); 0 = any");
  add("http-port", config.http_port, "HTTP port for /healthz, /metrics and the API; 0 = any");
  add("database-url", config.database_url,
      "PostgreSQL URL; empty runs an embedded cluster in DATA_DIR/pg");
  add("data-dir", config.data_dir, "Folder for the embedded database and other state");
  add("ready-file", config.ready_file, "Write {\"ocpp_port\":N,\"http_port\":N} here once serving");
  const std::map<std::string, UnknownStationPolicy> policies{
      {"accept", UnknownStationPolicy::Accept},
      {"pending", UnknownStationPolicy::Pending},
      {"reject", UnknownStationPolicy::Reject}};
  add("unknown-stations", config.unknown_stations,
      "BootNotification answer for a station not yet registered: accept (and register), "
      "pending or reject")
      ->transform(CLI::CheckedTransformer(policies, CLI::ignore_case));
  app.add_flag("--accept-unknown-tokens", config.accept_unknown_tokens,
               "Accept tokens that are not in the token table (free vend); blocked or expired "
               "tokens are still refused")
      ->envname(env_name("accept-unknown-tokens"));
  add("claim-window", config.claim_window_s,
      "Seconds after a session's start during which a driver's claim may take it over, if it "
      "started without a known token; 0 = never")
      ->check(CLI::Range(0, 86400));
  add("threads", config.threads, "I/O threads; 0 = one per core");
  add("db-connections", config.db_connections, "Database connections in the pool")
      ->check(CLI::Range(1, 256));
  add("outbox-keep-days", config.outbox_keep_days,
      "Days a processed outbox event is kept before it is deleted; 0 = kept for ever")
      ->check(CLI::Range(0, 3660));
  add("db-queue-capacity", config.db_queue_capacity,
      "Database jobs that may wait before stations are told to retry");
  add("meter-batch-rows", config.meter_batch_rows, "Meter rows written in one batch at most")
      ->check(CLI::Range(1, 100000));
  add("meter-batch-delay-ms", config.meter_batch_delay_ms,
      "Longest a meter row waits for its batch")
      ->check(CLI::Range(0, 1000));
  add("write-batch-items", config.write_batch_items,
      "Status changes, boots, connections, Authorize and session messages' writes and station "
      "commands' log rows written in one transaction once this many wait")
      ->check(CLI::Range(1, 100000));
  add("write-batch-delay-ms", config.write_batch_delay_ms,
      "Longest a status change, boot, connection, Authorize or session message waits for its "
      "batch")
      ->check(CLI::Range(0, 1000));
  add("max-frame-bytes", config.max_frame_bytes,
      "Largest WebSocket message accepted; larger closes with 1009")
      ->check(CLI::Range(1024, 16 * 1024 * 1024));
  add("heartbeat-interval", config.heartbeat_interval_s,
      "Heartbeat interval given to stations, seconds")
      ->check(CLI::Range(1, 86400));
  add("call-timeout", config.call_timeout_s, "Seconds to wait for a station's answer to a CALL")
      ->check(CLI::Range(1, 3600));
  add("handshake-timeout", config.handshake_timeout_s,
      "Seconds a client has to complete the WebSocket handshake")
      ->check(CLI::Range(1, 600));
  add("keepalive", config.keepalive_s, "Seconds of silence before a WebSocket ping")
      ->check(CLI::Range(1, 3600));
  add("pending-calls-per-station", config.pending_calls_per_station,
      "Server CALLs that may await a station's answer at once")
      ->check(CLI::Range(1, 1024));
  add_security_options(app, config, add);
  add_plug_and_charge_options(app, config, add);
  add_switch(app, "cluster", config.cluster,
             "Cluster mode: share the database and the listening ports (SO_REUSEPORT) with "
             "other nodes; stations are leased to one node at a time");
  add("node-id", config.node_id,
      "This node's name in cluster mode (implies --cluster); empty: HOST:PID")
      ->check([](const std::string& id) -> std::string {
        if (id.empty() || is_valid_node_id(id)) return "";
        return "1 to 48 characters of A-Z a-z 0-9 . _ : -";
      });
  add("lease-timeout", config.lease_timeout_s,
      "Cluster mode: seconds without a heartbeat after which a node counts as dead and its "
      "stations' leases end")
      ->check(CLI::Range(2, 3600));
  add_ledger_options(app, config, add);
  add("openadr-vtn-url", config.openadr_vtn_url,
      "OpenADR VEN mode: the utility VTN's base URL (ending in /openadr3/3.0.1); its events "
      "that target this server's sites are applied");
  add("openadr-client-id", config.openadr_client_id,
      "OpenADR VEN mode: the OAuth 2 client id for URL/auth/token");
  add("openadr-client-secret", config.openadr_client_secret,
      "OpenADR VEN mode: the OAuth 2 client secret for URL/auth/token");
  add("openadr-poll-seconds", config.openadr_poll_seconds,
      "OpenADR VEN mode: seconds between two reads of the VTN's programs and events")
      ->check(CLI::Range(1, 86400));
  add_switch(app, "smart-charging", config.smart_charging,
             "Plan every site with a grid limit and send its stations charging profiles");
  add("smart-charging-slot", config.smart_charging_slot_s,
      "Smart charging: planning slot in seconds (10 to 3600)")
      ->check(CLI::Range(10, 3600));
  add("smart-charging-horizon", config.smart_charging_horizon_s,
      "Smart charging: seconds each plan reaches ahead")
      ->check(CLI::Range(600, 7 * 86400));
  add("smart-charging-evse-power", config.smart_charging_evse_power_w,
      "Smart charging: an EVSE's maximum power in W")
      ->check(CLI::Range(std::int64_t{1000}, std::int64_t{1000000}));
  add("smart-charging-day-type-shift", config.smart_charging_day_type_shift_h,
      "Smart charging: hours after an arrival whose day type the departure predictor uses (0: "
      "the arrival's own)")
      ->check(CLI::Range(0.0, 48.0));
  add("smart-charging-time-scale", config.smart_charging_time_scale,
      "Smart charging, benchmarks and tests only: plan on a replay timeline this many times as "
      "fast as the wall clock (stations simulated at the same --time-scale); a divisor of the "
      "slot")
      ->check(CLI::Range(1, 3600));
  add("smart-charging-replay-start", config.smart_charging_replay_start,
      "Smart charging, benchmarks and tests only: the replay timeline's start (RFC 3339, rounded "
      "down to a slot boundary) at the moment the loop starts; default now");
  add("log-level", config.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  add("log-format", config.log_format, "text (key=value) or json")
      ->check(CLI::IsMember({"text", "json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return std::nullopt;
  }
  // Free ports for tests and side-by-side runs: --ocpp-port 0 also frees the wss port.
  if (config.ocpp_port == 0 && app.count("--ocpp-tls-port") == 0 &&
      std::getenv("CHARGEGRID_OCPP_TLS_PORT") == nullptr)
    config.ocpp_tls_port = 0;
  if (config.tls_cert_file.empty() != config.tls_key_file.empty() ||
      config.ca_cert_file.empty() != config.ca_key_file.empty()) {
    std::cerr << "--tls-cert-file and --tls-key-file (and --ca-cert-file and --ca-key-file) go "
                 "together\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (config.cpo_sub_ca1_cert_file.empty() != config.cpo_sub_ca1_key_file.empty() ||
      config.cpo_sub_ca2_cert_file.empty() != config.cpo_sub_ca2_key_file.empty()) {
    std::cerr << "--cpo-sub-ca1-cert-file/--cpo-sub-ca1-key-file (and the sub-CA 2 pair) go "
                 "together\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (!config.node_id.empty()) config.cluster = true;
  if (config.http_tls && !config.tls) {
    std::cerr << "--http-tls uses the wss certificate: it needs --tls\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (auto problem = ledger_problem(config); !problem.empty()) {
    std::cerr << problem << "\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (!config.openadr_vtn_url.empty() &&
      (config.openadr_client_id.empty() || config.openadr_client_secret.empty())) {
    std::cerr << "--openadr-vtn-url needs --openadr-client-id and --openadr-client-secret\n";
    exit_code = 2;
    return std::nullopt;
  }
  // A scaled slot must last whole wall seconds: profiles carry whole-second start times.
  if (config.smart_charging_slot_s % config.smart_charging_time_scale != 0) {
    std::cerr << "--smart-charging-time-scale must divide --smart-charging-slot\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (!config.smart_charging_replay_start.empty()) {
    if (!base::parse_rfc3339(config.smart_charging_replay_start)) {
      std::cerr << "--smart-charging-replay-start: not an RFC 3339 time\n";
      exit_code = 2;
      return std::nullopt;
    }
  }
  exit_code = 0;
  return config;
}

}  // namespace chargegrid::server
