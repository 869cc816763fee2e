#include "smart_charging/service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <set>

#include "chargegrid/base/enum_names.hpp"
#include "chargegrid/base/prometheus.hpp"
#include "chargegrid/base/time.hpp"
#include "chargegrid/base/time_zone.hpp"
#include "chargegrid/db/pool.hpp"
#include "chargegrid/scheduler/holidays.hpp"
#include "chargegrid/scheduler/planner.hpp"
#include "chargegrid/scheduler/prediction.hpp"
#include "chargegrid/server/config.hpp"
#include "commands/command_router.hpp"
#include "commands/translation.hpp"
#include "concurrently.hpp"
#include "events/domain_events.hpp"
#include "events/outbox_consumer.hpp"
#include "group_commit.hpp"
#include "logging.hpp"
#include "smart_charging/clock.hpp"
#include "smart_charging/planning.hpp"
#include "smart_charging/site_leases.hpp"
#include "store/charging_plans.hpp"
#include "store/database.hpp"
#include "store/demand_response.hpp"
#include "store/evses.hpp"
#include "store/outbox.hpp"
#include "store/site_holidays.hpp"
#include "store/site_leases.hpp"
#include "store/tariffs.hpp"

namespace chargegrid::server::smart_charging {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;
using std::chrono::seconds;
namespace plans = store::charging_plans;

namespace {

constexpr const char* kConsumer = "smart-charging";
constexpr const char* kTxPurpose = "TxProfile";
constexpr const char* kStationPurpose = "ChargingStationMaxProfile";
// What an EVSE without a vehicle lets the next arrival draw until the plan reaches it.
constexpr const char* kArrivalPurpose = "TxDefaultProfile";
// Events that come together (one outbox delivery's arrivals and departures) make one replan;
// what comes while a replan runs makes the next. Short: every trigger waits this long.
constexpr auto kCoalesce = std::chrono::milliseconds(25);
// How many profiles of one replan await their stations' answers at once: enough to hide the
// round trips, few enough to leave the database queue room for the stations' own messages.
constexpr std::size_t kSendWidth = 32;
// Measured power this far from the plan (W, or this share of the planned power when larger)
// replans the vehicle's site, at most once per kDriftCooldown.
constexpr double kDriftMinW = 1000;
constexpr double kDriftShare = 0.2;
constexpr auto kDriftCooldown = std::chrono::seconds(60);
// How many finished sessions the predictors start from.
constexpr std::size_t kWarmStartSessions = 20000;
// The years of a site's holiday calendar its predictor is given, around the year it is built
// in: its sessions' (older ones weigh next to nothing) and its arrivals'.
constexpr int kHolidayYearsBefore = 10, kHolidayYearsAfter = 10;
// Replans every node asks for on its own: a node that does not hold the site leaves these to
// the holder instead of asking it.
bool every_node_asks(const std::string& reason) {
  return reason == "start" || reason == "slot_boundary";
}

// The wall clock, or with --smart-charging-time-scale a replay timeline (benchmarks, tests).
LoopClock clock_of(const Config& config) {
  const auto scale = config.smart_charging_time_scale;
  if (scale == 1 && config.smart_charging_replay_start.empty()) return {};
  const seconds slot{config.smart_charging_slot_s};
  const auto wall_now = std::chrono::ceil<seconds>(std::chrono::system_clock::now());
  const Time wall_origin = config.smart_charging_replay_wall_start_s > 0
                               ? Time{seconds{config.smart_charging_replay_wall_start_s}}
                               : wall_now;
  Time replay_origin = wall_origin;
  if (!config.smart_charging_replay_start.empty())
    if (auto t = base::parse_rfc3339(config.smart_charging_replay_start))
      replay_origin = std::chrono::floor<seconds>(*t);
  replay_origin -= (replay_origin.time_since_epoch() % slot);  // a slot boundary
  return LoopClock(scale, replay_origin, wall_origin);
}

// Local time minus UTC at `t` in the site's zone: the predictor's hour-of-day and weekday
// features are the site's wall clock.
std::chrono::minutes utc_offset(const std::string& time_zone, Time t) {
  try {
    return base::TimeZone(time_zone).utc_offset(t);
  } catch (const std::invalid_argument&) {
    return std::chrono::minutes{0};
  }
}

// The local dates a site's predictor counts as Sundays: its calendar's in the years around
// `now`'s, and its own dates.
std::vector<std::chrono::sys_days> holiday_dates(const store::site_holidays::Holidays& holidays,
                                                 Time now) {
  std::vector<std::chrono::sys_days> out;
  for (const auto& d : holidays.days) out.push_back(d.date);
  // A calendar this server does not have (written by another version) adds nothing.
  if (holidays.calendar && scheduler::is_holiday_calendar(*holidays.calendar)) {
    const int year = static_cast<int>(
        std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(now)}.year());
    for (const auto& h : scheduler::public_holidays(*holidays.calendar, year - kHolidayYearsBefore,
                                                    year + kHolidayYearsAfter))
      out.push_back(h.date);
  }
  return out;
}

scheduler::FinishedSession finished_of(const plans::Finished& f) {
  scheduler::FinishedSession s;
  s.user_id = f.user_id;
  s.site_id = std::to_string(f.site_id);
  s.station_id = f.station_id;
  s.plugin = Time{seconds{f.plugin_s}};
  s.plugout = Time{seconds{f.plugout_s}};
  s.energy_wh = f.energy_wh;
  s.utc_offset = utc_offset(f.time_zone, s.plugin);
  return s;
}

constexpr auto kBasisNames =
    base::enum_names<scheduler::PredictionBasis>({{scheduler::PredictionBasis::driver, "driver"},
                                                  {scheduler::PredictionBasis::site, "site"},
                                                  {scheduler::PredictionBasis::global, "global"},
                                                  {scheduler::PredictionBasis::prior, "prior"}});

// The schedule a profile carries, without its id: two sends with equal schedules are one.
// In A, a single-phase EVSE's periods name their one phase (1.6 assumes three otherwise).
json schedule_arguments(int evse_id, const std::string& purpose, const json& transaction_id,
                        Time start, std::int64_t duration_s, bool amps,
                        const std::vector<Period>& periods, int phases = kPhases) {
  json out{{"evse_id", evse_id},       {"stack_level", 1},
           {"purpose", purpose},       {"start", format_time(start)},
           {"duration_s", duration_s}, {"rate_unit", amps ? "A" : "W"},
           {"periods", json::array()}};
  if (!transaction_id.is_null()) out["transaction_id"] = transaction_id;
  for (const auto& p : periods) {
    json period{{"start_s", p.start_s}, {"limit", p.limit}};
    if (amps && phases != kPhases) period["phases"] = phases;
    if (p.setpoint) {
      period["setpoint"] = *p.setpoint;
      period["discharge_limit"] = *p.setpoint;
    }
    out["periods"].push_back(std::move(period));
  }
  return out;
}

// The EVSEs of a site's stations (a station that reported none counts as one).
std::size_t evse_count(const std::vector<plans::SiteStation>& stations) {
  std::size_t out = 0;
  for (const auto& s : stations) out += static_cast<std::size_t>(std::max(s.evses, 1));
  return out;
}

}  // namespace

