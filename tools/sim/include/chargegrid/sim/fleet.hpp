#pragma once
// Runs simulated OCPP stations against a CSMS: N stations, several per thread, each
// one WebSocket connection with its own strand. Usable from the command line
// (chargegrid-sim) and in-process from integration tests.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/sim/messages.hpp"
#include "chargegrid/sim/meter.hpp"
#include "chargegrid/sim/probe.hpp"
#include "chargegrid/sim/stats.hpp"

namespace chargegrid::sim {

// Where stations connect: ws[s]://host[:port]/path; a station appends "/{stationId}".
struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;  // service or number; defaults to 80 / 443
  std::string path;  // without trailing slash, e.g. "/ocpp"
};
// Throws std::invalid_argument with a reason for anything that is not a ws/wss URL.
Endpoint parse_url(const std::string& url);

// The vehicles that plug in, one per session, drawn with the station's meter seed (the same
// run draws the same vehicles). Battery, power and state of charge: StationOptions::meter.
struct EvOptions {
  // The initial state of charge is drawn uniformly within this many points of
  // meter.initial_soc_percent.
  double soc_spread_percent = 10.0;
  // The share of vehicles (0..1) that can discharge when a 2.1 setpoint asks (meter.v2g: all,
  // and they also discharge on their own).
  double v2g_share = 0.0;
  // 2.0.1 and 2.1: the vehicle says what it needs (NotifyEVChargingNeeds) after plug-in.
  bool notify_charging_needs = true;
};

// An ISO 15118 vehicle (Plug & Charge) behind every session the station starts itself, and
// the station's SECC certificate: 1.6 through the Plug & Charge application note's DataTransfer
// (vendorId org.openchargealliance.iso15118pnc), 2.0.1 and 2.1 with their own messages. Its
// certificates and keys come from files scripts/pki makes.
struct Iso15118Options {
  bool enabled = false;
  // The contract certificate followed by its MO sub-CAs (scripts/pki:
  // contract-NAME-chain.pem); its CN is the eMAID unless `emaid` says otherwise.
  std::string contract_certificate_file;
  std::string emaid;
  // Authorize with the certificate chain itself instead of iso15118CertificateHashData.
  bool authorize_with_certificate = false;
  // After boot the station asks for its SECC certificate (SignCertificate, certificateType
  // V2GCertificate) with a CSR for this key (PEM; empty: a fresh P-256 key per station) and
  // installs the chain CertificateSigned brings.
  bool sign_v2g_certificate = true;
  std::string secc_key_file;
  // After boot the vehicle asks for a contract certificate (Get15118EVCertificate, action
  // Install) with the EXI CertificateInstallationReq in this file (sent base64-encoded).
  std::string ev_certificate_request_file;
};

// A recorded session a scripted station replays: plug-in and plug-out in simulated seconds
// after StationOptions::script_start, and the energy its vehicle takes (then it is full).
struct ScriptedSession {
  double plug_in_s = 0;
  double plug_out_s = 0;
  double energy_wh = 0;
};

struct StationOptions {
  OcppVersion version = OcppVersion::v16;
  Endpoint endpoint;
  std::optional<std::string> password;  // HTTP Basic auth (security profile 1/2)
  std::string ca_file;                  // wss: CA bundle; empty means system default
  bool verify_peer = true;              // wss: verify the server certificate
  int connectors = 2;  // 1.6 connectors / 2.0.1 EVSEs (one connector each), a session on each
  // Sessions the station starts itself, one after the other; 0 = only boot, heartbeat and
  // what the CSMS asks (sessions the CSMS starts come on top of these).
  int sessions = 1;
  // Simulated seconds; time_scale divides every wait, so 60 turns minutes into seconds.
  double time_scale = 1.0;
  double meter_interval_s = 60.0;
  // When set, a session's meter samples fall on this wall instant plus whole intervals, the
  // way clock-aligned readings fall on the quarter hours, instead of counting from the
  // session's start: registers read on a CSMS's slot boundaries tell each slot's energy exactly.
  std::optional<std::chrono::system_clock::time_point> meter_aligned_to;
  // How long every session charges before the station ends it by itself (its own: Local,
  // the CSMS's: EVDisconnected); 0 = only when something stops it.
  double session_length_s = 1800.0;
  double idle_between_sessions_s = 60.0;
  double first_session_delay_s = 5.0;
  int default_heartbeat_s = 300;     // until the CSMS gives an interval
  double response_timeout_s = 30.0;  // real seconds to wait for a CALLRESULT
  double reconnect_min_s = 1.0;      // real seconds; doubles up to reconnect_max_s
  double reconnect_max_s = 30.0;
  // A transaction message the CSMS answers with a CALLERROR (it could not process it, e.g.
  // its database is away) is sent again, as OCPP 1.6 TransactionMessageAttempts /
  // TransactionMessageRetryInterval and 2.0.1 MessageAttempts / MessageAttemptInterval say:
  // up to this many transmissions in all, the n-th retry n intervals (simulated s) after
  // the n-th refusal. Then it is dropped.
  int transaction_message_attempts = 5;
  double transaction_message_retry_interval_s = 60.0;
  std::string id_tag = "SIMTAG";  // a station suffix is appended
  // Scripted sessions, in order, instead of drawn ones (`sessions`, `session_length_s` and the
  // drawn state of charge are then not used): each plugs in and out at its recorded times on
  // the simulated timeline, counted from the wall instant `script_start`, and its vehicle wants
  // exactly its energy (without the taper: it stops at 80 % of a battery large enough). Its
  // charging needs carry the energy and no departure, as a driver who declares nothing.
  std::vector<ScriptedSession> script;
  std::chrono::system_clock::time_point script_start{};
  MeterConfig meter;
  EvOptions ev;
  Iso15118Options iso15118;
  StationIdentity identity;
};

struct FleetOptions {
  StationOptions station;
  int stations = 1;
  std::string id_prefix = "SIM";  // station ids are prefix + zero-padded number
  int first_index = 1;
  int threads = 1;
  // Spread source addresses over 127.0.0.2 .. 127.0.0.(1+N) (loopback targets only),
  // to get past one source address's ephemeral-port limit.
  int source_address_spread = 0;
  // Real seconds between station starts, so a large fleet does not connect at once.
  double ramp_up_s = 0.0;
  // Per station (by index, from first_index): its scripted sessions (StationOptions::script);
  // a scripted station's vehicles are one driver, its id tag followed by "-" and its id.
  std::map<int, std::vector<ScriptedSession>> scripts;
};

// Station id for the i-th station, e.g. "SIM0001".
std::string station_id(const FleetOptions& options, int index);

class Fleet {
 public:
  explicit Fleet(FleetOptions options);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Runs until every station finished its sessions (then they disconnect), until
  // `limit` elapses, or until stop(); returns the merged statistics.
  Stats run(std::optional<std::chrono::milliseconds> limit = std::nullopt);
  // Thread-safe; makes run() return soon.
  void stop();
  // Live counters and latency windows, readable from any thread while run() runs.
  FleetProbe& probe();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chargegrid::sim
