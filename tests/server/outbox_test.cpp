// The durable outbox: a session that ends writes one row per subscribed consumer in the same
// transaction; a consumer processes each row exactly once — across a kill -9 of the process
// holding it, and across a handler that fails and is retried.

#include "store/outbox.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "chargegrid/db/pool.hpp"
#include "events/outbox_consumer.hpp"
#include "events/outbox_wakeups.hpp"
#include "station_messages.hpp"

using namespace chargegrid::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

void exec(ServerFixture& fx, const std::string& sql) {
  auto c = fx.sql();
  pqxx::work tx(c);
  tx.exec(sql);
  tx.commit();
}

pid_t spawn_probe(const std::string& url, const std::string& consumer, int delay_ms) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string delay = std::to_string(delay_ms);
    ::execl(CHARGEGRID_OUTBOX_PROBE, CHARGEGRID_OUTBOX_PROBE, url.c_str(), consumer.c_str(),
            delay.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(50ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -2;
}

}  // namespace

TEST_CASE("An ended session is written to the outbox once for each consumer",
          "[integration][outbox]") {
  ServerFixture fx;
  exec(fx,
       "INSERT INTO outbox_consumers VALUES ('settlement', 'session.ended'), "
       "('planner', 'session.ended'), ('other', 'something.else') ON CONFLICT DO NOTHING");
  auto v16 = booted_16(fx, "OUTBOX-16");
  const auto tx = start_transaction_16(*v16, 100, "T");
  json stop{{"transactionId", tx}, {"meterStop", 900}, {"timestamp", "2026-11-24T09:00:00Z"}};
  REQUIRE(is_result(v16->call("StopTransaction", stop)));
  REQUIRE(is_result(v16->call("StopTransaction", stop)));  // again: no second event

  auto v201 = fx.connect("OUTBOX-201", "ocpp2.0.1");
  REQUIRE(is_result(v201->call("BootNotification", boot_201())));
  for (const std::string type : {"Started", "Ended", "Ended"}) {
    static int seq = 0;
    REQUIRE(is_result(
        v201->call("TransactionEvent", {{"eventType", type},
                                        {"timestamp", "2026-11-24T10:00:00Z"},
                                        {"triggerReason", "Authorized"},
                                        {"seqNo", seq++},
                                        {"transactionInfo", {{"transactionId", "OB-1"}}}})));
  }
  CHECK(fx.query_value("SELECT count(*) FROM outbox") == "4");
  CHECK(fx.query_value("SELECT string_agg(DISTINCT consumer, ',' ORDER BY consumer) FROM outbox") ==
        "planner,settlement");
  CHECK(fx.query_value("SELECT count(DISTINCT payload->>'session_id') FROM outbox") == "2");
  CHECK(fx.query_value("SELECT payload->>'station_transaction_id' FROM outbox WHERE "
                       "payload->>'station_id' = 'OUTBOX-201' LIMIT 1") == "OB-1");
}