struct Service::Impl : std::enable_shared_from_this<Impl> {
  Impl(const Config& c, asio::io_context& i, db::ConnectionPool& p, Database& d,
       commands::CommandRouter& r, EventBus& e, std::string node_id)
      : config(c),
        io(i),
        pool(p),
        database(d),
        router(r),
        events(e),
        strand(asio::make_strand(i)),
        clock(clock_of(c)),
        leases(d, node_id, seconds{c.lease_timeout_s}),
        learner_name(node_id.empty() ? kConsumer
                                     : store::outbox::node_consumer(kConsumer, node_id)),
        // No delay: a profile's station waits for it; what queues meanwhile goes next.
        recorder(i, p, {"smart_charging_record", c.write_batch_items, 0, nullptr},
                 plans::record_profiles) {}

  const Config& config;
  asio::io_context& io;
  db::ConnectionPool& pool;
  Database& database;
  commands::CommandRouter& router;
  EventBus& events;
  asio::strand<asio::io_context::executor_type> strand;
  const LoopClock clock;
  std::unique_ptr<OutboxConsumer> consumer;
  std::unique_ptr<asio::steady_timer> slot_timer;
  SiteLeases leases;  // on the strand only
  // The consumer whose session.ended events the predictors learn from: in cluster mode one of
  // this node's own (`learner`), so that every node's predictors learn every session — the
  // node holding a site's lease, or taking it over, predicts from all of the site's history.
  // Outside cluster mode the one consumer does both.
  const std::string learner_name;
  std::unique_ptr<OutboxConsumer> learner;
  std::unique_ptr<asio::steady_timer> lease_timer;
  GroupCommit<plans::ProfileSent, plans::Recorded> recorder;

  std::mutex mutex;  // guards what follows
  std::map<std::int64_t, std::string> pending_sites;
  std::map<std::string, std::string> pending_stations;
  std::vector<std::int64_t> pending_clears;  // sessions that ended
  bool scheduled = false;
  bool stopped = false;
  // A site's predictor, the version of the site's holidays it was built with, the sessions it
  // learnt from the database whose session.ended events were still to come (each session is
  // learnt once), and how many it learnt.
  struct SitePredictor {
    scheduler::DeparturePredictor predictor;
    std::int64_t holidays_version = 0;
    std::set<std::int64_t> learnt_ahead;
    std::size_t sessions = 0;
  };
  std::map<std::int64_t, SitePredictor> predictors;
  std::uint64_t rebuilds = 0;
  // Sites whose predictor is being rebuilt: the sessions learnt meanwhile, for the new one.
  std::map<std::int64_t, std::vector<plans::Finished>> relearning;
  // Until the start has learnt the database's sessions: the sites relearn() rebuilt meanwhile
  // (their predictors have those sessions already) and the sessions whose session.ended event
  // was processed meanwhile.
  bool start_learnt = false;
  std::set<std::int64_t> rebuilt_during_start;
  std::set<std::int64_t> ended_during_start;

  std::map<std::int64_t, scheduler::Planner> planners;  // on the strand only

  seconds slot() const { return seconds{config.smart_charging_slot_s}; }
  seconds horizon_length() const { return seconds{config.smart_charging_horizon_s}; }

  // ---- requests (any thread) ----

  void request(const std::function<void()>& add) {
    std::lock_guard lock(mutex);
    if (stopped) return;
    add();
    if (scheduled) return;
    scheduled = true;
    asio::co_spawn(strand, run(shared_from_this()), asio::detached);
  }

  static awaitable<void> run(std::shared_ptr<Impl> self) {
    asio::steady_timer pause(self->strand, kCoalesce);
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    for (;;) {
      std::map<std::int64_t, std::string> sites;
      std::map<std::string, std::string> stations;
      std::vector<std::int64_t> clears;
      {
        std::lock_guard lock(self->mutex);
        if (self->stopped || (self->pending_sites.empty() && self->pending_stations.empty() &&
                              self->pending_clears.empty())) {
          self->scheduled = false;
          co_return;
        }
        sites.swap(self->pending_sites);
        stations.swap(self->pending_stations);
        clears.swap(self->pending_clears);
      }
      try {
        if (!clears.empty()) co_await self->clear_sessions(clears);
        if (!stations.empty()) {
          auto resolved = co_await self->database.transaction([&](store::Tx& tx) {
            std::vector<std::pair<std::int64_t, std::string>> out;
            for (const auto& [station, reason] : stations)
              if (auto site = plans::site_of_station(tx, station)) out.emplace_back(*site, reason);
            return out;
          });
          for (const auto& [site, reason] : resolved) sites.emplace(site, reason);
        }
      } catch (const std::exception& e) {
        log::warn("smart_charging_failed", {{"error", e.what()}});
      }
      for (const auto& [site, reason] : sites) {
        try {
          std::optional<std::int64_t> epoch;
          if (self->leases.enabled()) {
            epoch = co_await self->leases.claim(site, reason, !every_node_asks(reason));
            if (!epoch) continue;  // another node plans it
          }
          co_await self->plan(site, reason, epoch);
        } catch (const std::exception& e) {
          log::warn("smart_charging_plan_failed",
                    {{"site_id", site}, {"reason", reason}, {"error", e.what()}});
        }
      }
    }
  }

  // ---- learning ----

  // A finished session's times on the loop's timeline (the database keeps wall time).
  plans::Finished on_timeline(plans::Finished f) const {
    f.plugin_s = clock.to_replay_s(f.plugin_s);
    f.plugout_s = clock.to_replay_s(f.plugout_s);
    return f;
  }

  // `f` (on the timeline) joins what `site` predicts from.
  static void learn(SitePredictor& site, const plans::Finished& f) {
    site.predictor.observe(finished_of(f));
    ++site.sessions;
  }

  // A session that ended (its session.ended event).
  void observe(const plans::Finished& finished) {
    const auto f = on_timeline(finished);
    std::lock_guard lock(mutex);
    if (!start_learnt) ended_during_start.insert(f.session_id);
    if (const auto rebuilt = relearning.find(f.site_id); rebuilt != relearning.end())
      rebuilt->second.push_back(f);
    auto& site = predictor(f.site_id);
    if (site.learnt_ahead.erase(f.session_id) > 0) return;
    learn(site, f);
  }

  // A predictor that counts `holidays` as Sundays.
  SitePredictor new_predictor(const store::site_holidays::Holidays& holidays) const {
    scheduler::PredictorSettings settings;
    settings.day_type_shift_h = config.smart_charging_day_type_shift_h;
    settings.holidays = holiday_dates(holidays, clock.now());
    return {scheduler::DeparturePredictor(std::move(settings)), holidays.version, {}, 0};
  }

  // The site's predictor (under `mutex`); a new one has no holidays (the next plan gives it
  // the site's, see relearn()).
  SitePredictor& predictor(std::int64_t site_id) {
    auto it = predictors.find(site_id);
    if (it == predictors.end()) it = predictors.emplace(site_id, new_predictor({})).first;
    return it->second;
  }

  std::int64_t holidays_version(std::int64_t site_id) {
    std::lock_guard lock(mutex);
    const auto it = predictors.find(site_id);
    return it == predictors.end() ? 0 : it->second.holidays_version;
  }

