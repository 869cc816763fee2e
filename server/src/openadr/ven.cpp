#include "openadr/ven.hpp"

#include <map>
#include <pqxx/pqxx>
#include <set>
#include <stdexcept>

#include "chargegrid/base/percent.hpp"
#include "chargegrid/base/time.hpp"
#include "ledger_adapters/http_client.hpp"
#include "logging.hpp"
#include "openadr/objects.hpp"
#include "openadr/reports.hpp"
#include "openadr/windows.hpp"
#include "store/demand_response.hpp"
#include "store/openadr.hpp"
#include "store/outbox.hpp"

namespace chargegrid::server::openadr {

namespace {

using nlohmann::json;
namespace oadr = store::openadr;
using ledger_adapters::http_get;
using ledger_adapters::http_post;

constexpr auto kTimeout = std::chrono::seconds(10);
constexpr int kPageSize = 50;  // the specification's largest page

// The VTN answered, but not with what was asked.
struct VtnRefused : std::runtime_error {
  VtnRefused(int s, const std::string& what) : std::runtime_error(what), status(s) {}
  int status;
};

std::string base_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

Ven::Ven(const Config& config, std::string database_url)
    : config_(config), database_url_(std::move(database_url)) {}

Ven::~Ven() {
  stop();
}

void Ven::start() {
  if (config_.openadr_vtn_url.empty() || thread_.joinable()) return;
  thread_ = std::thread([this] { poll_loop(); });
  log::info("openadr_ven_started",
            {{"vtn", config_.openadr_vtn_url}, {"poll_seconds", config_.openadr_poll_seconds}});
}

void Ven::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Ven::poll_loop() {
  for (;;) {
    try {
      poll_once();
    } catch (const std::exception& e) {
      log::warn("openadr_poll_failed", {{"vtn", config_.openadr_vtn_url}, {"error", e.what()}});
    }
    try {
      post_reports();
    } catch (const std::exception& e) {
      log::warn("openadr_report_failed", {{"vtn", config_.openadr_vtn_url}, {"error", e.what()}});
    }
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(config_.openadr_poll_seconds),
                      [this] { return stopped_; });
    if (stopped_) return;
  }
}

std::string Ven::token() {
  if (token_) return *token_;
  const auto answer = http_post(
      base_url(config_.openadr_vtn_url) + "/auth/token", {{"User-Agent", "chargegrid-openadr"}},
      "grant_type=client_credentials&client_id=" + base::percent_encode(config_.openadr_client_id) +
          "&client_secret=" + base::percent_encode(config_.openadr_client_secret),
      kTimeout, "application/x-www-form-urlencoded");
  auto body = json::parse(answer.body, nullptr, false);
  if (answer.status != 200 || !body.is_object() || !body.contains("access_token") ||
      !body["access_token"].is_string())
    throw VtnRefused(answer.status, "the VTN's token endpoint answered " +
                                        std::to_string(answer.status) + ": " +
                                        answer.body.substr(0, 200));
  token_ = body["access_token"].get<std::string>();
  return *token_;
}

json Ven::read_all(const std::string& path) {
  json all = json::array();
  for (int skip = 0;; skip += kPageSize) {
    const auto url = base_url(config_.openadr_vtn_url) + path + "?skip=" + std::to_string(skip) +
                     "&limit=" + std::to_string(kPageSize);
    auto answer = http_get(
        url, {{"Authorization", "Bearer " + token()}, {"User-Agent", "chargegrid-openadr"}},
        kTimeout);
    if (answer.status == 401 || answer.status == 403) {
      token_.reset();  // expired or revoked: a new one next time
      throw VtnRefused(answer.status, path + ": the VTN refused the token");
    }
    auto page = json::parse(answer.body, nullptr, false);
    if (answer.status != 200 || !page.is_array())
      throw VtnRefused(answer.status, path + ": the VTN answered " + std::to_string(answer.status) +
                                          " without a list");
    for (auto& item : page) all.push_back(std::move(item));
    if (page.size() < static_cast<std::size_t>(kPageSize)) return all;
  }
}

void Ven::post_reports() {
  pqxx::connection connection(database_url_);
  pqxx::work tx(connection);
  tx.exec("SET LOCAL TimeZone = 'UTC'");
  // Locked while posting, so that cluster nodes polling the same VTN post each report once.
  const auto remotes = oadr::lock_remote_events(tx);
  const auto now = std::chrono::system_clock::now();
  std::vector<oadr::SiteIdentity> sites;
  for (const auto& remote : remotes) {
    if (requested_payloads(remote.event).empty()) continue;
    if (sites.empty()) sites = oadr::all_sites(tx);
    const auto reported = oadr::reported_until(tx, remote.event_id);
    for (const auto& report : event_reports(tx, remote.event, sites, now, reported)) {
      const auto answer =
          http_post(base_url(config_.openadr_vtn_url) + "/reports",
                    {{"Authorization", "Bearer " + token()}, {"User-Agent", "chargegrid-openadr"}},
                    report.report.dump(), kTimeout, "application/json");
      if (answer.status == 401 || answer.status == 403) token_.reset();
      if (answer.status < 200 || answer.status > 299) {
        // Posted again at the next poll.
        log::warn("openadr_report_refused", {{"event", remote.event_id},
                                             {"site_id", report.site_id},
                                             {"status", answer.status},
                                             {"answer", answer.body.substr(0, 200)}});
        continue;
      }
      oadr::save_reported_until(tx, remote.event_id, report.site_id,
                                base::format_rfc3339(report.reported_until));
      log::info("openadr_report_posted", {{"event", remote.event_id}, {"site_id", report.site_id}});
    }
  }
  tx.commit();
}

bool Ven::poll_once() {
  json programs, events;
  try {
    programs = read_all("/programs");
    events = read_all("/events");
  } catch (const VtnRefused& e) {
    if (e.status != 401 && e.status != 403) throw;
    // One retry with a fresh token.
    programs = read_all("/programs");
    events = read_all("/events");
  }
  std::map<std::string, json> program_by_id;
  for (const auto& program : programs)
    if (program.is_object() && program.contains("id") && program["id"].is_string())
      program_by_id[program["id"].get<std::string>()] = program;

  pqxx::connection connection(database_url_);
  pqxx::work tx(connection);
  tx.exec("SET LOCAL TimeZone = 'UTC'");
  std::map<std::string, oadr::RemoteEvent> known;
  for (auto& remote : oadr::lock_remote_events(tx)) known[remote.event_id] = std::move(remote);
  const auto sites = oadr::all_sites(tx);

  std::set<std::int64_t> touched;
  std::set<std::string> seen;
  for (const auto& event : events) {
    if (!event.is_object() || !event.contains("id") || !event["id"].is_string()) continue;
    const auto id = event["id"].get<std::string>();
    seen.insert(id);
    if (auto problem = event_problem(without_vtn_fields(event), Members::kExtensionsAllowed)) {
      // Left as it was: a malformed copy neither applies nor withdraws the event.
      log::warn("openadr_event_unusable", {{"event", id}, {"problem", *problem}});
      continue;
    }
    auto program_it = program_by_id.find(event.value("programID", std::string()));
    const json program = program_it == program_by_id.end() ? json::object() : program_it->second;
    const auto match = match_targets(event.value("targets", json()), sites);
    auto it = known.find(id);
    if (it != known.end() && it->second.event == event && it->second.program == program &&
        it->second.site_ids == match.sites)
      continue;  // unchanged since the last poll
    auto translation = translate(event, program, match.sites);
    for (const auto& problem : translation.problems)
      log::warn("openadr_payload_not_honoured", {{"event", id}, {"problem", problem}});
    for (auto site : store::demand_response::replace_event(tx, id, translation.windows))
      touched.insert(site);
    oadr::save_remote_event(tx, {id, event, program, match.sites});
    log::info("openadr_event_applied",
              {{"event", id},
               {"sites", static_cast<std::int64_t>(match.sites.size())},
               {"windows", static_cast<std::int64_t>(translation.windows.size())}});
  }
  for (const auto& [id, remote] : known) {
    if (seen.contains(id)) continue;
    for (auto site : store::demand_response::replace_event(tx, id, {})) touched.insert(site);
    oadr::delete_remote_event(tx, id);
    log::info("openadr_event_withdrawn", {{"event", id}});
  }
  if (!touched.empty())
    store::outbox::append(
        tx, store::outbox::kDemandResponseChanged,
        {{"site_ids", std::vector<std::int64_t>(touched.begin(), touched.end())}});
  tx.commit();
  return true;
}

}  // namespace chargegrid::server::openadr
