#pragma once
// openadr: the built-in VTN's programs and events (migration 0015), stored as the OpenADR 3.0.1
// JSON objects. The repository sets what the VTN provisions (id, createdDateTime,
// modificationDateTime, objectType) and renders objects with them. A program belongs to the
// API key that created it; `owner` arguments are that key, or nullopt for every owner (admin).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::openadr {

// A list filter: objects with a target of `type` naming one of `values` (empty: any value).
struct TargetFilter {
  std::string type;
  std::vector<std::string> values;
};

struct Program {
  std::string id;
  std::int64_t owner_key_id = 0;
  nlohmann::json object;  // as served, VTN fields included
};

// The program as served. `object` is what the client sent, less the VTN's fields.
Program create_program(Tx& tx, std::int64_t owner_key_id, const nlohmann::json& object);
std::optional<Program> find_program(Tx& tx, const std::string& id,
                                    std::optional<std::int64_t> owner);
std::vector<nlohmann::json> list_programs(Tx& tx, std::optional<std::int64_t> owner,
                                          const std::optional<TargetFilter>& targets,
                                          std::int64_t skip, std::int64_t limit);
// nullopt when there is no such program (of that owner).
std::optional<Program> update_program(Tx& tx, const std::string& id,
                                      std::optional<std::int64_t> owner,
                                      const nlohmann::json& object);
// Deletes the program and its events; returns the program as it was.
std::optional<Program> delete_program(Tx& tx, const std::string& id,
                                      std::optional<std::int64_t> owner);

struct Event {
  std::string id;
  std::string program_id;
  std::int64_t owner_key_id = 0;  // the program's owner
  nlohmann::json object;          // as served, VTN fields included
};

Event create_event(Tx& tx, const std::string& program_id, const nlohmann::json& object);
std::optional<Event> find_event(Tx& tx, const std::string& id, std::optional<std::int64_t> owner);
std::vector<Event> events_of_program(Tx& tx, const std::string& program_id);
std::vector<nlohmann::json> list_events(Tx& tx, std::optional<std::int64_t> owner,
                                        const std::optional<std::string>& program_id,
                                        const std::optional<TargetFilter>& targets,
                                        std::int64_t skip, std::int64_t limit);
std::optional<Event> update_event(Tx& tx, const std::string& id, std::optional<std::int64_t> owner,
                                  const std::string& program_id, const nlohmann::json& object);
std::optional<Event> delete_event(Tx& tx, const std::string& id, std::optional<std::int64_t> owner);

// VEN mode: the events last read from the utility's VTN, with their programs.
struct RemoteEvent {
  std::string event_id;
  nlohmann::json event, program;
  std::vector<std::int64_t> site_ids;  // the sites its targets named, sorted
};
// Every remote event, locked for this transaction (one poller applies at a time).
std::vector<RemoteEvent> lock_remote_events(Tx& tx);
void save_remote_event(Tx& tx, const RemoteEvent& remote);
void delete_remote_event(Tx& tx, const std::string& event_id);

// What an event's targets are matched against: a site and its OpenADR names (empty while the
// site has none).
struct SiteIdentity {
  std::int64_t site_id = 0;
  std::string ven_name;
  std::string power_service_location;
};
// The sites an API key may reach (all sites for an admin key), by id.
std::vector<SiteIdentity> sites_in_reach(Tx& tx, std::int64_t key_id);
// Every site, by id (what a utility's VTN reaches in VEN mode).
std::vector<SiteIdentity> all_sites(Tx& tx);

// ---- reports ----

// The energy (Wh) the EVSEs of `site_id` imported over [from, to) (RFC 3339), from their
// meter registers: per EVSE the register last read by `to` less the one last read by `from`
// (the first reading after `from` when there is none before it).
double site_import_wh(Tx& tx, std::int64_t site_id, const std::string& from, const std::string& to);
// The smart-charging plan's baseline (W) over [from, to), averaged over the planned slots that
// overlap it by their overlap; nullopt when no plan covered any of it.
std::optional<double> site_baseline_w(Tx& tx, std::int64_t site_id, const std::string& from,
                                      const std::string& to);

// The built-in VTN: a report a VEN posted for `event_id`, as served (VTN fields included).
nlohmann::json create_report(Tx& tx, const std::string& event_id, const nlohmann::json& object);
// The posted reports of the events of `owner` (every owner: nullopt), of one event when given,
// oldest first.
std::vector<nlohmann::json> posted_reports(Tx& tx, std::optional<std::int64_t> owner,
                                           const std::optional<std::string>& event_id);

// VEN mode: the end (RFC 3339) of the last interval of `event_id` reported for each site.
std::vector<std::pair<std::int64_t, std::string>> reported_until(Tx& tx,
                                                                 const std::string& event_id);
void save_reported_until(Tx& tx, const std::string& event_id, std::int64_t site_id,
                         const std::string& until);

}  // namespace chargegrid::server::store::openadr
