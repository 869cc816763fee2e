// The site lease of smart charging in cluster mode: the repository's take, renewal, requests
// and release against real PostgreSQL (two nodes racing for one site included); then three
// real nodes, each with --smart-charging, and a site whose stations sit on all three: one
// node plans it and sends every profile (through the router to the other nodes' stations);
// killed with -9, another node takes the site over within the lease timeout and plans it,
// and an arrival on a third node reaches the new holder; stopped cleanly, the new holder gives
// the site back at once.

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "chargegrid/base/time.hpp"
#include "chargegrid/sim/test_client.hpp"
#include "chargegrid/testing/database.hpp"
#include "cluster_harness.hpp"
#include "store/cluster_nodes.hpp"
#include "store/outbox.hpp"
#include "store/site_leases.hpp"

using namespace std::chrono_literals;
using chargegrid::testing::ClusterHarness;
using chargegrid::testing::eventually;
using nlohmann::json;
namespace leases = chargegrid::server::store::site_leases;
using Clock = std::chrono::steady_clock;

namespace {

// Node and site lease timeouts of these tests: long enough that nothing expires by itself on a
// loaded machine; expiry and a node's death are made by hand where a test needs them.
constexpr int kLeaseS = 30;

std::string query(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  auto rows = pqxx::nontransaction(c).exec(sql);
  if (rows.empty() || rows[0][0].is_null()) return "";
  return rows[0][0].as<std::string>();
}

void add_node(pqxx::connection& c, const std::string& id) {
  pqxx::work tx(c);
  chargegrid::server::store::cluster_nodes::upsert(tx, {id, 1, "test", 1, 0, 0, kLeaseS});
  tx.commit();
}

std::int64_t add_site(pqxx::connection& c) {
  pqxx::work tx(c);
  auto id =
      tx.exec1("INSERT INTO sites (name) VALUES ('Depot') RETURNING id")[0].as<std::int64_t>();
  tx.commit();
  return id;
}

template <class Fn>
auto in_tx(pqxx::connection& c, Fn fn) {
  pqxx::work tx(c);
  auto result = fn(tx);
  tx.commit();
  return result;
}

// A 1.6 station on one node that answers every CALL it receives with Accepted.
class Station {
 public:
  Station(std::uint16_t port, std::string id) : id_(std::move(id)) {
    client_ = chargegrid::testing::boot_station(port, id_);
  }
  ~Station() { stop(); }

