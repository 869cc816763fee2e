// Regulator reports: the energy each station delivered and exported in a period, its verified
// share and its sessions, as JSON or CSV; a closed period's report is in the verifiable log.

#include "api/credits_routes.hpp"
#include "credits/csv.hpp"
#include "credits/reports.hpp"

namespace chargegrid::server::api {

namespace {

// "0.750000" for 750000 ppm.
std::string share_text(std::int64_t ppm) {
  auto digits = std::to_string(ppm % 1000000);
  return std::to_string(ppm / 1000000) + "." + std::string(6 - digits.size(), '0') + digits;
}

std::vector<std::string> figure_fields(const json& f) {
  return {std::to_string(f.at("sessions").get<std::int64_t>()),
          std::to_string(f.at("sessions_verified").get<std::int64_t>()),
          std::to_string(f.at("energy_delivered_wh").get<std::int64_t>()),
          std::to_string(f.at("energy_exported_wh").get<std::int64_t>()),
          std::to_string(f.at("verified_energy_wh").get<std::int64_t>()),
          share_text(f.at("verified_share_ppm").get<std::int64_t>())};
}

// One row per station and a last row of totals (station_id "TOTAL", no site).
std::string report_csv(const json& report) {
  std::string out =
      credits::csv_line({"period", "period_start", "period_end", "station_id", "site_id",
                         "sessions", "sessions_verified", "energy_delivered_wh",
                         "energy_exported_wh", "verified_energy_wh", "verified_share"});
  const auto period = report.at("period").get<std::string>();
  const auto start = report.at("period_start").get<std::string>();
  const auto end = report.at("period_end").get<std::string>();
  auto row = [&](const std::string& station, const std::string& site, const json& figures) {
    std::vector<std::string> fields{period, start, end, station, site};
    for (auto& f : figure_fields(figures)) fields.push_back(std::move(f));
    out += credits::csv_line(fields);
  };
  for (const auto& s : report.at("stations"))
    row(s.at("station_id").get<std::string>(), s.at("site_id").get<std::string>(), s);
  row("TOTAL", "", report.at("totals"));
  return out;
}

// The site a report covers: the one asked for (in the caller's scope), the only site of a
// site-scoped key, or every site for an admin who names none.
std::optional<std::int64_t> report_scope(pqxx::transaction_base& tx, const ApiRequest& r) {
  auto site = r.query_int("site_id");
  if (!site && !r.principal.admin()) {
    if (r.principal.sites.size() != 1)
      throw bad_request("site_id is required: this key covers " +
                        std::to_string(r.principal.sites.size()) + " sites");
    site = r.principal.sites.front();
  }
  if (site) {
    require_site(r.principal, *site);
    if (json_row(tx, "SELECT id FROM sites WHERE id = $1", *site).is_null())
      throw not_found("no site " + std::to_string(*site));
  }
  return site;
}

}  // namespace

void add_report_routes(Router& router, ApiContext& api) {
  router.add(
      http::verb::get, "/api/v1/reports/energy",
      {Role::Admin, Role::FacilityManager, Role::Utility}, "",
      [&api](ApiRequest& r) -> awaitable<HttpResponse> {
        const auto text = r.query_text("period");
        std::optional<credits::Period> period =
            text ? credits::parse_period(*text)
                 : credits::previous_month(std::chrono::system_clock::now());
        if (!period)
          throw bad_request("period: '" + *text +
                            "' is not a month (YYYY-MM) or a quarter (YYYY-Qn) from 2000 on");
        const bool csv =
            r.http[http::field::accept].find("text/csv") != boost::beast::string_view::npos;
        auto answer = co_await api.transaction([&](pqxx::work& tx) {
          return credits::energy_report(tx, *period, report_scope(tx, r));
        });
        auto report = json::parse(answer.record);
        const json log_index = answer.log_index ? json(*answer.log_index) : json(nullptr);
        if (!csv) {
          const auto scope = report.at("site_id").get<std::string>();
          json body{{"period", period->name},
                    {"site_id", scope.empty() ? json(nullptr) : json(std::stoll(scope))},
                    {"closed", answer.closed},
                    {"log_index", log_index},
                    {"unsettled_sessions", answer.unsettled_sessions},
                    {"report", std::move(report)}};
          co_return json_answer(r.http, Status::ok, body);
        }
        HttpResponse response{Status::ok, r.http.version()};
        response.set(http::field::server, "ChargeGrid");
        response.set(http::field::content_type, "text/csv; charset=utf-8");
        response.set("ChargeGrid-Log-Index",
                     answer.log_index ? std::to_string(*answer.log_index) : std::string("none"));
        response.keep_alive(r.http.keep_alive());
        response.body() = report_csv(report);
        response.prepare_payload();
        co_return response;
      });
}

}  // namespace chargegrid::server::api
