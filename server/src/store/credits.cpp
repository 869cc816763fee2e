#include "store/credits.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::credits {
namespace {

constexpr const char* kUtc = R"('YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')";

std::optional<std::int64_t> optional_id(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int64_t>();
}

}  // namespace

std::vector<StationEnergyRow> energy_by_station(Tx& tx, const Span& span,
                                                std::optional<std::int64_t> site_id) {
  auto rows = tx.exec_params(
      "SELECT s.station_id, s.site_id, count(*), "
      "  count(*) FILTER (WHERE s.status = 'verified'), "
      "  coalesce(sum(s.energy_imported_wh), 0), coalesce(sum(s.energy_exported_wh), 0), "
      "  coalesce(sum(s.energy_imported_wh) FILTER (WHERE s.status = 'verified'), 0) "
      "FROM settlements s "
      "WHERE s.ended_at >= $1::timestamptz AND s.ended_at < $2::timestamptz "
      "  AND ($3::bigint IS NULL OR s.site_id = $3) "
      "GROUP BY s.station_id, s.site_id ORDER BY s.station_id COLLATE \"C\", s.site_id",
      span.from, span.to, site_id);
  std::vector<StationEnergyRow> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    out.push_back({r[0].as<std::string>(), optional_id(r[1]), r[2].as<std::int64_t>(),
                   r[3].as<std::int64_t>(), r[4].as<std::int64_t>(), r[5].as<std::int64_t>(),
                   r[6].as<std::int64_t>()});
  }
  return out;
}

std::int64_t unsettled_sessions(Tx& tx, const Span& span, std::optional<std::int64_t> site_id) {
  return tx
      .exec_params1(
          "SELECT count(*) FROM transactions t JOIN stations st ON st.id = t.station_id "
          "WHERE t.state = 'ended' AND t.ended_at >= $1::timestamptz "
          "  AND t.ended_at < $2::timestamptz AND ($3::bigint IS NULL OR st.site_id = $3) "
          "  AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.session_id = t.id "
          "                  AND s.kind = 'final')",
          span.from, span.to, site_id)[0]
      .as<std::int64_t>();
}

void lock_report(Tx& tx, const std::string& period, std::optional<std::int64_t> site_id) {
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 21))",
                 "energy_report/" + period + "/" + (site_id ? std::to_string(*site_id) : "all"));
}

std::optional<StoredReport> find_report(Tx& tx, const std::string& period,
                                        std::optional<std::int64_t> site_id) {
  const std::string utc = kUtc;
  auto rows = tx.exec_params(
      "SELECT log_index, record, to_char(created_at AT TIME ZONE 'UTC', " + utc +
          ") FROM energy_reports WHERE period = $1 AND coalesce(site_id, 0) = coalesce($2, 0)",
      period, site_id);
  if (rows.empty()) return std::nullopt;
  return StoredReport{rows[0][0].as<std::uint64_t>(), rows[0][1].as<std::string>(),
                      rows[0][2].as<std::string>()};
}

void insert_report(Tx& tx, const std::string& period, std::optional<std::int64_t> site_id,
                   std::uint64_t log_index, const std::string& record) {
  tx.exec_params(
      "INSERT INTO energy_reports (period, site_id, log_index, record) VALUES ($1, $2, $3, $4)",
      period, site_id, static_cast<std::int64_t>(log_index), record);
}

void lock_import(Tx& tx, const std::string& body_sha256) {
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 21))",
                 "credit_import/" + body_sha256);
}

std::optional<std::int64_t> find_import(Tx& tx, const std::string& body_sha256) {
  auto rows = tx.exec_params("SELECT id FROM credit_imports WHERE body_sha256 = $1", body_sha256);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::int64_t>();
}

std::optional<std::optional<std::int64_t>> station_site(Tx& tx, const std::string& station_id) {
  auto rows = tx.exec_params("SELECT site_id FROM stations WHERE id = $1", station_id);
  if (rows.empty()) return std::nullopt;
  return optional_id(rows[0][0]);
}

bool site_exists(Tx& tx, std::int64_t site_id) {
  return !tx.exec_params("SELECT 1 FROM sites WHERE id = $1", site_id).empty();
}

