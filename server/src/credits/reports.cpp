#include "credits/reports.hpp"

#include <stdexcept>

#include "chargegrid/ledger/energy_report.hpp"
#include "chargegrid/ledger/postgres_log.hpp"
#include "store/credits.hpp"

namespace chargegrid::server::credits {
namespace {

ledger::TimePoint at(std::chrono::sys_days day) {
  return ledger::TimePoint(day);
}

ledger::EnergyReport build(store::Tx& tx, const Period& period, const store::credits::Span& span,
                           std::optional<std::int64_t> site_id, const std::string& now) {
  ledger::EnergyReport report;
  const auto scope = site_id ? std::to_string(*site_id) : std::string("all");
  report.report_id = "rpt-" + period.name + "-" + scope;
  report.period = period.name;
  report.period_start = at(period.start);
  report.period_end = at(period.end);
  report.site_id = site_id ? std::to_string(*site_id) : "";
  for (const auto& row : store::credits::energy_by_station(tx, span, site_id)) {
    ledger::StationEnergy station;
    station.station_id = row.station_id;
    station.site_id = row.site_id ? std::to_string(*row.site_id) : "";
    station.figures = {row.sessions, row.sessions_verified, row.energy_delivered_wh,
                       row.energy_exported_wh, row.verified_energy_wh};
    report.stations.push_back(std::move(station));
  }
  auto generated = ledger::parse_time(now);
  if (!generated) throw std::runtime_error("energy report: unreadable time " + now);
  report.generated_at = *generated;
  return report;
}

}  // namespace

ReportAnswer energy_report(store::Tx& tx, const Period& period,
                           std::optional<std::int64_t> site_id) {
  namespace repo = store::credits;
  const repo::Span span{day_text(period.start), day_text(period.end)};
  const auto now = repo::now(tx);
  ReportAnswer answer;
  // Two requests for one period wait for each other here, so the period is logged once.
  const bool ended = now >= span.to;  // both RFC 3339 UTC with milliseconds: ordered as text
  if (ended) {
    repo::lock_report(tx, period.name, site_id);
    if (auto stored = repo::find_report(tx, period.name, site_id)) {
      answer.record = std::move(stored->record);
      answer.log_index = stored->log_index;
      answer.closed = true;
      return answer;
    }
  }
  answer.unsettled_sessions = repo::unsettled_sessions(tx, span, site_id);
  answer.closed = ended && answer.unsettled_sessions == 0;
  answer.record = ledger::canonical_energy_report(build(tx, period, span, site_id, now));
  if (!answer.closed) return answer;
  const auto appended = ledger::PostgresLog::append_in(tx, {answer.record});
  answer.log_index = appended.indices.at(0);
  repo::insert_report(tx, period.name, site_id, *answer.log_index, answer.record);
  return answer;
}

}  // namespace chargegrid::server::credits
