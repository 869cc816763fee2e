// chargegrid-bench: runs one workload against chargegridd (on a fresh embedded
// database) and, under the identical workload, against a minimal ocpp-rpc CSMS; copies
// the meter rows ChargeGrid stored again with one COPY (the storage limit); writes a
// JSON result file and prints a summary with the ratios ChargeGrid / peer and
// ChargeGrid / limit. See tools/bench/README.md and docs/benchmarks.md.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "chargegrid/tools/options.hpp"
#include "child.hpp"
#include "copy_limit.hpp"
#include "load_set.hpp"
#include "plan_options.hpp"
#include "proc_stats.hpp"
#include "workload.hpp"

namespace fs = std::filesystem;
using namespace chargegrid;
using namespace chargegrid::bench;
using chargegrid::tools::option;
using namespace std::chrono_literals;

namespace {

struct Options {
  std::string workload_name = "idle";
  Workload workload = Workload::idle;
  LoadPlan plan;  // per-process fields are filled for each process
  std::string version = "1.6";
  double duration_s = 0;  // 0: the workload's default
  double warmup_s = 5;
  double timeout_s = 300;
  int heartbeat_s = 0;           // 0: the workload's default
  bool tls = false;              // stations connect over wss
  std::string targets = "both";  // chargegrid, ocpp-rpc or both
  bool limit = true;
  std::string server = "chargegridd";
  std::string load = "chargegrid-bench-load";
  std::string node = "node";
  std::string peer_script;
  std::string work_dir;
  bool keep = false;
  std::string result;
  std::vector<std::string> server_args;
  int nodes = 0;  // cluster mode: this many chargegridd nodes on one database (0: one server)
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double round_to(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

Json latency_json(const sim::LatencyHistogram& h) {
  const auto ms = [](double us) { return round_to(us / 1000.0, 3); };
  return {{"count", h.count()},
          {"mean", ms(h.mean_us())},
          {"p50", ms(h.quantile_us(0.5))},
          {"p99", ms(h.quantile_us(0.99))},
          {"p99.9", ms(h.quantile_us(0.999))},
          {"max", ms(h.max_us())}};
}

std::uint64_t counter(const Json& counters, const char* name) {
  return counters.value(name, std::uint64_t{0});
}

// The processes under test (one server, or the nodes of a cluster) and how to reach them.
struct Target {
  std::string name;  // "chargegrid" or "ocpp-rpc"
  std::vector<std::unique_ptr<Child>> processes;
  std::vector<std::string> node_ids;  // cluster mode, one per process
  std::string url;
  std::optional<PostmasterInfo> postgres;
  std::string database_url;
  std::function<void()> stop_database;  // cluster mode: the database runs on its own

  Target() = default;
  Target(Target&&) = default;
  Target& operator=(Target&&) = default;
  ~Target() {
    for (auto& process : processes) {
      process->signal(SIGTERM);
      if (!process->wait_for(std::chrono::seconds(60))) process->signal(SIGKILL);
    }
    processes.clear();
    if (stop_database) stop_database();
  }
  // CPU seconds and resident memory of all the target's processes; nullopt when one died.
  std::optional<ProcessSample> sample() const {
    ProcessSample total;
    for (const auto& process : processes) {
      const auto s = sample_process(process->pid());
      if (!s) return std::nullopt;
      total.cpu_s += s->cpu_s;
      total.rss_bytes += s->rss_bytes;
    }
    return total;
  }
};

Json read_ready_file(const fs::path& file, Child& process, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    Json ready = Json::parse(text.str(), nullptr, false);
    if (!ready.is_discarded() && ready.is_object()) return ready;
    if (process.wait_for(0ms)) throw std::runtime_error("the target exited before it was ready");
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("the target was not ready in time");
}

bool server_has_flag(const std::string& server, const std::string& flag) {
  const std::string command = "'" + server + "' --help 2>/dev/null";
  FILE* help = ::popen(command.c_str(), "r");
  if (help == nullptr) return false;
  std::string text;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, help)) > 0;) text.append(buffer, n);
  ::pclose(help);
  return text.find(flag) != std::string::npos;
}

