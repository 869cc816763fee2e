#include "admin_cli.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "api/auth.hpp"
#include "chargegrid/db/embedded_postgres.hpp"
#include "chargegrid/db/migrations.hpp"
#include "chargegrid/server/config.hpp"
#include "plug_and_charge/pki_check.hpp"
#include "store/api_keys.hpp"

namespace chargegrid::server {

namespace {

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// Connects to --database-url, or to the embedded cluster of the server whose data folder is
// --data-dir. An admin command never creates or starts a database: a key written to a
// database no server uses would be a key that works nowhere.
template <class Fn>
int with_database(const std::string& url_option, const std::string& data_dir, Fn fn) {
  std::string url = url_option;
  if (url.empty()) {
    db::EmbeddedPostgresOptions options;
    options.data_dir = std::filesystem::path(data_dir) / "pg";
    db::EmbeddedPostgres embedded(options);
    if (!embedded.attach()) {
      std::cerr << "chargegridd: no running ChargeGrid database in "
                << std::filesystem::absolute(options.data_dir).lexically_normal().string()
                << "\n  start the server first, pass the server's folder with --data-dir, or its "
                   "database with --database-url (env CHARGEGRID_DATABASE_URL)\n";
      return 1;
    }
    url = embedded.connection_url();
  }
  pqxx::connection connection(url);
  db::migrate(connection, db::builtin_migrations());
  return fn(connection);
}

// Parses the command line; nullopt to go on, else the exit code (help, or an error).
// Standard output then carries only the answer (a secret, a list, a URL); problems go to
// stderr.
std::optional<int> parse_command(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_default_logger(spdlog::stderr_color_st("chargegridd"));
  spdlog::set_level(spdlog::level::warn);
  return std::nullopt;
}

}  // namespace

namespace {

// The admin command named on the command line ("apikey", "database"), or "" when none is:
// the first word that is neither an option nor an option's value.
std::string admin_command(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--data-dir" || word == "--database-url") {
      ++i;  // its value
      continue;
    }
    if (word.starts_with("-")) continue;
    return word == "apikey" || word == "database" || word == "pki" ? word : "";
  }
  return "";
}

}  // namespace

bool is_admin_command(int argc, const char* const* argv) {
  return !admin_command(argc, argv).empty();
}

