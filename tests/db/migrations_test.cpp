#include "chargegrid/db/migrations.hpp"

#include <catch2/catch.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <thread>
#include <vector>

#include "chargegrid/testing/database.hpp"

using chargegrid::db::builtin_migrations;
using chargegrid::db::migrate;
using chargegrid::db::Migration;
using chargegrid::db::migration_checksum;
using chargegrid::db::MigrationError;
using chargegrid::testing::TestDatabase;

namespace {

int count(pqxx::connection& connection, const std::string& sql) {
  pqxx::nontransaction txn(connection);
  return txn.exec1(sql)[0].as<int>();
}

bool table_exists(pqxx::connection& connection, const std::string& table) {
  pqxx::nontransaction txn(connection);
  return txn.exec1("SELECT to_regclass(" + txn.quote(table) + ") IS NOT NULL")[0].as<bool>();
}

int advisory_locks_held(pqxx::connection& connection) {
  return count(connection,
               "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
               "(SELECT oid FROM pg_database WHERE datname = current_database())");
}

std::vector<Migration> sample() {
  return {
      {1, "fleet", "CREATE TABLE fleet (id serial PRIMARY KEY, name text NOT NULL);"},
      {2, "fleet_seed",
       "INSERT INTO fleet (name) VALUES ('depot a'); "
       "INSERT INTO fleet (name) VALUES ('depot b');"},
  };
}

}  // namespace

TEST_CASE("migrate applies pending migrations in order and records them", "[db][migrations]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  auto connection = db.connect();
  auto migrations = sample();
  std::swap(migrations[0], migrations[1]);  // order of the list does not matter
  CHECK(migrate(connection, migrations) == 2);
  CHECK(count(connection, "SELECT count(*) FROM fleet") == 2);
  pqxx::nontransaction txn(connection);
  const auto rows = txn.exec(
      "SELECT version, name, checksum, applied_at <= now() FROM schema_migrations "
      "ORDER BY version");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0].as<int>() == 1);
  CHECK(rows[0][1].as<std::string>() == "fleet");
  CHECK(rows[0][2].as<std::string>() == migration_checksum(sample()[0]));
  CHECK(rows[0][2].as<std::string>().size() == 64);
  CHECK(rows[1][1].as<std::string>() == "fleet_seed");
  CHECK(rows[1][3].as<bool>());
}

TEST_CASE("migrate is idempotent and applies only what is new", "[db][migrations]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  auto connection = db.connect();
  CHECK(migrate(connection, sample()) == 2);
  CHECK(migrate(connection, sample()) == 0);
  CHECK(count(connection, "SELECT count(*) FROM fleet") == 2);

  auto extended = sample();
  extended.push_back({3, "fleet_region", "ALTER TABLE fleet ADD COLUMN region text;"});
  CHECK(migrate(connection, extended) == 1);
  CHECK(count(connection, "SELECT count(*) FROM schema_migrations") == 3);
  // A binary that knows fewer migrations than the database (a newer node migrated) still runs.
  CHECK(migrate(connection, sample()) == 0);
  CHECK(advisory_locks_held(connection) == 0);
}

TEST_CASE("migrate rejects an applied migration whose SQL changed", "[db][migrations]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  auto connection = db.connect();
  REQUIRE(migrate(connection, sample()) == 2);
  auto edited = sample();
  edited[0].sql += "\n-- tweaked";
  edited.push_back({3, "more", "CREATE TABLE more_things (id int);"});
  CHECK_THROWS_WITH(migrate(connection, edited),
                    Catch::Contains("0001_fleet") && Catch::Contains("changed"));
  CHECK(count(connection, "SELECT count(*) FROM schema_migrations") == 2);
  CHECK_FALSE(table_exists(connection, "more_things"));
  CHECK(advisory_locks_held(connection) == 0);
}

