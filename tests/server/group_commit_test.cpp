// Status changes, boots, connections and session messages of many stations share one
// transaction per batch (StateWriters): each caller resumes once its item is committed, changes of
// one connector keep their order, and an item the database refuses fails only its own caller.

#include "group_commit.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "chargegrid/db/errors.hpp"
#include "chargegrid/db/pool.hpp"
#include "cluster/messages.hpp"
#include "metrics.hpp"
#include "server_fixture.hpp"
#include "state_writers.hpp"

namespace asio = boost::asio;
namespace http = boost::beast::http;
using chargegrid::server::BootWrite;
using chargegrid::server::ConnectWrite;
using chargegrid::server::Metrics;
using chargegrid::server::StateWriters;
using chargegrid::server::store::connectors::StatusChange;
using chargegrid::testing::error_code;
using chargegrid::testing::is_result;
using chargegrid::testing::ServerFixture;

namespace {

// The count of a histogram in Prometheus text ("<name>_count N").
long histogram_count(const std::string& text, const std::string& name) {
  const auto key = name + "_count ";
  const auto at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::stol(text.substr(at + key.size()));
}

// The server's /metrics page.
std::string metrics_text(ServerFixture& fx) {
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                fx.server().http_port()));
  http::request<http::string_body> request{http::verb::get, "/metrics", 11};
  request.set(http::field::host, "localhost");
  http::write(stream, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return response.body();
}

StatusChange change(const std::string& station, int connector, const std::string& status,
                    const std::string& at) {
  StatusChange c;
  c.station_id = station;
  c.evse_id = connector;
  c.connector_id = 1;
  c.status = status;
  c.error_code = "NoError";
  c.reported_at = at;
  return c;
}

// Runs `statements` in one committed transaction.
void execute(const chargegrid::testing::TestDatabase& database,
             std::initializer_list<const char*> statements) {
  auto c = database.connect();
  pqxx::work tx(c);
  for (const auto* statement : statements) tx.exec(statement);
  tx.commit();
}

void add_stations(const chargegrid::testing::TestDatabase& database,
                  const std::vector<std::string>& ids, const std::string& registration) {
  auto c = database.connect();
  pqxx::work tx(c);
  for (const auto& id : ids)
    tx.exec_params("INSERT INTO stations (id, registration) VALUES ($1, $2)", id, registration);
  tx.commit();
}

// Writes every item through `writer` at once (they share a batch: the delay is long) and
// runs the io_context until all callers resumed; the error of each (null: committed).
template <class Writer, class Item, class Result>
std::vector<std::exception_ptr> write_all(asio::io_context& io, Writer& writer,
                                          std::vector<Item> items, std::vector<Result>& results) {
  std::vector<std::exception_ptr> errors(items.size());
  results.assign(items.size(), Result{});
  io.restart();
  std::size_t done = 0;
  for (std::size_t i = 0; i < items.size(); ++i)
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          try {
            auto item = std::move(items[i]);
            results[i] = co_await writer.write(std::move(item));
          } catch (...) {
            errors[i] = std::current_exception();
          }
          ++done;
        },
        asio::detached);
  auto guard = asio::make_work_guard(io);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (done < items.size() && std::chrono::steady_clock::now() < deadline)
    io.run_for(std::chrono::milliseconds(20));
  REQUIRE(done == items.size());
  return errors;
}

std::vector<std::string> history(pqxx::connection& c, const std::string& station, int evse) {
  pqxx::read_transaction tx(c);
  std::vector<std::string> out;
  for (const auto& row : tx.exec_params(
           "SELECT status FROM status_history WHERE station_id = $1 AND evse_id = $2 ORDER BY id",
           station, evse))
    out.push_back(row[0].as<std::string>());
  return out;
}

std::string live_status(pqxx::connection& c, const std::string& station, int evse) {
  pqxx::read_transaction tx(c);
  auto rows = tx.exec_params(
      "SELECT status FROM connector_status WHERE station_id = $1 AND evse_id = $2 AND "
      "connector_id = 1",
      station, evse);
  return rows.empty() ? std::string() : rows[0][0].as<std::string>();
}

}  // namespace

