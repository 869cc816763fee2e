// Settlements: a session's settlement (its record in the verifiable log, the verification of its
// signed meter data, and how far each ledger adapter has delivered it), the list of settlements
// (JSON or CSV), and the meter keys per EVSE that signed meter data is verified with.

#include <sstream>

#include "api/station_calls.hpp"
#include "ledger_adapters/status.hpp"
#include "settlement/meter_evidence.hpp"
#include "store/meter_keys.hpp"

namespace chargegrid::server::api {

namespace {

const std::string kSettlementColumns = R"(
  SELECT s.id, s.session_id, s.station_id, s.site_id, s.status, s.reason,
         s.record::json AS record, s.log_index, s.currency, s.total_minor,
         s.energy_imported_wh, s.energy_exported_wh, s.started_at, s.ended_at, s.settled_at,
         s.kind AS settlement_kind, s.interim_number, s.previous_settlement_id
  FROM settlements s LEFT JOIN transactions t ON t.id = s.session_id)";

// " <the caller may see s>" with $1 = site scope, $2 = driver scope (as sessions are scoped).
const std::string kSettlementScope =
    " ($1::bigint[] IS NULL OR s.site_id = ANY($1) OR t.driver_id = $2)"
    " AND ($2::bigint IS NULL OR t.driver_id = $2)";

const std::vector<const char*> kCsvColumns{"id",
                                           "session_id",
                                           "station_id",
                                           "site_id",
                                           "status",
                                           "reason",
                                           "log_index",
                                           "started_at",
                                           "ended_at",
                                           "energy_imported_wh",
                                           "energy_exported_wh",
                                           "currency",
                                           "total_minor"};

std::string csv_field(const json& value) {
  if (value.is_null()) return "";
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

HttpResponse csv_answer(const HttpRequest& request, const json& rows) {
  std::ostringstream out;
  for (std::size_t i = 0; i < kCsvColumns.size(); ++i) out << (i ? "," : "") << kCsvColumns[i];
  out << "\r\n";
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < kCsvColumns.size(); ++i)
      out << (i ? "," : "") << csv_field(row.value(kCsvColumns[i], json(nullptr)));
    out << "\r\n";
  }
  HttpResponse response{Status::ok, request.version()};
  response.set(http::field::server, "ChargeGrid");
  response.set(http::field::content_type, "text/csv; charset=utf-8");
  response.keep_alive(request.keep_alive());
  response.body() = out.str();
  response.prepare_payload();
  return response;
}

int evse_of(const ApiRequest& r) {
  const auto id = r.path_id("evse_id");
  if (id > 1000000) throw not_found("evse_id " + std::to_string(id) + " is not an EVSE");
  return static_cast<int>(id);
}

json key_json(const store::meter_keys::MeterKey& key) {
  return {{"station_id", key.station_id}, {"evse_id", key.evse_id},
          {"public_key", key.public_key}, {"source", key.source},
          {"created_at", key.created_at}, {"updated_at", key.updated_at}};
}

}  // namespace

void add_settlement_routes(Router& router, ApiContext& api) {
  const std::vector<Role> readers{Role::Admin, Role::FacilityManager, Role::Driver};
  const std::vector<Role> operators{Role::Admin, Role::FacilityManager};

  add_read_route(
      router, api, "/api/v1/sessions/{session_id}/settlement", readers,
      [&api](ApiRequest& r, pqxx::work& tx) -> json {
        const auto id = r.path_id("session_id");
        // The final settlement, or the latest interim of a running session.
        auto row = json_row(tx,
                            kSettlementColumns + " WHERE s.session_id = $3 AND" + kSettlementScope +
                                " ORDER BY s.kind = 'final' DESC, s.interim_number DESC LIMIT 1",
                            r.principal.site_scope(), r.principal.driver_scope(), id);
        if (row.is_null())
          throw not_found("no settlement of session " + std::to_string(id) +
                          " visible to this key (a session is settled a few seconds after "
                          "it ends)");
        row["adapters"] = ledger_adapters::delivery_of(tx, api.services.config,
                                                       row["log_index"].get<std::uint64_t>());
        return row;
      });

  router.add(http::verb::get, "/api/v1/settlements", readers, "",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto page = r.page();
               const auto site = r.query_int("site_id");
               const auto from = r.query_time("from");
               const auto to = r.query_time("to");
               const bool csv = wants_csv(r.http);
               auto rows = co_await api.transaction([&](pqxx::work& tx) {
                 return json_rows(tx, kSettlementColumns + " WHERE" + kSettlementScope + R"(
                        AND ($3::bigint IS NULL OR s.site_id = $3)
                        AND ($4::timestamptz IS NULL OR s.ended_at >= $4)
                        AND ($5::timestamptz IS NULL OR s.ended_at < $5)
                      ORDER BY s.ended_at, s.log_index LIMIT $6 OFFSET $7)",
                                  r.principal.site_scope(), r.principal.driver_scope(), site, from,
                                  to, page.limit + 1, page.offset);
               });
               if (csv) {
                 if (rows.size() > static_cast<std::size_t>(page.limit)) rows.erase(rows.end() - 1);
                 co_return csv_answer(r.http, rows);
               }
               co_return json_answer(r.http, Status::ok, page_of(std::move(rows), page));
             });

  const std::string key_path = "/api/v1/stations/{station_id}/evses/{evse_id}/meter-key";
  router.add(http::verb::put, key_path, operators, "MeterKeyPut",
             [&api](ApiRequest& r) -> awaitable<HttpResponse> {
               const auto& station = r.path_text("station_id");
               const int evse = evse_of(r);
               const auto text = r.body.at("public_key").get<std::string>();
               const auto key = settlement::normalise_key(text);
               if (!key)
                 throw unprocessable("public_key: not a DER SubjectPublicKeyInfo in hex or base64");
               auto stored = co_await api.transaction([&](pqxx::work& tx) {
                 station_site_in_scope(tx, r.principal, station);
                 return store::meter_keys::register_key(tx, station, evse, *key);
               });
               co_return json_answer(r.http, Status::ok, key_json(stored));
             });

  router.add(
      http::verb::get, key_path, operators, "", [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto& station = r.path_text("station_id");
        const int evse = evse_of(r);
        auto stored = co_await api.transaction([&](pqxx::work& tx) {
          station_site_in_scope(tx, r.principal, station);
          auto key = store::meter_keys::find(tx, station, evse);
          if (!key)
            throw not_found("no meter key for EVSE " + std::to_string(evse) + " of " + station);
          return *key;
        });
        co_return json_answer(r.http, Status::ok, key_json(stored));
      });
}

}  // namespace chargegrid::server::api