  // Starts a session on connector 1, then answers the server's CALLs.
  void start_session() {
    auto started =
        client_->call("StartTransaction", {{"connectorId", 1},
                                           {"idTag", "TAG-" + id_},
                                           {"meterStart", 1000},
                                           {"timestamp", chargegrid::base::now_rfc3339()}});
    REQUIRE(started[0] == 3);
    for (const auto& frame : client_->take_skipped()) handle(frame);
    thread_ = std::thread([this] {
      while (!stop_ && !client_->closed())
        if (auto frame = client_->receive(20ms)) handle(*frame);
    });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int profiles() const { return profiles_; }
  const std::string& id() const { return id_; }

 private:
  void handle(const std::string& text) {
    auto frame = json::parse(text, nullptr, false);
    if (!frame.is_array() || frame.size() < 4 || frame[0] != 2) return;
    if (frame[2] == "SetChargingProfile") ++profiles_;
    client_->send_text(json::array({3, frame[1], {{"status", "Accepted"}}}).dump());
  }

  std::string id_;
  std::unique_ptr<chargegrid::sim::OcppTestClient> client_;
  std::atomic<int> profiles_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A site of 16 kW named Depot, made through the REST API: its id.
std::int64_t post_site(chargegrid::testing::ApiClient& api) {
  auto created = api.post("/sites", {{"name", "Depot"}, {"import_limit_w", 16000}});
  REQUIRE(created.status == 201);
  return created.data["id"].get<std::int64_t>();
}

}  // namespace

TEST_CASE("site leases: one holder at a time, renewals, requests, take-overs and release",
          "[cluster][site_lease]") {
  chargegrid::testing::TestDatabase db;
  pqxx::connection c(db.url());
  add_node(c, "node-a");
  add_node(c, "node-b");
  const auto site = add_site(c);

  auto take = [&](const std::string& node) {
    return in_tx(c, [&](pqxx::work& tx) { return leases::take(tx, site, node, kLeaseS); });
  };
  auto holds = [&](const std::string& node, std::int64_t epoch) {
    return in_tx(c, [&](pqxx::work& tx) { return leases::holds(tx, site, node, epoch); });
  };

  // The first taker holds it; the other node neither takes it nor holds it.
  const auto first = take("node-a");
  REQUIRE(first);
  CHECK(first->epoch == 1);
  CHECK_FALSE(take("node-b"));
  CHECK(holds("node-a", 1));
  CHECK_FALSE(holds("node-b", 1));
  // Taking it again is a renewal: same epoch.
  REQUIRE(take("node-a"));
  CHECK(take("node-a")->epoch == 1);
  CHECK(in_tx(c, [&](pqxx::work& tx) { return leases::renew(tx, "node-a", kLeaseS); }).size() == 1);
  CHECK(in_tx(c, [&](pqxx::work& tx) { return leases::renew(tx, "node-b", kLeaseS); }).empty());

  // Requests: only another node asks the holder; the count and the latest reason are kept.
  CHECK(in_tx(
      c, [&](pqxx::work& tx) { return leases::request_replan(tx, site, "arrival", "node-b"); }));
  CHECK(in_tx(c, [&](pqxx::work& tx) {
    return leases::request_replan(tx, site, "declaration", "node-b");
  }));
  CHECK_FALSE(
      in_tx(c, [&](pqxx::work& tx) { return leases::request_replan(tx, site, "x", "node-a"); }));
  CHECK_FALSE(in_tx(
      c, [&](pqxx::work& tx) { return leases::request_replan(tx, site + 99, "x", "node-b"); }));
  auto mine = in_tx(c, [&](pqxx::work& tx) { return leases::held(tx, "node-a"); });
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].replan_requests == 2);
  CHECK(mine[0].replan_reason == "declaration");

  // An unknown site is never leased.
  CHECK(in_tx(c, [&](pqxx::work& tx) {
          return leases::take(tx, std::vector<std::int64_t>{site + 99, -1}, "node-a", kLeaseS);
        }).empty());
  CHECK(query(db.url(), "SELECT count(*) FROM site_leases") == "1");

  // Expired: the other node takes it over, with the next epoch; the old epoch holds nothing.
  pqxx::nontransaction(c).exec("UPDATE site_leases SET expires_at = now() - interval '1 second'");
  CHECK(in_tx(c, [&](pqxx::work& tx) { return leases::held(tx, "node-a"); }).empty());
  const auto taken = take("node-b");
  REQUIRE(taken);
  CHECK(taken->epoch == 2);
  CHECK_FALSE(holds("node-a", 1));
  CHECK(holds("node-b", 2));

  // Its node dead (no heartbeat within its timeout) while the lease itself has not expired:
  // taken over as well.
  pqxx::nontransaction(c).exec(
      "UPDATE cluster_nodes SET heartbeat_at = now() - interval '1 minute' WHERE id = 'node-b'");
  const auto back = take("node-a");
  REQUIRE(back);
  CHECK(back->epoch == 3);

  // Released on a clean stop: free for anyone at once.
  in_tx(c, [&](pqxx::work& tx) {
    leases::release_all(tx, "node-a");
    return 0;
  });
  CHECK(query(db.url(), "SELECT count(*) FROM site_leases WHERE held_by IS NOT NULL") == "0");
  add_node(c, "node-b");  // alive again
  CHECK(take("node-b")->epoch == 4);

