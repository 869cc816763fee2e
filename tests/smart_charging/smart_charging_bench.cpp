// Benchmark (not a test) of the smart-charging loop: smart-charging-bench [--vehicles N]
// [--triggers T] [--arrivals A] [--slot S] [--horizon H] [--result FILE];
// `scripts/bench smart-charging` runs it.
// A chargegridd server in this process with --smart-charging on a fresh database, one site with
// an import limit of a third of its uncontrolled demand, N simulated OCPP 2.0.1 stations
// (chargegrid-sim's Fleet, one EVSE each) with a vehicle charging on each, and A more stations
// without a vehicle. Once every vehicle holds its TxProfile, T rounds of three triggers:
//   - demand response: an IMPORT_CAPACITY_LIMIT event halving the limit posted to the built-in
//     VTN, and in the next round deleted;
//   - arrival: a vehicle plugs in at a free station (remote start; timed from the moment the
//     station receives RequestStartTransaction);
//   - declaration: a driver declares a departure and energy (PATCH /api/v1/sessions/{id}).
// Measured at the stations: from the trigger to the last SetChargingProfile it caused (the
// replan's profiles, as charging_profiles records them, all answered and no new one for 1.5 s),
// p50/p99 per kind and overall; profiles received per second; and from the database's clock
// where the time goes: trigger → plan saved (delivery to the loop, reading, planning), plan
// saved → first profile sent, first sent → last answered (sending).
// Text and JSON go to stdout (and --result), with the load average (docs/benchmarks.md).
//
// --norway-week instead replays the busiest Norway week through the server on a replay
// timeline (norway_week_replay.hpp; --time-scale, --sites, --max-sessions, --check).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "../server/server_fixture.hpp"
#include "api/auth.hpp"
#include "chargegrid/base/time.hpp"
#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/bench.hpp"
#include "chargegrid/testing/http_client.hpp"
#include "norway_week_replay.hpp"

using namespace chargegrid;
namespace http = boost::beast::http;
using Clock = std::chrono::system_clock;
using nlohmann::json;