TEST_CASE("Several changes of one connector in one batch: the live state as one by one",
          "[integration][group-commit]") {
  chargegrid::testing::TestDatabase database;
  add_stations(database, {"G1", "G2"}, "accepted");
  chargegrid::db::ConnectionPool pool(database.url(), 1);
  REQUIRE(pool.wait_until_ready(std::chrono::seconds(10)));
  asio::io_context io;
  Metrics metrics;
  StateWriters writers(io, pool, metrics, 1000, 300);

  // G1 connector 1: a later time replaces, an equal time replaces (the later report wins), an
  // earlier one (sent late) stays in the history only. Connector 2 and G2 change once each.
  std::vector<StatusChange> changes{change("G1", 1, "Available", "2026-12-06T10:00:00Z"),
                                    change("G1", 1, "Preparing", "2026-12-06T10:00:05Z"),
                                    change("G2", 1, "Faulted", "2026-12-06T10:00:00Z"),
                                    change("G1", 1, "Charging", "2026-12-06T10:00:05+00:00"),
                                    change("G1", 2, "Unavailable", "2026-12-06T10:00:00Z"),
                                    change("G1", 1, "Finishing", "2026-12-06T09:59:00Z")};
  std::vector<bool> committed;
  auto errors = write_all(io, writers.statuses, changes, committed);
  for (const auto& error : errors) CHECK(error == nullptr);
  CHECK(committed == std::vector<bool>(changes.size(), true));
  CHECK(histogram_count(metrics.render(), "chargegrid_db_status_batch_items") == 1);

  auto c = database.connect();
  CHECK(history(c, "G1", 1) ==
        std::vector<std::string>{"Available", "Preparing", "Charging", "Finishing"});
  CHECK(live_status(c, "G1", 1) == "Charging");
  CHECK(live_status(c, "G1", 2) == "Unavailable");
  CHECK(live_status(c, "G2", 1) == "Faulted");

  // A second batch older than the state held: history only.
  std::vector<StatusChange> late{change("G1", 1, "Available", "2026-12-06T09:00:00Z"),
                                 change("G1", 1, "Reserved", "2026-12-06T09:30:00Z")};
  errors = write_all(io, writers.statuses, late, committed);
  for (const auto& error : errors) CHECK(error == nullptr);
  CHECK(live_status(c, "G1", 1) == "Charging");
  CHECK(history(c, "G1", 1).size() == 6);
}

TEST_CASE("A status change the database refuses fails only its own caller",
          "[integration][group-commit][integrity]") {
  chargegrid::testing::TestDatabase database;
  add_stations(database, {"B1", "B2"}, "accepted");
  chargegrid::db::ConnectionPool pool(database.url(), 1);
  REQUIRE(pool.wait_until_ready(std::chrono::seconds(10)));
  asio::io_context io;
  Metrics metrics;
  StateWriters writers(io, pool, metrics, 1000, 300);

  // "GHOST" has no station row (the foreign key refuses it); B1's second change names a
  // day that does not exist.
  std::vector<StatusChange> changes{change("B1", 1, "Available", "2026-12-06T10:00:00Z"),
                                    change("GHOST", 1, "Available", "2026-12-06T10:00:00Z"),
                                    change("B2", 1, "Available", "2026-12-06T10:00:00Z"),
                                    change("B1", 1, "Charging", "2026-02-30T10:00:00Z"),
                                    change("B2", 2, "Occupied", "2026-12-06T10:00:01Z")};
  std::vector<bool> committed;
  const auto errors = write_all(io, writers.statuses, changes, committed);
  CHECK(errors[0] == nullptr);
  CHECK(errors[2] == nullptr);
  CHECK(errors[4] == nullptr);
  REQUIRE(errors[1] != nullptr);
  REQUIRE(errors[3] != nullptr);
  // Permanent: the station is told so, not to send it again.
  CHECK(chargegrid::db::classify_failure(errors[1]) == chargegrid::db::FailureKind::Data);
  CHECK(chargegrid::db::classify_failure(errors[3]) == chargegrid::db::FailureKind::Data);
  CHECK(committed == std::vector<bool>{true, false, true, false, true});

  auto c = database.connect();
  CHECK(history(c, "B1", 1) == std::vector<std::string>{"Available"});
  CHECK(history(c, "B2", 1) == std::vector<std::string>{"Available"});
  CHECK(live_status(c, "B2", 2) == "Occupied");
  pqxx::read_transaction tx(c);
  CHECK(tx.exec1("SELECT count(*) FROM status_history WHERE station_id = 'GHOST'")[0].as<int>() ==
        0);
}