// Flags every chargegridd of the run gets.
std::vector<std::string> server_flags(const Options& o, int heartbeat_s) {
  std::vector<std::string> argv{"--bind",
                                "127.0.0.1",
                                "--unknown-stations",
                                "accept",
                                "--accept-unknown-tokens",
                                "--heartbeat-interval",
                                std::to_string(heartbeat_s),
                                "--log-level",
                                "warn"};
  // The fleet is the load under test: lift the per-server and per-address connection
  // caps where the server has them (the fleet's source addresses would otherwise hit them).
  if (server_has_flag(o.server, "--max-connections-per-address")) {
    argv.insert(argv.end(), {"--max-connections", "0", "--max-connections-per-address", "0"});
  }
  if (o.tls) argv.push_back("--tls");
  argv.insert(argv.end(), o.server_args.begin(), o.server_args.end());
  return argv;
}

std::string station_url(const Options& o, const Json& ready) {
  return (o.tls ? "wss://127.0.0.1:" + std::to_string(ready.at("ocpp_tls_port").get<int>())
                : "ws://127.0.0.1:" + std::to_string(ready.at("ocpp_port").get<int>())) +
         "/ocpp";
}

void find_postgres(Target& target, const fs::path& data) {
  target.postgres = read_postmaster_pid(data / "pg");
  if (!target.postgres) throw std::runtime_error("no postmaster.pid in the server's data folder");
  target.database_url = "postgresql:///chargegrid?host=" + target.postgres->socket_dir +
                        "&port=" + std::to_string(target.postgres->port) + "&user=postgres";
}

// The server's data folder, empty.
fs::path fresh_data_folder(const fs::path& dir) {
  const fs::path data = dir / "chargegrid-data";
  fs::remove_all(data);
  fs::create_directories(data);
  return data;
}

Target start_chargegrid(const Options& o, const fs::path& dir, int heartbeat_s) {
  Target target;
  target.name = "chargegrid";
  const fs::path data = fresh_data_folder(dir);
  const fs::path ready = dir / "chargegrid.ready";
  fs::remove(ready);
  std::vector<std::string> argv{o.server,      "--data-dir", data.string(),  "--ocpp-port", "0",
                                "--http-port", "0",          "--ready-file", ready.string()};
  const auto flags = server_flags(o, heartbeat_s);
  argv.insert(argv.end(), flags.begin(), flags.end());
  target.processes.push_back(std::make_unique<Child>(argv, dir / "chargegridd.log"));
  const Json info = read_ready_file(ready, *target.processes.back(), 180s);
  target.url = station_url(o, info);
  find_postgres(target, data);
  return target;
}

// A port nobody listens on now (bound, then released), for the nodes to share.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::runtime_error("cannot find a free port");
  ::close(fd);
  return ntohs(address.sin_port);
}

