#include "chargegrid/testing/database.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>

#include "chargegrid/base/log.hpp"
#include "chargegrid/db/embedded_postgres.hpp"
#include "chargegrid/db/migrations.hpp"
#include "chargegrid/db/url.hpp"

namespace chargegrid::testing {
namespace fs = std::filesystem;
namespace log = base::log;

namespace {

// A cluster of this process's own, for test binaries run outside ctest.
class PrivateCluster {
 public:
  PrivateCluster() {
    std::string folder = (fs::temp_directory_path() / "chargegrid-test-XXXXXX").string();
    if (::mkdtemp(folder.data()) == nullptr)
      throw std::runtime_error("TestDatabase: cannot create a temporary folder");
    folder_ = folder;
    // The unprivileged PostgreSQL user (when running as root) must reach the data folder.
    fs::permissions(folder_, fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
    db::EmbeddedPostgresOptions options;
    options.data_dir = folder_ / "data";
    options.database = "";
    options.durable = false;
    cluster_ = std::make_unique<db::EmbeddedPostgres>(options);
    cluster_->start();
  }
  ~PrivateCluster() {
    try {
      cluster_.reset();
      std::error_code ec;
      fs::remove_all(folder_, ec);
    } catch (const std::exception& e) {
      log::error("test_database_private_cluster_stop_failed", {{"error", e.what()}});
    }
  }
  std::string url() const { return cluster_->connection_url("postgres"); }

 private:
  fs::path folder_;
  std::unique_ptr<db::EmbeddedPostgres> cluster_;
};

std::string read_url_file(const char* path) {
  std::ifstream in(path);
  std::string url;
  std::getline(in, url);
  if (!in && url.empty())
    throw std::runtime_error(std::string("TestDatabase: cannot read the cluster URL from ") + path +
                             " (CHARGEGRID_TEST_PG_URL_FILE); did pg_cluster_start run?");
  return url;
}

std::string unique_name() {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}() & 0xFFFFFF;
  return "chargegrid_test_" + std::to_string(::getpid()) + "_" + std::to_string(salt) + "_" +
         std::to_string(counter.fetch_add(1));
}

}  // namespace

std::string TestDatabase::cluster_url() {
  if (const char* url_file = std::getenv("CHARGEGRID_TEST_PG_URL_FILE");
      url_file != nullptr && *url_file != '\0')
    return read_url_file(url_file);
  // Constructed on first use, destroyed (cluster stopped) at exit.
  static PrivateCluster cluster;
  return cluster.url();
}

TestDatabase::TestDatabase() : TestDatabase(Options{}) {}

TestDatabase::TestDatabase(Options options) : name_(unique_name()) {
  const std::string admin_url = cluster_url();
  {
    pqxx::connection admin(admin_url);
    pqxx::nontransaction txn(admin);
    txn.exec("CREATE DATABASE " + txn.quote_name(name_));
  }
  url_ = db::url_with_database(admin_url, name_);
  if (options.migrate) {
    try {
      pqxx::connection connection(url_);
      db::migrate(connection, db::builtin_migrations());
    } catch (...) {
      try {
        pqxx::connection admin(admin_url);
        pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + admin.quote_name(name_) +
                                         " WITH (FORCE)");
      } catch (const std::exception&) {
      }
      throw;
    }
  }
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(cluster_url());
    pqxx::nontransaction txn(admin);
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    log::warn("test_database_drop_failed", {{"database", name_}, {"error", e.what()}});
  }
}

int query_int(const std::string& url, const std::string& sql) {
  pqxx::connection connection(url);
  pqxx::read_transaction tx(connection);
  return tx.exec1(sql)[0].as<int>();
}

}  // namespace chargegrid::testing
