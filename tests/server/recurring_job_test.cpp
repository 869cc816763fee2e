// RecurringJob's lifetime against a real pool: its destructor returns only after a round
// under way has ended, so a round never runs on a destroyed owner.

#include "recurring_job.hpp"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <thread>

#include "chargegrid/db/pool.hpp"
#include "chargegrid/testing/database.hpp"

TEST_CASE("A recurring job destroyed during its round waits for the round to end",
          "[server][integration][recurring_job]") {
  chargegrid::testing::TestDatabase database;
  chargegrid::db::ConnectionPool pool(database.url(), 1);
  REQUIRE(pool.wait_until_ready(std::chrono::seconds(10)));
  boost::asio::io_context io;
  std::atomic<bool> started{false}, ended{false};
  auto job = std::make_unique<chargegrid::server::RecurringJob>(
      io, pool, std::chrono::hours(1), [&](pqxx::connection_base&) {
        started = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        ended = true;
        return false;
      });
  job->start();
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  job.reset();
  CHECK(ended);
}
