#pragma once
// sessions: the one writer of charging sessions (the transactions table, and the 2.x
// transaction_events kept as sent). Every write is idempotent: a resent message finds what
// the first one stored; an ended session is never rewritten. Only the meter writer's span
// update (store/meter_values) also touches a running session's register readings.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::sessions {

// The energy registers' readings a message brings (whole meter, no phase), lowest and
// highest: a session's energy is the span of its register, never a sum of power.
struct RegisterSpan {
  std::optional<double> import_min, import_max, export_min, export_max;
};

// ---- OCPP 1.6: the server issues the id --------------------------------------------------

struct IssuedStart {
  std::string station_id;
  int connector_id = 0;
  std::string id_tag;
  std::optional<std::int64_t> driver_id;
  std::string timestamp;
  std::int64_t meter_start_wh = 0;
  std::string start_key;  // what makes a StartTransaction the same one when sent again
};
struct Started {
  int id = 0;
  std::optional<std::int64_t> driver_id;
  bool inserted = false;  // false: a resend, answered with the id it got the first time
};
Started start_issued(Tx& tx, const IssuedStart& start);

struct IssuedStop {
  std::string station_id;
  int transaction_id = 0;
  std::string timestamp;
  std::int64_t meter_stop_wh = 0;
  std::string reason;
  RegisterSpan span;  // of the stop's transactionData
};
enum class StopFound {
  Unknown,                // not this station's transaction: nothing changes
  Ended,                  // this stop ended it
  AlreadyEnded,           // the same stop again
  AlreadyEndedOtherwise,  // ended by another stop, which is kept
  ClosedByServer,         // the server had closed it (timeout, replaced): nothing changes
};
struct Stopped {
  StopFound found = StopFound::Unknown;
  int evse_id = 0;
  std::optional<std::int64_t> driver_id;
};
Stopped stop_issued(Tx& tx, const IssuedStop& stop);

// ---- OCPP 2.0.1 / 2.1: the station names the transaction ---------------------------------

struct StationEvent {
  std::string station_id;
  std::string protocol;        // subprotocol, e.g. ocpp2.0.1
  std::string transaction_id;  // the station's
  std::string event_type;      // Started, Updated, Ended
  std::string trigger_reason;
  std::string timestamp;
  int seq_no = 0;
  bool offline = false;
  std::optional<int> evse_id, connector_id;
  std::optional<std::string> id_token;
  std::optional<std::int64_t> driver_id;
  std::optional<std::string> charging_state, stopped_reason;
  RegisterSpan span;
  std::string payload;  // the event as sent, kept in transaction_events
};
struct EventRecorded {
  int id = 0;
  std::optional<std::int64_t> driver_id;
  bool replay = false;     // this seq_no was stored before
  bool after_end = false;  // an event of an ended session that may not change it
  bool ended = false;      // this event ended the session
};
// Events may come in any order (offline queues): each field takes the value that is right
// whatever order they come in.
EventRecorded record_event(Tx& tx, const StationEvent& event);

// A driver's claim took over a running session nobody had authorised.
void assign_driver(Tx& tx, std::int64_t session_id, std::int64_t driver_id);

// ---- Closed by the server ----------------------------------------------------------------
// A session the station will not end: it has been silent about it for too long, or its EVSE
// started another one. It ends at its last import register reading (its start without one),
// with its last register as the stop register; stop_reason is "Timeout" or "Replaced" and
// closed_by_server says so. Sessions another transaction holds are skipped (cluster-safe).

struct ServerClosed {
  std::int64_t id = 0;
  std::string station_id, protocol, transaction_uid;
  std::string ended_at;  // RFC 3339 UTC
  std::int64_t meter_stop_wh = 0;
  std::string stop_reason;  // Timeout, Replaced
};
// Open sessions nothing was heard about (events, register readings) for longer than `silent`.
std::vector<ServerClosed> close_silent(Tx& tx, std::chrono::milliseconds silent, int limit);
// Open sessions whose EVSE has since started a newer one.
std::vector<ServerClosed> close_replaced(Tx& tx, int limit);

// ---- Reads ----------------------------------------------------------------------------------

// The running session on an EVSE of a station (the newest, should there be more).
std::optional<std::int64_t> active_on_evse(Tx& tx, const std::string& station_id, int evse_id);

}  // namespace chargegrid::server::store::sessions
