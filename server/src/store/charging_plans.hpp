#pragma once
// charging_declarations, ev_charging_needs, session_predictions, charging_profiles and
// site_plans (migration 0016): what smart charging knows of each connected vehicle, what it
// sent to stations and what it planned. The smart-charging service and the API's declarations
// are the writers. Times cross this interface as Unix seconds (UTC).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::charging_plans {

struct Declaration {
  std::optional<std::int64_t> departure_s;  // Unix seconds
  std::optional<std::int64_t> energy_wh;
  std::optional<double> target_soc;  // percent
};
void declare_for_session(Tx& tx, std::int64_t session_id, const Declaration& declaration);
void declare_for_association(Tx& tx, std::int64_t association_id, const Declaration& declaration);

// Keeps the latest charging needs of a session (the ev.charging_needs event's JSON) with what
// the session had delivered by then.
void keep_charging_needs(Tx& tx, std::int64_t session_id, const nlohmann::json& needs);

struct Site {
  std::int64_t id = 0;
  std::optional<std::int64_t> import_limit_w, export_limit_w;
  std::string time_zone;
  std::int64_t holidays_version = 0;  // counts the changes of its holidays (store/site_holidays)
};
std::optional<Site> site(Tx& tx, std::int64_t site_id);
std::optional<std::int64_t> site_of_station(Tx& tx, const std::string& station_id);
std::optional<std::int64_t> site_of_session(Tx& tx, std::int64_t session_id);
// Sites with an active session on one of their stations.
std::vector<std::int64_t> sites_with_sessions(Tx& tx);

// A site's stations with how many EVSEs each has reported (at least one).
struct SiteStation {
  std::string station_id;
  std::string protocol;
  int evses = 1;
};
std::vector<SiteStation> site_stations(Tx& tx, std::int64_t site_id);

struct Prediction {
  std::int64_t departure_p10_s = 0, departure_p50_s = 0, departure_p90_s = 0;
  std::int64_t energy_p10_wh = 0, energy_p50_wh = 0, energy_p90_wh = 0;
  std::string basis;
};
void save_prediction(Tx& tx, std::int64_t session_id, const Prediction& prediction);

// An active session of a site with everything the planner uses.
struct Vehicle {
  std::int64_t session_id = 0;
  std::string station_id;
  std::string protocol;  // the session's OCPP version ("ocpp1.6", ...)
  int evse_id = 0;
  std::string station_transaction_id;
  std::string user_id;  // driver id, else the token, else empty
  std::int64_t started_s = 0;
  std::int64_t delivered_wh = 0;  // from the meter register so far
  std::optional<Declaration> declaration;
  nlohmann::json charging_needs;           // null when none
  std::int64_t delivered_wh_at_needs = 0;  // delivered_wh when the charging needs arrived
  std::optional<Prediction> prediction;
  // The station's answer to the latest profile sent for this session (null: none yet).
  std::optional<std::string> last_profile_status;
};
std::vector<Vehicle> vehicles(Tx& tx, std::int64_t site_id);

// A finished session for the predictor.
struct Finished {
  std::string user_id;
  std::int64_t site_id = 0;
  std::string station_id;
  std::int64_t plugin_s = 0, plugout_s = 0;
  std::int64_t energy_wh = 0;
  std::string time_zone;  // the site's, which the predictor's time-of-day features are read in
  std::int64_t session_id = 0;
};
// The last `limit` finished sessions of stations with a site, oldest first.
std::vector<Finished> finished_sessions(Tx& tx, std::size_t limit);
// The same of one site's stations.
std::vector<Finished> finished_sessions_of_site(Tx& tx, std::int64_t site_id, std::size_t limit);
std::optional<Finished> finished_session(Tx& tx, std::int64_t session_id);

struct ProfileSent {
  std::string kind = "set";  // set, clear
  std::string purpose;
  std::optional<std::int64_t> site_id;
  std::string station_id;
  int evse_id = 0;
  std::optional<std::int64_t> session_id;
  std::optional<std::int64_t> start_s;
  std::string rate_unit;
  nlohmann::json schedule = nlohmann::json::object();
  std::string sent_by;  // the cluster node that sent it ("" outside cluster mode)
};
// Each row's id and the chargingProfileId to send: the one the session's (or, without a
// session, the station's) earlier profiles of this purpose had, else a new one. One statement
// for the whole batch, in its order.
struct Recorded {
  std::int64_t id = 0;
  std::int64_t profile_id = 0;
};
std::vector<Recorded> record_profiles(Tx& tx, std::span<const ProfileSent> profiles);
void record_outcome(Tx& tx, std::int64_t row_id, std::int64_t command_id,
                    const std::string& outcome, const std::optional<std::string>& status);
struct Outcome {
  std::int64_t row_id = 0;
  std::int64_t command_id = 0;  // 0: none (not sent)
  std::string outcome;
  std::optional<std::string> status;
};
// record_outcome() for many profiles in one statement.
void record_outcomes(Tx& tx, std::span<const Outcome> outcomes);
// The latest profile accepted for a session that has not been cleared: its id and schedule.
struct LastProfile {
  std::int64_t id = 0;
  std::int64_t profile_id = 0;
  std::string station_id;
  int evse_id = 0;
  nlohmann::json schedule;
};
// The latest accepted, uncleared profile of each session, by session id (sessions without
// one are left out); one statement for all, since a replan asks for every vehicle of a site.
std::map<std::int64_t, LastProfile> last_accepted(Tx& tx,
                                                  const std::vector<std::int64_t>& session_ids,
                                                  const std::string& purpose);
// The latest accepted station-wide profile (EVSE 0) of `purpose` that each station still
// holds (none once a clear was answered after it), by station id.
std::map<std::string, LastProfile> last_station_profiles(Tx& tx,
                                                         std::span<const std::string> station_ids,
                                                         const std::string& purpose);

// `planned_by` and `lease_epoch`: the cluster node and its site lease ("" and nullopt outside
// cluster mode).
void save_plan(Tx& tx, std::int64_t site_id, const std::string& reason, const nlohmann::json& plan,
               const std::string& planned_by = {},
               std::optional<std::int64_t> lease_epoch = std::nullopt);
// Keeps each planned slot's baseline and planned import (site_plan_slots, migration 0019) for
// the OpenADR reports of intervals that have ended; `start_s` is the first slot's start.
void save_slots(Tx& tx, std::int64_t site_id, std::int64_t start_s, std::int64_t slot_seconds,
                const std::vector<std::int64_t>& baseline_w,
                const std::vector<std::int64_t>& planned_import_w);
// The site's latest plan, null when none.
nlohmann::json plan(Tx& tx, std::int64_t site_id);
// When, why and by which cluster node ("" outside cluster mode) the latest plan was made.
struct PlanMade {
  std::string planned_at;  // RFC 3339, UTC
  std::string reason;
  std::string planned_by;
};
std::optional<PlanMade> plan_made(Tx& tx, std::int64_t site_id);

}  // namespace chargegrid::server::store::charging_plans