TEST_CASE("Boots, connections and credentials of several stations in one batch, each its own",
          "[integration][group-commit]") {
  chargegrid::testing::TestDatabase database;
  add_stations(database, {"KNOWN-A"}, "accepted");
  add_stations(database, {"KNOWN-R"}, "rejected");
  chargegrid::db::ConnectionPool pool(database.url(), 1);
  REQUIRE(pool.wait_until_ready(std::chrono::seconds(10)));
  asio::io_context io;
  Metrics metrics;
  StateWriters writers(io, pool, metrics, 1000, 300);

  const auto boot = [](const std::string& id, const std::string& initial, bool register_unknown) {
    BootWrite b;
    b.station_id = id;
    b.boot.reason = "PowerUp";
    b.boot.vendor = "V";
    b.boot.model = "M-" + id;
    b.initial_registration = initial;
    b.register_unknown = register_unknown;
    return b;
  };
  // An operator's registration stays; an unknown station gets the policy's (or no row under
  // reject); the same new station booting twice in one batch is registered once.
  std::vector<BootWrite> boots{boot("KNOWN-A", "pending", true), boot("KNOWN-R", "accepted", true),
                               boot("NEW-P", "pending", true), boot("NEW-X", "rejected", false),
                               boot("NEW-P", "accepted", true)};
  std::vector<chargegrid::server::BootRecorded> recorded;
  auto errors = write_all(io, writers.boots, boots, recorded);
  for (const auto& error : errors) CHECK(error == nullptr);
  std::vector<std::optional<std::string>> registrations;
  for (const auto& r : recorded) {
    registrations.push_back(r.registration);
    CHECK(r.lease_epoch == 0);
  }
  CHECK(registrations == std::vector<std::optional<std::string>>{"accepted", "rejected", "pending",
                                                                 std::nullopt, "pending"});
  CHECK(histogram_count(metrics.render(), "chargegrid_db_boot_batch_items") == 1);
  {
    auto c = database.connect();
    pqxx::read_transaction tx(c);
    CHECK(tx.exec1("SELECT count(*) FROM stations WHERE id = 'NEW-X'")[0].as<int>() == 0);
    CHECK(tx.exec1("SELECT model FROM stations WHERE id = 'KNOWN-A'")[0].as<std::string>() ==
          "M-KNOWN-A");
    CHECK(tx.exec1("SELECT registration FROM stations WHERE id = 'NEW-P'")[0].as<std::string>() ==
          "pending");
  }

  // One statement for the batch: a station that connects twice in it (a quick reconnect) gets
  // its row's answer both times and keeps the protocol of its last connection.
  using chargegrid::protocols::OcppVersion;
  std::vector<ConnectWrite> connects{{"KNOWN-R", OcppVersion::v16, ""},
                                     {"KNOWN-A", OcppVersion::v16, ""},
                                     {"NOBODY", OcppVersion::v16, ""},
                                     {"KNOWN-A", OcppVersion::v201, ""}};
  std::vector<chargegrid::server::store::stations::Connected> known;
  errors = write_all(io, writers.connects, connects, known);
  for (const auto& error : errors) CHECK(error == nullptr);
  REQUIRE(known.size() == 4);
  CHECK(known[0].found);
  CHECK(known[0].registration == "rejected");
  CHECK(known[1].found);
  CHECK(known[1].registration == "accepted");
  CHECK_FALSE(known[2].found);
  CHECK(known[3].found);
  CHECK(known[3].registration == "accepted");
  CHECK(histogram_count(metrics.render(), "chargegrid_db_connect_batch_items") == 1);
  {
    auto c = database.connect();
    pqxx::read_transaction tx(c);
    CHECK(tx.exec1("SELECT protocol FROM stations WHERE id = 'KNOWN-A'")[0].as<std::string>() ==
          "ocpp2.0.1");
  }

  std::vector<std::string> ids{"NOBODY", "KNOWN-R", "KNOWN-A"};
  std::vector<std::optional<chargegrid::server::security::StationSecurity>> credentials;
  errors = write_all(io, writers.credentials, ids, credentials);
  for (const auto& error : errors) CHECK(error == nullptr);
  CHECK_FALSE(credentials[0]);
  REQUIRE(credentials[1]);
  REQUIRE(credentials[2]);
  CHECK(credentials[2]->password_hash.empty());
}