  // Builds the site's predictor anew, as the start builds them: with the site's holidays, from
  // its finished sessions in the database (its holidays changed). The sessions that end
  // meanwhile reach both predictors; each session is learnt once.
  awaitable<void> relearn(std::int64_t site_id) {
    {
      std::lock_guard lock(mutex);
      relearning[site_id].clear();
    }
    struct Stored {
      store::site_holidays::Holidays holidays;
      std::vector<plans::Finished> finished;
      std::vector<std::int64_t> events_pending;  // session.ended events still to come
    };
    Stored stored;
    try {
      stored = co_await database.transaction([&](store::Tx& tx) {
        Stored out;
        out.holidays = store::site_holidays::find(tx, site_id).value_or(out.holidays);
        out.finished = plans::finished_sessions_of_site(tx, site_id, kWarmStartSessions);
        out.events_pending = store::outbox::pending_session_ends(tx, learner_name);
        return out;
      });
    } catch (...) {
      std::lock_guard lock(mutex);
      relearning.erase(site_id);
      throw;
    }
    auto fresh = new_predictor(stored.holidays);
    std::set<std::int64_t> from_database;
    for (const auto& f : stored.finished) {
      learn(fresh, on_timeline(f));
      from_database.insert(f.session_id);
    }
    std::lock_guard lock(mutex);
    const auto meanwhile = std::move(relearning[site_id]);
    relearning.erase(site_id);
    for (const auto& f : meanwhile)
      if (!from_database.contains(f.session_id)) learn(fresh, f);
    for (const auto id : stored.events_pending)
      if (from_database.contains(id)) fresh.learnt_ahead.insert(id);
    for (const auto& f : meanwhile) fresh.learnt_ahead.erase(f.session_id);
    predictors.insert_or_assign(site_id, std::move(fresh));
    ++rebuilds;
    if (!start_learnt) rebuilt_during_start.insert(site_id);
    log::info("smart_charging_predictor_rebuilt",
              {{"site_id", site_id},
               {"sessions_learned", from_database.size()},
               {"holiday_calendar", stored.holidays.calendar.value_or("")},
               {"holiday_dates", stored.holidays.days.size()},
               {"holidays_version", stored.holidays.version}});
  }

  // The times a vehicle is planned with, on the loop's timeline (the database keeps wall time).
  void to_timeline(plans::Vehicle& v) const {
    if (!clock.replayed()) return;
    v.started_s = clock.to_replay_s(v.started_s);
    if (v.declaration && v.declaration->departure_s)
      v.declaration->departure_s = clock.to_replay_s(*v.declaration->departure_s);
    auto& needs = v.charging_needs;
    if (needs.is_object() && needs.contains("departure_time") &&
        needs["departure_time"].is_string())
      if (auto t = base::parse_rfc3339(needs["departure_time"].get<std::string>()))
        needs["departure_time"] = format_time(clock.to_replay(*t));
  }

  plans::Prediction predict(std::int64_t site_id, const std::string& time_zone,
                            const plans::Vehicle& v) {
    scheduler::Arrival arrival;
    arrival.user_id = v.user_id;
    arrival.site_id = std::to_string(site_id);
    arrival.plugin = Time{seconds{v.started_s}};
    arrival.utc_offset = utc_offset(time_zone, arrival.plugin);
    std::lock_guard lock(mutex);
    const auto p = predictor(site_id).predictor.predict(arrival);
    const auto unix = [](Time t) {
      return static_cast<std::int64_t>(t.time_since_epoch().count());
    };
    return {unix(p.departure_p10),
            unix(p.departure_p50),
            unix(p.departure_p90),
            p.energy_p10_wh,
            p.energy_p50_wh,
            p.energy_p90_wh,
            std::string(kBasisNames.name(p.basis))};
  }

  // ---- durable events ----

  void on_outbox(store::Tx& tx, const store::outbox::Row& row) {
    const auto& payload = row.payload;
    if (row.topic == store::outbox::kSessionEnded) {
      if (!payload.contains("session_id") || !payload["session_id"].is_number_integer()) return;
      const auto session = payload["session_id"].get<std::int64_t>();
      if (!leases.enabled()) learn_ended(tx, row);
      const auto site = plans::site_of_session(tx, session);
      request([&] {
        pending_clears.push_back(session);
        if (site) pending_sites.emplace(*site, "departure");
      });
    } else if (row.topic == store::outbox::kChargingNeeds) {
      if (!payload.contains("session_id") || !payload["session_id"].is_number_integer()) return;
      const auto session = payload["session_id"].get<std::int64_t>();
      plans::keep_charging_needs(tx, session, payload);
      if (auto site = plans::site_of_session(tx, session))
        request([&] { pending_sites.emplace(*site, "charging_needs"); });
    } else if (row.topic == store::outbox::kDemandResponseChanged ||
               row.topic == store::outbox::kSiteChanged) {
      if (!payload.contains("site_ids") || !payload["site_ids"].is_array()) return;
      const std::string reason =
          row.topic == store::outbox::kSiteChanged ? "site_changed" : "demand_response";
      for (const auto& site : payload["site_ids"])
        if (site.is_number_integer())
          request([&] { pending_sites.emplace(site.get<std::int64_t>(), reason); });
    }
  }

  // A session.ended event of the learning consumer: its session joins the site's predictor.
  void learn_ended(store::Tx& tx, const store::outbox::Row& row) {
    const auto& payload = row.payload;
    if (!payload.contains("session_id") || !payload["session_id"].is_number_integer()) return;
    if (auto finished = plans::finished_session(tx, payload["session_id"].get<std::int64_t>()))
      observe(*finished);
  }

  // ---- sending ----

  struct Sent {
    std::string outcome;
    std::optional<std::string> status;
  };
  // A profile to send: its record, the command that carries it and, once answered, the
  // outcome.
  struct Outgoing {
    plans::ProfileSent profile;
    std::string command_name;
    json arguments;
    plans::Recorded recorded;
    std::int64_t reserved_id = 0;  // the command's id, taken for the batch
    std::int64_t command_id = 0;   // once the router has logged the command
    Sent sent;
  };