namespace {

constexpr std::int64_t kEvseW = 11000;
// No profile for this long after the last one: the replan is over.
constexpr auto kQuiet = std::chrono::milliseconds(1500);
constexpr auto kTriggerTimeout = std::chrono::seconds(120);

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Every CALL the stations receive, with the instant it arrived.
class Received {
 public:
  struct Call {
    Clock::time_point at;
    std::string station, action, purpose;
  };
  void add(const std::string& station, const std::string& action, const json& payload) {
    Call call{Clock::now(), station, action, {}};
    if (action == "SetChargingProfile" && payload.contains("chargingProfile"))
      call.purpose = payload["chargingProfile"].value("chargingProfilePurpose", "");
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(call));
  }
  std::vector<Call> since(Clock::time_point t) {
    std::lock_guard lock(mutex_);
    std::vector<Call> out;
    for (const auto& c : calls_)
      if (c.at >= t) out.push_back(c);
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<Call> calls_;
};

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

double round3(double x) {
  return std::round(x * 1000.0) / 1000.0;
}

struct Measured {
  std::string kind;
  double latency_s = 0;         // trigger → last TxProfile received
  double latency_all_s = 0;     // ... → last SetChargingProfile of any purpose received
  std::size_t tx_profiles = 0;  // TxProfiles received
  std::size_t profiles = 0;     // SetChargingProfile received (with station-wide limits)
  std::size_t recorded = 0;     // charging_profiles rows of the replan
  double to_plan_s = 0, to_first_sent_s = 0, sending_s = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"smart-charging-bench: replan-and-send latency of a site with many vehicles"};
  int vehicles = 1000;
  int rounds = 10;
  int arrivals = 0;  // 0: one per round
  int slot_s = 900;
  int horizon_s = 86400;
  std::string result_file;
  app.add_option("--vehicles", vehicles, "vehicles charging at the site")
      ->check(CLI::Range(1, 5000));
  app.add_option("--triggers", rounds, "rounds of the three triggers")->check(CLI::Range(1, 1000));
  app.add_option("--arrivals", arrivals, "free stations for arrivals (default: --triggers)");
  app.add_option("--slot", slot_s, "plan slot in seconds")->check(CLI::Range(10, 3600));
  app.add_option("--horizon", horizon_s, "plan horizon in seconds")->check(CLI::Range(600, 604800));
  app.add_option("--result", result_file, "also write the JSON result here");
  bool norway_week = false;
  bench::NorwayWeekOptions week;
  week.data_file = CHARGEGRID_NORWAY_SESSIONS;
  app.add_flag("--norway-week", norway_week,
               "replay the busiest Norway week through the server instead (time-scaled)");
  app.add_option("--data", week.data_file, "--norway-week: the Norway sessions file");
  app.add_option("--time-scale", week.time_scale,
                 "--norway-week: replay seconds per wall second (a divisor of --slot)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--days", week.days, "--norway-week: days of plug-ins")->check(CLI::Range(1, 28));
  app.add_option("--sites", week.sites, "--norway-week: only the N sites with most sessions");
  app.add_option("--max-sessions", week.max_sessions,
                 "--norway-week: only the M sessions of those sites that leave first");
  app.add_option("--tolerance", week.check_tolerance,
                 "--norway-week --check: share a site-slot may exceed its limit by");
  app.add_option("--min-delivered", week.check_min_delivered,
                 "--norway-week --check: the least share of the hindsight optimum delivered")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--declare-energy", week.declare_energy,
               "--norway-week: declare each session's need through the API instead of its "
               "vehicle reporting it (charging needs)");
  app.add_flag("--check", week.check,
               "--norway-week: exit 1 unless every session is scored, no site-slot is over its "
               "limit beyond --tolerance and every profile starts on a replay slot boundary");
  CLI11_PARSE(app, argc, argv);
  if (norway_week) {
    week.slot_s = slot_s;
    week.result_file = result_file;
    return bench::run_norway_week(week);
  }
  if (arrivals <= 0) arrivals = rounds;

  auto config = testing::test_config();
  config.accept_unknown_tokens = true;
  config.smart_charging = true;
  config.smart_charging_slot_s = slot_s;
  config.smart_charging_horizon_s = horizon_s;
  config.smart_charging_evse_power_w = kEvseW;
  config.call_timeout_s = 30;
  config.max_connections_per_address = 0;  // the whole fleet comes from 127.0.0.1
  testing::ServerFixture fx(config);
  const auto port = fx.server().http_port();
  std::string admin_key, utility_key;
  const std::int64_t limit_w = static_cast<std::int64_t>(vehicles) * kEvseW / 3;
  std::int64_t site = 0;
  {
    auto c = fx.sql();
    pqxx::work tx(c);
    admin_key = server::api::create_api_key(tx, "bench", server::api::Role::Admin, {}, {}).secret;
    tx.commit();
  }
  testing::ApiClient admin(port, admin_key);
  {
    auto r = admin.post("/sites", {{"name", "Bench depot"}, {"import_limit_w", limit_w}});
    if (r.status != 201) throw std::runtime_error("POST /sites: " + r.body);
    site = r.data["id"].get<std::int64_t>();
    auto c = fx.sql();
    pqxx::work tx(c);
    utility_key =
        server::api::create_api_key(tx, "utility", server::api::Role::Utility, {site}, {}).secret;
    tx.commit();
  }

  Received received;
  const auto fleet_options = [&](const std::string& prefix, int count, int sessions) {
    sim::FleetOptions options;
    options.station.version = sim::OcppVersion::v201;
    options.station.endpoint =
        sim::parse_url("ws://127.0.0.1:" + std::to_string(fx.server().ocpp_port()) + "/ocpp");
    options.station.connectors = 1;
    options.station.sessions = sessions;
    options.station.session_length_s = 0;     // the vehicles stay
    options.station.meter_interval_s = 3600;  // no meter drift replans during the run
    options.station.first_session_delay_s = 2;
    options.station.response_timeout_s = 60;
    options.station.meter.max_power_w = kEvseW;
    options.station.ev.notify_charging_needs = false;
    options.stations = count;
    options.threads = 2;
    options.id_prefix = prefix;
    options.ramp_up_s = 0.002;
    return options;
  };
  auto charging = fleet_options("SCB", vehicles, 1);
  auto spare = fleet_options("SCF", arrivals, 0);
  for (const auto* o : {&charging, &spare})
    for (int i = 1; i <= o->stations; ++i) {
      auto r = admin.post("/stations", {{"id", sim::station_id(*o, i)}, {"site_id", site}});
      if (r.status != 201) throw std::runtime_error("POST /stations: " + r.body);
    }

  // The bench's own queries (polled every 100 ms while a replan runs) on one connection: a
  // connection each would fork a PostgreSQL backend each, taking CPU from what is measured.
  auto probe = fx.sql();
  const auto probe_value = [&](const std::string& sql) {
    return testing::ServerFixture::query_value(probe, sql);
  };
  const auto count = [&](const std::string& sql) { return std::stoll(probe_value(sql)); };
  const auto start = testing::BenchClock::now();
  sim::Fleet charging_fleet(charging), spare_fleet(spare);
  const auto watch = [&](const std::string& station, const std::string& action, const json& p) {
    received.add(station, action, p);
  };
  charging_fleet.probe().watch_calls(watch);
  spare_fleet.probe().watch_calls(watch);
  std::thread charging_runner([&] { charging_fleet.run(); });
  std::thread spare_runner([&] { spare_fleet.run(); });

  // Every vehicle charging and holding a profile the station accepted.
  const auto all_controlled = [&] {
    return count(
               "SELECT count(DISTINCT session_id) FROM charging_profiles WHERE kind = 'set' "
               "AND purpose = 'TxProfile' AND status = 'Accepted'") >= vehicles;
  };
  while (!all_controlled() && testing::seconds_since(start) < 900)
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double settled_s = testing::seconds_since(start);
  const bool settled = all_controlled();
  std::printf("%d vehicles at a %.0f kW site: %s after %.1f s\n", vehicles, limit_w / 1000.0,
              settled ? "all controlled" : "NOT all controlled", settled_s);

  const auto last_profile_row = [&] {
    return count("SELECT coalesce(max(id), 0) FROM charging_profiles");
  };
  // Waits for the replan a trigger caused: rows after `after`, all answered, none new for kQuiet.
  const auto wait_quiet = [&](std::int64_t after, Clock::time_point deadline) {
    std::int64_t seen = -1;
    auto stable_since = Clock::now();
    while (Clock::now() < deadline) {
      const auto rows =
          count("SELECT count(*) FROM charging_profiles WHERE id > " + std::to_string(after));
      const auto open = count("SELECT count(*) FROM charging_profiles WHERE id > " +
                              std::to_string(after) + " AND answered_at IS NULL");
      if (rows != seen || open > 0) {
        seen = rows;
        stable_since = Clock::now();
      } else if (rows > 0 && Clock::now() - stable_since >= kQuiet) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  // Nothing in flight, and the next slot boundary (which replans every site) not close.
  const auto before_trigger = [&] {
    wait_quiet(0, Clock::now() + std::chrono::seconds(30));
    const auto now = Clock::now();
    const auto into = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()) %
                      std::chrono::seconds(slot_s);
    if (std::chrono::seconds(slot_s) - into < std::chrono::seconds(30)) {
      std::this_thread::sleep_for(std::chrono::seconds(slot_s) - into + std::chrono::seconds(2));
      wait_quiet(0, Clock::now() + std::chrono::seconds(120));
    }
  };
  const auto db_time = [&](const std::string& sql) -> std::optional<Clock::time_point> {
    const auto text = probe_value("SELECT extract(epoch FROM (" + sql + "))::text");
    if (text.empty()) return std::nullopt;
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(std::stod(text))));
  };

  std::vector<Measured> measured;
  const auto measure = [&](const std::string& kind, std::int64_t after, Clock::time_point t0,
                           Clock::time_point receipts_from) {
    Measured m;
    m.kind = kind;
    const bool done = wait_quiet(after, Clock::now() + kTriggerTimeout);
    const auto calls = received.since(receipts_from);
    std::optional<Clock::time_point> last_tx, last_any;
    for (const auto& c : calls) {
      if (c.action != "SetChargingProfile") continue;
      ++m.profiles;
      last_any = std::max(last_any.value_or(c.at), c.at);
      if (c.purpose == "TxProfile") {
        ++m.tx_profiles;
        last_tx = std::max(last_tx.value_or(c.at), c.at);
      }
    }
    const auto a = std::to_string(after);
    m.recorded = static_cast<std::size_t>(
        count("SELECT count(*) FROM charging_profiles WHERE kind = 'set' AND id > " + a));
    if (!done || !last_tx || m.recorded != m.profiles) {
      std::printf("%s: no complete replan (%zu profiles recorded, %zu received)\n", kind.c_str(),
                  m.recorded, m.profiles);
      return;
    }
    m.latency_s = seconds_between(t0, *last_tx);
    m.latency_all_s = seconds_between(t0, *last_any);
    const auto planned =
        db_time("SELECT planned_at FROM site_plans WHERE site_id = " + std::to_string(site));
    const auto first_sent = db_time("SELECT min(sent_at) FROM charging_profiles WHERE id > " + a);
    const auto last_answered =
        db_time("SELECT max(answered_at) FROM charging_profiles WHERE id > " + a);
    if (planned && first_sent && last_answered) {
      m.to_plan_s = seconds_between(t0, *planned);
      m.to_first_sent_s = seconds_between(*planned, *first_sent);
      m.sending_s = seconds_between(*first_sent, *last_answered);
    }
    std::printf(
        "%-12s %5zu TxProfiles (%zu with station limits) in %.3f s (all %.3f s): to plan saved "
        "%.3f s, to first sent %.3f s, sending %.3f s\n",
        kind.c_str(), m.tx_profiles, m.profiles, m.latency_s, m.latency_all_s, m.to_plan_s,
        m.to_first_sent_s, m.sending_s);
    std::fflush(stdout);
    measured.push_back(m);
  };

  const auto vtn = [&](http::verb method, const std::string& path, const json& body = json()) {
    return testing::http_request(port, method, "/openadr3/3.0.1" + path, utility_key,
                                 body.is_null() ? "" : body.dump());
  };
  std::string program_id;
  if (settled) {
    auto program = vtn(http::verb::post, "/programs", {{"programName", "bench"}});
    if (program.status != 201) throw std::runtime_error("POST /programs: " + program.body);
    program_id = program.data["id"].get<std::string>();
  }
  std::string event_id;
  const auto sessions = [&] {
    std::vector<std::int64_t> out;
    auto c = fx.sql();
    pqxx::read_transaction tx(c);
    for (const auto& row :
         tx.exec("SELECT id FROM transactions WHERE state = 'active' ORDER BY id"))
      out.push_back(row[0].as<std::int64_t>());
    return out;
  };
  for (int round = 0; settled && round < rounds; ++round) {
    // Demand response: the event halving the limit, deleted in the next round.
    before_trigger();
    {
      const auto after = last_profile_row();
      const auto t0 = Clock::now();
      if (event_id.empty()) {
        const auto begin = std::chrono::floor<std::chrono::seconds>(t0) - std::chrono::seconds(60);
        auto event =
            vtn(http::verb::post, "/events",
                {{"programID", program_id},
                 {"intervalPeriod", {{"start", base::format_rfc3339(begin)}, {"duration", "PT2H"}}},
                 {"intervals",
                  {{{"id", 0},
                    {"payloads",
                     {{{"type", "IMPORT_CAPACITY_LIMIT"}, {"values", {limit_w / 2000.0}}}}}}}}});
        if (event.status != 201) throw std::runtime_error("POST /events: " + event.body);
        event_id = event.data["id"].get<std::string>();
        measure("dr_start", after, t0, t0);
      } else {
        auto deleted = vtn(http::verb::delete_, "/events/" + event_id);
        if (deleted.status != 200) throw std::runtime_error("DELETE /events: " + deleted.body);
        event_id.clear();
        measure("dr_end", after, t0, t0);
      }
    }
    // Arrival: a vehicle plugs in at a free station.
    if (round < arrivals) {
      before_trigger();
      const auto after = last_profile_row();
      const auto asked = Clock::now();
      const auto station = sim::station_id(spare, round + 1);
      auto r = admin.post("/stations/" + station + "/commands/remote-start",
                          {{"evse_id", 1}, {"id_token", "BENCH-" + std::to_string(round)}});
      if (r.status != 200) throw std::runtime_error("remote-start: " + r.body);
      Clock::time_point t0 = asked;
      for (const auto& c : received.since(asked))
        if (c.station == station && c.action == "RequestStartTransaction") t0 = c.at;
      measure("arrival", after, t0, asked);
    }
    // Declaration: a driver says when they leave and what they need.
    {
      before_trigger();
      const auto all = sessions();
      const auto session = all[static_cast<std::size_t>(round * 7919) % all.size()];
      const auto after = last_profile_row();
      const auto t0 = Clock::now();
      auto r = admin.patch(
          "/sessions/" + std::to_string(session),
          {{"departure_time", base::format_rfc3339(std::chrono::floor<std::chrono::seconds>(t0) +
                                                   std::chrono::minutes(90 + 10 * round))},
           {"energy_wh", 12000 + 500 * round}});
      if (r.status != 200) throw std::runtime_error("PATCH /sessions: " + r.body);
      measure("declaration", after, t0, t0);
    }
  }
  charging_fleet.stop();
  spare_fleet.stop();
  charging_runner.join();
  spare_runner.join();

  // Summary: per kind and overall.
  json result{{"workload", "smart-charging"},
              {"vehicles", vehicles},
              {"site_import_limit_w", limit_w},
              {"slot_s", slot_s},
              {"horizon_s", horizon_s},
              {"settled", settled},
              {"settled_after_s", round3(settled_s)},
              {"load_average", testing::load_average()}};
  const auto summary = [&](const std::string& kind) {
    std::vector<double> latency, latency_all, plan, first, sending;
    double profiles = 0, span = 0;
    for (const auto& m : measured) {
      if (!kind.empty() && m.kind.rfind(kind, 0) != 0) continue;
      latency.push_back(m.latency_s);
      latency_all.push_back(m.latency_all_s);
      plan.push_back(m.to_plan_s);
      first.push_back(m.to_first_sent_s);
      sending.push_back(m.sending_s);
      profiles += static_cast<double>(m.profiles);
      span += m.sending_s;
    }
    json out{{"triggers", latency.size()},
             {"p50_s", round3(quantile(latency, 0.5))},
             {"p99_s", round3(quantile(latency, 0.99))},
             {"max_s", round3(quantile(latency, 1.0))},
             {"with_station_limits_p99_s", round3(quantile(latency_all, 0.99))},
             {"to_plan_saved_p50_s", round3(quantile(plan, 0.5))},
             {"to_first_sent_p50_s", round3(quantile(first, 0.5))},
             {"sending_p50_s", round3(quantile(sending, 0.5))},
             {"profiles", profiles},
             {"profiles_per_s_sending", span > 0 ? std::round(profiles / span) : 0}};
    std::printf(
        "%-12s %3zu triggers: p50 %.3f s, p99 %.3f s (target < 1 s); with station limits p99 "
        "%.3f s; %.0f profiles at %.0f/s while sending; p50 to plan saved %.3f s, to first "
        "sent %.3f s, sending %.3f s\n",
        kind.empty() ? "all" : kind.c_str(), latency.size(), quantile(latency, 0.5),
        quantile(latency, 0.99), quantile(latency_all, 0.99), profiles,
        span > 0 ? profiles / span : 0, quantile(plan, 0.5), quantile(first, 0.5),
        quantile(sending, 0.5));
    return out;
  };
  result["dr"] = summary("dr_");
  result["arrival"] = summary("arrival");
  result["declaration"] = summary("declaration");
  result["all"] = summary("");
  std::printf("load average %s\n", testing::load_average().c_str());
  const auto text = result.dump(2);
  std::printf("%s\n", text.c_str());
  if (!result_file.empty()) std::ofstream(result_file) << text << "\n";
  return settled && !measured.empty() ? 0 : 1;
}