namespace {

// chargegridd database start|stop: the embedded cluster on its own, for several nodes that
// share it (scripts/run --nodes N).
int run_database_command(int argc, const char* const* argv) {
  CLI::App app{"chargegridd database: start or stop the embedded PostgreSQL on its own"};
  app.require_subcommand(1);
  std::string data_dir = env_or("CHARGEGRID_DATA_DIR", "./var");
  app.add_option("--data-dir", data_dir, "Data folder of the embedded cluster")
      ->capture_default_str();
  app.fallthrough();
  auto* db = app.add_subcommand("database", "The embedded cluster");
  db->require_subcommand(1);
  auto* start = db->add_subcommand(
      "start", "Start it (or find it running), migrate it and print its URL; it keeps running");
  db->add_subcommand("stop", "Stop it");
  if (auto exit_code = parse_command(app, argc, argv)) return *exit_code;
  try {
    db::EmbeddedPostgresOptions options;
    options.data_dir = std::filesystem::path(data_dir) / "pg";
    // The cluster outlives this command, until `database stop`.
    options.stop_with_process = false;
    db::EmbeddedPostgres embedded(options);
    if (*start) {
      embedded.start();
      embedded.detach();
      pqxx::connection connection(embedded.connection_url());
      db::migrate(connection, db::builtin_migrations());
      std::cout << embedded.connection_url() << "\n";
      return 0;
    }
    embedded.stop();
    embedded.detach();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "chargegridd database: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

// chargegridd pki check [server flags]: the Plug & Charge PKI the same flags configure.
int run_pki_command(int argc, const char* const* argv) {
  std::vector<const char*> args{argv[0]};
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "pki") continue;
    if (word == "check" && !check) {
      check = true;
      continue;
    }
    args.push_back(argv[i]);
  }
  if (!check) {
    std::cerr << "usage: chargegridd pki check [--v2g-root-file F --cpo-sub-ca1-cert-file F "
                 "... --mo-roots-dir D]\n";
    return 2;
  }
  int exit_code = 0;
  const auto config = parse_config(static_cast<int>(args.size()), args.data(), exit_code);
  if (!config) return exit_code;
  const auto findings =
      plug_and_charge::check_pki(*config, std::chrono::system_clock::now(), config->v2g_renew_days);
  int errors = 0;
  for (const auto& f : findings) {
    using Level = plug_and_charge::PkiFinding::Level;
    const char* level = f.level == Level::kError     ? "ERROR"
                        : f.level == Level::kWarning ? "WARN "
                                                     : "ok   ";
    errors += f.level == Level::kError ? 1 : 0;
    std::cout << level << "  " << f.what << ": " << f.text << "\n";
  }
  return errors > 0 ? 1 : 0;
}

int run_admin_command(int argc, const char* const* argv) {
  if (admin_command(argc, argv) == "database") return run_database_command(argc, argv);
  if (admin_command(argc, argv) == "pki") return run_pki_command(argc, argv);
  CLI::App app{"chargegridd apikey: create, list and revoke REST API keys"};
  app.require_subcommand(1);
  std::string database_url = env_or("CHARGEGRID_DATABASE_URL", "");
  std::string data_dir = env_or("CHARGEGRID_DATA_DIR", "./var");
  app.add_option("--database-url", database_url,
                 "PostgreSQL URL (env CHARGEGRID_DATABASE_URL); empty: the embedded cluster");
  app.add_option("--data-dir", data_dir, "Data folder of the embedded cluster")
      ->capture_default_str();
  app.fallthrough();  // subcommands inherit it: --data-dir may come anywhere
  auto* apikey = app.add_subcommand("apikey", "API keys");
  apikey->require_subcommand(1);

  auto* create = apikey->add_subcommand("create", "Create a key and print its secret (once)");
  std::string role, name;
  std::vector<std::int64_t> sites;
  std::optional<std::int64_t> driver;
  bool as_json = false;
  create->add_option("--role", role, "admin, facility_manager, utility or driver")
      ->required()
      ->check(CLI::IsMember({"admin", "facility_manager", "utility", "driver"}));
  create->add_option("--name", name, "What the key is for")->required();
  create->add_option("--site", sites, "A site the key may use (repeat; managers and utilities)");
  create->add_option("--driver", driver, "The driver of a driver key");
  create->add_flag("--json", as_json, "Print the key as JSON");

  auto* list = apikey->add_subcommand("list", "List keys (never their secrets)");
  auto* revoke = apikey->add_subcommand("revoke", "Revoke a key");
  std::int64_t revoke_id = 0;
  revoke->add_option("id", revoke_id, "Key id")->required();

  if (auto exit_code = parse_command(app, argc, argv)) return *exit_code;

  try {
    return with_database(database_url, data_dir, [&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (*create) {
        api::NewApiKey key{};
        try {
          key = api::create_api_key(tx, name, *api::role_from_name(role), sites, driver);
        } catch (const std::invalid_argument& e) {
          std::cerr << "chargegridd apikey create: " << e.what() << "\n";
          return 2;
        }
        tx.commit();
        if (as_json) {
          std::cout << nlohmann::json{{"id", key.id}, {"role", role}, {"secret", key.secret}}.dump()
                    << "\n";
        } else {
          std::cerr << "API key " << key.id << " (" << role
                    << ") created; its secret is shown once:\n";
          std::cout << key.secret << "\n";
        }
        return 0;
      }
      if (*list) {
        auto rows = tx.exec(
            "SELECT k.id, k.role, k.name, coalesce(string_agg(s.site_id::text, ','), ''), "
            "coalesce(k.driver_id::text, ''), k.revoked_at IS NOT NULL "
            "FROM api_keys k LEFT JOIN api_key_sites s ON s.api_key_id = k.id "
            "GROUP BY k.id ORDER BY k.id");
        std::cout << "id\trole\tname\tsites\tdriver\trevoked\n";
        for (const auto& row : rows)
          std::cout << row[0].c_str() << '\t' << row[1].c_str() << '\t' << row[2].c_str() << '\t'
                    << row[3].c_str() << '\t' << row[4].c_str() << '\t'
                    << (row[5].as<bool>() ? "yes" : "no") << "\n";
        return 0;
      }
      const bool revoked = store::api_keys::revoke(tx, revoke_id);
      tx.commit();
      if (!revoked) {
        std::cerr << "chargegridd apikey revoke: no key " << revoke_id << "\n";
        return 1;
      }
      return 0;
    });
  } catch (const std::exception& e) {
    std::cerr << "chargegridd apikey: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace chargegrid::server