  // Sends a batch of profiles to the stations side by side (an answer takes a round trip, and
  // a replan may address a thousand stations). Each is recorded just before it is sent, with
  // the others under way in one transaction (recorder), so the first leaves without waiting
  // for the whole batch's records; the outcomes are recorded in one more. Returns what each
  // station answered, in the batch's order.
  awaitable<std::vector<Sent>> send_all(std::vector<Outgoing> batch) {
    if (batch.empty()) co_return std::vector<Sent>{};
    for (auto& o : batch) o.profile.sent_by = leases.node_id();
    // The commands' ids in one statement, not one lookup per profile on its way out (if the
    // database refuses, each command takes its own, and fails as it would have).
    try {
      const auto ids = co_await router.reserve_ids(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i].reserved_id = ids[i];
    } catch (const std::exception&) {
    }
    // One call at a time per station (OCPP-J expects a CALL to be answered before the next);
    // the stations side by side.
    std::map<std::string, std::vector<std::size_t>> by_station;
    for (std::size_t i = 0; i < batch.size(); ++i)
      by_station[batch[i].profile.station_id].push_back(i);
    std::vector<const std::vector<std::size_t>*> stations;
    for (const auto& [station, items] : by_station) stations.push_back(&items);
    bool stopping = false;  // the database pool has stopped: the server is shutting down
    co_await concurrently(stations.size(), kSendWidth, [&](std::size_t s) -> awaitable<void> {
      for (auto i : *stations[s]) {
        auto& o = batch[i];
        if (stopping) {
          o.sent.outcome = "refused";  // not recorded, not sent
          continue;
        }
        try {
          auto profile = o.profile;
          o.recorded = co_await recorder.write(std::move(profile));
        } catch (const db::PoolStopped&) {
          stopping = true;
          o.sent.outcome = "refused";
          continue;
        } catch (const std::exception& e) {
          // Not recorded, so not sent; the next replan sends it again.
          o.sent.outcome = "refused";
          log::warn("smart_charging_record_failed",
                    {{"station", o.profile.station_id}, {"error", e.what()}});
          continue;
        }
        o.arguments["profile_id"] = o.recorded.profile_id;
        co_await dispatch(o);
      }
    });
    if (stopping) {
      // One line instead of a warning per profile: the next start replans the site.
      log::info("smart_charging_send_abandoned",
                {{"profiles", batch.size()}, {"reason", "the server is stopping"}});
      co_return std::vector<Sent>(batch.size(), Sent{"refused", std::nullopt});
    }
    std::vector<plans::Outcome> outcomes;
    outcomes.reserve(batch.size());
    for (const auto& o : batch)
      if (o.recorded.id != 0)
        outcomes.push_back({o.recorded.id, o.command_id, o.sent.outcome, o.sent.status});
    co_await database.transaction([&](store::Tx& tx) { plans::record_outcomes(tx, outcomes); });
    std::vector<Sent> out;
    out.reserve(batch.size());
    for (auto& o : batch) out.push_back(std::move(o.sent));
    co_return out;
  }

