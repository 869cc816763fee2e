// chargegrid-test-pg start|stop DIR: the PostgreSQL cluster shared by a test run.
//
// start: initialises (if needed) and starts a non-durable cluster in DIR/data, drops test
// databases left behind by an earlier run, writes the URL of its maintenance database to
// DIR/url and exits, leaving the server running. stop: stops it. When PostgreSQL's
// unprivileged user cannot reach DIR (a build folder under /root, say), the data folder is a
// private folder under /tmp instead, recorded in DIR/data-path.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <string>

#include "chargegrid/db/embedded_postgres.hpp"

namespace fs = std::filesystem;

namespace {

// Where the cluster of DIR lives: DIR/data, or the folder named in DIR/data-path.
fs::path data_dir_of(const fs::path& dir) {
  std::ifstream in(dir / "data-path");
  std::string recorded;
  if (in && std::getline(in, recorded) && !recorded.empty()) return recorded;
  return dir / "data";
}

fs::path choose_data_dir(const fs::path& dir) {
  const fs::path recorded = data_dir_of(dir);
  if (chargegrid::db::server_user_can_reach(recorded)) return recorded;
  std::string folder = (fs::temp_directory_path() / "chargegrid-test-pg-XXXXXX").string();
  if (::mkdtemp(folder.data()) == nullptr)
    throw std::runtime_error("cannot create a temporary folder for the cluster");
  fs::permissions(folder, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const fs::path data = fs::path(folder) / "data";
  std::ofstream out(dir / "data-path", std::ios::trunc);
  out << data.string() << "\n";
  if (!out) throw std::runtime_error("cannot write " + (dir / "data-path").string());
  return data;
}

chargegrid::db::EmbeddedPostgresOptions options_for(const fs::path& data_dir) {
  chargegrid::db::EmbeddedPostgresOptions options;
  options.data_dir = data_dir;
  options.database = "";
  options.durable = false;
  options.stop_with_process = false;  // it outlives `start`, until `stop`
  return options;
}

void drop_leftover_databases(const std::string& url) {
  pqxx::connection admin(url);
  pqxx::nontransaction txn(admin);
  for (const auto& row :
       txn.exec("SELECT datname FROM pg_database WHERE datname LIKE 'chargegrid\\_test\\_%'"))
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(row[0].as<std::string>()) +
             " WITH (FORCE)");
}

int start(const fs::path& dir) {
  fs::create_directories(dir);
  // The unprivileged PostgreSQL user (when running as root) must reach DIR/data.
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec |
                           fs::perms::group_read | fs::perms::others_read);
  chargegrid::db::EmbeddedPostgres cluster(options_for(choose_data_dir(dir)));
  cluster.start();
  cluster.detach();
  const std::string url = cluster.connection_url("postgres");
  drop_leftover_databases(url);
  const fs::path url_file = dir / "url";
  const fs::path temporary = dir / "url.tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << url << "\n";
    if (!out) throw std::runtime_error("cannot write " + temporary.string());
  }
  fs::rename(temporary, url_file);
  std::cout << url << "\n";
  return 0;
}

int stop(const fs::path& dir) {
  const fs::path data_dir = data_dir_of(dir);
  std::error_code ec;
  fs::remove(dir / "url", ec);
  if (!fs::exists(data_dir)) return 0;
  chargegrid::db::EmbeddedPostgres cluster(options_for(data_dir));
  cluster.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "start" && std::string(argv[1]) != "stop")) {
    std::cerr << "usage: chargegrid-test-pg start|stop DIR\n";
    return 2;
  }
  try {
    const fs::path dir = fs::absolute(argv[2]);
    return std::string(argv[1]) == "start" ? start(dir) : stop(dir);
  } catch (const std::exception& e) {
    std::cerr << "chargegrid-test-pg " << argv[1] << ": " << e.what() << "\n";
    return 1;
  }
}
