#pragma once
// What every REST resource uses: the server's services, JSON straight from
// PostgreSQL, and the scope checks shared by the resources.

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "api/request.hpp"
#include "api/router.hpp"
#include "services.hpp"
#include "store/sql_arrays.hpp"

namespace chargegrid::server::api {

// The names every resource file uses.
namespace http = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

struct ApiContext {
  Services& services;

  // Runs `fn(tx)` in one transaction (times rendered in UTC) on a pool thread.
  template <class Fn>
  auto transaction(Fn fn) {
    return services.database.run([fn = std::move(fn)](pqxx::connection& c) mutable {
      pqxx::work tx(c);
      tx.exec("SET LOCAL TimeZone = 'UTC'");
      auto result = fn(tx);
      tx.commit();
      return result;
    });
  }
};

// The rows of `select` as a JSON array of objects (column names as keys).
template <class... Args>
nlohmann::json json_rows(pqxx::transaction_base& tx, const std::string& select, Args&&... args) {
  auto rows = tx.exec_params("SELECT coalesce(json_agg(q), '[]')::text FROM (" + select + ") q",
                             std::forward<Args>(args)...);
  return nlohmann::json::parse(rows[0][0].c_str());
}

// The first row of `select` as a JSON object, or null when there is none.
template <class... Args>
nlohmann::json json_row(pqxx::transaction_base& tx, const std::string& select, Args&&... args) {
  auto rows = json_rows(tx, select, std::forward<Args>(args)...);
  return rows.empty() ? nlohmann::json(nullptr) : rows[0];
}

// One page of `select`'s rows: its last two parameters ($n-1, $n) are filled with the page's
// LIMIT (one more row than the page, to tell whether another page follows) and OFFSET.
template <class... Args>
nlohmann::json page_rows(pqxx::transaction_base& tx, const Page& page, const std::string& select,
                         Args&&... args) {
  return page_of(json_rows(tx, select, std::forward<Args>(args)..., page.limit + 1, page.offset),
                 page);
}

// A GET route that reads: `read(request, tx)` runs in one transaction and its JSON is the 200
// answer. The request's parameters are read inside it too, so a bad one is a 400 as before.
using ReadHandler = std::function<json(ApiRequest&, pqxx::work&)>;
void add_read_route(Router& router, ApiContext& api, std::string pattern, std::vector<Role> roles,
                    ReadHandler read);

using store::patch_column;  // store/sql_arrays.hpp

// The site of a station (nullopt when it has none); throws not_found for an
// unknown station or one outside the caller's sites.
std::optional<std::int64_t> station_site_in_scope(pqxx::transaction_base& tx,
                                                  const Principal& principal,
                                                  const std::string& station_id);
// Throws not_found unless the caller may see `site_id`.
void require_site(const Principal& principal, std::int64_t site_id);

// Every resource registers its routes here.
void add_api_key_routes(Router&, ApiContext&);
void add_site_routes(Router&, ApiContext&);
void add_station_routes(Router&, ApiContext&);
void add_driver_routes(Router&, ApiContext&);
void add_session_routes(Router&, ApiContext&);
void add_association_routes(Router&, ApiContext&);
void add_cluster_routes(Router&, ApiContext&);
void add_command_routes(Router&, ApiContext&);
void add_ledger_routes(Router&, ApiContext&);
void add_tariff_routes(Router&, ApiContext&);
void add_holiday_routes(Router&, ApiContext&);
void add_evse_routes(Router&, ApiContext&);
void add_schedule_routes(Router&, ApiContext&);
void add_settlement_routes(Router&, ApiContext&);
void add_certificate_routes(Router&, ApiContext&);

}  // namespace chargegrid::server::api
