#pragma once
// credits: the one writer of the energy reports (migration 0021), and what a report reads of the
// settlements: the energy per station of the sessions that ended in a period.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::credits {

// A period as UTC times, [from, to), RFC 3339.
struct Span {
  std::string from, to;
};

// One station's settled sessions that ended in the span.
struct StationEnergyRow {
  std::string station_id;
  std::optional<std::int64_t> site_id;
  std::int64_t sessions = 0, sessions_verified = 0;
  std::int64_t energy_delivered_wh = 0, energy_exported_wh = 0, verified_energy_wh = 0;
};
// Every station of `site_id` (every station when nullopt) that had a settlement in the span,
// ordered by station id.
std::vector<StationEnergyRow> energy_by_station(Tx& tx, const Span& span,
                                                std::optional<std::int64_t> site_id);
// Sessions that ended in the span and are not settled yet.
std::int64_t unsettled_sessions(Tx& tx, const Span& span, std::optional<std::int64_t> site_id);

struct StoredReport {
  std::uint64_t log_index = 0;
  std::string record;  // canonical
  std::string created_at;
};
// Holds the report's scope until the transaction ends, so that two requests for the same period
// write one report.
void lock_report(Tx& tx, const std::string& period, std::optional<std::int64_t> site_id);
std::optional<StoredReport> find_report(Tx& tx, const std::string& period,
                                        std::optional<std::int64_t> site_id);
void insert_report(Tx& tx, const std::string& period, std::optional<std::int64_t> site_id,
                   std::uint64_t log_index, const std::string& record);

// Credit imports (the authority's credits) and their allocations to station owners.
void lock_import(Tx& tx, const std::string& body_sha256);
std::optional<std::int64_t> find_import(Tx& tx, const std::string& body_sha256);
// nullopt: no such station; else its site (nullopt inside: it has none).
std::optional<std::optional<std::int64_t>> station_site(Tx& tx, const std::string& station_id);
bool site_exists(Tx& tx, std::int64_t site_id);

struct OwnerEnergy {
  std::string owner;
  std::int64_t verified_wh = 0;
};
// The verified energy of the span's settlements of one station or one site, per owner of the
// stations (station_owners, else "site-<id>"); owners without energy are left out.
std::vector<OwnerEnergy> verified_energy_by_owner(Tx& tx, const Span& span,
                                                  const std::optional<std::string>& station_id,
                                                  std::optional<std::int64_t> site_id);

struct Allocation {
  std::size_t row_number = 0;
  std::string period;
  std::optional<std::string> station_id;
  std::optional<std::int64_t> site_id;
  std::string owner;
  std::string currency;
  std::int64_t verified_energy_wh = 0;
  std::int64_t amount_minor = 0;
};
std::int64_t insert_import(Tx& tx, const std::string& body_sha256, const std::string& format,
                           int row_count, std::int64_t api_key_id,
                           const std::vector<Allocation>& allocations);

// Sets who owns a station (credits allocated later go to them).
void set_owner(Tx& tx, const std::string& station_id, const std::string& owner);

// Drivers' balances (V2G earnings). The session's driver, if it has one.
std::optional<std::int64_t> session_driver(Tx& tx, std::int64_t session_id);
// The driver's balance in `currency`, its row locked until the transaction ends (0 when none).
std::int64_t lock_driver_balance(Tx& tx, std::int64_t driver_id, const std::string& currency);
struct BalanceChange {
  std::int64_t driver_id = 0;
  std::string currency;
  std::string kind;           // "earned" or "spent"
  std::int64_t amount_minor;  // earned > 0, spent < 0
  std::string settlement_id;
  std::int64_t session_id = 0;
};
// Writes the entry and the new balance; the database refuses a balance below zero. The new
// balance.
std::int64_t change_driver_balance(Tx& tx, const BalanceChange& change);

// The database's clock (transaction start), RFC 3339 UTC with milliseconds.
std::string now(Tx& tx);

}  // namespace chargegrid::server::store::credits
