// The meter writer puts rows of many messages (of many stations) into one batch: a row the
// database refuses must fail only the message it came from, never its neighbours.

#include "meter_writer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "chargegrid/db/errors.hpp"
#include "chargegrid/db/pool.hpp"
#include "chargegrid/testing/database.hpp"
#include "metrics.hpp"

namespace asio = boost::asio;
using chargegrid::server::MeterRow;

namespace {

MeterRow register_row(const std::string& station, int transaction, double value, int minute) {
  MeterRow row;
  row.station_id = station;
  row.evse_id = 1;
  row.sampled_at =
      "2026-11-24T08:" + std::string(minute < 10 ? "0" : "") + std::to_string(minute) + ":00Z";
  row.measurand = "Energy.Active.Import.Register";
  row.value = value;
  row.unit = "Wh";
  row.transaction_id = transaction;
  return row;
}

}  // namespace

TEST_CASE("A row the database refuses fails only its own message", "[integration][integrity]") {
  chargegrid::testing::TestDatabase database;
  {
    auto c = database.connect();
    pqxx::work tx(c);
    for (int i = 1; i <= 3; ++i) {
      const auto id = "W" + std::to_string(i);
      tx.exec_params("INSERT INTO stations (id) VALUES ($1)", id);
      tx.exec_params(
          "INSERT INTO transactions (id, station_id, transaction_uid, protocol, meter_start_wh, "
          "import_first_wh, import_last_wh) VALUES ($1::int, $2, $3, 'ocpp1.6', 0, 0, 0)",
          i, id, std::to_string(i));
    }
    tx.commit();
  }
  chargegrid::db::ConnectionPool pool(database.url(), 1);
  REQUIRE(pool.wait_until_ready(std::chrono::seconds(10)));
  asio::io_context io;
  chargegrid::server::Metrics metrics;
  // A long delay: the three messages below share one batch.
  chargegrid::server::MeterWriter writer(io, pool, metrics, 1000, 200);

  // The middle message carries a value no register can be (validation refuses it; here it
  // stands for any row PostgreSQL turns down).
  std::vector<std::vector<MeterRow>> messages{
      {register_row("W1", 1, 500, 1), register_row("W1", 1, 900, 2)},
      {register_row("W2", 2, std::numeric_limits<double>::quiet_NaN(), 1)},
      {register_row("W3", 3, 700, 1)}};
  std::vector<std::exception_ptr> outcomes(messages.size());
  std::vector<bool> done(messages.size(), false);
  for (std::size_t i = 0; i < messages.size(); ++i)
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          try {
            co_await writer.write(std::move(messages[i]));
          } catch (...) {
            outcomes[i] = std::current_exception();
          }
          done[i] = true;
        },
        asio::detached);
  io.run_for(std::chrono::seconds(10));

  REQUIRE(done == std::vector<bool>{true, true, true});
  CHECK(outcomes[0] == nullptr);
  CHECK(outcomes[2] == nullptr);
  REQUIRE(outcomes[1] != nullptr);
  // Permanent: sending it again would fail the same way.
  CHECK(chargegrid::db::classify_failure(outcomes[1]) == chargegrid::db::FailureKind::Data);

  auto c = database.connect();
  pqxx::read_transaction tx(c);
  CHECK(tx.exec1("SELECT count(*) FROM meter_values WHERE station_id <> 'W2'")[0].as<int>() == 3);
  CHECK(tx.exec1("SELECT count(*) FROM meter_values WHERE station_id = 'W2'")[0].as<int>() == 0);
  CHECK(tx.exec1("SELECT import_last_wh FROM transactions WHERE id = 1")[0].as<double>() == 900);
  CHECK(tx.exec1("SELECT import_last_wh FROM transactions WHERE id = 3")[0].as<double>() == 700);
}
