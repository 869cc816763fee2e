#include "chargegrid/db/pool.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "chargegrid/db/embedded_postgres.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/eventually.hpp"
#include "chargegrid/testing/temp_folder.hpp"

using namespace std::chrono_literals;
using chargegrid::db::ConnectionPool;
using chargegrid::db::DatabaseUnavailable;
using chargegrid::db::PoolFull;
using chargegrid::db::PoolOptions;
using chargegrid::db::PoolStopped;
using namespace chargegrid::testing;

// libpqxx 6.4 leaks the PGresult of a query whose connection breaks under it (it asks the
// dead connection for its encoding before taking ownership of the result). The outage test
// provokes exactly that; nothing else here allocates PGresults outside libpqxx.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:PQmakeEmptyPGresult\n";
}

namespace {

std::string message_of(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Outcome of one job: its result, or the error it failed with.
struct Outcome {
  std::promise<std::string> promise;
  std::future<std::string> future = promise.get_future();
  ConnectionPool::OnError on_error() {
    return [this](std::exception_ptr error) { promise.set_exception(error); };
  }
};

}  // namespace

TEST_CASE("ConnectionPool runs jobs on its own connections and threads", "[db][pool]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  ConnectionPool pool(db.url(), 3);
  REQUIRE(pool.wait_until_ready(10s));
  CHECK(pool.healthy());

  std::mutex mutex;
  std::set<int> backends;
  std::set<std::thread::id> threads;
  std::atomic<int> done{0};
  for (int i = 0; i < 200; ++i) {
    pool.submit([&](pqxx::connection& connection) {
      pqxx::nontransaction txn(connection);
      const int backend = txn.exec1("SELECT pg_backend_pid()")[0].as<int>();
      std::lock_guard lock(mutex);
      backends.insert(backend);
      threads.insert(std::this_thread::get_id());
      ++done;
    });
  }
  REQUIRE(eventually([&] { return done.load() == 200; }));
  REQUIRE(eventually([&] { return pool.stats().jobs_total == 200; }));
  CHECK(backends.size() >= 1);
  CHECK(backends.size() <= 3);
  CHECK_FALSE(threads.contains(std::this_thread::get_id()));
  // Workers connect in the background: on a loaded machine the jobs can all be done by the
  // first one before the others are up.
  CHECK(eventually([&] { return pool.stats().connected == 3; }));
  const auto stats = pool.stats();
  CHECK(stats.size == 3);
  CHECK(stats.busy == 0);
  CHECK(stats.queued == 0);
  CHECK(stats.jobs_failed == 0);
  CHECK(stats.reconnects == 0);
}

TEST_CASE("ConnectionPool refuses jobs when its queue is full", "[db][pool]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  ConnectionPool pool(db.url(), PoolOptions{.connections = 1, .queue_capacity = 2});
  REQUIRE(pool.wait_until_ready(10s));

  std::promise<void> gate;
  auto gate_open = gate.get_future().share();
  std::atomic<int> ran{0};
  pool.submit([gate_open, &ran](pqxx::connection&) {
    gate_open.wait();
    ++ran;
  });
  REQUIRE(eventually([&] { return pool.stats().busy == 1; }));
  CHECK(pool.try_submit([&](pqxx::connection&) { ++ran; }));
  pool.submit([&](pqxx::connection&) { ++ran; });
  CHECK(pool.stats().queued == 2);
  CHECK_FALSE(pool.try_submit([&](pqxx::connection&) { ++ran; }));
  CHECK_THROWS_AS(pool.submit([&](pqxx::connection&) { ++ran; }), PoolFull);
  // The same refusal handed to the caller's error path instead of thrown.
  Outcome refused;
  pool.submit_or_fail([&](pqxx::connection&) { ++ran; }, refused.on_error());
  CHECK_THROWS_AS(refused.future.get(), PoolFull);

  gate.set_value();
  REQUIRE(eventually([&] { return pool.stats().jobs_total == 3; }));
  CHECK(ran == 3);
  CHECK(pool.try_submit([&](pqxx::connection&) { ++ran; }));  // room again
  REQUIRE(eventually([&] { return ran.load() == 4; }));

  // At shutdown it says so, not that the queue is full.
  pool.stop();
  Outcome stopped;
  pool.submit_or_fail([&](pqxx::connection&) { ++ran; }, stopped.on_error());
  CHECK_THROWS_AS(stopped.future.get(), PoolStopped);
  CHECK(ran == 4);
}

TEST_CASE("ConnectionPool reports a failing job and keeps its connection", "[db][pool]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  ConnectionPool pool(db.url(), 1);
  REQUIRE(pool.wait_until_ready(10s));

  Outcome failing;
  pool.submit(
      [](pqxx::connection& connection) {
        pqxx::work txn(connection);
        txn.exec("SELECT 1 / 0");
      },
      failing.on_error());
  CHECK_THROWS_AS(failing.future.get(), pqxx::sql_error);

  Outcome throwing;
  pool.submit([](pqxx::connection&) { throw std::runtime_error("job's own error"); },
              throwing.on_error());
  CHECK_THROWS_WITH(throwing.future.get(), "job's own error");

  Outcome fine;
  pool.submit([&fine](pqxx::connection& connection) {
    pqxx::nontransaction txn(connection);
    fine.promise.set_value(txn.exec1("SELECT 'ok'")[0].as<std::string>());
  });
  CHECK(fine.future.get() == "ok");
  REQUIRE(eventually([&] { return pool.stats().jobs_total == 3; }));
  const auto stats = pool.stats();
  CHECK(stats.jobs_failed == 2);
  CHECK(stats.reconnects == 0);
  CHECK(stats.connected == 1);

  CHECK_THROWS_AS(pool.submit(nullptr), std::invalid_argument);
}

TEST_CASE("ConnectionPool survives the database going away and coming back", "[db][pool]") {
  chargegrid::testing::TempFolder folder;
  chargegrid::db::EmbeddedPostgresOptions options;
  options.data_dir = folder.path() / "pg";
  options.durable = false;
  chargegrid::db::EmbeddedPostgres pg(options);
  pg.start();

  ConnectionPool pool(pg.connection_url(), PoolOptions{.connections = 2,
                                                       .reconnect_initial = 50ms,
                                                       .reconnect_max = 400ms,
                                                       .idle_check = 100ms});
  REQUIRE(pool.wait_until_ready(10s));

  // A query in flight when the server shuts down gets the error.
  Outcome in_flight;
  pool.submit(
      [&in_flight](pqxx::connection& connection) {
        pqxx::nontransaction txn(connection);
        txn.exec("SELECT pg_sleep(60)");
        in_flight.promise.set_value("finished");
      },
      in_flight.on_error());
  REQUIRE(eventually([&] { return pool.stats().busy == 1; }));
  std::this_thread::sleep_for(100ms);  // let the query reach the server
  pg.stop();
  REQUIRE(in_flight.future.wait_for(10s) == std::future_status::ready);
  CHECK_THROWS(in_flight.future.get());

  REQUIRE(eventually([&] { return !pool.healthy(); }));
  CHECK(pool.stats().connected == 0);

  // During the outage jobs fail at once with a clear error.
  Outcome during;
  pool.submit([&during](pqxx::connection&) { during.promise.set_value("ran"); }, during.on_error());
  REQUIRE(during.future.wait_for(10s) == std::future_status::ready);
  try {
    during.future.get();
    FAIL("a job ran while the database was down");
  } catch (const DatabaseUnavailable& e) {
    CHECK_THAT(e.what(), Catch::Contains("database unavailable"));
  }
  CHECK_FALSE(pool.wait_until_ready(200ms));

  pg.start();
  REQUIRE(pool.wait_until_ready(10s));
  Outcome after;
  pool.submit(
      [&after](pqxx::connection& connection) {
        pqxx::nontransaction txn(connection);
        after.promise.set_value(txn.exec1("SELECT 'back'")[0].as<std::string>());
      },
      after.on_error());
  CHECK(after.future.get() == "back");
  // The job's answer comes before the worker counts it as finished.
  REQUIRE(eventually([&] {
    const auto now = pool.stats();
    return now.connected == 2 && now.jobs_total == 3;
  }));
  const auto stats = pool.stats();
  CHECK(stats.reconnects == 2);
  CHECK(stats.jobs_failed == 2);
  CHECK(stats.jobs_total == 3);
}

TEST_CASE("ConnectionPool fails jobs clearly when the database never answers", "[db][pool]") {
  ConnectionPool pool("postgresql:///nothing?host=/nonexistent/socket/dir&port=5432",
                      PoolOptions{.connections = 2, .reconnect_initial = 20ms});
  CHECK_FALSE(pool.wait_until_ready(300ms));
  CHECK_FALSE(pool.healthy());
  Outcome outcome;
  pool.submit([&outcome](pqxx::connection&) { outcome.promise.set_value("ran"); },
              outcome.on_error());
  REQUIRE(outcome.future.wait_for(10s) == std::future_status::ready);
  try {
    outcome.future.get();
    FAIL("job ran without a database");
  } catch (const DatabaseUnavailable& e) {
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent/socket/dir"));
  }
  CHECK_THROWS_AS(ConnectionPool("postgresql:///x", 0), std::invalid_argument);
}

TEST_CASE("ConnectionPool stop finishes queued jobs, or drops them at the deadline", "[db][pool]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});

  SECTION("finishes queued jobs") {
    ConnectionPool pool(db.url(), 2);
    REQUIRE(pool.wait_until_ready(10s));
    std::atomic<int> ran{0};
    for (int i = 0; i < 50; ++i)
      pool.submit([&](pqxx::connection& connection) {
        pqxx::nontransaction(connection).exec("SELECT 1");
        ++ran;
      });
    pool.stop();
    CHECK(ran == 50);
    CHECK(pool.stats().connected == 0);
    CHECK_THROWS_AS(pool.submit([](pqxx::connection&) {}), PoolStopped);
    CHECK_FALSE(pool.try_submit([](pqxx::connection&) {}));
    pool.stop();  // idempotent
  }

  SECTION("drops what is still queued at the deadline") {
    ConnectionPool pool(db.url(), 1);
    REQUIRE(pool.wait_until_ready(10s));
    std::promise<void> gate;
    auto gate_open = gate.get_future().share();
    pool.submit([gate_open](pqxx::connection&) { gate_open.wait(); });
    REQUIRE(eventually([&] { return pool.stats().busy == 1; }));
    std::atomic<int> stopped_errors{0}, ran{0};
    for (int i = 0; i < 3; ++i)
      pool.submit([&](pqxx::connection&) { ++ran; },
                  [&](std::exception_ptr error) {
                    if (message_of(error).find("stopped") != std::string::npos) ++stopped_errors;
                  });
    std::thread opener([&] {
      std::this_thread::sleep_for(300ms);
      gate.set_value();
    });
    const auto started = std::chrono::steady_clock::now();
    pool.stop(100ms);
    opener.join();
    CHECK(std::chrono::steady_clock::now() - started >= 250ms);  // waited for the running job
    CHECK(stopped_errors == 3);
    CHECK(ran == 0);
    CHECK(pool.stats().jobs_failed == 3);
  }
}

TEST_CASE("ConnectionPool applies its session settings to every connection", "[db][pool]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  PoolOptions options;
  options.connections = 2;
  // One PostgreSQL refuses: the connection works without it, and the others still apply.
  options.session_settings = {
      {"not_a_setting", "1"}, {"jit", "off"}, {"no_such.setting_of_ours", "x"}};
  ConnectionPool pool(db.url(), options);
  REQUIRE(pool.wait_until_ready(10s));
  std::mutex mutex;
  std::set<std::string> seen;
  std::atomic<int> done{0};
  for (int i = 0; i < 20; ++i) {
    pool.submit([&](pqxx::connection& connection) {
      pqxx::nontransaction txn(connection);
      const auto row = txn.exec1(
          "SELECT current_setting('jit'), "
          "current_setting('no_such.setting_of_ours', true)");
      std::lock_guard lock(mutex);
      seen.insert(row[0].as<std::string>() + " " + row[1].as<std::string>());
      ++done;
    });
  }
  REQUIRE(eventually([&] { return done.load() == 20; }));
  CHECK(seen == std::set<std::string>{"off x"});
}
