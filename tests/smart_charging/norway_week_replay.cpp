#include "norway_week_replay.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "api/auth.hpp"
#include "chargegrid/base/time.hpp"
#include "chargegrid/scheduler/plan_simulation.hpp"
#include "chargegrid/scheduler/sessions.hpp"
#include "chargegrid/server/server.hpp"
#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/bench.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/http_client.hpp"
#include "chargegrid/testing/test_config.hpp"
#include "smart_charging/planning.hpp"

namespace chargegrid::bench {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using Time = scheduler::Time;
using Wall = std::chrono::system_clock::time_point;

constexpr double kEvseW = 7400;  // the offline replay's EVSE
constexpr const char* kPrefix = "NW";
constexpr const char* kIdTag = "NORWAY";
// Real seconds the stations get to connect and boot before the first plug-in.
constexpr double kLeadS = 2;

double epoch_s(Wall t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

double replay_quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

// One simulated station: the sessions of one driver at one site that do not overlap.
struct ScriptedStation {
  std::string site, user;
  std::vector<const scheduler::ReplaySession*> sessions;
};

// The register at `t` from a station's samples (unix s, Wh) in time order: linear between
// samples, flat before the first and after the last (the register holds between sessions).
double register_at(const std::vector<std::pair<double, double>>& samples, double t) {
  if (samples.empty()) return 0;
  if (t <= samples.front().first) return samples.front().second;
  if (t >= samples.back().first) return samples.back().second;
  const auto it = std::lower_bound(samples.begin(), samples.end(), std::make_pair(t, -1e300));
  const auto& [t1, v1] = *it;
  const auto& [t0, v0] = *(it - 1);
  return t1 == t0 ? v1 : v0 + (v1 - v0) * (t - t0) / (t1 - t0);
}

std::string weekday_name(int iso) {
  static const char* names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  return names[(iso + 6) % 7];
}

// The offline replay's tariff (scheduler::replay_import_price) as a site tariff, by local hour.
json replay_tariff() {
  json bands = json::array();
  std::vector<std::string> days;
  for (int d = 1; d <= 7; ++d) days.push_back(weekday_name(d));
  int from = 0;
  for (int hour = 1; hour <= 24; ++hour) {
    if (hour < 24 && scheduler::replay_import_price(hour) == scheduler::replay_import_price(from))
      continue;
    char a[16], b[16];
    std::snprintf(a, sizeof a, "%02d:00", from);
    std::snprintf(b, sizeof b, "%02d:00", hour);
    bands.push_back({{"days", days},
                     {"from", a},
                     {"to", b},
                     {"price_minor_per_kwh", scheduler::replay_import_price(from)}});
    from = hour;
  }
  return {{"currency", "NOK"}, {"import", bands}, {"export_credit_minor_per_kwh", 40}};
}

}  // namespace

int run_norway_week(const NorwayWeekOptions& opt) {
  // ---- the offline replay's scenario ----
  std::ifstream in(opt.data_file);
  if (!in) throw std::runtime_error("cannot read " + opt.data_file);
  const auto file = scheduler::read_norway_csv(in);
  scheduler::SimulationOptions sim;
  sim.days = opt.days;
  sim.slot_length = std::chrono::minutes(opt.slot_s / 60);
  sim.horizon_slots = 96;
  // The simulated vehicles pause below 6 A on their three phases, as the server plans for:
  // the offline replay and its hindsight optimum plan for the same minimum.
  sim.min_charge_kw = server::smart_charging::kMinCurrentA * server::smart_charging::kVolts *
                      server::smart_charging::kPhases / 1000;
  auto scenario = scheduler::replay_scenario(file.sessions, sim);
  std::vector<scheduler::FinishedSession> replayed_input = file.sessions;
  if (opt.sites > 0 || opt.max_sessions > 0) {
    // A slice: the sites with the most sessions, the sessions that leave first; the same
    // window, and every session before it for the predictor.
    auto sites = scenario.sites;
    std::stable_sort(sites.begin(), sites.end(), [](const auto& a, const auto& b) {
      return a.sessions.size() > b.sessions.size();
    });
    if (opt.sites > 0 && sites.size() > static_cast<std::size_t>(opt.sites))
      sites.resize(static_cast<std::size_t>(opt.sites));
    std::vector<scheduler::FinishedSession> chosen;
    for (const auto& s : sites)
      for (const auto& r : s.sessions) chosen.push_back(r.session);
    std::stable_sort(chosen.begin(), chosen.end(),
                     [](const auto& a, const auto& b) { return a.plugout < b.plugout; });
    if (opt.max_sessions > 0 && chosen.size() > static_cast<std::size_t>(opt.max_sessions))
      chosen.resize(static_cast<std::size_t>(opt.max_sessions));
    std::vector<scheduler::FinishedSession> input = scenario.earlier;
    input.insert(input.end(), chosen.begin(), chosen.end());
    sim.end = scenario.window_end;
    scenario = scheduler::replay_scenario(input, sim);
    replayed_input = std::move(input);
  }
  const seconds slot{opt.slot_s};
  const int k = opt.time_scale;
  if (opt.slot_s % k != 0) throw std::invalid_argument("--time-scale must divide --slot");
  std::size_t session_count = 0;
  Time first_arrival = Time::max(), last_departure = Time::min();
  double hindsight_wh = 0, need_wh = 0;
  for (const auto& site : scenario.sites)
    for (const auto& r : site.sessions) {
      ++session_count;
      first_arrival = std::min(first_arrival, r.arrival);
      last_departure = std::max(last_departure, r.departure);
      hindsight_wh += r.hindsight_wh;
      need_wh += r.need_wh;
    }
  if (session_count == 0) throw std::runtime_error("no sessions to replay");
  // The offline replay's online planner on the same sessions, for comparison.
  const auto offline = scheduler::simulate_planning(replayed_input, sim);
  const auto& offline_planner = offline.policies.at("chargegrid");
  const auto& offline_optimum = offline.policies.at("hindsight_optimum");
  const double offline_share = offline_optimum.delivered_kwh > 0
                                   ? offline_planner.delivered_kwh / offline_optimum.delivered_kwh
                                   : 0;

  // Stations: per site and driver, a station for each run of sessions that do not overlap.
  std::vector<ScriptedStation> stations;
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> by_driver;
  for (const auto& site : scenario.sites) {
    std::vector<const scheduler::ReplaySession*> ordered;
    for (const auto& r : site.sessions) ordered.push_back(&r);
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto* a, const auto* b) { return a->arrival < b->arrival; });
    for (const auto* r : ordered) {
      auto& mine = by_driver[{site.id, r->session.user_id}];
      std::size_t* free_one = nullptr;
      for (auto& index : mine)
        if (stations[index].sessions.back()->departure <= r->arrival) {
          free_one = &index;
          break;
        }
      if (!free_one) {
        stations.push_back({site.id, r->session.user_id, {}});
        mine.push_back(stations.size() - 1);
        free_one = &mine.back();
      }
      stations[*free_one].sessions.push_back(r);
    }
  }
  sim::FleetOptions fleet;
  fleet.id_prefix = kPrefix;
  fleet.stations = static_cast<int>(stations.size());
  // Earlier sessions of drivers not replayed: stations that never connect, so that the
  // predictor's site and global pools hold them as the offline replay's do.
  std::map<std::pair<std::string, std::string>, std::string> history_station;
  for (std::size_t i = 0; i < stations.size(); ++i)
    history_station.emplace(std::make_pair(stations[i].site, stations[i].user),
                            sim::station_id(fleet, static_cast<int>(i) + 1));
  int extra = 0;
  std::vector<std::pair<std::string, std::string>> idle_stations;  // (id, site)
  for (const auto& s : scenario.earlier) {
    const auto key = std::make_pair(s.site_id, s.user_id);
    if (history_station.count(key)) continue;
    auto id = std::string(kPrefix) + "H" + std::to_string(++extra);
    history_station.emplace(key, id);
    idle_stations.emplace_back(id, s.site_id);
  }

  // ---- setup through the API, the loop off ----
  testing::TestDatabase db;
  auto setup_config = testing::test_config();
  setup_config.accept_unknown_tokens = true;
  std::map<std::string, std::int64_t> site_ids;
  std::map<std::string, std::int64_t> limits;
  std::string admin_key;
  {
    server::Server setup(setup_config, db.url());
    setup.start();
    {
      auto c = db.connect();
      pqxx::work tx(c);
      admin_key =
          server::api::create_api_key(tx, "replay", server::api::Role::Admin, {}, {}).secret;
      tx.commit();
    }
    testing::ApiClient admin(setup.http_port(), admin_key);
    std::set<std::string> all_sites;
    for (const auto& s : scenario.earlier) all_sites.insert(s.site_id);
    for (const auto& site : scenario.sites) {
      all_sites.insert(site.id);
      limits[site.id] = site.import_limit_w;
    }
    for (const auto& name : all_sites) {
      json body{{"name", name}, {"time_zone", "Europe/Oslo"}};
      if (limits.count(name)) body["import_limit_w"] = limits[name];
      auto r = admin.post("/sites", body);
      if (r.status != 201) throw std::runtime_error("POST /sites: " + r.body);
      site_ids[name] = r.data["id"].get<std::int64_t>();
      if (limits.count(name)) {
        auto t =
            testing::http_request(setup.http_port(), boost::beast::http::verb::put,
                                  "/api/v1/sites/" + std::to_string(site_ids[name]) + "/tariff",
                                  admin_key, replay_tariff().dump());
        if (t.status != 200) throw std::runtime_error("PUT tariff: " + t.body);
      }
    }
    for (std::size_t i = 0; i < stations.size(); ++i) {
      auto r = admin.post("/stations", {{"id", sim::station_id(fleet, static_cast<int>(i) + 1)},
                                        {"site_id", site_ids[stations[i].site]}});
      if (r.status != 201) throw std::runtime_error("POST /stations: " + r.body);
    }
    for (const auto& [id, site] : idle_stations) {
      auto r = admin.post("/stations", {{"id", id}, {"site_id", site_ids[site]}});
      if (r.status != 201) throw std::runtime_error("POST /stations: " + r.body);
    }
    setup.stop();
  }

  // ---- one timeline: replay time R0 at wall time W0 ----
  const auto lead = seconds{static_cast<long>(std::ceil(kLeadS * k / opt.slot_s)) * opt.slot_s};
  const Time replay_origin =
      std::chrono::floor<seconds>(first_arrival) - (first_arrival.time_since_epoch() % slot) - lead;
  const Time wall_origin =
      std::chrono::ceil<seconds>(std::chrono::system_clock::now()) + seconds{2};
  const auto to_wall = [&](Time replay) {
    return Wall(wall_origin) +
           std::chrono::duration_cast<Wall::duration>(std::chrono::duration<double>(
               (replay - replay_origin).count() / static_cast<double>(k)));
  };

  // The earlier sessions, ended, on the wall timeline: the loop's warm start learns them.
  {
    auto c = db.connect();
    pqxx::work tx(c);
    std::size_t n = 0;
    std::string values;
    const auto flush = [&] {
      if (values.empty()) return;
      tx.exec(
          "INSERT INTO transactions (station_id, transaction_uid, protocol, evse_id, "
          "connector_id, id_token, state, started_at, ended_at, meter_start_wh, meter_stop_wh) "
          "VALUES " +
          values);
      values.clear();
    };
    for (const auto& s : scenario.earlier) {
      const auto& station = history_station.at({s.site_id, s.user_id});
      if (!values.empty()) values += ",";
      values +=
          "(" + tx.quote(station) + "," + tx.quote("history-" + std::to_string(++n)) +
          ",'ocpp2.0.1',1,1," + tx.quote(std::string(kIdTag) + "-" + station) + ",'ended'," +
          tx.quote(base::format_rfc3339(to_wall(s.plugin), base::TimePrecision::kMicroseconds)) +
          "," +
          tx.quote(base::format_rfc3339(to_wall(s.plugout), base::TimePrecision::kMicroseconds)) +
          ",0," + std::to_string(s.energy_wh) + ")";
      if (n % 1000 == 0) flush();
    }
    flush();
    tx.commit();
  }

  // ---- the replay: the loop on the replay timeline, the stations on the same one ----
  auto config = testing::test_config();
  config.accept_unknown_tokens = true;
  config.smart_charging = true;
  config.smart_charging_slot_s = opt.slot_s;
  config.smart_charging_horizon_s = 96 * opt.slot_s;
  config.smart_charging_evse_power_w = static_cast<std::int64_t>(kEvseW);
  config.smart_charging_time_scale = k;
  config.smart_charging_day_type_shift_h = sim.predictor.day_type_shift_h;  // as offline
  config.smart_charging_replay_start = base::format_rfc3339(replay_origin);
  config.smart_charging_replay_wall_start_s = wall_origin.time_since_epoch().count();
  config.heartbeat_interval_s = 86400;
  config.call_timeout_s = 30;
  config.max_connections_per_address = 0;
  server::Server server(config, db.url());
  server.start();

  fleet.station.version = sim::OcppVersion::v201;
  fleet.station.endpoint =
      sim::parse_url("ws://127.0.0.1:" + std::to_string(server.ocpp_port()) + "/ocpp");
  fleet.station.connectors = 1;
  fleet.station.time_scale = k;
  // Three samples a slot, on the replay's clock (as clock-aligned readings): each slot's
  // energy is read between two registers taken on its boundaries.
  fleet.station.meter_interval_s = opt.slot_s / 3.0;
  fleet.station.meter_aligned_to = Wall(wall_origin);
  fleet.station.default_heartbeat_s = 86400;
  fleet.station.response_timeout_s = 60;
  fleet.station.meter.max_power_w = kEvseW;
  fleet.station.ev.notify_charging_needs = !opt.declare_energy;
  fleet.station.id_tag = kIdTag;
  fleet.station.script_start = Wall(wall_origin);
  fleet.threads = 2;
  fleet.ramp_up_s = 0.002;
  for (std::size_t i = 0; i < stations.size(); ++i) {
    auto& script = fleet.scripts[static_cast<int>(i) + 1];
    for (const auto* r : stations[i].sessions)
      script.push_back({static_cast<double>((r->arrival - replay_origin).count()),
                        static_cast<double>((r->departure - replay_origin).count()), r->need_wh});
  }
  const auto started = testing::BenchClock::now();
  sim::Fleet simulated(fleet);
  std::thread runner([&] { simulated.run(); });
  const auto count = [&](const std::string& sql) {
    return static_cast<std::size_t>(testing::query_int(db.url(), sql));
  };
  const auto replay_end = to_wall(last_departure) + std::chrono::seconds(2);
  // --declare-energy: each session's need declared through the API as it starts.
  std::atomic<bool> replaying{true};
  std::thread declarer([&] {
    if (!opt.declare_energy) return;
    testing::ApiClient api(server.http_port(), admin_key);
    std::set<std::int64_t> declared;
    std::map<std::string, std::size_t> begun;  // sessions per station so far
    while (replaying) {
      auto c = db.connect();
      pqxx::read_transaction tx(c);
      const auto rows = tx.exec(
          "SELECT t.id, t.station_id FROM transactions t WHERE t.station_id LIKE '" +
          std::string(kPrefix) + "0%' AND t.transaction_uid NOT LIKE 'history-%' ORDER BY t.id");
      tx.commit();
      for (const auto& row : rows) {
        const auto id = row[0].as<std::int64_t>();
        if (!declared.insert(id).second) continue;
        const auto station = row[1].as<std::string>();
        const auto index = static_cast<std::size_t>(std::stoi(station.substr(2))) - 1;
        const auto n = begun[station]++;
        if (index >= stations.size() || n >= stations[index].sessions.size()) continue;
        api.patch("/sessions/" + std::to_string(id),
                  {{"energy_wh", std::llround(stations[index].sessions[n]->need_wh)}});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::printf("replaying %zu sessions at %zu sites on %zu stations, %s to %s at x%d (%.0f s)\n",
              session_count, scenario.sites.size(), stations.size(),
              base::format_rfc3339(replay_origin).c_str(),
              base::format_rfc3339(last_departure).c_str(), k,
              std::chrono::duration<double>(replay_end - std::chrono::system_clock::now()).count());
  std::fflush(stdout);
  std::this_thread::sleep_until(replay_end);
  const std::string live = "t.station_id LIKE '" + std::string(kPrefix) +
                           "0%' AND t.transaction_uid NOT LIKE 'history-%'";
  for (int i = 0; i < 100 && count("SELECT count(*) FROM transactions t WHERE " + live +
                                   " AND state = 'ended'") < session_count;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  simulated.stop();
  runner.join();
  replaying = false;
  declarer.join();
  const double run_s = testing::seconds_since(started);

  // ---- scoring ----
  auto c = db.connect();
  pqxx::read_transaction tx(c);
  // Each station's sessions in start order are its script's.
  std::map<std::string, std::vector<double>> delivered_by_station;
  for (const auto& row :
       tx.exec("SELECT t.station_id, greatest(coalesce(t.import_last_wh - t.import_first_wh, "
               "t.meter_stop_wh - t.meter_start_wh, 0), 0)::float8 FROM transactions t WHERE " +
               live + " AND t.state = 'ended' ORDER BY t.station_id, t.started_at, t.id"))
    delivered_by_station[row[0].as<std::string>()].push_back(row[1].as<double>());
  std::size_t scored = 0;
  double delivered_wh = 0;
  std::map<std::string, double> site_delivered, site_hindsight;
  json per_session = json::array();
  for (std::size_t i = 0; i < stations.size(); ++i) {
    const auto& got = delivered_by_station[sim::station_id(fleet, static_cast<int>(i) + 1)];
    for (std::size_t j = 0; j < stations[i].sessions.size() && j < got.size(); ++j) {
      const auto* r = stations[i].sessions[j];
      ++scored;
      const double d = std::min(got[j], r->need_wh);  // as the offline replay caps it
      delivered_wh += d;
      site_delivered[stations[i].site] += d;
      site_hindsight[stations[i].site] += r->hindsight_wh;
      per_session.push_back({{"station", sim::station_id(fleet, static_cast<int>(i) + 1)},
                             {"arrival", base::format_rfc3339(r->arrival)},
                             {"departure", base::format_rfc3339(r->departure)},
                             {"need_wh", std::round(r->need_wh)},
                             {"hindsight_wh", std::round(r->hindsight_wh)},
                             {"delivered_wh", std::round(got[j])}});
    }
  }

  // Site-slots over the limit, from the stored registers, slot by slot of the replay timeline.
  std::map<std::string, std::vector<std::pair<double, double>>> registers;
  for (const auto& row :
       tx.exec("SELECT station_id, extract(epoch FROM sampled_at)::float8, value FROM "
               "meter_values WHERE measurand = 'Energy.Active.Import.Register' AND phase = '' "
               "AND station_id LIKE '" +
               std::string(kPrefix) + "0%' ORDER BY station_id, sampled_at"))
    registers[row[0].as<std::string>()].emplace_back(row[1].as<double>(), row[2].as<double>());
  // What each station was sent, to explain a site-slot over the limit.
  struct SentProfile {
    std::string purpose;
    double start = 0, sent = 0, answered = 0;  // unix s; answered 0: never
    json schedule;
  };
  std::map<std::string, std::vector<SentProfile>> sent_to;
  for (const auto& row :
       tx.exec("SELECT station_id, purpose, coalesce(extract(epoch FROM start_at), 0)::float8, "
               "schedule::text, extract(epoch FROM sent_at)::float8, "
               "coalesce(extract(epoch FROM answered_at), 0)::float8 FROM charging_profiles "
               "WHERE kind = 'set' AND status = 'Accepted' ORDER BY id"))
    sent_to[row[0].as<std::string>()].push_back({row[1].as<std::string>(), row[2].as<double>(),
                                                 row[4].as<double>(), row[5].as<double>(),
                                                 json::parse(row[3].as<std::string>())});
  // The limit (W) a station held at unix time t from the profiles answered by then: its
  // TxProfile sent since its session started, else its TxDefaultProfile; -1 for none.
  const auto held_at = [&](const std::string& station, double session_start, double t) {
    double limit = -1;
    std::string purpose;
    for (const auto& p : sent_to[station]) {
      if (p.answered == 0 || p.answered > t) continue;
      if (p.purpose == "TxProfile" && p.sent < session_start) continue;
      if (purpose.starts_with("TxProfile") && p.purpose != "TxProfile") continue;
      const double offset = (t - p.start) * k;
      if (offset < 0 || offset >= p.schedule.value("duration_s", 0.0)) continue;
      for (const auto& period : p.schedule.value("periods", json::array()))
        if (period.value("start_s", 0.0) <= offset) limit = period.value("limit", -1.0);
      purpose = p.purpose + " " + p.schedule.value("rate_unit", std::string());
    }
    return std::pair{limit, purpose};
  };
  // Each station's sessions as it ran them (unix s), to place them in a slot.
  std::map<std::string, std::vector<std::pair<double, double>>> ran;
  for (const auto& row :
       tx.exec("SELECT t.station_id, extract(epoch FROM t.started_at)::float8, "
               "coalesce(extract(epoch FROM t.ended_at), 0)::float8 FROM transactions t WHERE " +
               live + " ORDER BY t.started_at"))
    ran[row[0].as<std::string>()].emplace_back(row[1].as<double>(), row[2].as<double>());
  // What happened at a station within [from, to) (unix s): sessions starting or ending and
  // profiles answered, at their offset into the slot in replay seconds.
  const auto events_in = [&](const std::string& station, double from, double to) {
    json out = json::array();
    const auto offset = [&](double t) { return std::round((t - from) * k * 10) / 10; };
    for (const auto& [start, end] : ran[station]) {
      if (start >= from && start < to) out.push_back({offset(start), "session started"});
      if (end >= from && end < to) out.push_back({offset(end), "session ended"});
    }
    for (const auto& p : sent_to[station])
      if (p.answered >= from && p.answered < to) {
        const auto* period = [&]() -> const json* {
          const double at = (p.answered - p.start) * k;
          const json* in_force = nullptr;
          for (const auto& q : p.schedule["periods"])
            if (q.value("start_s", 0.0) <= at) in_force = &q;
          return in_force;
        }();
        out.push_back({offset(p.sent), offset(p.answered), p.purpose,
                       period ? period->value("limit", -1.0) : -1.0});
      }
    return out;
  };
  json over_slots = json::array();
  std::size_t site_slots = 0, over = 0, over_tolerance = 0;
  double worst_share = 0;  // the highest site-slot power as a share of the limit
  for (const auto& site : scenario.sites) {
    Time from = Time::max(), to = Time::min();
    for (const auto& r : site.sessions) {
      from = std::min(from, r.arrival);
      to = std::max(to, r.departure);
    }
    for (Time b = from; b < to; b += slot) {
      double wh = 0;
      json contributions = json::array();
      for (std::size_t i = 0; i < stations.size(); ++i) {
        if (stations[i].site != site.id) continue;
        const auto id = sim::station_id(fleet, static_cast<int>(i) + 1);
        const auto& samples = registers[id];
        const double station_wh = register_at(samples, epoch_s(to_wall(b + slot))) -
                                  register_at(samples, epoch_s(to_wall(b)));
        wh += station_wh;
        if (station_wh <= 0) continue;
        const scheduler::ReplaySession* current = nullptr;
        for (const auto* r : stations[i].sessions)
          if (r->arrival < b + slot && r->departure > b) current = r;
        const double start = current ? epoch_s(to_wall(current->arrival)) : 0;
        const auto [at_start, purpose] = held_at(id, start, epoch_s(to_wall(b)));
        const auto at_middle = held_at(id, start, epoch_s(to_wall(b + slot / 2))).first;
        contributions.push_back(
            {{"station", id},
             {"w", std::round(station_wh * 3600.0 / static_cast<double>(opt.slot_s))},
             {"arrived_in_slot", current && current->arrival >= b},
             {"held_w_at_start", at_start},
             {"held_w_at_middle", at_middle},
             {"held_purpose", purpose},
             {"events", events_in(id, epoch_s(to_wall(b)), epoch_s(to_wall(b + slot)))}});
      }
      const double w = wh * 3600.0 / static_cast<double>(opt.slot_s);
      const double limit = static_cast<double>(site.import_limit_w);
      // Registers count whole Wh: a station's energy in the slot is known to within 1 Wh.
      const double resolution_w =
          static_cast<double>(contributions.size()) * 3600.0 / static_cast<double>(opt.slot_s);
      ++site_slots;
      if (w > limit + resolution_w && over_slots.size() < 300)
        over_slots.push_back({{"site", site.id},
                              {"slot", base::format_rfc3339(b)},
                              {"w", std::round(w)},
                              {"limit_w", limit},
                              {"stations", std::move(contributions)}});
      if (w > limit + resolution_w) ++over;
      if (w > limit * (1 + opt.check_tolerance)) ++over_tolerance;
      worst_share = std::max(worst_share, w / limit);
    }
  }

  // The profiles: every TxProfile starts on a replay slot boundary (whole wall seconds from
  // W0, slot / scale apart) and its periods on slot multiples of replay seconds.
  const auto real_slot_s = opt.slot_s / k;
  std::size_t profiles = 0, off_boundary = 0;
  std::vector<double> boundary_latency;
  std::map<std::pair<std::int64_t, std::int64_t>, double> last_answer;  // (site, start) → s
  for (const auto& row :
       tx.exec("SELECT site_id, extract(epoch FROM start_at)::bigint, schedule::text, "
               "extract(epoch FROM sent_at)::float8, extract(epoch FROM answered_at)::float8 "
               "FROM charging_profiles WHERE kind = 'set' AND purpose = 'TxProfile'")) {
    ++profiles;
    const auto start = row[1].as<std::int64_t>();
    const auto schedule = json::parse(row[2].as<std::string>());
    bool on_boundary = (start - wall_origin.time_since_epoch().count()) % real_slot_s == 0;
    for (const auto& p : schedule.value("periods", json::array()))
      on_boundary = on_boundary && p.value("start_s", std::int64_t{-1}) % opt.slot_s == 0;
    if (!on_boundary) ++off_boundary;
    // A slot boundary's replan: the profiles sent in the first half of their slot.
    if (!row[3].is_null() && !row[4].is_null() &&
        row[3].as<double>() < static_cast<double>(start) + real_slot_s / 2.0) {
      auto& last = last_answer[{row[0].as<std::int64_t>(), start}];
      last = std::max(last, row[4].as<double>() - static_cast<double>(start));
    }
  }
  for (const auto& [key, s] : last_answer) boundary_latency.push_back(s);
  const auto sending = tx.exec1(
      "SELECT count(*), coalesce(extract(epoch FROM max(answered_at) - min(sent_at)), 0)::float8 "
      "FROM charging_profiles WHERE kind = 'set'");
  const double all_profiles = sending[0].as<double>();
  // What the stations answered: a profile not accepted leaves its vehicle uncontrolled.
  json outcomes = json::object();
  for (const auto& row :
       tx.exec("SELECT kind || ' ' || purpose || ' ' || coalesce(outcome, '-') || ' ' || "
               "coalesce(status, '-'), count(*) FROM charging_profiles GROUP BY 1 ORDER BY 1"))
    outcomes[row[0].as<std::string>()] = row[1].as<std::int64_t>();
  const double profiles_per_s = run_s > 0 ? all_profiles / run_s : 0;
  tx.commit();

  const double share = hindsight_wh > 0 ? delivered_wh / hindsight_wh : 0;
  json result{{"workload", "smart-charging-norway-week"},
              {"window_start", base::format_rfc3339(scenario.window_start)},
              {"window_end", base::format_rfc3339(scenario.window_end)},
              {"sites", scenario.sites.size()},
              {"sessions", session_count},
              {"stations", stations.size()},
              {"earlier_sessions", scenario.earlier.size()},
              {"time_scale", k},
              {"energy_declared", opt.declare_energy},
              {"slot_s", opt.slot_s},
              {"run_s", std::round(run_s)},
              {"requested_kwh", need_wh / 1000},
              {"hindsight_kwh", hindsight_wh / 1000},
              {"delivered_kwh", delivered_wh / 1000},
              {"delivered_share_of_hindsight", share},
              {"sessions_scored", scored},
              {"site_slots", site_slots},
              {"site_slots_over_limit", over},
              {"site_slots_over_tolerance", over_tolerance},
              {"tolerance", opt.check_tolerance},
              {"highest_site_slot_share_of_limit", worst_share},
              {"offline_planner_share_of_hindsight", offline_share},
              {"offline_violations", offline_planner.violations},
              {"tx_profiles", profiles},
              {"profiles_off_slot_boundary", off_boundary},
              {"profiles_per_s", std::round(profiles_per_s * 10) / 10},
              {"slot_boundary_replans", boundary_latency.size()},
              {"slot_boundary_replan_p50_s", replay_quantile(boundary_latency, 0.5)},
              {"slot_boundary_replan_p99_s", replay_quantile(boundary_latency, 0.99)},
              {"load_average", testing::load_average()}};
  json per_site = json::object();
  for (const auto& [id, d] : site_delivered)
    per_site[id] = {{"delivered_kwh", d / 1000}, {"hindsight_kwh", site_hindsight[id] / 1000}};
  result["per_site"] = per_site;
  result["profile_outcomes"] = outcomes;
  result["over_limit_site_slots"] = over_slots;  // the first 300, explained
  // Sessions whose energy need the loop knew from the vehicle (ISO 15118 charging needs)
  // rather than from the predictor.
  result["sessions_with_charging_needs"] = count(
      "SELECT count(*) FROM ev_charging_needs n JOIN transactions t ON t.id = n.session_id "
      "WHERE " +
      live);
  if (per_session.size() <= 50) result["per_session"] = per_session;
  std::printf(
      "delivered %.1f kWh of the hindsight optimum's %.1f kWh (%.2f %%; requested %.1f kWh; the "
      "offline replay's planner on the same sessions %.2f %%), %zu of %zu sessions scored\n"
      "site-slots over the limit: %zu of %zu (%zu beyond %.0f %%; highest %.1f %% of the "
      "limit)\n"
      "%zu TxProfiles (%zu off a replay slot boundary), %.1f profiles/s over the run; slot "
      "boundary replan to last answer p50 %.3f s, p99 %.3f s (%zu replans)\n"
      "load average %s\n",
      delivered_wh / 1000, hindsight_wh / 1000, 100 * share, need_wh / 1000, 100 * offline_share,
      scored, session_count, over, site_slots, over_tolerance, 100 * opt.check_tolerance,
      100 * worst_share, profiles, off_boundary, profiles_per_s,
      replay_quantile(boundary_latency, 0.5), replay_quantile(boundary_latency, 0.99),
      boundary_latency.size(), testing::load_average().c_str());
  const auto text = result.dump(2);
  std::printf("%s\n", text.c_str());
  if (!opt.result_file.empty()) std::ofstream(opt.result_file) << text << "\n";
  if (!opt.check) return 0;
  bool ok = true;
  const auto fail = [&](const std::string& why) {
    std::printf("CHECK FAILED: %s\n", why.c_str());
    ok = false;
  };
  if (scored != session_count) fail("not every session was scored");
  if (over_tolerance > 0) fail("site-slots over the limit beyond the tolerance");
  if (profiles == 0) fail("no TxProfile was sent");
  if (off_boundary > 0) fail("profiles off the replay's slot boundaries");
  if (delivered_wh <= 0) fail("nothing delivered");
  if (share < opt.check_min_delivered) fail("delivered less than --min-delivered of the optimum");
  return ok ? 0 : 1;
}

}  // namespace chargegrid::bench