// Cluster mode: the embedded database started on its own (`chargegridd database start`),
// then N nodes on it sharing the OCPP port (SO_REUSEPORT), as `scripts/run --nodes N` does.
Target start_cluster(const Options& o, const fs::path& dir, int heartbeat_s) {
  Target target;
  target.name = "chargegrid";
  const fs::path data = fresh_data_folder(dir);
  const std::string database_command =
      "'" + o.server + "' database start --data-dir '" + data.string() + "'";
  FILE* started = ::popen(database_command.c_str(), "r");
  if (started == nullptr) throw std::runtime_error("cannot run " + database_command);
  char line[1024] = {};
  const bool got_url = std::fgets(line, sizeof line, started) != nullptr;
  if (::pclose(started) != 0 || !got_url) throw std::runtime_error(database_command + " failed");
  target.stop_database = [server = o.server, data] {
    const std::string stop = "'" + server + "' database stop --data-dir '" + data.string() + "'";
    if (std::system(stop.c_str()) != 0) std::cerr << "chargegrid-bench: " << stop << " failed\n";
  };
  find_postgres(target, data);
  const std::string url = std::string(line).substr(0, std::strcspn(line, "\n"));
  const auto ocpp_port = std::to_string(free_port());
  const auto tls_port = std::to_string(free_port());
  const auto flags = server_flags(o, heartbeat_s);
  Json info;
  for (int i = 1; i <= o.nodes; ++i) {
    const auto node = "bench-" + std::to_string(i);
    const fs::path ready = dir / (node + ".ready");
    fs::remove(ready);
    std::vector<std::string> argv{o.server,  "--node-id",       node,          "--database-url",
                                  url,       "--data-dir",      data.string(), "--ocpp-port",
                                  ocpp_port, "--ocpp-tls-port", tls_port,      "--http-port",
                                  "0",       "--ready-file",    ready.string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    target.processes.push_back(
        std::make_unique<Child>(argv, dir / ("chargegridd-" + node + ".log")));
    target.node_ids.push_back(node);
    info = read_ready_file(ready, *target.processes.back(), 180s);
  }
  target.url = station_url(o, info);
  return target;
}

Target start_peer(const Options& o, const fs::path& dir, int heartbeat_s) {
  Target target;
  target.name = "ocpp-rpc";
  const fs::path ready = dir / "peer.ready";
  fs::remove(ready);
  target.processes.push_back(std::make_unique<Child>(
      std::vector<std::string>{o.node, o.peer_script, "--ready-file", ready.string(),
                               "--heartbeat-interval", std::to_string(heartbeat_s)},
      dir / "peer.log"));
  const Json info = read_ready_file(ready, *target.processes.back(), 60s);
  target.url = "ws://127.0.0.1:" + std::to_string(info.at("port").get<int>()) + "/ocpp";
  return target;
}

// CPU and database counters at one moment.
struct Mark {
  double at_s = 0;
  double server_cpu_s = 0;
  double db_cpu_s = 0;
  double load_cpu_s = 0;
  std::optional<std::int64_t> db_commits;
  std::string db_time;  // the database's clock, to find the rows written in the window
};

Mark mark(const Target& target, const LoadSet& loads, pqxx::connection* db) {
  Mark m;
  m.at_s = now_s();
  if (const auto s = target.sample()) m.server_cpu_s = s->cpu_s;
  if (target.postgres) m.db_cpu_s = sample_cluster(target.postgres->pid).cpu_s;
  m.load_cpu_s = loads.cpu_s();
  if (db != nullptr) {
    pqxx::work work(*db);
    const auto row = work.exec1(
        "SELECT clock_timestamp()::text, xact_commit FROM pg_stat_database "
        "WHERE datname = current_database()");
    m.db_time = row[0].as<std::string>();
    m.db_commits = row[1].as<std::int64_t>();
    work.commit();
  }
  return m;
}

Json window_json(const Mark& a, const Mark& b, const Json& before, const Json& after,
                 const sim::LatencyHistogram& latency) {
  const double seconds = b.at_s - a.at_s;
  const auto delta = [&](const char* name) {
    return static_cast<double>(counter(after, name)) - static_cast<double>(counter(before, name));
  };
  const double messages = delta("calls_answered");
  const auto per_1000 = [&](double cpu_s) {
    return messages > 0 ? round_to(cpu_s * 1000.0 / messages * 1000.0, 3) : 0.0;
  };
  Json w{{"seconds", round_to(seconds, 3)},
         {"messages", messages},
         {"messages_per_s", seconds > 0 ? round_to(messages / seconds, 1) : 0.0},
         {"call_errors", delta("call_errors")},
         {"call_timeouts", delta("call_timeouts")},
         {"connect_failures", delta("connect_failures")},
         {"latency_ms", latency_json(latency)},
         {"cpu_s",
          {{"server", round_to(b.server_cpu_s - a.server_cpu_s, 3)},
           {"db", round_to(b.db_cpu_s - a.db_cpu_s, 3)},
           {"load", round_to(b.load_cpu_s - a.load_cpu_s, 3)}}},
         {"cpu_ms_per_1000_messages",
          {{"server", per_1000(b.server_cpu_s - a.server_cpu_s)},
           {"db", per_1000(b.db_cpu_s - a.db_cpu_s)},
           {"server_and_db", per_1000(b.server_cpu_s - a.server_cpu_s + b.db_cpu_s - a.db_cpu_s)},
           {"load", per_1000(b.load_cpu_s - a.load_cpu_s)}}}};
  if (a.db_commits && b.db_commits) {
    const double commits = static_cast<double>(*b.db_commits - *a.db_commits);
    w["db_transactions"] = commits;
    w["db_transactions_per_message"] = messages > 0 ? round_to(commits / messages, 3) : 0.0;
  }
  return w;
}

std::vector<std::vector<std::string>> load_commands(const Options& o, const std::string& url) {
  std::vector<std::vector<std::string>> commands;
  const auto& p = o.plan;
  for (int i = 0; i < p.processes; ++i) {
    commands.push_back({o.load, "--url", url, "--workload", o.workload_name, "--version", o.version,
                        "--total-stations", std::to_string(p.total_stations), "--processes",
                        std::to_string(p.processes), "--process-index", std::to_string(i),
                        "--id-prefix", p.id_prefix, "--threads", std::to_string(p.threads),
                        "--source-spread", std::to_string(p.source_spread)});
    const auto flags = plan_flags(p);
    commands.back().insert(commands.back().end(), flags.begin(), flags.end());
    if (o.tls) commands.back().push_back("--no-verify");  // the server's development certificate
  }
  return commands;
}

// StatusNotifications a station sends after booting: connector 0 too in 1.6.
int statuses_per_station(const Options& o) {
  return o.plan.connectors + (o.plan.version == sim::OcppVersion::v16 ? 1 : 0);
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

// Rows the server stored in the window, and MeterValues / TransactionEvent messages they
// came from (one sampling time per message and EVSE).
Json stored_rows(pqxx::connection& db, const Mark& a, const Mark& b) {
  pqxx::work work(db);
  const auto window = work.exec_params1(
      "SELECT count(*), count(DISTINCT (station_id, evse_id, sampled_at)) FROM meter_values "
      "WHERE received_at >= $1::timestamptz AND received_at < $2::timestamptz",
      a.db_time, b.db_time);
  const auto all = work.exec1(
      "SELECT count(*), count(DISTINCT (station_id, evse_id, sampled_at)) FROM meter_values");
  work.commit();
  const double seconds = b.at_s - a.at_s;
  const auto rows = window[0].as<double>();
  return {{"window_rows", rows},
          {"window_meter_messages", window[1].as<double>()},
          {"window_rows_per_s", seconds > 0 ? round_to(rows / seconds, 1) : 0.0},
          {"window_meter_messages_per_s",
           seconds > 0 ? round_to(window[1].as<double>() / seconds, 1) : 0.0},
          {"total_rows", all[0].as<double>()},
          {"total_meter_messages", all[1].as<double>()}};
}

// Cluster mode: each node's share of the stations (from the leases), its memory and its CPU
// in the window.
Json node_results(const Target& target, const std::vector<ProcessSample>& baselines) {
  std::map<std::string, std::int64_t> held;
  try {
    pqxx::connection db(target.database_url);
    pqxx::work work(db);
    for (const auto& row :
         work.exec("SELECT held_by, count(*) FROM stations WHERE held_by IS NOT NULL GROUP BY 1"))
      held[row[0].as<std::string>()] = row[1].as<std::int64_t>();
  } catch (const std::exception& e) {
    std::cerr << "chargegrid-bench: cannot read the leases: " << e.what() << "\n";
  }
  Json nodes = Json::array();
  for (std::size_t i = 0; i < target.processes.size(); ++i) {
    Json node{{"node", target.node_ids[i]}, {"stations_held", held[target.node_ids[i]]}};
    if (const auto now = sample_process(target.processes[i]->pid())) {
      node["rss_bytes"] = now->rss_bytes;
      node["rss_before_bytes"] = baselines[i].rss_bytes;
      node["cpu_s_total"] = round_to(now->cpu_s - baselines[i].cpu_s, 3);
    } else {
      node["failed"] = "not running";
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

Json run_target(const Options& o, const std::string& which, const fs::path& dir) {
  const int heartbeat_s = o.heartbeat_s > 0 ? o.heartbeat_s : heartbeat_interval_for(o.plan);
  const fs::path target_dir = dir / which;
  fs::create_directories(target_dir);
  Target target = which != "chargegrid" ? start_peer(o, target_dir, heartbeat_s)
                  : o.nodes > 0         ? start_cluster(o, target_dir, heartbeat_s)
                                        : start_chargegrid(o, target_dir, heartbeat_s);
  std::cerr << "chargegrid-bench: " << which << " up at " << target.url << "\n";
  std::unique_ptr<pqxx::connection> db;
  if (!target.database_url.empty()) db = std::make_unique<pqxx::connection>(target.database_url);

  Json result{{"target", which}, {"load_average_start", load_average()}};
  std::this_thread::sleep_for(1s);  // let start-up work settle before the baseline
  const auto baseline = target.sample();
  std::vector<ProcessSample> node_baselines;
  for (const auto& process : target.processes)
    node_baselines.push_back(sample_process(process->pid()).value_or(ProcessSample{}));
  require(baseline.has_value(), "the target is not running");

  LoadSet loads(load_commands(o, target.url), target_dir);
  loads.wait_ready(60s);
  const auto timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000));
  const auto n = static_cast<std::uint64_t>(o.plan.total_stations);
  const auto all_booted = [n](const Json& c) {
    return counter(c, "booted") >= n && counter(c, "connected") >= n;
  };
  // Every station booted and reported its status, and no CALL is in flight.
  const std::uint64_t settled_calls = n * static_cast<std::uint64_t>(1 + statuses_per_station(o));
  const auto settled = [&](const Json& c) {
    return all_booted(c) && counter(c, "calls_answered") >= settled_calls &&
           counter(c, "calls_answered") + counter(c, "call_timeouts") >= counter(c, "calls_sent");
  };
  Mark a, b;
  Json before, after;
  sim::LatencyHistogram latency;
  const double go_at = now_s();
  auto open = [&] {
    before = loads.begin_window();
    a = mark(target, loads, db.get());
  };
  auto close = [&] {
    b = mark(target, loads, db.get());
    std::tie(after, latency) = loads.end_window();
  };
  auto memory = [&] {
    const auto now = target.sample();
    require(now.has_value(), "the target died");
    const double per_station =
        (static_cast<double>(now->rss_bytes) - static_cast<double>(baseline->rss_bytes)) /
        static_cast<double>(n);
    return Json{{"rss_before_bytes", baseline->rss_bytes},
                {"rss_after_bytes", now->rss_bytes},
                {"bytes_per_station", round_to(per_station, 0)}};
  };
  const double duration = o.duration_s;
  switch (o.workload) {
    case Workload::idle: {
      loads.go();
      require(loads.wait_until(settled, timeout), "not every station booted and settled");
      std::this_thread::sleep_for(2s);
      result["memory"] = memory();
      open();
      std::this_thread::sleep_for(std::chrono::duration<double>(duration));
      close();
      break;
    }
    case Workload::boot_storm: {
      open();
      loads.go();
      const double started = now_s();
      require(loads.wait_until(all_booted, timeout), "not every station booted");
      const double booted = now_s() - started;
      require(loads.wait_until(settled, timeout), "not every station reported its status");
      const double done = now_s() - started;
      close();
      result["boot"] = {{"all_booted_s", round_to(booted, 3)},
                        {"all_settled_s", round_to(done, 3)}};
      result["memory"] = memory();
      break;
    }
    case Workload::metering: {
      loads.go();
      require(loads.wait_until(all_booted, timeout), "not every station booted");
      // Every session started (so only meter values and heartbeats follow), then warm-up.
      require(loads.wait_until([n](const Json& c) { return counter(c, "sessions_started") >= n; },
                               timeout),
              "not every session started");
      std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_s));
      open();
      std::this_thread::sleep_for(std::chrono::duration<double>(duration));
      close();
      result["offered_meter_messages_per_s"] = o.plan.rate;
      break;
    }
    case Workload::sessions: {
      open();
      loads.go();
      const auto sessions = n * static_cast<std::uint64_t>(o.plan.sessions);
      require(
          loads.wait_until(
              [&](const Json& c) { return counter(c, "sessions_completed") >= sessions; }, timeout),
          "not every session completed");
      close();
      break;
    }
    case Workload::mixed: {
      open();
      loads.go();
      std::this_thread::sleep_for(std::chrono::duration<double>(o.plan.day_s));
      close();
      break;
    }
  }
  result["window"] = window_json(a, b, before, after, latency);
  result["setup_s"] = round_to(a.at_s - go_at, 3);
  // While the stations are still connected: which node holds how many.
  if (!target.node_ids.empty()) result["nodes"] = node_results(target, node_baselines);
  auto [stats, all_latency] = loads.finish(60s);
  stats["latency_ms"] = latency_json(all_latency);
  result["load"] = stats;
  if (db) {
    if (stores_meter_values(o.workload)) {
      // The writer answers once rows are committed, so they are all there now.
      result["stored"] = stored_rows(*db, a, b);
    }
    if (o.limit && stores_meter_values(o.workload)) {
      std::cerr << "chargegrid-bench: COPY limit\n";
      try {
        result["copy_limit"] =
            copy_limit(target.database_url, "meter_values", target.postgres->pid);
      } catch (const std::exception& e) {
        result["copy_limit_failed"] = e.what();
      }
    }
    db.reset();
  }
  if (const auto end = target.sample()) {
    result["rss_end_bytes"] = end->rss_bytes;
  }
  result["load_average_end"] = load_average();
  return result;
}

double number(const Json& j, std::initializer_list<const char*> path) {
  const Json* at = &j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return std::nan("");
    at = &(*at)[key];
  }
  return at->is_number() ? at->get<double>() : std::nan("");
}

