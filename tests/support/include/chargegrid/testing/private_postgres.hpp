#pragma once
// A PostgreSQL of a test's own, in a temporary folder, migrated: for tests that stop and
// start the database (outages), which they cannot do to the suite's shared cluster. Not
// durable (fsync off). Stopped and removed when destroyed.

#include <filesystem>
#include <string>

#include "chargegrid/db/embedded_postgres.hpp"

namespace chargegrid::testing {

class PrivatePostgres {
 public:
  // `name` makes the folder's name (with the process id).
  explicit PrivatePostgres(const std::string& name);
  ~PrivatePostgres();
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  std::string url() const { return server_.connection_url(); }
  void stop() { server_.stop(); }
  void start() { server_.start(); }

 private:
  static db::EmbeddedPostgresOptions options(const std::filesystem::path& dir);

  std::filesystem::path dir_;
  db::EmbeddedPostgres server_;
};

}  // namespace chargegrid::testing