TEST_CASE("A claimed outbox row survives kill -9 of its consumer and is processed once",
          "[integration][outbox]") {
  ServerFixture fx;
  exec(fx,
       "CREATE TABLE probe_effects (outbox_id bigint NOT NULL, pid integer NOT NULL);"
       "INSERT INTO outbox_consumers VALUES ('probe', 'test.topic');"
       "INSERT INTO outbox (consumer, topic, payload) "
       "SELECT 'probe', 'test.topic', jsonb_build_object('n', n) FROM generate_series(1, 20) n");
  const auto url = fx.database().url();
  // The first consumer holds its first row for 30 s: killed while it does.
  const auto first = spawn_probe(url, "probe", 30'000);
  REQUIRE(ServerFixture::eventually([&] {
    return fx.query_value(
               "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
               "WHERE c.relname = 'outbox' AND l.mode = 'RowShareLock'") != "0";
  }));
  std::this_thread::sleep_for(300ms);
  ::kill(first, SIGKILL);
  CHECK(wait_exit(first, 5s) == -1);
  // Nothing it did in the killed transaction remains; a second consumer does all 20.
  const auto second = spawn_probe(url, "probe", 0);
  CHECK(wait_exit(second, 60s) == 0);
  CHECK(fx.query_value("SELECT count(*) FROM probe_effects") == "20");
  CHECK(fx.query_value("SELECT count(DISTINCT outbox_id) FROM probe_effects") == "20");
  CHECK(fx.query_value("SELECT count(*) FROM probe_effects WHERE pid = " + std::to_string(first)) ==
        "0");
  CHECK(fx.query_value("SELECT count(*) FROM outbox WHERE done_at IS NULL") == "0");
}

TEST_CASE("A failing outbox handler is retried later, its work rolled back meanwhile",
          "[integration][outbox]") {
  ServerFixture fx;
  exec(fx,
       "CREATE TABLE retried_effects (outbox_id bigint NOT NULL);"
       "INSERT INTO outbox_consumers VALUES ('flaky', 'test.topic');"
       "INSERT INTO outbox (consumer, topic, payload) VALUES ('flaky', 'test.topic', '{}')");
  chargegrid::db::ConnectionPool pool(fx.database().url(), 1);
  boost::asio::io_context io;
  chargegrid::server::OutboxConsumer::Options options;
  options.poll_interval = 100ms;
  std::atomic<int> calls{0};
  chargegrid::server::OutboxConsumer flaky(
      io, pool, "flaky", {"test.topic"},
      [&](chargegrid::server::store::Tx& tx, const chargegrid::server::store::outbox::Row& row) {
        tx.exec_params("INSERT INTO retried_effects VALUES ($1)", row.id);
        if (calls++ == 0) throw std::runtime_error("the webhook said 503");
      },
      options);
  flaky.start();
  std::thread runner([&] {
    auto guard = boost::asio::make_work_guard(io);
    io.run_for(10s);
  });
  CHECK(ServerFixture::eventually([&] { return flaky.processed() == 1; }, 10s));
  flaky.stop();
  io.stop();
  runner.join();
  CHECK(calls == 2);
  CHECK(flaky.failures() == 1);
  CHECK(fx.query_value("SELECT count(*) FROM retried_effects") == "1");
  CHECK(fx.query_value("SELECT attempts || ' ' || last_error || ' ' || (done_at IS NOT NULL) "
                       "FROM outbox") == "1 the webhook said 503 true");
}

TEST_CASE("A committed outbox row wakes its consumer at once, not at its next poll",
          "[integration][outbox]") {
  ServerFixture fx;
  chargegrid::db::ConnectionPool pool(fx.database().url(), 1);
  boost::asio::io_context io;
  chargegrid::server::OutboxConsumer::Options options;
  options.poll_interval = 600s;  // only a wake-up can find the row within the test
  std::atomic<int> handled{0};
  chargegrid::server::OutboxConsumer sleepy(
      io, pool, "sleepy", {"test.wake"},
      [&](chargegrid::server::store::Tx&, const chargegrid::server::store::outbox::Row&) {
        ++handled;
      },
      options);
  sleepy.start();  // subscribes in its first round
  std::thread runner([&] {
    auto guard = boost::asio::make_work_guard(io);
    io.run_for(60s);
  });
  REQUIRE(ServerFixture::eventually([&] {
    return fx.query_value("SELECT count(*) FROM outbox_consumers WHERE consumer = 'sleepy'") == "1";
  }));
  // Connections of this database listening for outbox wake-ups: the server's own, then ours.
  const auto listening = [&](const char* count) {
    return ServerFixture::eventually([&] {
      return fx.query_value(
                 "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                 "AND query LIKE 'LISTEN %" +
                 std::string(chargegrid::server::store::outbox::kWakeChannel) + "%'") == count;
    });
  };
  REQUIRE(listening("1"));
  chargegrid::server::OutboxWakeups wakeups(fx.database().url());
  wakeups.start();
  // Ours has said LISTEN (on a loaded machine that can take longer than a second)...
  REQUIRE(listening("2"));
  // ...and is past its start-up wake: from here only a notification can bring the consumer
  // back before its poll.
  std::this_thread::sleep_for(1s);
  const auto appended_at = std::chrono::steady_clock::now();
  {
    auto c = fx.sql();
    pqxx::work tx(c);
    CHECK(chargegrid::server::store::outbox::append(tx, "test.wake", {{"n", 1}}) == 1);
    tx.commit();
  }
  CHECK(ServerFixture::eventually([&] { return handled == 1; }, 10s));
  CHECK(std::chrono::steady_clock::now() - appended_at < 5s);
  // The server's own listener may have woken the consumer first (wake-ups are by consumer
  // name, process-wide): ours counts its notification when it has read it.
  CHECK(ServerFixture::eventually([&] { return wakeups.notifications() >= 1; }, 5s));
  wakeups.stop();
  sleepy.stop();
  io.stop();
  runner.join();
}

TEST_CASE(
    "ISO 15118 charging needs are kept, sent to a subscribed planner and answered as K17 says",
    "[integration][outbox][smart-charging]") {
  ServerFixture fx;
  const json needs{{"evseId", 1},
                   {"chargingNeeds",
                    {{"requestedEnergyTransfer", "DC"},
                     {"departureTime", "2026-11-24T17:00:00Z"},
                     {"dcChargingParameters",
                      {{"evMaxCurrent", 200},
                       {"evMaxVoltage", 450},
                       {"energyAmount", 30000},
                       {"evMaxPower", 50000},
                       {"stateOfCharge", 35}}}}}};

  // No planner subscribed: 2.1 says NoChargingProfile; 2.0.1 has no such status.
  auto v21 = fx.connect("NEEDS-21", "ocpp2.1");
  REQUIRE(is_result(v21->call("BootNotification", boot_201({.model = "M21"}))));
  auto answer = v21->call("NotifyEVChargingNeeds", needs);
  REQUIRE(is_result(answer));
  CHECK(answer[2]["status"] == "NoChargingProfile");
  auto v201 = fx.connect("NEEDS-201", "ocpp2.0.1");
  REQUIRE(is_result(v201->call("BootNotification", boot_201({.model = "M201"}))));
  answer = v201->call("NotifyEVChargingNeeds", needs);
  REQUIRE(is_result(answer));
  CHECK(answer[2]["status"] == "Rejected");
  CHECK(answer[2]["statusInfo"]["reasonCode"] == "NoChargingProfile");
  CHECK(fx.query_value("SELECT count(*) FROM outbox") == "0");
  CHECK(fx.query_value("SELECT count(*) FROM station_notifications "
                       "WHERE kind = 'NotifyEVChargingNeeds'") == "2");

  // A planner subscribed: Processing, and the needs reach it durably, tied to the session.
  exec(fx, "INSERT INTO outbox_consumers VALUES ('planner', 'ev.charging_needs')");
  REQUIRE(is_result(
      v201->call("TransactionEvent", {{"eventType", "Started"},
                                      {"timestamp", "2026-11-24T10:00:00Z"},
                                      {"triggerReason", "CablePluggedIn"},
                                      {"seqNo", 0},
                                      {"transactionInfo", {{"transactionId", "NEEDS-TX"}}},
                                      {"evse", {{"id", 1}, {"connectorId", 1}}}})));
  answer = v201->call("NotifyEVChargingNeeds", needs);
  REQUIRE(is_result(answer));
  CHECK(answer[2]["status"] == "Processing");
  CHECK(fx.query_value("SELECT count(*) FROM outbox WHERE consumer = 'planner'") == "1");
  CHECK(fx.query_value("SELECT (payload->>'energy_amount_wh')::numeric = 30000 FROM outbox") ==
        "t");
  CHECK(fx.query_value("SELECT (payload->>'ev_max_power_w')::numeric = 50000 FROM outbox") == "t");
  CHECK(fx.query_value("SELECT payload->>'departure_time' FROM outbox") != "");
  CHECK(fx.query_value("SELECT (payload->>'session_id')::bigint = t.id FROM outbox, transactions t "
                       "WHERE t.transaction_uid = 'NEEDS-TX'") == "t");

  // A payload that breaks the schema is refused before anything is kept.
  auto bad = v201->call("NotifyEVChargingNeeds", {{"evseId", 1}});
  CHECK(bad[0] == 4);
  CHECK(fx.query_value("SELECT count(*) FROM outbox") == "1");
}

TEST_CASE("A node's own outbox consumers go with the node, and no other consumer does",
          "[integration][outbox][cluster]") {
  namespace outbox = chargegrid::server::store::outbox;
  chargegrid::testing::TestDatabase database;
  auto c = database.connect();
  const std::vector<std::string> consumers{
      outbox::node_consumer("learn", "node-x"), outbox::node_consumer("other", "node-x"),
      outbox::node_consumer("learn", "node_x"),   // '_' is no wildcard
      outbox::node_consumer("learn", "xnode-x"),  // a longer id with the same end
      "learn"};
  {
    pqxx::work tx(c);
    for (const auto& consumer : consumers) outbox::subscribe(tx, consumer, "session.ended");
    outbox::subscribe(tx, outbox::node_consumer("other", "node-x"), "site.changed");
    CHECK(outbox::append(tx, "session.ended", {{"session_id", 1}}) == 5);
    CHECK(outbox::append(tx, "site.changed", {{"site_ids", {1}}}) == 1);
    tx.commit();
  }
  {
    pqxx::work tx(c);
    CHECK(outbox::drop_node_consumers(tx, "node-x") == 3);
    CHECK(outbox::drop_node_consumers(tx, "node-y") == 0);
    tx.commit();
  }
  pqxx::read_transaction read(c);
  CHECK(read.exec1("SELECT string_agg(consumer, ',' ORDER BY consumer) FROM outbox_consumers")[0]
            .as<std::string>() == "learn,learn@node_x,learn@xnode-x");
  CHECK(read.exec1("SELECT string_agg(consumer, ',' ORDER BY consumer) FROM outbox")[0]
            .as<std::string>() == "learn,learn@node_x,learn@xnode-x");
}

TEST_CASE("Processed outbox events go once older than the time they are kept, pending ones never",
          "[integration][outbox]") {
  namespace outbox = chargegrid::server::store::outbox;
  auto config = test_config();
  config.outbox_keep_days = 0;  // the fixture's server prunes nothing
  ServerFixture fx(config);
  exec(fx,
       "INSERT INTO outbox (consumer, topic, payload, created_at, done_at) "
       "SELECT 'pruned', 'x', jsonb_build_object('n', n), now() - interval '30 days', "
       "CASE WHEN n <= 10 THEN now() - interval '9 days' "      // done long ago: go
       "     WHEN n <= 12 THEN now() - interval '6 days' END "  // done lately: stay
       "FROM generate_series(1, 15) AS n");                     // 13-15 pending: stay
  const auto left = [&] {
    return fx.query_value(
        "SELECT string_agg(payload->>'n', ',' ORDER BY (payload->>'n')::int) FROM outbox "
        "WHERE consumer = 'pruned'");
  };
  {
    auto c = fx.sql();
    pqxx::work tx(c);
    CHECK(outbox::prune_done(tx, std::chrono::hours(24 * 7), 4) == 4);  // a batch at most
    tx.commit();
  }
  CHECK(fx.query_value("SELECT count(*) FROM outbox WHERE consumer = 'pruned'") == "11");

  // The server's hourly job runs at its start and takes batch after batch.
  config.outbox_keep_days = 7;
  fx.server().stop();
  chargegrid::server::Server server(config, fx.database().url());
  server.start();
  CHECK(ServerFixture::eventually([&] { return left() == "11,12,13,14,15"; }));
  server.stop();

  // --outbox-keep-days 0 keeps them all.
  exec(fx, "UPDATE outbox SET done_at = now() - interval '400 days' WHERE consumer = 'pruned'");
  config.outbox_keep_days = 0;
  chargegrid::server::Server keeping(config, fx.database().url());
  keeping.start();
  std::this_thread::sleep_for(500ms);
  CHECK(left() == "11,12,13,14,15");
  keeping.stop();
}