Json ratio(double a, double b) {
  if (!std::isfinite(a) || !std::isfinite(b) || b == 0) return nullptr;
  return round_to(a / b, 3);
}

Json comparisons(const Json& results) {
  Json out = Json::object();
  if (!results.contains("chargegrid")) return out;
  const Json& cg = results["chargegrid"];
  if (results.contains("ocpp-rpc")) {
    const Json& peer = results["ocpp-rpc"];
    out["chargegrid_over_ocpp_rpc"] = {
        {"messages_per_s", ratio(number(cg, {"window", "messages_per_s"}),
                                 number(peer, {"window", "messages_per_s"}))},
        {"cpu_per_1000_messages_server",
         ratio(number(cg, {"window", "cpu_ms_per_1000_messages", "server"}),
               number(peer, {"window", "cpu_ms_per_1000_messages", "server"}))},
        {"cpu_per_1000_messages_server_and_db",
         ratio(number(cg, {"window", "cpu_ms_per_1000_messages", "server_and_db"}),
               number(peer, {"window", "cpu_ms_per_1000_messages", "server"}))},
        {"latency_p99", ratio(number(cg, {"window", "latency_ms", "p99"}),
                              number(peer, {"window", "latency_ms", "p99"}))},
        {"bytes_per_station", ratio(number(cg, {"memory", "bytes_per_station"}),
                                    number(peer, {"memory", "bytes_per_station"}))}};
  }
  if (cg.contains("copy_limit") && cg.contains("stored")) {
    const Json& limit = cg["copy_limit"];
    const Json& stored = cg["stored"];
    // The limit's cost for the same number of meter messages as the window stored.
    const double rows_per_message =
        number(stored, {"total_rows"}) / number(stored, {"total_meter_messages"});
    const double limit_cpu_per_row =
        (number(limit, {"client_cpu_s"}) + number(limit, {"db_cpu_s"})) / number(limit, {"rows"});
    const double limit_ms_per_1000 = limit_cpu_per_row * rows_per_message * 1000.0 * 1000.0;
    out["limit_cpu_ms_per_1000_meter_messages"] = round_to(limit_ms_per_1000, 3);
    out["chargegrid_over_copy_limit"] = {
        {"rows_per_s", ratio(number(stored, {"window_rows_per_s"}), number(limit, {"rows_per_s"}))},
        {"cpu_per_1000_messages_server_and_db",
         ratio(number(cg, {"window", "cpu_ms_per_1000_messages", "server_and_db"}),
               limit_ms_per_1000)},
        {"db_cpu_per_row",
         ratio(number(cg, {"window", "cpu_s", "db"}) / number(stored, {"window_rows"}),
               number(limit, {"db_cpu_s"}) / number(limit, {"rows"}))}};
  }
  return out;
}