  // Two nodes racing for a free site: exactly one takes it, every time.
  for (int round = 0; round < 10; ++round) {
    pqxx::nontransaction(c).exec("UPDATE site_leases SET held_by = NULL, expires_at = NULL");
    std::atomic<int> winners{0};
    auto racer = [&](const std::string& node) {
      pqxx::connection own(db.url());
      if (in_tx(own, [&](pqxx::work& tx) { return leases::take(tx, site, node, kLeaseS); }))
        ++winners;
    };
    std::thread a(racer, "node-a"), b(racer, "node-b");
    a.join();
    b.join();
    CHECK(winners == 1);
  }

  // Two nodes taking and renewing many sites at once: no deadlock, each site held by one.
  std::vector<std::int64_t> sites;
  for (int i = 0; i < 30; ++i) sites.push_back(add_site(c));
  std::map<std::int64_t, int> holders;
  std::mutex holders_mutex;
  std::atomic<int> failures{0};
  auto grabber = [&](const std::string& node) {
    pqxx::connection own(db.url());
    try {
      for (int round = 0; round < 5; ++round) {
        auto got =
            in_tx(own, [&](pqxx::work& tx) { return leases::take(tx, sites, node, kLeaseS); });
        in_tx(own, [&](pqxx::work& tx) { return leases::renew(tx, node, kLeaseS); });
        if (round == 0) {
          std::lock_guard lock(holders_mutex);
          for (const auto& h : got) ++holders[h.site_id];
        }
      }
    } catch (const std::exception&) {
      ++failures;
    }
  };
  std::thread a(grabber, "node-a"), b(grabber, "node-b");
  a.join();
  b.join();
  CHECK(failures == 0);
  CHECK(holders.size() == sites.size());
  for (const auto& [site_id, count] : holders) CHECK(count == 1);
  CHECK(query(db.url(), "SELECT count(*) FROM site_leases WHERE held_by IS NOT NULL") ==
        std::to_string(sites.size() + 1));
}