TEST_CASE("Cluster mode: connections and boots take their stations' leases in one batch",
          "[integration][group-commit][cluster]") {
  chargegrid::testing::TestDatabase database;
  add_stations(database, {"HELD-ELSEWHERE", "FREE", "TWICE"}, "accepted");
  execute(database, {"UPDATE stations SET held_by = 'node-b', lease_epoch = 7 "
                     "WHERE id = 'HELD-ELSEWHERE'",
                     "UPDATE stations SET lease_epoch = 3 WHERE id = 'TWICE'"});
  chargegrid::db::ConnectionPool pool(database.url(), 1);
  REQUIRE(pool.wait_until_ready(std::chrono::seconds(10)));
  // node-b listens on its channel: it must be told to let its station go.
  auto listener = database.connect();
  std::vector<std::string> told;
  struct Receiver : pqxx::notification_receiver {
    Receiver(pqxx::connection& c, const std::string& channel, std::vector<std::string>& told)
        : pqxx::notification_receiver(c, channel), told_(told) {}
    void operator()(const std::string& payload, int) override { told_.push_back(payload); }
    std::vector<std::string>& told_;
  } receiver(listener, chargegrid::server::cluster::channel("node-b"), told);

  asio::io_context io;
  Metrics metrics;
  StateWriters writers(io, pool, metrics, 1000, 300);
  using chargegrid::protocols::OcppVersion;
  // TWICE reconnects within the batch: each connection its own epoch, the later one newer.
  std::vector<ConnectWrite> connects{{"TWICE", OcppVersion::v16, "node-a"},
                                     {"HELD-ELSEWHERE", OcppVersion::v201, "node-a"},
                                     {"FREE", OcppVersion::v16, "node-a"},
                                     {"NOBODY", OcppVersion::v16, "node-a"},
                                     {"TWICE", OcppVersion::v201, "node-a"}};
  std::vector<chargegrid::server::store::stations::Connected> known;
  auto errors = write_all(io, writers.connects, connects, known);
  for (const auto& error : errors) CHECK(error == nullptr);
  REQUIRE(known.size() == 5);
  CHECK(known[0].lease_epoch == 4);
  CHECK(known[4].lease_epoch == 5);
  CHECK(known[1].lease_epoch == 8);
  CHECK(known[2].lease_epoch == 1);
  CHECK_FALSE(known[3].found);
  CHECK(known[3].lease_epoch == 0);
  CHECK(histogram_count(metrics.render(), "chargegrid_db_connect_batch_items") == 1);
  {
    auto c = database.connect();
    pqxx::read_transaction tx(c);
    CHECK(
        tx.exec1("SELECT held_by FROM stations WHERE id = 'HELD-ELSEWHERE'")[0].as<std::string>() ==
        "node-a");
    CHECK(tx.exec1("SELECT lease_epoch FROM stations WHERE id = 'TWICE'")[0].as<int>() == 5);
    CHECK(tx.exec1("SELECT protocol FROM stations WHERE id = 'TWICE'")[0].as<std::string>() ==
          "ocpp2.0.1");
  }
  // The earlier of TWICE's connections ending leaves the later one's lease.
  {
    auto c = database.connect();
    pqxx::work tx(c);
    const chargegrid::server::store::stations::LeaseEnd earlier{"TWICE", "node-a", 4};
    chargegrid::server::store::stations::end_leases(tx, {&earlier, 1});
    tx.commit();
    pqxx::read_transaction read(c);
    CHECK(read.exec1("SELECT held_by FROM stations WHERE id = 'TWICE'")[0].as<std::string>() ==
          "node-a");
  }
  for (int i = 0; i < 50 && told.empty(); ++i) listener.await_notification(0, 100000);
  REQUIRE(told.size() == 1);
  CHECK(told[0].find("HELD-ELSEWHERE") != std::string::npos);

  // A boot of a station unknown when it connected takes the lease with the row it makes; one
  // that boots twice in the batch gets an epoch per boot; a row another node holds is taken
  // over and that node told.
  BootWrite boot;
  boot.station_id = "NEW-IN-CLUSTER";
  boot.boot.reason = "PowerUp";
  boot.initial_registration = "accepted";
  boot.lease_node = "node-a";
  BootWrite known_boot = boot;
  known_boot.station_id = "FREE";
  known_boot.lease_node.clear();
  BootWrite again = boot;
  again.boot.model = "second boot";
  add_stations(database, {"BOOTS-HELD"}, "pending");
  execute(database, {"UPDATE stations SET held_by = 'node-b', lease_epoch = 2 "
                     "WHERE id = 'BOOTS-HELD'"});
  BootWrite held = boot;
  held.station_id = "BOOTS-HELD";
  told.clear();
  std::vector<chargegrid::server::BootRecorded> recorded;
  errors =
      write_all(io, writers.boots, std::vector<BootWrite>{boot, known_boot, held, again}, recorded);
  for (const auto& error : errors) CHECK(error == nullptr);
  REQUIRE(recorded.size() == 4);
  CHECK(recorded[0].registration == "accepted");
  CHECK(recorded[0].lease_epoch == 1);
  CHECK(recorded[3].registration == "accepted");
  CHECK(recorded[3].lease_epoch == 2);
  CHECK(recorded[1].registration == "accepted");
  CHECK(recorded[1].lease_epoch == 0);
  CHECK(recorded[2].registration == "pending");
  CHECK(recorded[2].lease_epoch == 3);
  for (int i = 0; i < 50 && told.empty(); ++i) listener.await_notification(0, 100000);
  REQUIRE(told.size() == 1);
  CHECK(told[0].find("BOOTS-HELD") != std::string::npos);
  auto c = database.connect();
  pqxx::read_transaction tx(c);
  const auto row =
      tx.exec1("SELECT held_by, lease_epoch, model FROM stations WHERE id = 'NEW-IN-CLUSTER'");
  CHECK(row[0].as<std::string>() == "node-a");
  CHECK(row[1].as<int>() == 2);
  CHECK(row[2].as<std::string>() == "second boot");
  CHECK(tx.exec1("SELECT held_by FROM stations WHERE id = 'BOOTS-HELD'")[0].as<std::string>() ==
        "node-a");
}