void print_summary(const Json& report) {
  std::cout << "workload " << report["workload"].get<std::string>() << ", "
            << report["parameters"]["stations"] << " stations, OCPP "
            << report["parameters"]["version"].get<std::string>() << ", load average "
            << report["machine"]["load_average_start"].get<std::string>() << "\n";
  for (const auto& [name, r] : report["results"].items()) {
    const Json& w = r["window"];
    std::cout << std::left << std::setw(11) << name << std::right << " " << w["messages"]
              << " msgs in " << w["seconds"] << " s = " << w["messages_per_s"]
              << " msg/s; latency ms p50 " << w["latency_ms"]["p50"] << " p99 "
              << w["latency_ms"]["p99"] << " p99.9 " << w["latency_ms"]["p99.9"] << "; errors "
              << w["call_errors"] << ", timeouts " << w["call_timeouts"]
              << "; CPU ms/1000 msgs server " << w["cpu_ms_per_1000_messages"]["server"] << " db "
              << w["cpu_ms_per_1000_messages"]["db"] << " load "
              << w["cpu_ms_per_1000_messages"]["load"];
    if (w.contains("db_transactions_per_message")) {
      std::cout << "; db transactions/msg " << w["db_transactions_per_message"];
    }
    std::cout << "\n";
    if (r.contains("memory")) {
      std::cout << std::setw(11) << ""
                << " memory " << r["memory"]["bytes_per_station"] << " bytes per station (RSS "
                << r["memory"]["rss_before_bytes"] << " -> " << r["memory"]["rss_after_bytes"]
                << ")\n";
    }
    if (r.contains("boot")) {
      std::cout << std::setw(11) << ""
                << " all booted in " << r["boot"]["all_booted_s"] << " s, statuses done in "
                << r["boot"]["all_settled_s"] << " s\n";
    }
    if (r.contains("nodes")) {
      for (const auto& node : r["nodes"]) {
        std::cout << std::setw(11) << ""
                  << " " << node["node"].get<std::string>() << ": " << node["stations_held"]
                  << " stations, RSS " << node.value("rss_bytes", 0) << " B, CPU "
                  << node.value("cpu_s_total", 0.0) << " s\n";
      }
    }
    if (r.contains("stored")) {
      std::cout << std::setw(11) << ""
                << " stored " << r["stored"]["window_rows_per_s"] << " rows/s ("
                << r["stored"]["window_meter_messages_per_s"] << " meter msgs/s) in the window\n";
    }
    if (r.contains("copy_limit")) {
      std::cout << std::setw(11) << ""
                << " COPY limit " << r["copy_limit"]["rows"] << " rows at "
                << r["copy_limit"]["rows_per_s"] << " rows/s, client CPU "
                << r["copy_limit"]["client_cpu_s"] << " s, db CPU " << r["copy_limit"]["db_cpu_s"]
                << " s\n";
    }
  }
  if (!report["comparisons"].empty())
    std::cout << "ratios " << report["comparisons"].dump() << "\n";
}