  // send_all() for the profiles of the batch the stations do not hold already (a session's
  // last accepted TxProfile, or a station's last station-wide limit, with the same schedule or
  // one that sets the same limits from now on, see keeps_holding()), those that lower a limit
  // first (see lowers()).
  enum class Hold { same, lowered, raised };
  awaitable<std::vector<Sent>> send_changed(std::vector<Outgoing> batch) {
    const auto began = std::chrono::steady_clock::now();
    const auto held = co_await database.transaction([&](store::Tx& tx) {
      // What the stations hold, read for the whole batch at once: a replan of a large site
      // asks for every vehicle, and one statement each would cost a round trip each.
      std::map<std::string, std::vector<std::int64_t>> sessions_by_purpose;
      std::map<std::string, std::vector<std::string>> stations_by_purpose;
      for (const auto& o : batch) {
        if (o.profile.session_id)
          sessions_by_purpose[o.profile.purpose].push_back(*o.profile.session_id);
        else
          stations_by_purpose[o.profile.purpose].push_back(o.profile.station_id);
      }
      std::map<std::string, std::map<std::int64_t, plans::LastProfile>> by_session;
      for (const auto& [purpose, sessions] : sessions_by_purpose)
        by_session[purpose] = plans::last_accepted(tx, sessions, purpose);
      std::map<std::string, std::map<std::string, plans::LastProfile>> by_station;
      for (const auto& [purpose, stations] : stations_by_purpose)
        by_station[purpose] = plans::last_station_profiles(tx, stations, purpose);
      // A session's first TxProfile replaces the arrival limit its vehicle has been drawing
      // under since it plugged in: that, not nothing, is what it raises or lowers.
      std::vector<std::string> first_profile_stations;
      for (const auto& o : batch)
        if (o.profile.session_id && !by_session[o.profile.purpose].contains(*o.profile.session_id))
          first_profile_stations.push_back(o.profile.station_id);
      const auto arrival_limits =
          first_profile_stations.empty()
              ? std::map<std::string, plans::LastProfile>{}
              : plans::last_station_profiles(tx, first_profile_stations, kArrivalPurpose);
      const auto now = std::chrono::floor<seconds>(std::chrono::system_clock::now());
      std::vector<Hold> out;
      out.reserve(batch.size());
      for (const auto& o : batch) {
        const plans::LastProfile* last = nullptr;
        const plans::LastProfile* replaced = nullptr;  // what lowers() compares with
        if (o.profile.session_id) {
          const auto& of_purpose = by_session[o.profile.purpose];
          if (const auto it = of_purpose.find(*o.profile.session_id); it != of_purpose.end())
            last = &it->second;
          else if (const auto arrival = arrival_limits.find(o.profile.station_id);
                   arrival != arrival_limits.end())
            replaced = &arrival->second;
        } else {
          const auto& of_purpose = by_station[o.profile.purpose];
          if (const auto it = of_purpose.find(o.profile.station_id); it != of_purpose.end())
            last = &it->second;
        }
        if (last && (last->schedule == o.arguments ||
                     keeps_holding(o.arguments, last->schedule, now, clock.scale())))
          out.push_back(Hold::same);
        else if (!last && !replaced)
          out.push_back(Hold::lowered);  // its vehicle has been drawing freely
        else
          out.push_back(lowers(o.arguments, &(last ? last : replaced)->schedule, now, clock.scale())
                            ? Hold::lowered
                            : Hold::raised);
      }
      return out;
    });
    // Lowered limits first, all answered, then raised ones.
    std::vector<Outgoing> lowering, raising;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (held[i] == Hold::lowered) lowering.push_back(std::move(batch[i]));
      if (held[i] == Hold::raised) raising.push_back(std::move(batch[i]));
    }
    const auto checked = std::chrono::steady_clock::now();
    const auto lowered = lowering.size(), raised = raising.size();
    auto sent = co_await send_all(std::move(lowering));
    auto after = co_await send_all(std::move(raising));
    if (lowered + raised > 0) {
      const auto ms = base::milliseconds_between;
      log::info("smart_charging_sent",
                {{"profiles", batch.size()},
                 {"lowering", lowered},
                 {"raising", raised},
                 {"held_check_ms", ms(began, checked)},
                 {"send_ms", ms(checked, std::chrono::steady_clock::now())}});
    }
    sent.insert(sent.end(), std::make_move_iterator(after.begin()),
                std::make_move_iterator(after.end()));
    co_return sent;
  }

  // One recorded profile through the router; never throws (a failure is its outcome).
  awaitable<void> dispatch(Outgoing& o) {
    commands::StationCommand command;
    command.station_id = o.profile.station_id;
    command.name = o.command_name;
    command.arguments = o.arguments;
    command.origin = commands::Origin::internal("smart-charging");
    command.site_id = o.profile.site_id;
    try {
      const auto result = co_await router.send(
          std::move(command),
          o.reserved_id ? std::optional<std::int64_t>(o.reserved_id) : std::nullopt);
      o.command_id = result.command_id;
      o.sent.outcome = std::string(commands::outcome_name(result.outcome.kind));
      if (result.outcome.kind == commands::Outcome::Kind::Answered &&
          result.outcome.payload.contains("status") && result.outcome.payload["status"].is_string())
        o.sent.status = result.outcome.payload["status"].get<std::string>();
    } catch (const commands::NotAvailable&) {
      o.sent.outcome = "invalid";
      o.sent.status = "NotAvailable";
    } catch (const db::PoolStopped&) {
      o.sent.outcome = "refused";  // the server is stopping; the next start replans
    } catch (const std::exception& e) {
      // The router could not log it (the database refused): not sent, like a station that
      // had too many calls waiting; the next replan sends it again.
      o.sent.outcome = "refused";
      log::warn("smart_charging_send_failed",
                {{"station", o.profile.station_id}, {"error", e.what()}});
    }
  }

  // Clears the profiles of sessions that ended (those never controlled, or cleared already,
  // need nothing).
  awaitable<void> clear_sessions(const std::vector<std::int64_t>& sessions) {
    auto batch = co_await database.transaction([&](store::Tx& tx) {
      std::vector<Outgoing> out;
      for (const auto& [session_id, last] : plans::last_accepted(tx, sessions, kTxPurpose)) {
        Outgoing o;
        o.command_name = "clear-charging-profile";
        o.arguments = json::object();
        o.profile.kind = "clear";
        o.profile.purpose = kTxPurpose;
        o.profile.station_id = last.station_id;
        o.profile.evse_id = last.evse_id;
        o.profile.session_id = session_id;
        out.push_back(std::move(o));
      }
      return out;
    });
    co_await send_all(std::move(batch));
  }

  // ---- planning ----

  // `epoch`: the site lease this node plans under (cluster mode).
  awaitable<void> plan(std::int64_t site_id, const std::string& reason,
                       std::optional<std::int64_t> epoch) {
    const auto began = std::chrono::steady_clock::now();
    const auto now = clock.now();
    const auto horizon = horizon_at(now, slot(), horizon_length());
    struct Inputs {
      std::optional<plans::Site> site;
      std::vector<plans::Vehicle> vehicles;
      std::vector<store::demand_response::Window> windows;
      std::optional<store::tariffs::SiteTariff> tariff;
      std::vector<store::evses::EvsePower> evses;
      std::vector<plans::SiteStation> stations;
    };
    auto in = co_await database.transaction([&](store::Tx& tx) {
      Inputs r;
      r.site = plans::site(tx, site_id);
      if (!r.site) return r;
      r.vehicles = plans::vehicles(tx, site_id);
      r.windows = store::demand_response::for_site(tx, site_id, format_time(horizon.start),
                                                   format_time(horizon.end()));
      r.tariff = store::tariffs::find(tx, site_id);
      r.evses = store::evses::for_site(tx, site_id);
      r.stations = plans::site_stations(tx, site_id);
      return r;
    });
    if (!in.site) co_return;
    // Holidays set since its predictor was built: rebuilt before it predicts.
    if (in.site->holidays_version != holidays_version(site_id)) co_await relearn(site_id);
    const auto read = std::chrono::steady_clock::now();

    std::vector<VehicleState> states;
    std::vector<plans::Prediction> predictions;
    std::vector<std::pair<std::int64_t, plans::Prediction>> new_predictions;
    for (auto& v : in.vehicles) {
      to_timeline(v);
      VehicleState state;
      const auto* evse = described(in.evses, v.station_id, v.evse_id);
      state.evse_max_power_w = evse_power_w(evse);
      if (evse && evse->phases) state.evse_phases = *evse->phases;
      state.evse_bidirectional = evse && evse->bidirectional;
      if (in.tariff) state.discharge_bands = in.tariff->tariff.discharge_price_by_soc;
      if (!co_await router.online(v.station_id))
        state.control = Control::station_offline;
      else if (v.last_profile_status &&
               (*v.last_profile_status == "Rejected" || *v.last_profile_status == "call_error" ||
                *v.last_profile_status == "NotAvailable"))
        state.control = Control::profile_rejected;
      if (!v.prediction) {
        v.prediction = predict(site_id, in.site->time_zone, v);
        new_predictions.emplace_back(v.session_id, *v.prediction);
      }
      predictions.push_back(*v.prediction);
      state.vehicle = std::move(v);
      states.push_back(std::move(state));
    }
    auto limits =
        slot_limits(horizon, *in.site, in.windows, in.tariff ? &in.tariff->tariff : nullptr);
    bool limited = false;
    for (const auto& l : limits) limited = limited || l.import_limit_w.has_value();
    const auto site_plan = plan_site(planners[site_id], horizon, std::move(limits),
                                     std::move(states), predictions, now);
    const auto planned = std::chrono::steady_clock::now();
    // The lease and the new predictions first (small): a plan made under a lease another node
    // has taken since is neither saved nor sent.
    const bool holds = co_await database.transaction([&](store::Tx& tx) {
      if (epoch && !store::site_leases::holds(tx, site_id, leases.node_id(), *epoch)) return false;
      for (const auto& [session, prediction] : new_predictions)
        plans::save_prediction(tx, session, prediction);
      return true;
    });
    if (!holds) {
      log::warn("smart_charging_site_lease_lost",
                {{"site_id", site_id}, {"node", leases.node_id()}, {"epoch", *epoch}});
      // What asked for this plan still needs one: claimed again from the database, which
      // asks the new holder to replan for it (or hands this node the lease, should it be
      // free again).
      leases.forget(site_id);
      request([&] { pending_sites.emplace(site_id, reason); });
      co_return;
    }
    remember_power(site_id, horizon, site_plan);
    // The plan's record (a thousand vehicles' slots are a large row) is written while its
    // profiles go out: the stations need not wait for it.
    std::chrono::steady_clock::time_point saved;
    const auto save = [&]() -> awaitable<void> {
      co_await database.transaction([&](store::Tx& tx) {
        // Checked again with the write: a node whose lease has moved on since does not
        // overwrite the new holder's plan.
        if (epoch && !store::site_leases::holds(tx, site_id, leases.node_id(), *epoch)) return;
        plans::save_plan(tx, site_id, reason, site_plan.to_json(), leases.node_id(), epoch);
        plans::save_slots(tx, site_id, horizon.start.time_since_epoch().count(),
                          horizon.slot.count(), site_plan.baseline_w, site_plan.planned_import_w());
      });
      saved = std::chrono::steady_clock::now();
    };
    const auto send = [&]() -> awaitable<void> {
      if (site_plan.ok)
        co_await execute(site_id, horizon, site_plan, limited, in.stations, in.evses);
    };
    co_await concurrently(2, 2, [&](std::size_t i) { return i == 0 ? save() : send(); });
    const auto ms = base::milliseconds_between;
    log::info("smart_charging_planned",
              {{"site_id", site_id},
               {"reason", reason},
               {"vehicles", site_plan.vehicles.size()},
               {"ok", site_plan.ok},
               {"read_ms", ms(began, read)},
               {"plan_ms", ms(read, planned)},
               {"save_ms", ms(planned, saved)},
               {"sent_ms", ms(planned, std::chrono::steady_clock::now())}});
  }

  // Sends a plan: its TxProfiles, then the stations' limits during a window and the
  // arrival limits of free EVSEs; without any limit, clears what the stations hold.
  awaitable<void> execute(std::int64_t site_id, const Horizon& horizon, const SitePlan& site_plan,
                          bool limited, const std::vector<plans::SiteStation>& stations,
                          const std::vector<store::evses::EvsePower>& evses) {
    if (!limited) {  // without a limit the stations need no profile: what they hold goes
      std::vector<std::int64_t> sessions;
      for (const auto& vp : site_plan.vehicles) sessions.push_back(vp.state.vehicle.session_id);
      co_await clear_sessions(sessions);
      co_await clear_arrival_limits(site_id, stations);
      co_return;
    }

    // After its planned departure a vehicle's EVSE counts as free: a vehicle that stays is
    // held to what an arrival there may draw, not left to the station's own limits beside the
    // power the plan has given the others.
    const auto arrival_share = arrival_share_w(site_plan, evse_count(stations));
    std::vector<Outgoing> batch;
    for (const auto& vp : site_plan.vehicles) {
      if (vp.state.control != Control::controlled) continue;
      const auto& v = vp.state.vehicle;
      const bool amps = v.protocol == "ocpp1.6";
      const json transaction_id = amps ? json(v.session_id) : json(v.station_transaction_id);
      std::vector<std::int64_t> connected(vp.power_w.begin(),
                                          vp.power_w.begin() + vp.slots_connected);
      for (auto i = vp.slots_connected; i < horizon.slots && i < arrival_share.size(); ++i)
        connected.push_back(arrival_share[i]
                                ? std::min(*arrival_share[i], vp.state.evse_max_power_w)
                                : vp.state.evse_max_power_w);
      // A vehicle that may discharge gets its discharging slots as setpoints (OCPP 2.1).
      const auto periods = may_discharge(vp.state)
                               ? discharge_periods_of(connected, horizon.slot)
                               : periods_of(connected, horizon.slot, amps, vp.state.evse_phases);
      Outgoing o;
      o.command_name = "set-charging-profile";
      o.arguments =
          schedule_arguments(v.evse_id, kTxPurpose, transaction_id, clock.to_wall(horizon.start),
                             static_cast<std::int64_t>(connected.size()) * horizon.slot.count(),
                             amps, periods, vp.state.evse_phases);
      o.profile.purpose = kTxPurpose;
      o.profile.site_id = site_id;
      o.profile.station_id = v.station_id;
      o.profile.evse_id = v.evse_id;
      o.profile.session_id = v.session_id;
      o.profile.start_s = clock.to_wall(horizon.start).time_since_epoch().count();
      o.profile.rate_unit = amps ? "A" : "W";
      o.profile.schedule = o.arguments;
      batch.push_back(std::move(o));
    }
    bool rejected = false;
    // Named first: GCC 12 mishandles a co_await in a range-for's initialiser.
    const auto answers = co_await send_changed(std::move(batch));
    for (const auto& sent : answers) {
      if (sent.status != "Accepted" && sent.outcome != "offline" && sent.outcome != "timeout" &&
          sent.outcome != "lost" && sent.outcome != "refused")
        rejected = true;
      if (sent.outcome == "offline") rejected = true;  // planned again without it
    }
    if (rejected) request([&] { pending_sites.emplace(site_id, "profile_rejected"); });
    co_await send_station_limits(site_id, site_plan, stations, evses);
    co_await send_arrival_limits(site_id, site_plan, stations, evses);
  }

  // ---- measured power against the plan ----

  struct PlannedPower {
    std::int64_t site_id = 0;
    Time start{};
    seconds slot{0};
    std::vector<std::int64_t> power_w;  // per slot from `start`
  };
  std::mutex drift_mutex;                                             // guards what follows
  std::map<std::pair<std::string, int>, PlannedPower> planned_power;  // by station and EVSE
  std::map<std::int64_t, std::chrono::steady_clock::time_point> drift_replanned;  // by site

  void remember_power(std::int64_t site_id, const Horizon& horizon, const SitePlan& site_plan) {
    std::lock_guard lock(drift_mutex);
    std::erase_if(planned_power,
                  [&](const auto& entry) { return entry.second.site_id == site_id; });
    for (const auto& vp : site_plan.vehicles) {
      if (vp.state.control != Control::controlled) continue;
      const auto& v = vp.state.vehicle;
      planned_power[{v.station_id, v.evse_id}] = PlannedPower{
          site_id, horizon.start, horizon.slot,
          std::vector<std::int64_t>(vp.power_w.begin(), vp.power_w.begin() + vp.slots_connected)};
    }
  }

  // The import power a message measured: its total, else the sum of its phases.
  static std::optional<double> measured_import_w(const events::MeterValues& readings) {
    std::optional<double> total;
    double phases = 0;
    bool any_phase = false;
    for (const auto& sample : readings.samples) {
      if (sample.measurand != "Power.Active.Import" || sample.unit != "W") continue;
      if (sample.phase.empty()) {
        total = sample.value;
      } else if (sample.phase.size() >= 2 && sample.phase[0] == 'L' &&
                 sample.phase.find("-L") == std::string::npos) {
        phases += sample.value;  // L1, L2, L3 or Lx-N
        any_phase = true;
      }
    }
    if (!total && any_phase) total = phases;
    return total;
  }

  // A vehicle drawing much less than its share (full, or limited by its own charger) leaves
  // power unused; one drawing much more breaks the plan. Either replans its site.
  void on_meter_values(const events::MeterValues& readings) {
    const auto measured = measured_import_w(readings);
    if (!measured) return;
    std::int64_t site_id = 0;
    double planned = 0;
    {
      std::lock_guard lock(drift_mutex);
      const auto it = planned_power.find({readings.station_id, readings.evse_id});
      if (it == planned_power.end()) return;
      const auto& plan = it->second;
      const auto now = clock.now();
      if (now < plan.start) return;
      const auto slot = static_cast<std::size_t>((now - plan.start) / plan.slot);
      if (slot >= plan.power_w.size() || plan.power_w[slot] < 0) return;  // discharge: not here
      planned = static_cast<double>(plan.power_w[slot]);
      if (std::abs(*measured - planned) <= std::max(kDriftMinW, planned * kDriftShare)) return;
      const auto steady_now = std::chrono::steady_clock::now();
      auto& last = drift_replanned[plan.site_id];
      if (last.time_since_epoch().count() != 0 && steady_now - last < kDriftCooldown) return;
      last = steady_now;
      site_id = plan.site_id;
    }
    log::info("smart_charging_drift", {{"site_id", site_id},
                                       {"station", readings.station_id},
                                       {"evse_id", readings.evse_id},
                                       {"measured_w", *measured},
                                       {"planned_w", planned}});
    request([&] { pending_sites.emplace(site_id, "meter_drift"); });
  }

  // ---- the EVSE power model ----

  static const store::evses::EvsePower* described(const std::vector<store::evses::EvsePower>& evses,
                                                  const std::string& station_id, int evse_id) {
    for (const auto& e : evses)
      if (e.station_id == station_id && e.evse_id == evse_id) return &e;
    return nullptr;
  }
  // The EVSE's described maximum power; the --smart-charging-evse-power fallback without one.
  std::int64_t evse_power_w(const store::evses::EvsePower* evse) const {
    if (evse && evse->max_power_w && *evse->max_power_w > 0)
      return static_cast<std::int64_t>(*evse->max_power_w);
    return config.smart_charging_evse_power_w;
  }
  // A station's maximum: its reported EVSEs and any described beyond them.
  std::int64_t station_power_w(const plans::SiteStation& station,
                               const std::vector<store::evses::EvsePower>& evses) const {
    std::set<int> ids;
    for (int id = 1; id <= station.evses; ++id) ids.insert(id);
    for (const auto& e : evses)
      if (e.station_id == station.station_id && e.evse_id > 0) ids.insert(e.evse_id);
    std::int64_t total = 0;
    for (int id : ids) total += evse_power_w(described(evses, station.station_id, id));
    return total;
  }

  // A profile for a whole station (EVSE 0, stack level 0, no transaction): `power` per slot
  // from `start` (wall time).
  static Outgoing station_wide(const char* purpose, std::int64_t site_id,
                               const plans::SiteStation& station, Time start,
                               const std::vector<std::int64_t>& power, seconds slot) {
    const bool amps = station.protocol == "ocpp1.6";
    Outgoing o;
    o.command_name = "set-charging-profile";
    o.arguments = schedule_arguments(0, purpose, nullptr, start,
                                     static_cast<std::int64_t>(power.size()) * slot.count(), amps,
                                     periods_of(power, slot, amps));
    o.arguments["stack_level"] = 0;
    o.profile.purpose = purpose;
    o.profile.site_id = site_id;
    o.profile.station_id = station.station_id;
    o.profile.evse_id = 0;
    o.profile.start_s = start.time_since_epoch().count();
    o.profile.rate_unit = amps ? "A" : "W";
    o.profile.schedule = o.arguments;
    return o;
  }

  // During demand-response windows each station also holds a station-wide limit, its share of
  // the site's limit, so that the site stays inside it if the station loses ChargeGrid. Sent
  // ahead with the windows' start as its startSchedule; it ends with the last window.
  awaitable<void> send_station_limits(std::int64_t site_id, const SitePlan& site_plan,
                                      const std::vector<plans::SiteStation>& stations,
                                      const std::vector<store::evses::EvsePower>& evses) {
    const auto& limits = site_plan.limits;
    std::optional<std::size_t> first, last;
    for (std::size_t i = 0; i < limits.size(); ++i)
      if (!limits[i].event_ids.empty() && limits[i].import_limit_w) {
        if (!first) first = i;
        last = i;
      }
    if (!first) co_return;
    std::int64_t site_max = 0;
    for (const auto& s : stations) site_max += station_power_w(s, evses);
    const auto& horizon = site_plan.horizon;
    std::vector<Outgoing> batch;
    for (const auto& station : stations) {
      if (!co_await router.online(station.station_id)) continue;
      const std::int64_t station_max = station_power_w(station, evses);
      std::vector<std::int64_t> power;
      for (auto i = *first; i <= *last; ++i)
        power.push_back(limits[i].event_ids.empty() || !limits[i].import_limit_w
                            ? station_max
                            : station_share_w(*limits[i].import_limit_w, station_max, site_max));
      batch.push_back(station_wide(kStationPurpose, site_id, station,
                                   clock.to_wall(horizon.slot_start(*first)), power, horizon.slot));
    }
    co_await send_changed(std::move(batch));
  }

  // A vehicle that arrives charges at whatever its EVSE allows until the replan its arrival
  // causes has sent its profile. So each station with a free EVSE holds a TxDefaultProfile for
  // its arrivals, as high as the plan leaves room for (arrival_share_w()): with a vehicle
  // plugging in at every free EVSE at once the site would still be inside its limit.
  awaitable<void> send_arrival_limits(std::int64_t site_id, const SitePlan& site_plan,
                                      const std::vector<plans::SiteStation>& stations,
                                      const std::vector<store::evses::EvsePower>& evses) {
    const auto share = arrival_share_w(site_plan, evse_count(stations));
    std::map<std::string, int> taken;  // vehicles connected now, by station
    for (const auto& vp : site_plan.vehicles) ++taken[vp.state.vehicle.station_id];
    const auto& horizon = site_plan.horizon;
    std::vector<Outgoing> batch;
    for (const auto& station : stations) {
      if (taken[station.station_id] >= std::max(station.evses, 1)) continue;  // none free
      if (!co_await router.online(station.station_id)) continue;
      std::int64_t evse_max = 0;
      for (int id = 1; id <= std::max(station.evses, 1); ++id)
        evse_max = std::max(evse_max, evse_power_w(described(evses, station.station_id, id)));
      std::vector<std::int64_t> power;
      for (const auto& s : share) power.push_back(s ? std::min(*s, evse_max) : evse_max);
      batch.push_back(station_wide(kArrivalPurpose, site_id, station, clock.to_wall(horizon.start),
                                   power, horizon.slot));
    }
    co_await send_changed(std::move(batch));
  }

  // A site without a limit any more: its stations' arrival limits go.
  awaitable<void> clear_arrival_limits(std::int64_t site_id,
                                       const std::vector<plans::SiteStation>& stations) {
    std::vector<std::string> ids;
    for (const auto& s : stations) ids.push_back(s.station_id);
    const auto held = co_await database.transaction(
        [&](store::Tx& tx) { return plans::last_station_profiles(tx, ids, kArrivalPurpose); });
    std::vector<Outgoing> batch;
    for (const auto& [station_id, last] : held) {
      if (!co_await router.online(station_id)) continue;
      Outgoing o;
      o.command_name = "clear-charging-profile";
      o.arguments = json{{"profile_id", last.profile_id}};
      o.profile.kind = "clear";
      o.profile.purpose = kArrivalPurpose;
      o.profile.site_id = site_id;
      o.profile.station_id = station_id;
      o.profile.evse_id = 0;
      batch.push_back(std::move(o));
    }
    co_await send_all(std::move(batch));
  }

  // ---- slot boundaries ----

  static awaitable<void> slot_loop(std::shared_ptr<Impl> self) {
    for (;;) {
      const auto& clock = self->clock;
      const auto next = horizon_at(clock.now(), self->slot(), self->slot()).start + self->slot();
      self->slot_timer->expires_after(clock.to_wall(next) - std::chrono::system_clock::now() +
                                      std::chrono::milliseconds(50));
      auto [ec] = co_await self->slot_timer->async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      try {
        auto sites = co_await self->database.transaction(
            [](store::Tx& tx) { return plans::sites_with_sessions(tx); });
        for (auto site : sites)
          self->request([&] { self->pending_sites.emplace(site, "slot_boundary"); });
      } catch (const std::exception& e) {
        log::warn("smart_charging_failed", {{"error", e.what()}});
      }
    }
  }

  // ---- site leases (cluster mode) ----

  static awaitable<void> lease_loop(std::shared_ptr<Impl> self) {
    for (;;) {
      self->lease_timer->expires_after(self->leases.tick_interval());
      auto [ec] = co_await self->lease_timer->async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      try {
        // Named before the loop: GCC 12 mishandles a co_await in a range-for's initialiser.
        const auto due = co_await self->leases.tick();
        for (const auto& [site, reason] : due) {
          const auto site_id = site;
          const auto why = reason;
          self->request([&] { self->pending_sites.emplace(site_id, why); });
        }
      } catch (const std::exception& e) {
        log::warn("smart_charging_lease_failed", {{"error", e.what()}});
      }
    }
  }

  // Learns the finished sessions in the database, with each site's holidays, and asks for a
  // plan of every site with a vehicle; tried again every 5 s until the database answers. A
  // session whose session.ended event is still to come is learnt once: from the database now
  // (the event then finds it in learnt_ahead) or from the event, if the event came first.
  static awaitable<void> warm_start(std::shared_ptr<Impl> self) {
    struct Stored {
      std::map<std::int64_t, store::site_holidays::Holidays> holidays;
      std::vector<plans::Finished> finished;
      std::vector<std::int64_t> events_pending;
    };
    asio::steady_timer retry(self->strand);
    std::size_t learned = 0;
    for (bool learnt = false;;) {
      try {
        if (!learnt) {
          // This node's learner subscribes before the read: a session that ends after the read
          // then has an event for it.
          if (self->leases.enabled())
            co_await self->database.transaction([&](store::Tx& tx) {
              store::outbox::subscribe(tx, self->learner_name, store::outbox::kSessionEnded);
            });
          // The pending events are read after the sessions: a session that ends between the two
          // reads is in neither or only in the events.
          auto stored = co_await self->database.transaction([&](store::Tx& tx) {
            Stored out;
            out.holidays = store::site_holidays::all(tx);
            out.finished = plans::finished_sessions(tx, kWarmStartSessions);
            out.events_pending = store::outbox::pending_session_ends(tx, self->learner_name);
            return out;
          });
          {
            std::lock_guard lock(self->mutex);
            // Each predictor counts its site's holidays from its first session on.
            for (const auto& [site, h] : stored.holidays)
              self->predictors.try_emplace(site, self->new_predictor(h));
            const std::set<std::int64_t> pending(stored.events_pending.begin(),
                                                 stored.events_pending.end());
            for (const auto& raw : stored.finished) {
              if (self->rebuilt_during_start.contains(raw.site_id) ||
                  self->ended_during_start.contains(raw.session_id))
                continue;
              auto& site = self->predictor(raw.site_id);
              learn(site, self->on_timeline(raw));
              ++learned;
              if (pending.contains(raw.session_id)) site.learnt_ahead.insert(raw.session_id);
            }
            self->start_learnt = true;
            self->rebuilt_during_start.clear();
            self->ended_during_start.clear();
          }
          learnt = true;
        }
        auto sites = co_await self->database.transaction(
            [](store::Tx& tx) { return plans::sites_with_sessions(tx); });
        log::info("smart_charging_started",
                  {{"sessions_learned", learned}, {"sites", sites.size()}});
        for (auto site : sites) self->request([&] { self->pending_sites.emplace(site, "start"); });
        co_return;
      } catch (const std::exception& e) {
        log::warn("smart_charging_start_failed", {{"error", e.what()}, {"retry_s", 5}});
      }
      retry.expires_after(std::chrono::seconds(5));
      co_await retry.async_wait(asio::as_tuple(asio::use_awaitable));
      std::lock_guard lock(self->mutex);
      if (self->stopped) co_return;
    }
  }
};