TEST_CASE("Cluster mode: ended connections give their leases back in one batch",
          "[integration][group-commit][cluster]") {
  chargegrid::testing::TestDatabase database;
  add_stations(database, {"TWICE", "STALE", "GONE", "SOON"}, "accepted");
  execute(database,
          {"UPDATE stations SET held_by = 'node-a', connected_since = now(), lease_epoch = 5",
           "UPDATE stations SET held_by = 'node-b' WHERE id = 'STALE'"});
  chargegrid::db::ConnectionPool pool(database.url(), 1);
  REQUIRE(pool.wait_until_ready(std::chrono::seconds(10)));
  asio::io_context io;
  Metrics metrics;
  StateWriters writers(io, pool, metrics, 1000, 300);
  using chargegrid::server::store::stations::LeaseEnd;
  // TWICE's two connections end in one batch (the later one's epoch ends the lease); STALE
  // was taken over by node-b meanwhile and stays its; GONE's lease is newer than the end.
  std::vector<LeaseEnd> ends{{"TWICE", "node-a", 4},
                             {"STALE", "node-a", 5},
                             {"TWICE", "node-a", 5},
                             {"GONE", "node-a", 4}};
  std::vector<bool> done;
  const auto errors = write_all(io, writers.lease_ends, ends, done);
  for (const auto& error : errors) CHECK(error == nullptr);
  CHECK(histogram_count(metrics.render(), "chargegrid_db_lease_end_batch_items") == 1);
  const auto holder = [&](const std::string& id) {
    auto c = database.connect();
    pqxx::read_transaction tx(c);
    const auto row = tx.exec_params1(
        "SELECT coalesce(held_by, '-'), connected_since IS NULL FROM stations "
        "WHERE id = $1",
        id);
    return row[0].as<std::string>() + (row[1].as<bool>() ? " offline" : " online");
  };
  CHECK(holder("TWICE") == "- offline");
  CHECK(holder("STALE") == "node-b online");
  CHECK(holder("GONE") == "node-a online");

  // submit(): nobody waits; the batch goes all the same.
  writers.lease_ends.submit({"SOON", "node-a", 5});
  for (int i = 0; i < 100 && holder("SOON") != "- offline"; ++i) {
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
  }
  CHECK(holder("SOON") == "- offline");
}

