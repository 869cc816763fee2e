#pragma once
// demand_response_windows (migration 0012): what the demand-response events in force ask of
// each site, one window per event interval and site. The OpenADR module writes them (replacing
// an event's windows whenever the event is created, changed or deleted) and appends a
// "demand_response.changed" outbox event in the same transaction; smart charging replans the
// sites it names and settlement prices flexibility against them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::demand_response {

struct Window {
  std::string event_id;  // OpenADR eventID
  std::string program_id;
  std::int64_t site_id = 0;
  std::string starts_at, ends_at;  // RFC 3339, UTC
  std::optional<double> import_limit_w, export_limit_w, import_subscription_w;
  std::optional<double> import_price_minor_per_kwh, export_price_minor_per_kwh;
  std::string currency;  // ISO 4217, empty without prices
};

// Replaces every window of `event_id` with `windows` (empty: the event no longer applies).
// What the replaced windows asked until now stays on record for in_force(); the new windows
// ask it from now on only, at sites the event targeted before. Returns the sites whose
// windows changed (before or after), sorted.
std::vector<std::int64_t> replace_event(Tx& tx, const std::string& event_id,
                                        const std::vector<Window>& windows);
// The windows of `site_id` in force or scheduled now that overlap [from, to), by start
// (what smart charging plans against).
std::vector<Window> for_site(Tx& tx, std::int64_t site_id, const std::string& from,
                             const std::string& to);
// What was asked of `site_id` over [from, to), changed and withdrawn events included: each
// window as it was in force (starts_at to ends_at), by start. Settlement credits against it.
std::vector<Window> in_force(Tx& tx, std::int64_t site_id, const std::string& from,
                             const std::string& to);

}  // namespace chargegrid::server::store::demand_response