Service::Service(const Config& config, asio::io_context& io, db::ConnectionPool& pool,
                 Database& database, commands::CommandRouter& commands, EventBus& events,
                 std::string node_id)
    : impl_(std::make_shared<Impl>(config, io, pool, database, commands, events,
                                   std::move(node_id))) {
  if (!config.smart_charging) return;
  auto* impl = impl_.get();
  // In-process events are lossy; the slot boundary's replan catches up on any lost one.
  events.listen<events::SessionStarted>([impl](const events::SessionStarted& e) {
    impl->request([&] { impl->pending_stations.emplace(e.station_id, "arrival"); });
  });
  events.listen<events::StationOnline>([impl](const events::StationOnline& e) {
    impl->request([&] { impl->pending_stations.emplace(e.station_id, "station_online"); });
  });
  events.listen<events::StationOffline>([impl](const events::StationOffline& e) {
    impl->request([&] { impl->pending_stations.emplace(e.station_id, "station_offline"); });
  });
  events.listen<events::MeterValues>(
      [impl](const events::MeterValues& e) { impl->on_meter_values(e); });
  events.listen<DeclarationChanged>([impl](const DeclarationChanged& e) {
    impl->request([&] { impl->pending_stations.emplace(e.station_id, "declaration"); });
  });
}