TEST_CASE("A batch rolled back in a deadlock is written again item by item",
          "[integration][group-commit]") {
  chargegrid::testing::TestDatabase database;
  chargegrid::db::ConnectionPool pool(database.url(), 1);
  REQUIRE(pool.wait_until_ready(std::chrono::seconds(10)));
  asio::io_context io;
  std::atomic<int> batches{0};
  // Stands for a batch PostgreSQL chose as a deadlock's victim: items alone go through.
  chargegrid::server::GroupCommit<int, int> writer(
      io, pool, {"test", 100, 300, [&](std::size_t) { ++batches; }},
      [](chargegrid::server::store::Tx&, std::span<const int> items) {
        if (items.size() > 1) throw pqxx::deadlock_detected("deadlock detected");
        return std::vector<int>{items[0] * 10};
      });
  std::vector<int> results;
  const auto errors = write_all(io, writer, std::vector<int>{1, 2, 3}, results);
  for (const auto& error : errors) CHECK(error == nullptr);
  CHECK(results == std::vector<int>{10, 20, 30});
  CHECK(batches == 1);
}

TEST_CASE("StatusNotifications of many stations at once are answered once committed, in batches",
          "[integration][group-commit]") {
  auto config = chargegrid::testing::test_config();
  config.write_batch_delay_ms = 20;
  ServerFixture fx(config);
  constexpr int kStations = 8;
  constexpr int kConnectors = 3;
  std::vector<std::string> failures(kStations);
  std::vector<std::thread> threads;
  for (int s = 0; s < kStations; ++s)
    threads.emplace_back([&, s] {
      const auto id = "GC" + std::to_string(s);
      try {
        auto station = fx.connect(id, "ocpp1.6");
        if (!is_result(station->call("BootNotification",
                                     {{"chargePointVendor", "V"}, {"chargePointModel", "M"}})))
          throw std::runtime_error("boot refused");
        auto c = fx.sql();
        for (int connector = 1; connector <= kConnectors; ++connector) {
          // Four changes of one connector sent at once, answered in order, stored in order.
          const std::vector<std::string> statuses{"Available", "Preparing", "Charging",
                                                  "Finishing"};
          for (std::size_t k = 0; k < statuses.size(); ++k)
            station->send_text(
                nlohmann::json::array({2,
                                       "s" + std::to_string(connector) + "-" + std::to_string(k),
                                       "StatusNotification",
                                       {{"connectorId", connector},
                                        {"errorCode", "NoError"},
                                        {"status", statuses[k]},
                                        {"timestamp", "2026-12-06T10:00:00Z"}}})
                    .dump());
          for (std::size_t k = 0; k < statuses.size(); ++k) {
            const auto frame = station->receive(std::chrono::seconds(20));
            if (!frame) throw std::runtime_error("no answer");
            const auto answer = nlohmann::json::parse(*frame);
            if (!is_result(answer)) throw std::runtime_error("refused: " + *frame);
            // Answered means committed: the change is there already.
            pqxx::read_transaction tx(c);
            const auto stored =
                tx.exec_params1(
                      "SELECT count(*) FROM status_history WHERE station_id = $1 AND evse_id = $2",
                      id, connector)[0]
                    .as<std::size_t>();
            if (stored < k + 1) throw std::runtime_error("answered before it was stored");
          }
          if (history(c, id, connector) != statuses)
            throw std::runtime_error("history out of order");
          if (live_status(c, id, connector) != "Finishing")
            throw std::runtime_error("live state is not the last change");
        }
      } catch (const std::exception& e) {
        failures[s] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& failure : failures) CHECK(failure.empty());

  // Fewer transactions than messages.
  const auto metrics = metrics_text(fx);
  const auto batches = histogram_count(metrics, "chargegrid_db_status_batch_items");
  INFO("status batches: " << batches);
  CHECK(batches > 0);
  CHECK(batches < kStations * kConnectors * 4);
  CHECK(histogram_count(metrics, "chargegrid_db_boot_batch_items") > 0);
}

TEST_CASE("A StatusNotification the database refuses gets a CALLERROR, its neighbours are stored",
          "[integration][group-commit][integrity]") {
  auto config = chargegrid::testing::test_config();
  config.write_batch_delay_ms = 50;
  ServerFixture fx(config);
  auto good = fx.connect("GOOD", "ocpp1.6");
  REQUIRE(is_result(
      good->call("BootNotification", {{"chargePointVendor", "V"}, {"chargePointModel", "M"}})));
  // Booted, then deleted by an operator while still connected: its row is gone, so its
  // status breaks the foreign key.
  auto ghost = fx.connect("DELETED", "ocpp1.6");
  REQUIRE(is_result(
      ghost->call("BootNotification", {{"chargePointVendor", "V"}, {"chargePointModel", "M"}})));
  {
    auto c = fx.sql();
    pqxx::work tx(c);
    tx.exec("DELETE FROM stations WHERE id = 'DELETED'");
    tx.commit();
  }
  const auto status = [](const std::string& id) {
    return nlohmann::json::array({2,
                                  id,
                                  "StatusNotification",
                                  {{"connectorId", 1},
                                   {"errorCode", "NoError"},
                                   {"status", "Available"},
                                   {"timestamp", "2026-12-06T10:00:00Z"}}})
        .dump();
  };
  good->send_text(status("g1"));
  ghost->send_text(status("x1"));
  const auto good_answer = good->receive(std::chrono::seconds(10));
  const auto ghost_answer = ghost->receive(std::chrono::seconds(10));
  REQUIRE(good_answer);
  REQUIRE(ghost_answer);
  CHECK(is_result(nlohmann::json::parse(*good_answer)));
  // Permanent, not "send it again later".
  const auto refused = error_code(nlohmann::json::parse(*ghost_answer));
  CHECK_FALSE(refused.empty());
  CHECK(refused != "InternalError");
  CHECK(fx.query_value("SELECT count(*) FROM status_history WHERE station_id = 'GOOD'") == "1");
}

TEST_CASE("Authorize and session messages of many stations share batches, each decided as alone",
          "[integration][group-commit][integrity]") {
  auto config = chargegrid::testing::test_config();
  config.write_batch_delay_ms = 50;  // the stations' messages meet in batches
  config.accept_unknown_tokens = true;
  ServerFixture fx(config);
  constexpr int kStations = 6;
  std::vector<std::unique_ptr<chargegrid::sim::OcppTestClient>> stations;
  for (int s = 0; s < kStations; ++s) {
    stations.push_back(fx.connect("SW" + std::to_string(s), "ocpp1.6"));
    REQUIRE(is_result(stations.back()->call(
        "BootNotification", {{"chargePointVendor", "V"}, {"chargePointModel", "M"}})));
  }
  const auto frame = [](const std::string& id, const std::string& action,
                        const nlohmann::json& payload) {
    return nlohmann::json::array({2, id, action, payload}).dump();
  };
  const auto start = [](int s) {
    return nlohmann::json{{"connectorId", 1},
                          {"idTag", "TAG" + std::to_string(s)},
                          {"meterStart", 1000 * s},
                          {"timestamp", "2026-12-06T10:00:0" + std::to_string(s) + "Z"}};
  };
  // Every station at once: Authorize, then the same StartTransaction twice (a resend under a
  // new message id).
  for (int s = 0; s < kStations; ++s) {
    auto& station = *stations[s];
    station.send_text(frame("a", "Authorize", {{"idTag", "TAG" + std::to_string(s)}}));
    station.send_text(frame("s1", "StartTransaction", start(s)));
    station.send_text(frame("s2", "StartTransaction", start(s)));
  }
  std::vector<long long> ids;
  for (int s = 0; s < kStations; ++s) {
    std::map<std::string, nlohmann::json> answers;
    for (int k = 0; k < 3; ++k) {
      const auto text = stations[s]->receive(std::chrono::seconds(20));
      REQUIRE(text);
      const auto answer = nlohmann::json::parse(*text);
      REQUIRE(is_result(answer));
      answers[answer[1].get<std::string>()] = answer[2];
    }
    CHECK(answers["a"]["idTagInfo"]["status"] == "Accepted");
    const auto first = answers["s1"]["transactionId"].get<long long>();
    CHECK(answers["s2"]["transactionId"].get<long long>() == first);  // the same session
    ids.push_back(first);
  }
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());  // one session per station
  CHECK(fx.query_value("SELECT count(*) FROM transactions") == std::to_string(kStations));

  // A stop naming another station's transaction ends nothing of that station's; its own stop
  // sent twice at once ends its session once.
  const auto stop = [](long long id) {
    return nlohmann::json{{"transactionId", id},
                          {"meterStop", 9000},
                          {"timestamp", "2026-12-06T11:00:00Z"},
                          {"reason", "Local"}};
  };
  const auto own =
      std::stoll(fx.query_value("SELECT id FROM transactions WHERE station_id = 'SW0'"));
  const auto foreign =
      std::stoll(fx.query_value("SELECT id FROM transactions WHERE station_id = 'SW1'"));
  stations[1]->send_text(frame("x", "StopTransaction", stop(own)));
  stations[0]->send_text(frame("t1", "StopTransaction", stop(own)));
  stations[0]->send_text(frame("t2", "StopTransaction", stop(own)));
  for (int k = 0; k < 2; ++k) {
    const auto text = stations[0]->receive(std::chrono::seconds(20));
    REQUIRE(text);
    CHECK(is_result(nlohmann::json::parse(*text)));
  }
  const auto other = stations[1]->receive(std::chrono::seconds(20));
  REQUIRE(other);
  CHECK(is_result(nlohmann::json::parse(*other)));  // answered, so it is not resent for ever
  CHECK(fx.query_value("SELECT state FROM transactions WHERE id = " + std::to_string(own)) ==
        "ended");
  CHECK(fx.query_value("SELECT state FROM transactions WHERE id = " + std::to_string(foreign)) ==
        "active");
  // One session.ended per consumer, all of the one session.
  CHECK(fx.query_value("SELECT count(*) > 0 AND count(*) = count(DISTINCT consumer) AND "
                       "count(DISTINCT payload->>'session_id') = 1 FROM outbox "
                       "WHERE topic = 'session.ended'") == "t");

  const auto metrics = metrics_text(fx);
  const auto batches = histogram_count(metrics, "chargegrid_db_session_batch_items");
  INFO("session batches: " << batches);
  CHECK(batches > 0);
  CHECK(batches < kStations * 3 + 3);  // fewer transactions than messages
}

TEST_CASE(
    "Cluster mode: a node's connections take their free leases back, those a live node "
    "holds are named, and orphaned leases go unless taken over since",
    "[integration][cluster]") {
  namespace stations = chargegrid::server::store::stations;
  chargegrid::testing::TestDatabase database;
  add_stations(database, {"HELD-LIVE", "HELD-DEAD", "FREE", "MINE", "ORPHAN", "RETAKEN"},
               "accepted");
  execute(database,
          {"INSERT INTO cluster_nodes (id, incarnation, host, pid, lease_timeout, heartbeat_at) "
           "VALUES ('node-a', 1, 'h', 1, '15 s', now()), ('node-b', 2, 'h', 2, '15 s', now()), "
           "('node-dead', 3, 'h', 3, '15 s', now() - interval '1 hour')",
           "UPDATE stations SET held_by = 'node-b', lease_epoch = 4 WHERE id = 'HELD-LIVE'",
           "UPDATE stations SET held_by = 'node-dead', lease_epoch = 5 WHERE id = 'HELD-DEAD'",
           "UPDATE stations SET held_by = 'node-a', lease_epoch = 2 WHERE id = 'MINE'",
           "UPDATE stations SET held_by = 'node-a', lease_epoch = 6, "
           "lease_acquired_at = now() - interval '1 minute' WHERE id IN ('ORPHAN', 'RETAKEN')"});
  auto c = database.connect();
  {
    pqxx::work tx(c);
    std::size_t taken = 0;
    auto [elsewhere, mine] =
        stations::reconcile(tx, {"MINE", "FREE", "HELD-DEAD", "HELD-LIVE"}, "node-a", taken);
    tx.commit();
    CHECK(taken == 2);
    CHECK(elsewhere == std::vector<stations::StationEpoch>{{"HELD-LIVE", 4}});
    std::sort(mine.begin(), mine.end());
    CHECK(mine == std::vector<stations::StationEpoch>{{"FREE", 1}, {"HELD-DEAD", 6}, {"MINE", 2}});
  }
  {
    pqxx::work tx(c);
    auto old = stations::leases_older_than(tx, "node-a", 30);
    std::sort(old.begin(), old.end());
    CHECK(old == std::vector<stations::StationEpoch>{{"ORPHAN", 6}, {"RETAKEN", 6}});
    // RETAKEN was taken again by this node since the read: its newer lease stays.
    tx.exec("UPDATE stations SET lease_epoch = 7 WHERE id = 'RETAKEN'");
    CHECK(stations::release(tx, "node-a", old) == 1);
    tx.commit();
  }
  pqxx::read_transaction read(c);
  const auto holder = [&](const char* id) {
    return read.exec_params1("SELECT coalesce(held_by, '-') FROM stations WHERE id = $1", id)[0]
        .as<std::string>();
  };
  CHECK(holder("ORPHAN") == "-");
  CHECK(holder("RETAKEN") == "node-a");
  CHECK(holder("HELD-LIVE") == "node-b");
  CHECK(holder("HELD-DEAD") == "node-a");
}
