// chargegridd: the ChargeGrid daemon.

#include <filesystem>
#include <iostream>
#include <optional>
#include <pqxx/pqxx>

#include "admin_cli.hpp"
#include "chargegrid/db/embedded_postgres.hpp"
#include "chargegrid/db/migrations.hpp"
#include "chargegrid/server/config.hpp"
#include "chargegrid/server/server.hpp"
#include "connections/tls_buffers.hpp"
#include "logging.hpp"

namespace cg = chargegrid;

int main(int argc, char** argv) {
  // Before anything can make OpenSSL allocate.
  const bool tls_buffers_shared = cg::server::tls_buffers::install();
  if (cg::server::is_admin_command(argc, argv)) return cg::server::run_admin_command(argc, argv);
  int exit_code = 0;
  auto config = cg::server::parse_config(argc, argv, exit_code);
  if (!config) return exit_code;
  cg::server::log::setup(config->log_level, config->log_format);
  if (!tls_buffers_shared)
    cg::server::log::warn("tls_buffers_not_shared",
                          {{"reason", "OpenSSL allocated memory before main"}});

  try {
    std::optional<cg::db::EmbeddedPostgres> embedded;
    std::string url = config->database_url;
    if (url.empty()) {
      cg::db::EmbeddedPostgresOptions options;
      options.data_dir = std::filesystem::path(config->data_dir) / "pg";
      embedded.emplace(options);
      embedded->start();
      // Cluster mode: nodes share the data folder's server; the one that started it stops
      // it, the others leave it running.
      if (config->cluster && embedded->adopted()) embedded->detach();
      url = embedded->connection_url();
      cg::server::log::info("embedded_database_started",
                            {{"data_dir", options.data_dir.string()},
                             {"url", url},
                             {"adopted", embedded->adopted() ? "yes" : "no"}});
    }
    {
      pqxx::connection connection(url);
      cg::db::migrate(connection, cg::db::builtin_migrations());
    }
    cg::server::Server server(*config, url);
    server.handle_signals();
    server.start();
    server.wait();
  } catch (const std::exception& e) {
    cg::server::log::error("server_failed", {{"error", e.what()}});
    return 1;
  }
  return 0;
}