Service::~Service() {
  stop();
}

void Service::start() {
  if (!impl_->config.smart_charging) return;
  auto& s = *impl_;
  s.consumer = std::make_unique<OutboxConsumer>(
      s.io, s.pool, kConsumer,
      std::vector<std::string>{store::outbox::kSessionEnded, store::outbox::kChargingNeeds,
                               store::outbox::kDemandResponseChanged, store::outbox::kSiteChanged},
      [impl = impl_.get()](store::Tx& tx, const store::outbox::Row& row) {
        impl->on_outbox(tx, row);
      },
      OutboxConsumer::Options{.poll_interval = std::chrono::milliseconds(500)});
  s.consumer->start();
  if (s.leases.enabled()) {
    s.learner = std::make_unique<OutboxConsumer>(
        s.io, s.pool, s.learner_name, std::vector<std::string>{store::outbox::kSessionEnded},
        [impl = impl_.get()](store::Tx& tx, const store::outbox::Row& row) {
          impl->learn_ended(tx, row);
        },
        OutboxConsumer::Options{.poll_interval = std::chrono::milliseconds(500)});
    s.learner->start();
  }
  s.slot_timer = std::make_unique<asio::steady_timer>(s.strand);
  asio::co_spawn(s.strand, Impl::warm_start(impl_), asio::detached);
  asio::co_spawn(s.strand, Impl::slot_loop(impl_), asio::detached);
  if (s.leases.enabled()) {
    s.lease_timer = std::make_unique<asio::steady_timer>(s.strand);
    asio::co_spawn(s.strand, Impl::lease_loop(impl_), asio::detached);
  }
}

