#pragma once
// settlements: the one writer of settled sessions (migration 0014), and what settlement reads
// of a session to settle it: the session, its site, its register readings and signed samples.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::settlements {

// An ended session as settlement sees it; times RFC 3339 UTC with milliseconds.
struct SessionFacts {
  std::int64_t id = 0;
  std::string state;  // "active" or "ended"
  std::string station_id;
  std::string transaction_uid;
  int evse_id = 0;
  std::optional<int> connector_id;
  std::string id_token;
  std::string started_at, ended_at;
  std::optional<std::int64_t> meter_start_wh, meter_stop_wh;  // 1.6's own start and stop
  std::optional<std::int64_t> site_id;
  std::optional<double> latitude, longitude, altitude_m;
  std::string time_zone = "UTC";
  int utc_offset_minutes = 0;  // the site's offset at the session's start
};
std::optional<SessionFacts> session(Tx& tx, std::int64_t session_id);

struct Reading {
  std::string sampled_at;
  double wh = 0;
};
struct Registers {
  std::vector<Reading> import, export_;  // whole-meter energy registers, in Wh
};
Registers registers(Tx& tx, const SessionFacts& session);

struct SignedRow {
  std::string sampled_at;
  std::string signed_data;
};
std::vector<SignedRow> signed_samples(Tx& tx, const SessionFacts& session);

// Whether the session has its final settlement (its interims do not count).
bool final_exists(Tx& tx, std::int64_t session_id);

// The energy the session's records so far have settled as imported (its interims), in Wh.
std::int64_t imported_wh(Tx& tx, std::int64_t session_id);

// The session's latest interim settlement: its number, canonical record and the export register
// it closed with (none without export, or when settled before migration 0024).
struct LastInterim {
  std::string id;
  int number = 0;
  std::string record;
  std::optional<std::int64_t> export_stop_wh;
};
std::optional<LastInterim> last_interim(Tx& tx, std::int64_t session_id);

// Open sessions with a day to settle: the day after the last settled one (or the session's
// first) ended `day` or more ago and the station has sent an import register reading from its
// end on (so the day's closing register is known). Claimed FOR UPDATE SKIP LOCKED: each session
// is taken by one node, and a stop for it waits until the claim commits.
std::vector<std::int64_t> claim_open_days(Tx& tx, std::chrono::milliseconds day, int limit);

struct Settlement {
  std::string id;
  std::int64_t session_id = 0;
  std::string station_id;
  std::optional<std::int64_t> site_id;
  std::string status;  // verified, unsigned, invalid
  std::optional<std::string> reason;
  std::uint64_t log_index = 0;
  std::string record;  // canonical
  std::string currency;
  std::int64_t total_minor = 0;
  std::int64_t energy_imported_wh = 0, energy_exported_wh = 0;
  std::string started_at, ended_at;  // the period the record covers
  std::string kind = "final";        // or "interim"
  std::optional<int> interim_number;
  std::optional<std::string> previous_settlement_id;
  std::optional<std::int64_t> export_stop_wh;  // the export register it closed with
};
void insert(Tx& tx, const Settlement& settlement);

}  // namespace chargegrid::server::store::settlements