std::vector<OwnerEnergy> verified_energy_by_owner(Tx& tx, const Span& span,
                                                  const std::optional<std::string>& station_id,
                                                  std::optional<std::int64_t> site_id) {
  auto rows = tx.exec_params(
      "SELECT coalesce(o.owner, 'site-' || s.site_id::text, 'unassigned'), "
      "       sum(s.energy_imported_wh)::bigint "
      "FROM settlements s LEFT JOIN station_owners o ON o.station_id = s.station_id "
      "WHERE s.status = 'verified' AND s.ended_at >= $1::timestamptz "
      "  AND s.ended_at < $2::timestamptz AND ($3::text IS NULL OR s.station_id = $3) "
      "  AND ($4::bigint IS NULL OR s.site_id = $4) "
      "GROUP BY 1 HAVING sum(s.energy_imported_wh) > 0 ORDER BY 1",
      span.from, span.to, station_id, site_id);
  std::vector<OwnerEnergy> out;
  for (const auto& r : rows) out.push_back({r[0].as<std::string>(), r[1].as<std::int64_t>()});
  return out;
}

std::int64_t insert_import(Tx& tx, const std::string& body_sha256, const std::string& format,
                           int row_count, std::int64_t api_key_id,
                           const std::vector<Allocation>& allocations) {
  const auto id = tx.exec_params1(
                        "INSERT INTO credit_imports (body_sha256, format, row_count, api_key_id) "
                        "VALUES ($1, $2, $3, $4) RETURNING id",
                        body_sha256, format, row_count, api_key_id)[0]
                      .as<std::int64_t>();
  for (const auto& a : allocations) {
    tx.exec_params(
        "INSERT INTO credit_allocations (import_id, row_number, period, station_id, site_id, "
        "owner, currency, verified_energy_wh, amount_minor) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        id, static_cast<std::int64_t>(a.row_number), a.period, a.station_id, a.site_id, a.owner,
        a.currency, a.verified_energy_wh, a.amount_minor);
  }
  return id;
}

void set_owner(Tx& tx, const std::string& station_id, const std::string& owner) {
  tx.exec_params(
      "INSERT INTO station_owners (station_id, owner) VALUES ($1, $2) "
      "ON CONFLICT (station_id) DO UPDATE SET owner = excluded.owner, updated_at = now()",
      station_id, owner);
}

std::optional<std::int64_t> session_driver(Tx& tx, std::int64_t session_id) {
  auto rows = tx.exec_params("SELECT driver_id FROM transactions WHERE id = $1", session_id);
  if (rows.empty()) return std::nullopt;
  return optional_id(rows[0][0]);
}

std::int64_t lock_driver_balance(Tx& tx, std::int64_t driver_id, const std::string& currency) {
  tx.exec_params(
      "INSERT INTO driver_balances (driver_id, currency, balance_minor) VALUES ($1, $2, 0) "
      "ON CONFLICT DO NOTHING",
      driver_id, currency);
  return tx
      .exec_params1(
          "SELECT balance_minor FROM driver_balances WHERE driver_id = $1 AND currency = $2 "
          "FOR UPDATE",
          driver_id, currency)[0]
      .as<std::int64_t>();
}

std::int64_t change_driver_balance(Tx& tx, const BalanceChange& c) {
  const auto balance =
      tx.exec_params1(
            "UPDATE driver_balances SET balance_minor = balance_minor + $3, updated_at = now() "
            "WHERE driver_id = $1 AND currency = $2 RETURNING balance_minor",
            c.driver_id, c.currency, c.amount_minor)[0]
          .as<std::int64_t>();
  tx.exec_params(
      "INSERT INTO driver_balance_entries (driver_id, currency, kind, amount_minor, "
      "balance_after_minor, settlement_id, session_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      c.driver_id, c.currency, c.kind, c.amount_minor, balance, c.settlement_id, c.session_id);
  return balance;
}

std::string now(Tx& tx) {
  const std::string utc = kUtc;
  return tx.exec1("SELECT to_char(now() AT TIME ZONE 'UTC', " + utc + ")")[0].as<std::string>();
}

}  // namespace chargegrid::server::store::credits