std::string timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "chargegrid-bench: one workload against chargegridd, an ocpp-rpc peer and the "
      "COPY limit"};
  Options o;
  auto& p = o.plan;
  p.total_stations = 1000;
  p.processes = 0;  // chosen from the station count unless given
  app.add_option("workload", o.workload_name, "idle, boot-storm, metering, sessions, mixed")
      ->required()
      ->check([](const std::string& w) {
        return parse_workload(w) ? std::string() : "unknown workload " + w;
      });
  option(app, "--stations", p.total_stations, "stations in the run", CLI::Range(1, 200000));
  option(app, "--version", o.version, "OCPP version: 1.6 or 2.0.1 (mixed uses both)",
         CLI::IsMember({"1.6", "2.0.1"}));
  app.add_option("--duration", o.duration_s, "measurement window, seconds (idle: 60, metering: 20)")
      ->check(CLI::NonNegativeNumber);
  option(app, "--warmup", o.warmup_s, "metering: seconds after all booted before the window",
         CLI::NonNegativeNumber);
  add_plan_options(app, p);
  app.add_option("--processes", p.processes,
                 "load-generator processes (default: one per 10,000 stations, at least 2 "
                 "from 2,000 stations)")
      ->check(CLI::Range(1, 64));
  option(app, "--threads", p.threads, "I/O threads per load process", CLI::Range(1, 16));
  app.add_option("--source-spread", p.source_spread,
                 "source addresses 127.0.0.2..(1+N) (default: one per 900 stations)")
      ->check(CLI::Range(0, 253));
  option(app, "--target", o.targets, "chargegrid, ocpp-rpc or both",
         CLI::IsMember({"chargegrid", "ocpp-rpc", "both"}));
  app.add_option("--heartbeat-interval", o.heartbeat_s,
                 "interval the targets give stations, s (default: idle 60, mixed 1800 "
                 "simulated, others 300)")
      ->check(CLI::Range(1, 86400));
  app.add_flag("--tls", o.tls,
               "stations connect over wss (chargegridd --tls, its development certificate); "
               "the peer runs plain ws only and is skipped");
  app.add_flag("!--no-limit", o.limit, "skip the COPY limit");
  option(app, "--timeout", o.timeout_s, "seconds any one phase may take", CLI::PositiveNumber);
  app.add_option("--nodes", o.nodes,
                 "cluster mode: this many chargegridd nodes on one embedded database, sharing "
                 "the OCPP port (SO_REUSEPORT); ChargeGrid only")
      ->check(CLI::Range(1, 64));
  option(app, "--server", o.server, "chargegridd binary");
  app.add_option("--server-arg", o.server_args, "extra chargegridd flag (repeatable)")
      ->allow_extra_args(false);
  option(app, "--load", o.load, "chargegrid-bench-load binary");
  option(app, "--node", o.node, "node binary");
  app.add_option("--peer-script", o.peer_script, "tools/bench/peer/csms.mjs");
  app.add_option("--work-dir", o.work_dir, "folder for databases and logs (default: in /tmp)");
  app.add_flag("--keep", o.keep, "keep the work folder");
  app.add_option("--result", o.result,
                 "result file (default: bench-results/WORKLOAD-TIME.json, git-ignored)");
  CLI11_PARSE(app, argc, argv);

  o.workload = *parse_workload(o.workload_name);
  p.workload = o.workload;
  p.version = *sim::parse_version(o.version);
  const int n = p.total_stations;
  if (p.processes < 1) p.processes = std::max(n >= 2000 ? 2 : 1, (n + 9999) / 10000);
  if (p.source_spread < 1) p.source_spread = std::clamp((n + 899) / 900, 1, 253);
  if (o.duration_s <= 0) o.duration_s = o.workload == Workload::idle ? 60.0 : 20.0;
  std::vector<std::string> targets;
  if (o.targets != "ocpp-rpc") targets.push_back("chargegrid");
  if (o.targets != "chargegrid" && !o.tls && o.nodes == 0) {
    if (o.peer_script.empty()) {
      std::cerr << "chargegrid-bench: --peer-script is needed for the ocpp-rpc peer\n";
      return 2;
    }
    targets.push_back("ocpp-rpc");
  }

  fs::path dir;
  if (o.work_dir.empty()) {
    std::string templ = (fs::temp_directory_path() / "chargegrid-bench-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
      std::cerr << "chargegrid-bench: cannot make a work folder\n";
      return 1;
    }
    dir = templ;
  } else {
    dir = fs::absolute(o.work_dir);
    fs::create_directories(dir);
  }
  // PostgreSQL runs as an unprivileged user when we are root: it must reach the folder.
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);

  utsname uts{};
  ::uname(&uts);
  Json report{{"workload", o.workload_name},
              {"time", timestamp()},
              {"parameters",
               {{"stations", n},
                {"version", o.workload == Workload::mixed ? "1.6+2.0.1" : o.version},
                {"connectors", p.connectors},
                {"transport", o.tls ? "wss" : "ws"},
                {"load_processes", p.processes},
                {"threads_per_load_process", p.threads},
                {"source_spread", p.source_spread},
                {"duration_s", o.duration_s},
                {"nodes", o.nodes},
                {"server_args", o.server_args}}},
              {"machine",
               {{"cores", std::thread::hardware_concurrency()},
                {"kernel", std::string(uts.release)},
                {"load_average_start", load_average()}}},
              {"results", Json::object()}};
  if (o.workload == Workload::metering) {
    report["parameters"]["rate"] = p.rate;
    report["parameters"]["warmup_s"] = o.warmup_s;
  }
  if (o.workload == Workload::sessions) {
    report["parameters"]["sessions"] = p.sessions;
    report["parameters"]["session_length_s"] = p.session_length_s;
    report["parameters"]["meter_interval_s"] = p.meter_interval_s;
    report["parameters"]["time_scale"] = p.time_scale;
  }
  if (o.workload == Workload::mixed) report["parameters"]["day_s"] = p.day_s;

  int status = 0;
  for (const auto& target : targets) {
    try {
      report["results"][target] = run_target(o, target, dir);
    } catch (const std::exception& e) {
      std::cerr << "chargegrid-bench: " << target << ": " << e.what() << " (logs in "
                << (dir / target).string() << ")\n";
      report["results"][target] = {{"target", target}, {"failed", e.what()}};
      status = 1;
    }
  }
  report["machine"]["load_average_end"] = load_average();
  for (const auto& [name, r] : report["results"].items()) {
    if (r.contains("failed")) continue;
    const Json& w = r["window"];
    if (w["call_errors"].get<double>() > 0 || w["call_timeouts"].get<double>() > 0 ||
        r["load"].value("call_timeouts", 0) > 0 || r["load"].value("connect_failures", 0) > 0) {
      status = status == 0 ? 3 : status;
    }
  }
  report["comparisons"] = comparisons(report["results"]);

  fs::path result = o.result;
  if (result.empty()) {
    const fs::path folder = "bench-results";
    if (!fs::exists(folder)) {
      fs::create_directories(folder);
      std::ofstream(folder / ".gitignore") << "*\n";
    }
    result = folder / (o.workload_name + "-" + report["time"].get<std::string>() + ".json");
  } else if (result.has_parent_path()) {
    fs::create_directories(result.parent_path());
  }
  std::ofstream(result) << report.dump(2) << "\n";
  std::vector<std::string> failed;
  for (const auto& [name, r] : report["results"].items()) {
    if (r.contains("failed")) failed.push_back(name);
  }
  for (const auto& name : failed) report["results"].erase(name);
  print_summary(report);
  std::cout << "result: " << result.string() << "\n";
  if (!o.keep && o.work_dir.empty() && status == 0) fs::remove_all(dir);
  if (status != 0) std::cerr << "chargegrid-bench: work folder kept: " << dir.string() << "\n";
  return status;
}