TEST_CASE(
    "Cluster: a site whose stations sit on three nodes is planned by one node, and killing "
    "it moves the site",
    "[cluster][site_lease][smart_charging]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "site-lease", 3,
                         {"--smart-charging", "", "--call-timeout", "5"});
  auto api = cluster.api(1);
  const auto site_id = post_site(api);
  const auto site = std::to_string(site_id);
  for (int i = 1; i <= 4; ++i)
    REQUIRE(
        api.post("/stations", {{"id", "SL-" + std::to_string(i)}, {"site_id", site_id}}).status ==
        201);

  // One station with a session on each node.
  std::vector<std::unique_ptr<Station>> stations;
  for (int i = 1; i <= 3; ++i) {
    stations.push_back(
        std::make_unique<Station>(cluster.node(i).ocpp_port(), "SL-" + std::to_string(i)));
    stations.back()->start_session();
  }
  const auto url = db.url();
  const bool planned = eventually(
      [&] {
        for (const auto& s : stations)
          if (s->profiles() == 0) return false;
        return query(url, "SELECT count(*) FROM charging_profiles WHERE outcome IS NULL") == "0" &&
               query(url, "SELECT jsonb_array_length(plan->'vehicles') FROM site_plans") == "3";
      },
      15s);
  if (!planned) FAIL("the site was not planned\n" << cluster.logs());
  const auto holder = query(url, "SELECT held_by FROM site_leases WHERE site_id = " + site);
  REQUIRE(!holder.empty());
  const auto epoch = std::stoll(query(url, "SELECT lease_epoch FROM site_leases"));
  std::this_thread::sleep_for(1500ms);  // a few lease ticks: nobody else plans meanwhile

  // Exactly one node planned the site and sent every profile; those for the stations on the
  // other two nodes went through the router.
  CHECK(query(url, "SELECT planned_by FROM site_plans WHERE site_id = " + site) == holder);
  CHECK(query(url,
              "SELECT string_agg(DISTINCT coalesce(sent_by, '-'), ',') FROM "
              "charging_profiles") == holder);
  CHECK(query(url,
              "SELECT count(DISTINCT station_id) FROM command_log WHERE command = "
              "'set-charging-profile' AND routed_from = '" +
                  holder + "' AND routed_to IS NOT NULL AND outcome = 'answered'") == "2");
  CHECK(query(url,
              "SELECT count(*) FROM command_log WHERE command = 'set-charging-profile' AND "
              "routed_from IS NOT NULL AND routed_from <> '" +
                  holder + "'") == "0");
  CHECK(query(url, "SELECT lease_epoch FROM site_leases") == std::to_string(epoch));

  // kill -9 of the holder: another node takes the site over and plans it.
  const auto dead_learner =
      chargegrid::server::store::outbox::node_consumer("smart-charging", holder);
  const auto learner_rows = [&] {
    return query(url,
                 "SELECT count(*) FROM outbox_consumers WHERE consumer = '" + dead_learner + "'") +
           "/" + query(url, "SELECT count(*) FROM outbox WHERE consumer = '" + dead_learner + "'");
  };
  CHECK(learner_rows().rfind("1/", 0) == 0);  // subscribed while alive
  const int killed = std::stoi(holder.substr(holder.find('-') + 1));
  const auto profiles_before = query(url, "SELECT max(id) FROM charging_profiles");
  cluster.node(killed).kill_hard();
  stations.at(static_cast<std::size_t>(killed - 1))->stop();
  const auto killed_at = Clock::now();
  std::string successor;
  const bool moved = eventually(
      [&] {
        successor = query(
            url, "SELECT planned_by FROM site_plans WHERE lease_epoch > " + std::to_string(epoch));
        return !successor.empty();
      },
      10s);
  if (!moved) FAIL("the site did not move\n" << cluster.logs());
  const auto moved_after = Clock::now() - killed_at;
  CHECK(successor != holder);
  CHECK(query(url, "SELECT held_by FROM site_leases") == successor);
  // Within the lease timeout, a fifth of it for the next tick, and the plan itself.
  CHECK(moved_after < std::chrono::milliseconds(ClusterHarness::kLeaseTimeoutS * 1200 + 2500));
  // The dead node's own learning consumer went with its node row (expire_dead_nodes): no
  // events pile up for a node that will learn from the database when it starts again.
  CHECK(eventually([&] { return learner_rows() == "0/0"; }, 10s));

  // An arrival on the third node reaches the new holder, which plans four vehicles and sends
  // the new station its profile.
  int third = 1;
  while (third == killed || ClusterHarness::node_id(third) == successor) ++third;
  Station fourth(cluster.node(third).ocpp_port(), "SL-4");
  fourth.start_session();
  const bool arrived = eventually(
      [&] {
        return fourth.profiles() > 0 &&
               query(url, "SELECT jsonb_array_length(plan->'vehicles') FROM site_plans") == "4";
      },
      10s);
  if (!arrived) FAIL("the arrival was not planned\n" << cluster.logs());
  CHECK(query(url, "SELECT planned_by FROM site_plans") == successor);
  CHECK(query(url,
              "SELECT string_agg(DISTINCT coalesce(sent_by, '-'), ',') FROM "
              "charging_profiles WHERE id > " +
                  profiles_before) == successor);
  // A clean stop of the new holder (its leases given back, its node row deleted) lets the last
  // node take the site at once, before the lease would have expired.
  const auto successor_epoch = query(url, "SELECT lease_epoch FROM site_leases");
  const auto last_expiry = query(url, "SELECT expires_at::text FROM site_leases");
  REQUIRE(cluster.node(std::stoi(successor.substr(successor.find('-') + 1))).stop());
  std::string last;
  const bool released = eventually(
      [&] {
        last =
            query(url, "SELECT planned_by FROM site_plans WHERE lease_epoch > " + successor_epoch);
        return !last.empty();
      },
      10s);
  if (!released) FAIL("the site did not move after a clean stop\n" << cluster.logs());
  CHECK(last == ClusterHarness::node_id(third));
  CHECK(query(url, "SELECT acquired_at < '" + last_expiry + "'::timestamptz FROM site_leases") ==
        "t");
  WARN("site lease moved "
       << std::chrono::duration_cast<std::chrono::milliseconds>(moved_after).count()
       << " ms after kill -9 of " << holder << " to " << successor);
}

