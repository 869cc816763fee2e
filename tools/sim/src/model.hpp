#pragma once
// What a simulated station is, apart from its link to the CSMS: its EVSEs (one connector
// each; 1.6 connector n is EVSE n), the charging session on each, the meter, the
// configuration the CSMS can read and change, and the queue of transaction messages
// that survives disconnects. No I/O: the CSMS's CALLs change it (actions.cpp), the
// station's behaviour (station.cpp) reads it and sends what it says.

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/sim/fleet.hpp"
#include "charging_profiles.hpp"
#include "iso15118_vehicle.hpp"
#include "outgoing.hpp"
#include "trust_anchors.hpp"

namespace chargegrid::sim::detail {

using SteadyClock = std::chrono::steady_clock;

struct Session {
  int local_id = 0;  // the station's own number for it, from 1
  int evse = 1;
  std::string id_tag;
  std::string id_token_type = "ISO14443";  // 2.x; eMAID when an ISO 15118 vehicle authorized
  std::string transaction_uid;             // 2.0.1 transactionId
  std::optional<int> remote_start_id;      // 2.0.1
  bool remote = false;                     // started by the CSMS
  int seq_no = 0;                          // 2.0.1: of the next TransactionEvent
  SteadyClock::time_point started;
  SteadyClock::time_point last_meter;
  SteadyClock::time_point next_meter;
  SteadyClock::time_point ends;            // time_point::max(): only when something stops it
  std::optional<std::string> stop_reason;  // set when something asks it to stop now
  MeterModel meter;
  double import_at_start_wh = 0;  // the meter's registers when it began
  double export_at_start_wh = 0;
};

// A start the CSMS asked for, accepted and not begun yet.
struct RemoteStart {
  std::string id_tag;
  std::optional<int> remote_start_id;  // 2.0.1
};

struct Evse {
  int id = 1;
  bool available = true;  // Operative
  std::optional<Session> session;
  std::optional<RemoteStart> remote_start;
  // No new session can start on it.
  bool busy() const { return session.has_value() || remote_start.has_value(); }
};

struct Variable {
  std::string value;
  bool read_only = false;
  bool write_only = false;  // a password: never reported back
};

// A transaction message: kept until the CSMS answers it, resent after a reconnect.
struct QueuedMessage {
  std::string action;
  Json payload;
  int session = 0;         // local session id, to fill the 1.6 transactionId in at send time
  std::string message_id;  // fixed at first send, so a resend is the same message
  bool sent = false;
  int refusals = 0;  // CALLERRORs received for it so far
  // Sent again after a CALLERROR (transaction messages); a notification in the queue only
  // for its order (NotifyEVChargingNeeds after its transaction began) is sent once.
  bool resend_refused = true;
  SteadyClock::time_point retry_at;  // not sent again before (after a refusal)
};

// A message the CSMS asked for with TriggerMessage.
struct Trigger {
  std::string message;
  std::optional<int> evse;  // the EVSE (1.6 connector) it was asked for, if one was
};

class StationModel {
 public:
  StationModel(std::string id, StationOptions options, Stats& stats, FleetProbe* probe);

  // Real time for a span of simulated seconds.
  std::chrono::nanoseconds real(double simulated_seconds) const;
  // When a session started at `now` takes its first meter sample (StationOptions::
  // meter_aligned_to).
  SteadyClock::time_point first_meter_sample(SteadyClock::time_point now) const;
  OcppVersion version() const { return options.version; }

  Evse* evse(int id);
  const Evse* evse(int id) const;
  bool any_session() const;
  // No session running and none about to start.
  bool idle() const;
  // Done with its own sessions and any the CSMS started (never, with sessions = 0).
  bool sessions_complete() const;
  // The first operative EVSE that can take a new session, if any.
  Evse* free_evse();
  Evse* session_with_local_id(int local_id);
  // "Available", "Charging" / "Occupied", "Unavailable"; 1.6 connector 0 is the station.
  std::string connector_status(int evse_id) const;

