#include "chargegrid/testing/private_postgres.hpp"

#include <unistd.h>

#include <pqxx/pqxx>

#include "chargegrid/db/migrations.hpp"

namespace chargegrid::testing {

namespace fs = std::filesystem;

db::EmbeddedPostgresOptions PrivatePostgres::options(const fs::path& dir) {
  fs::remove_all(dir);
  db::EmbeddedPostgresOptions options;
  options.data_dir = dir / "pg";
  options.durable = false;
  return options;
}

PrivatePostgres::PrivatePostgres(const std::string& name)
    : dir_(fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()))),
      server_(options(dir_)) {
  server_.start();
  pqxx::connection c(server_.connection_url());
  db::migrate(c, db::builtin_migrations());
}

PrivatePostgres::~PrivatePostgres() {
  try {
    server_.stop();
  } catch (const std::exception&) {
    // Removing the folder below ends what is left of it.
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace chargegrid::testing