TEST_CASE(
    "Cluster: a holder whose site lease moves while it plans sends nothing and hands the "
    "replan to the new holder",
    "[cluster][site_lease][smart_charging]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "site-lease-lost", 2,
                         {"--smart-charging", "", "--call-timeout", "5"});
  auto api = cluster.api(1);
  const auto site_id = post_site(api);
  const auto site = std::to_string(site_id);
  std::vector<std::unique_ptr<Station>> stations;
  for (int i = 1; i <= 2; ++i) {
    const auto id = "LL-" + std::to_string(i);
    REQUIRE(api.post("/stations", {{"id", id}, {"site_id", site_id}}).status == 201);
    stations.push_back(std::make_unique<Station>(cluster.node(i).ocpp_port(), id));
    stations.back()->start_session();
  }
  const auto url = db.url();
  const bool planned = eventually(
      [&] {
        return stations[0]->profiles() > 0 && stations[1]->profiles() > 0 &&
               query(url, "SELECT count(*) FROM charging_profiles WHERE outcome IS NULL") == "0";
      },
      15s);
  if (!planned) FAIL("the site was not planned\n" << cluster.logs());
  const auto holder = query(url, "SELECT held_by FROM site_leases WHERE site_id = " + site);
  const int h = holder == ClusterHarness::node_id(1) ? 1 : 2;
  const auto other = ClusterHarness::node_id(3 - h);
  const auto epoch = query(url, "SELECT lease_epoch FROM site_leases");
  const auto requests = query(url, "SELECT replan_requests FROM site_leases");
  const auto last_profile = query(url, "SELECT max(id) FROM charging_profiles");
  const auto session = query(url, "SELECT min(id) FROM transactions");

  // The lease row locked: the holder's plan for a declaration stops at its lease check (and
  // its renewals wait); meanwhile the lease moves to the other node, as after a stall.
  pqxx::connection locker(url);
  pqxx::work lock(locker);
  lock.exec("SELECT 1 FROM site_leases WHERE site_id = " + site + " FOR UPDATE");
  const auto declared = cluster.api(h).patch("/sessions/" + session, {{"energy_wh", 30000}});
  REQUIRE(declared.status == 200);
  std::this_thread::sleep_for(1s);
  lock.exec("UPDATE site_leases SET held_by = '" + other +
            "', lease_epoch = lease_epoch + 1, acquired_at = now(), "
            "expires_at = now() + interval '3 seconds' WHERE site_id = " +
            site);
  lock.commit();

  // The old holder finds its lease gone mid-replan, sends nothing, and asks the new holder to
  // plan for the declaration, which it does under the new epoch.
  const bool handed = eventually(
      [&] {
        return query(url, "SELECT replan_requests > " + requests +
                              " AND replan_reason = 'declaration' FROM site_leases") == "t" &&
               !query(url, "SELECT planned_by FROM site_plans WHERE lease_epoch > " + epoch)
                    .empty();
      },
      10s);
  if (!handed) FAIL("the replan was not handed over\n" << cluster.logs());
  CHECK(query(url, "SELECT planned_by FROM site_plans") == other);
  CHECK(query(url, "SELECT count(*) FROM charging_profiles WHERE id > " + last_profile +
                       " AND sent_by = '" + holder + "'") == "0");
  // Lost at the plan's own check (which names the epoch), not found by a renewal first.
  std::istringstream logs(cluster.logs());
  bool lost_mid_plan = false;
  for (std::string line; std::getline(logs, line);)
    lost_mid_plan =
        lost_mid_plan || (line.find("smart_charging_site_lease_lost") != std::string::npos &&
                          line.find(holder) != std::string::npos &&
                          line.find("epoch=" + epoch) != std::string::npos);
  CHECK(lost_mid_plan);
  CHECK(query(url, "SELECT held_by FROM site_leases") == other);
}