  // Begins a session on `evse` (which must be free) now.
  Session& begin_session(Evse& evse, std::string id_tag, bool remote,
                         std::optional<int> remote_start_id);
  // Time passes: periodic meter values and sessions that end (by themselves or because
  // something asked them to), queued as transaction messages, also while offline.
  void advance(SteadyClock::time_point now);
  // Asks every session to stop now with this reason.
  void stop_sessions(const std::string& reason);
  // The earliest time advance() has something to do.
  SteadyClock::time_point next_event(SteadyClock::time_point until) const;
  // The instant on the station's simulated timeline: time_scale stretches real time from
  // the station's start (with 60, a real second there is a simulated minute). Charging
  // schedules run on it, so their periods pass as fast as the sessions they limit.
  Timestamp simulated(SteadyClock::time_point at) const;
  Timestamp simulated(Timestamp wall) const;
  // When the next scripted session plugs in (StationOptions::script), as real time.
  SteadyClock::time_point scripted_plug_in(std::size_t index) const;
  // The real time of a simulated second of the script (after StationOptions::script_start).
  SteadyClock::time_point on_script(double simulated_s) const;
  // The real time of an instant on the simulated timeline.
  Timestamp wall(Timestamp simulated) const;
  // A profile read from the CSMS, its times moved onto the simulated timeline.
  ChargingProfile on_timeline(ChargingProfile profile) const;
  // The transaction running on `evse` as its profiles name it, if any.
  std::optional<RunningTransaction> running_transaction(int evse) const;
  Electrics electrics() const;
  // The limit the profiles set on `evse` at `at`.
  PowerLimit limit_on(int evse, SteadyClock::time_point at) const;
  // Every running session's meter runs to `at` (before the profiles change).
  void run_meters(SteadyClock::time_point at);
  // Every running session's vehicle follows the profiles as of `at` (after they changed).
  void apply_profiles(SteadyClock::time_point at);

  void enqueue_transaction(OutgoingMessage message, int session, bool resend_refused = true);
  // What the CSMS answered to a transaction message (1.6 transactionId, authorization).
  void handle_transaction_response(const QueuedMessage& message, const Frame& response);

  // The simulator's id and options (the password may change at the CSMS's request).
  std::string id;
  StationOptions options;
  Stats& stats;
  FleetProbe* probe;  // may be null

  std::vector<Evse> evses;  // EVSE n at index n - 1
  std::map<std::string, Variable> variables;
  int local_list_version = 0;
  std::map<std::string, std::string> local_list;  // id token -> status
  ProfileStore profiles;                          // the charging profiles it holds
  std::map<int, std::string> reservations;        // reservation id -> id token
  TrustAnchorStore trust_anchors;                 // the roots the CSMS installed
  std::unique_ptr<Iso15118Vehicle> iso15118;      // with Iso15118Options::enabled

  bool stopping = false;  // the fleet is ending: finish sessions, flush, disconnect
  bool booted = false;    // BootNotification accepted on this connection
  bool reboot_requested = false;
  std::string boot_reason = "PowerUp";
  bool status_dirty = false;      // StatusNotifications due for every connector
  std::deque<Trigger> triggered;  // what the CSMS asked for with TriggerMessage
  int heartbeat_interval_s;
  double meter_interval_s;
  SteadyClock::time_point next_heartbeat;
  SteadyClock::time_point next_session;  // of the sessions the station starts itself
  int sessions_begun = 0;                // of the station's own (options.sessions), tried or run
  int session_counter = 0;               // of all sessions run, numbering them

  std::deque<QueuedMessage> transaction_queue;
  std::map<int, int> transaction_ids;  // 1.6: local session id -> CSMS transactionId
  // The station's meter registers, carried over from one session to the next.
  double import_register_wh;
  double export_register_wh;

 private:
  // The session's meter runs to `to` under the limits in force on the way.
  void run_meter(Evse& evse, SteadyClock::time_point to);
  void end_session(Evse& evse, SteadyClock::time_point now, const std::string& reason);
  void queue_meter_values(Evse& evse, SteadyClock::time_point at);

  Timestamp wall_anchor_;  // the station's start, where both timelines meet
  SteadyClock::time_point steady_anchor_;
};

}  // namespace chargegrid::sim::detail