void Service::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  if (impl_->consumer) impl_->consumer->stop();
  if (impl_->learner) impl_->learner->stop();
  if (impl_->slot_timer) asio::post(impl_->strand, [impl = impl_] { impl->slot_timer->cancel(); });
  if (impl_->lease_timer) {
    asio::post(impl_->strand, [impl = impl_] { impl->lease_timer->cancel(); });
    // Another node takes the sites over at its next tick instead of after the timeout.
    impl_->leases.release_all(impl_->pool);
  }
}

void Service::replan_site(std::int64_t site_id, const std::string& reason) {
  impl_->request([&] { impl_->pending_sites.emplace(site_id, reason); });
}

void Service::replan_station(const std::string& station_id, const std::string& reason) {
  impl_->request([&] { impl_->pending_stations.emplace(station_id, reason); });
}

void Service::render_metrics(std::string& out) const {
  std::size_t sessions = 0;
  std::uint64_t rebuilds = 0;
  {
    std::lock_guard lock(impl_->mutex);
    for (const auto& [site, predictor] : impl_->predictors) sessions += predictor.sessions;
    rebuilds = impl_->rebuilds;
  }
  base::prometheus::Writer writer(out);
  writer.gauge("chargegrid_smart_charging_predictor_sessions",
               "Finished sessions the sites' departure predictors learnt (a rebuilt predictor "
               "counts afresh)",
               sessions);
  writer.counter("chargegrid_smart_charging_predictor_rebuilds_total",
                 "Site predictors rebuilt from the database (their holidays changed)", rebuilds);
}

}  // namespace chargegrid::server::smart_charging