TEST_CASE(
    "Cluster: every node's departure predictors learn every finished session, and a "
    "node that leaves takes its own learning events with it",
    "[cluster][smart_charging]") {
  chargegrid::testing::TestDatabase db;
  ClusterHarness cluster(db.url(), "learn", 2, {"--smart-charging", ""});
  auto api = cluster.api(1);
  const auto site_id = post_site(api);
  REQUIRE(api.post("/stations", {{"id", "LEARN-1"}, {"site_id", site_id}}).status == 201);
  const auto url = db.url();
  const auto learner = [](int i) {
    return chargegrid::server::store::outbox::node_consumer("smart-charging",
                                                            ClusterHarness::node_id(i));
  };
  // Both nodes' learners have subscribed (at their start).
  REQUIRE(eventually(
      [&] {
        return query(url, "SELECT count(*) FROM outbox_consumers WHERE consumer IN ('" +
                              learner(1) + "', '" + learner(2) + "')") == "2";
      },
      15s));

  // Six sessions end, each with its session.ended event (the cluster's consumer takes each
  // on one node; each node's learner takes all of them).
  {
    pqxx::connection c(url);
    pqxx::work tx(c);
    for (int d = 1; d <= 6; ++d) {
      const auto plugin =
          std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) -
          std::chrono::hours(24 * d);
      const auto id =
          tx.exec_params1(
                "INSERT INTO transactions (station_id, transaction_uid, protocol, evse_id, "
                "connector_id, id_token, state, started_at, ended_at, meter_start_wh, "
                "meter_stop_wh) VALUES ('LEARN-1', $1, 'ocpp2.0.1', 1, 1, 'LEARN', 'ended', $2, "
                "$3, 0, 9000) RETURNING id",
                "ended-" + std::to_string(d), chargegrid::base::format_rfc3339(plugin),
                chargegrid::base::format_rfc3339(plugin + std::chrono::hours(3)))[0]
              .as<std::int64_t>();
      chargegrid::server::store::outbox::append(
          tx, chargegrid::server::store::outbox::kSessionEnded, {{"session_id", id}});
    }
    tx.commit();
  }
  const auto learnt = [&](int i) {
    return cluster.metric(i, "chargegrid_smart_charging_predictor_sessions");
  };
  const bool all_learnt = eventually(
      [&] {
        return query(url,
                     "SELECT count(*) FROM outbox WHERE done_at IS NULL AND consumer LIKE "
                     "'smart-charging%'") == "0" &&
               learnt(1) == 6 && learnt(2) == 6;
      },
      15s);
  if (!all_learnt)
    FAIL("node-1 learnt " << learnt(1) << ", node-2 " << learnt(2) << "\n" << cluster.logs());

  // Node 2 leaves: its learner's subscription goes with it, and later events are not kept
  // for it (it learns them from the database when it starts again).
  REQUIRE(cluster.node(2).stop());
  CHECK(query(url, "SELECT count(*) FROM outbox_consumers WHERE consumer = '" + learner(2) + "'") ==
        "0");
  {
    pqxx::connection c(url);
    pqxx::work tx(c);
    chargegrid::server::store::outbox::append(tx, chargegrid::server::store::outbox::kSessionEnded,
                                              {{"session_id", 0}});
    tx.commit();
  }
  CHECK(query(url, "SELECT count(*) FROM outbox WHERE consumer = '" + learner(2) +
                       "' AND done_at IS NULL") == "0");
  CHECK(query(url, "SELECT count(*) FROM outbox WHERE consumer = '" + learner(1) +
                       "' AND payload->>'session_id' = '0'") == "1");

  // Started again, it learns the six from the database.
  cluster.restart(2);
  CHECK(eventually([&] { return learnt(2) == 6; }, 15s));
}
