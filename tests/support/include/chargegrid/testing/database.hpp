// A fresh PostgreSQL database for one test, on the test suite's shared cluster.
//
// Under ctest, tests declared with chargegrid_add_test(... DATABASE) find the cluster's URL
// in the file named by CHARGEGRID_TEST_PG_URL_FILE (started by the pg_cluster_start fixture).
// Without that variable, the first TestDatabase of the process starts a private cluster in a
// temporary folder and stops it at exit, so a test binary also runs on its own.
#pragma once

#include <pqxx/connection>
#include <string>

namespace chargegrid::testing {

class TestDatabase {
 public:
  struct Options {
    // Apply db::builtin_migrations() to the new database.
    bool migrate = true;
  };

  TestDatabase();
  explicit TestDatabase(Options options);
  // Drops the database, ending any session still connected to it.
  ~TestDatabase();

  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // libpq URI of this test's database.
  const std::string& url() const noexcept { return url_; }
  const std::string& name() const noexcept { return name_; }
  // A new connection to this test's database.
  pqxx::connection connect() const { return pqxx::connection(url_); }

  // URI of the cluster's maintenance database (postgres), for tests that manage databases.
  static std::string cluster_url();

 private:
  std::string name_;
  std::string url_;
};

// The integer a one-row, one-column query answers (a count, a sum) on the database at url.
int query_int(const std::string& url, const std::string& sql);

}  // namespace chargegrid::testing