TEST_CASE("a failing migration is rolled back together with its record", "[db][migrations]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  auto connection = db.connect();
  auto migrations = sample();
  migrations.push_back(
      {3, "broken", "CREATE TABLE half_done (id int); INSERT INTO no_such_table VALUES (1);"});
  migrations.push_back({4, "after", "CREATE TABLE after_broken (id int);"});
  CHECK_THROWS_WITH(migrate(connection, migrations),
                    Catch::Contains("0003_broken") && Catch::Contains("no_such_table"));
  CHECK(count(connection, "SELECT count(*) FROM schema_migrations") == 2);
  CHECK_FALSE(table_exists(connection, "half_done"));
  CHECK_FALSE(table_exists(connection, "after_broken"));
  CHECK(table_exists(connection, "fleet"));
  CHECK(advisory_locks_held(connection) == 0);  // the session's lock was released

  migrations[2].sql = "CREATE TABLE half_done (id int);";  // fixed before it was ever applied
  CHECK(migrate(connection, migrations) == 2);
  CHECK(table_exists(connection, "after_broken"));
}

TEST_CASE("migrate rejects malformed migration lists", "[db][migrations]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  auto connection = db.connect();
  auto duplicate = sample();
  duplicate[1].version = 1;
  CHECK_THROWS_AS(migrate(connection, duplicate), MigrationError);
  auto zero = sample();
  zero[0].version = 0;
  CHECK_THROWS_AS(migrate(connection, zero), MigrationError);
  CHECK_FALSE(table_exists(connection, "fleet"));
  CHECK(migrate(connection, {}) == 0);
}

TEST_CASE("concurrent migrators apply each migration exactly once", "[db][migrations]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  std::vector<Migration> migrations{
      {1, "log", "CREATE TABLE applied_log (version int NOT NULL);"},
      {2, "slow", "SELECT pg_sleep(0.2); INSERT INTO applied_log VALUES (2);"},
      {3, "again", "INSERT INTO applied_log VALUES (3);"},
  };
  constexpr int kMigrators = 4;
  std::vector<int> applied(kMigrators, -1);
  std::vector<std::string> errors(kMigrators);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      try {
        pqxx::connection connection(db.url());
        applied[i] = migrate(connection, migrations);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < kMigrators; ++i) {
    INFO("migrator " << i);
    CHECK(errors[i].empty());
  }
  int total = 0;
  for (int n : applied) total += n;
  CHECK(total == 3);
  auto connection = db.connect();
  CHECK(count(connection, "SELECT count(*) FROM applied_log") == 2);
  CHECK(count(connection, "SELECT count(*) FROM schema_migrations") == 3);
}

TEST_CASE("the builtin migrations apply to an empty database", "[db][migrations]") {
  const auto migrations = builtin_migrations();
  REQUIRE_FALSE(migrations.empty());
  CHECK(migrations.front().version == 1);
  for (std::size_t i = 1; i < migrations.size(); ++i)
    CHECK(migrations[i - 1].version < migrations[i].version);
  for (const auto& m : migrations) {
    CHECK_FALSE(m.name.empty());
    CHECK_FALSE(m.sql.empty());
  }

  TestDatabase db;  // migrates on construction
  auto connection = db.connect();
  CHECK(count(connection, "SELECT count(*) FROM schema_migrations") ==
        static_cast<int>(migrations.size()));
  CHECK(migrate(connection, migrations) == 0);
}

TEST_CASE("TestDatabase gives each test its own database and drops it", "[db][testing]") {
  std::string name;
  std::optional<pqxx::connection> lingering;
  {
    TestDatabase first(TestDatabase::Options{.migrate = false});
    TestDatabase second(TestDatabase::Options{.migrate = false});
    CHECK(first.name() != second.name());
    CHECK(first.url() != second.url());
    name = first.name();
    lingering.emplace(first.url());
    pqxx::nontransaction txn(*lingering);
    CHECK(txn.exec1("SELECT current_database()")[0].as<std::string>() == name);
  }  // a session still open on the database does not prevent the drop
  pqxx::connection admin(TestDatabase::cluster_url());
  pqxx::nontransaction txn(admin);
  CHECK(txn.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name).empty());
}
