// Benchmark (not a test) of settlement and the verifiable log: credits-settlement-bench
// [--stations N] [--entries M] [--seconds S] [--clients C] [--anchor=true|false];
// `scripts/bench settlement` runs it.
// A chargegridd server in this process on a fresh database (checkpoints every second), with
// --anchor (the default when ganache is installed under tests/ledger_adapters/node_modules)
// the EVM anchor adapter on a local ganache chain started here (the server deploys the
// anchoring contract on first use):
//   1. N simulated 1.6 stations (chargegrid-sim's Fleet) each charge one session; measured: the
//      sessions ended per second through to a settlement in the log and a signed checkpoint
//      that covers it, and with --anchor through to that checkpoint anchored on the chain
//      (its transaction and block as GET /api/v1/ledger/adapters shows them);
//   2. the log is filled to M entries with synthetic records through the log's batch append
//      (1,000 records a transaction);
//   3. at M entries: appends per second one record a transaction (as settlement appends), with
//      where each append's time goes and what else ran meanwhile, right after the fill and again
//      once autovacuum has finished; and, after a 2 s warm-up, for S seconds each with C keep-alive
//      HTTP clients, inclusion proofs, consistency proofs and level-0 tiles per second at random
//      positions.
// The figures and the load average go to stdout as text and JSON (docs/benchmarks.md).

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "../ledger/log_records.hpp"
#include "../ledger_adapters/support.hpp"
#include "../server/server_fixture.hpp"
#include "api/auth.hpp"
#include "chargegrid/ledger/postgres_log.hpp"
#include "chargegrid/ledger/tiles.hpp"
#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/testing/bench.hpp"
#include "chargegrid/testing/http_client.hpp"

using namespace chargegrid;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

std::uint64_t checkpoint_size(std::uint16_t port) {
  auto got = testing::http_request(port, http::verb::get, "/ledger/checkpoint", "");
  if (got.status != 200) return 0;
  return ledger::Checkpoint::parse(ledger::parse_note(got.body).text).size;
}

const std::filesystem::path kGanache = ledger_testing::ganache_cli(CHARGEGRID_LEDGER_TESTS_DIR);

// CPU seconds used so far by this process (the server and the benchmark's client) and by its
// descendants still running, by command name: "postgres" (the embedded database's backends) and
// "node" (the chain). From /proc: utime + stime.
struct CpuUse {
  double self = 0, postgres = 0, node = 0;
};

CpuUse cpu_use() {
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  // pid → (parent, comm, cpu seconds)
  struct Proc {
    int parent = 0;
    std::string comm;
    double cpu = 0;
  };
  std::map<int, Proc> procs;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    Proc p;
    rest >> state >> p.parent;
    std::string skip;
    for (int field = 5; field < 14; ++field) rest >> skip;  // to utime (field 14)
    double utime = 0, stime = 0;
    rest >> utime >> stime;
    p.comm = line.substr(open + 1, close - open - 1);
    p.cpu = (utime + stime) / tick;
    procs[std::stoi(name)] = p;
  }
  CpuUse out;
  const int self = ::getpid();
  out.self = procs[self].cpu;
  for (const auto& [pid, p] : procs) {
    if (pid == self) continue;
    int up = p.parent;
    while (up > 1 && up != self) up = procs.count(up) ? procs[up].parent : 0;
    if (up != self) continue;
    if (p.comm == "postgres") out.postgres += p.cpu;
    if (p.comm == "node") out.node += p.cpu;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"credits-settlement-bench: settlement through to the log, and the log at scale"};
  int stations = 1000;
  std::uint64_t entries = 1000000;
  double seconds = 5;
  int clients = 2;
  app.add_option("--stations", stations, "simulated stations, one session each");
  app.add_option("--entries", entries, "log size for the append, proof and tile figures");
  app.add_option("--seconds", seconds, "seconds per HTTP measurement");
  app.add_option("--clients", clients, "keep-alive HTTP clients");
  bool anchor = !std::string(CHARGEGRID_NODE).empty() && std::filesystem::exists(kGanache);
  app.add_option("--anchor", anchor,
                 "anchor checkpoints on a local ganache chain (default: on when installed)");
  CLI11_PARSE(app, argc, argv);
  if (anchor && (std::string(CHARGEGRID_NODE).empty() || !std::filesystem::exists(kGanache))) {
    std::fprintf(stderr, "--anchor needs node and %s (npm install in tests/ledger_adapters)\n",
                 kGanache.c_str());
    return 2;
  }

  auto config = testing::test_config();
  config.accept_unknown_tokens = true;
  const auto signer = ledger_testing::use_bench_ledger(config, "settlement-bench");
  std::unique_ptr<ledger_testing::Chain> chain;
  if (anchor) {
    const std::filesystem::path dir(config.data_dir);
    chain = std::make_unique<ledger_testing::Chain>(
        CHARGEGRID_NODE, kGanache, ledger_testing::free_port(), dir / "chain", dir / "ganache.log");
    chain->start();
    std::ofstream(dir / "evm.key") << ledger_testing::kChainKey << "\n";
    config.ledger_adapters = {"evm"};
    config.evm_rpc_url = chain->url();
    config.evm_key_file = (dir / "evm.key").string();
    config.evm_chain_id = 1337;
  }
  testing::ServerFixture fx(config);
  const auto port = fx.server().http_port();
  json result{{"stations", stations}, {"entries", entries}, {"clients", clients}};

  // 1. Sessions ended through to a settlement in a signed checkpoint.
  {
    sim::FleetOptions options;
    options.station.version = sim::OcppVersion::v16;
    options.station.endpoint =
        sim::parse_url("ws://127.0.0.1:" + std::to_string(fx.server().ocpp_port()) + "/ocpp");
    options.station.connectors = 1;
    options.station.sessions = 1;
    options.station.time_scale = 600;
    options.station.meter_interval_s = 300;
    options.station.session_length_s = 1800;  // 3 s of real time
    options.station.first_session_delay_s = 1;
    options.station.reconnect_min_s = 0.2;
    options.station.reconnect_max_s = 2;
    options.stations = stations;
    options.threads = 2;
    options.id_prefix = "BENCH";
    const auto start = Clock::now();
    sim::Fleet fleet(options);
    std::thread runner([&] { fleet.run(); });
    const auto count = [&](const std::string& sql) { return std::stoll(fx.query_value(sql)); };
    bool settled = false;
    while (!(settled = count("SELECT count(*) FROM settlements") >= stations) &&
           testing::seconds_since(start) < 900)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const double settled_s = testing::seconds_since(start);
    const auto log_size =
        static_cast<std::uint64_t>(count("SELECT count(*) FROM ledger_log_entry"));
    while (checkpoint_size(port) < log_size && testing::seconds_since(start) < 960)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double checkpointed_s = testing::seconds_since(start);
    // With the chain: until a checkpoint covering every settlement is anchored, as the API
    // shows it (the newest anchor's size, transaction and block).
    json last_anchor;
    if (anchor) {
      std::string key;
      {
        auto c = fx.sql();
        pqxx::work tx(c);
        key = server::api::create_api_key(tx, "settlement-bench", server::api::Role::Admin, {}, {})
                  .secret;
        tx.commit();
      }
      testing::ApiClient api(port, key);
      while (testing::seconds_since(start) < 1020) {
        const auto status = api.get("/ledger/adapters");
        const auto& newest = status.data["log"]["last_anchor"];
        if (newest.is_object() && newest["size"].get<std::uint64_t>() >= log_size &&
            newest["block_number"].is_number()) {
          last_anchor = newest;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    const double anchored_s = testing::seconds_since(start);
    fleet.stop();
    runner.join();
    // The settling window: from the first session's end (as the server received it) to the
    // last settlement.
    const double window = std::stod(
        fx.query_value("SELECT extract(epoch FROM (SELECT max(settled_at) FROM settlements) - "
                       "(SELECT min(updated_at) FROM transactions WHERE state = 'ended'))"));
    const auto done = count("SELECT count(*) FROM settlements");
    std::printf(
        "%d stations: %lld sessions settled in %.1f s from the fleet's start, "
        "in a checkpoint after %.1f s\n",
        stations, done, settled_s, checkpointed_s);
    std::printf(
        "sessions ended → settled and logged: %.0f/s over %.1f s (first end to last "
        "settlement); %s\n",
        done / window, window, settled ? "all settled" : "NOT all settled");
    result["settlement"] = {{"sessions", done},
                            {"all_settled", settled},
                            {"settled_after_s", settled_s},
                            {"checkpointed_after_s", checkpointed_s},
                            {"window_s", window},
                            {"sessions_per_s", done / window},
                            {"load_average", testing::load_average()}};
    if (anchor && last_anchor.is_null()) {
      std::printf("NO checkpoint covering the %llu log entries was anchored within the limit\n",
                  static_cast<unsigned long long>(log_size));
      result["anchor"] = {{"anchored", false}, {"log_size", log_size}};
    } else if (anchor) {
      // The anchor's own time (stored when its transaction was mined) against the server's
      // record of the sessions' ends: the first covering anchor, not a later one.
      const auto covering = "(SELECT anchored_at FROM ledger_checkpoint_anchor WHERE size >= " +
                            std::to_string(log_size) + " ORDER BY size LIMIT 1)";
      const double anchor_window = std::stod(
          fx.query_value("SELECT extract(epoch FROM " + covering +
                         " - (SELECT min(updated_at) FROM transactions WHERE state = 'ended'))"));
      const double after_last_end = std::stod(
          fx.query_value("SELECT extract(epoch FROM " + covering +
                         " - (SELECT max(updated_at) FROM transactions WHERE state = 'ended'))"));
      const auto tx_hash = last_anchor["tx_hash"].get<std::string>();
      const auto receipt = chain->rpc("eth_getTransactionReceipt", {tx_hash});
      const bool mined = receipt.is_object() && receipt["status"] == "0x1";
      std::printf(
          "sessions ended → anchored checkpoint: %.0f/s over %.1f s (first end to the anchor); "
          "anchored %.1f s after the last session's end, %.1f s from the fleet's start "
          "(checkpoint size %llu, tx %s, block %llu, receipt %s)\n",
          done / anchor_window, anchor_window, after_last_end, anchored_s,
          static_cast<unsigned long long>(last_anchor["size"].get<std::uint64_t>()),
          tx_hash.c_str(),
          static_cast<unsigned long long>(last_anchor["block_number"].get<std::uint64_t>()),
          mined ? "status 1" : "NOT confirmed");
      result["anchor"] = {{"anchored", true},
                          {"receipt_ok", mined},
                          {"checkpoint_size", last_anchor["size"]},
                          {"tx_hash", tx_hash},
                          {"block_number", last_anchor["block_number"]},
                          {"anchored_after_s", anchored_s},
                          {"after_last_end_s", after_last_end},
                          {"window_s", anchor_window},
                          {"sessions_per_s", done / anchor_window},
                          {"load_average", testing::load_average()}};
    }
  }

  // 2. The log filled to `entries` through the batch append.
  const auto fill_start = Clock::now();
  pqxx::connection c(fx.database().url());
  {
    ledger::PostgresLog log(c, signer);
    for (std::uint64_t n = log.size(); n < entries;) {
      std::vector<std::string> batch;
      for (int i = 0; i < 1000 && n < entries; ++i, ++n)
        batch.push_back(ledger::canonical_record(
            ledger::testing::synthetic_record("FILL-" + std::to_string(n))));
      log.append(batch);
    }
  }
  const double fill_s = testing::seconds_since(fill_start);
  std::printf("filled the log to %llu entries in %.1f s (%.0f appends/s in batches of 1,000)\n",
              static_cast<unsigned long long>(entries), fill_s, entries / fill_s);

  // 3. At `entries`: single-record appends (each its own transaction, as a settlement appends),
  //    then proofs and tiles over HTTP.
  //    Where an append's time goes: waiting for the head's row lock (taken here first, so the
  //    append finds it held), the append's statements, the commit; and what else ran meanwhile:
  //    checkpoints published, anchors, autovacuum, the CPU of the server, its database and the
  //    chain. Measured right after the fill (as before) and again once autovacuum, which the
  //    fill's million inserted rows set off, has finished.
  const auto autovacuum_active = [&](pqxx::connection& watch) {
    pqxx::nontransaction q(watch);
    return q.exec1(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                "'autovacuum worker' AND state = 'active'")[0]
               .as<int>() > 0;
  };
  const auto single_appends = [&](const std::string& label) {
    std::atomic<bool> sampling{true};
    std::atomic<int> samples{0}, autovacuum_samples{0};
    std::thread sampler([&] {
      pqxx::connection watch(fx.database().url());
      while (sampling) {
        if (autovacuum_active(watch)) ++autovacuum_samples;
        ++samples;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    const auto count_since = [&](const std::string& table, const std::string& column) {
      return std::stoll(fx.query_value("SELECT count(*) FROM " + table + " WHERE " + column +
                                       " >= now() - make_interval(secs => " +
                                       std::to_string(seconds) + ")"));
    };
    const auto cpu_before = cpu_use();
    double lock_s = 0, append_s = 0, commit_s = 0;
    const auto start = Clock::now();
    int appended = 0;
    while (testing::seconds_since(start) < seconds) {
      const auto t0 = Clock::now();
      pqxx::work tx(c);
      tx.exec("SELECT size FROM ledger_log_head FOR UPDATE");
      const auto t1 = Clock::now();
      ledger::PostgresLog::append_in(tx,
                                     {ledger::canonical_record(ledger::testing::synthetic_record(
                                         "ONE-" + label + "-" + std::to_string(appended)))});
      const auto t2 = Clock::now();
      tx.commit();
      const auto t3 = Clock::now();
      lock_s += std::chrono::duration<double>(t1 - t0).count();
      append_s += std::chrono::duration<double>(t2 - t1).count();
      commit_s += std::chrono::duration<double>(t3 - t2).count();
      ++appended;
    }
    const double elapsed = testing::seconds_since(start);
    const auto cpu_after = cpu_use();
    sampling = false;
    sampler.join();
    const double rate = appended / elapsed;
    const auto ms_each = [&](double total) { return 1000 * total / appended; };
    const auto checkpoints = count_since("ledger_log_checkpoint", "published_at");
    const auto anchors = anchor ? count_since("ledger_checkpoint_anchor", "anchored_at") : 0;
    const double autovacuum_share = samples ? double(autovacuum_samples) / samples : 0.0;
    const double cpu_self = (cpu_after.self - cpu_before.self) / elapsed;
    const double cpu_postgres = (cpu_after.postgres - cpu_before.postgres) / elapsed;
    const double cpu_chain = (cpu_after.node - cpu_before.node) / elapsed;
    std::printf(
        "single appends at %llu entries, %s: %.0f/s; each %.2f ms waiting for the head's lock, "
        "%.2f ms appending, %.2f ms committing; meanwhile %lld checkpoints published, %lld "
        "anchored, autovacuum active in %.0f %% of samples; CPU seconds a second: server and "
        "bench %.2f, PostgreSQL %.2f, chain %.2f; load average %s\n",
        static_cast<unsigned long long>(entries), label.c_str(), rate, ms_each(lock_s),
        ms_each(append_s), ms_each(commit_s), checkpoints, anchors, 100 * autovacuum_share,
        cpu_self, cpu_postgres, cpu_chain, testing::load_average().c_str());
    return json{
        {"appends_per_s", rate},
        {"lock_wait_ms", ms_each(lock_s)},
        {"append_ms", ms_each(append_s)},
        {"commit_ms", ms_each(commit_s)},
        {"checkpoints_published", checkpoints},
        {"anchors", anchors},
        {"autovacuum_share", autovacuum_share},
        {"cpu_per_s",
         {{"server_and_bench", cpu_self}, {"postgres", cpu_postgres}, {"chain", cpu_chain}}},
        {"load_average", testing::load_average()}};
  };
  json breakdown;
  breakdown["after_fill"] = single_appends("after-fill");
  const double single_rate = breakdown["after_fill"]["appends_per_s"].get<double>();
  {
    // Until no autovacuum worker has run for 3 s (at most 4 minutes).
    pqxx::connection watch(fx.database().url());
    const auto waiting = Clock::now();
    double quiet_since = 0;
    bool quiet = false;
    while (!quiet && testing::seconds_since(waiting) < 240) {
      if (autovacuum_active(watch)) quiet_since = testing::seconds_since(waiting);
      quiet = testing::seconds_since(waiting) - quiet_since >= 3;
      if (!quiet) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    breakdown["autovacuum_done_after_s"] = quiet ? json(quiet_since) : json(nullptr);
    if (quiet)
      std::printf("autovacuum done %.1f s after the first measurement\n", quiet_since);
    else
      std::printf("autovacuum still running 240 s after the first measurement\n");
  }
  breakdown["after_autovacuum"] = single_appends("after-autovacuum");
  const auto size = std::stoull(fx.query_value("SELECT count(*) FROM ledger_log_entry"));
  while (checkpoint_size(port) < size) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::uint64_t full_tiles = size / 256;
  // Warm-up, not measured: the readers' subtree caches catch up with the million entries.
  testing::http_get_rate(port, clients, 2, [&](std::mt19937_64& r) {
    return "/ledger/proof/inclusion?index=" + std::to_string(r() % size) +
           "&size=" + std::to_string(size);
  });
  const auto inclusion = testing::http_get_rate(port, clients, seconds, [&](std::mt19937_64& r) {
    return "/ledger/proof/inclusion?index=" + std::to_string(r() % size) +
           "&size=" + std::to_string(size);
  });
  const auto consistency = testing::http_get_rate(port, clients, seconds, [&](std::mt19937_64& r) {
    return "/ledger/proof/consistency?old=" + std::to_string(1 + r() % (size - 1)) +
           "&new=" + std::to_string(size);
  });
  const auto tiles = testing::http_get_rate(port, clients, seconds, [&](std::mt19937_64& r) {
    return "/ledger/" + ledger::tile_path(0, r() % full_tiles, 256);
  });
  std::printf(
      "at %llu entries: %.0f appends/s (one record a transaction), %.0f inclusion "
      "proofs/s, %.0f consistency proofs/s, %.0f level-0 tiles/s (%d clients)\n",
      static_cast<unsigned long long>(size), single_rate, inclusion, consistency, tiles, clients);
  std::printf("load average: %s\n", testing::load_average().c_str());
  result["log"] = {{"size", size},
                   {"fill_s", fill_s},
                   {"batch_appends_per_s", entries / fill_s},
                   {"single_appends_per_s", single_rate},
                   {"single_append_breakdown", breakdown},
                   {"inclusion_proofs_per_s", inclusion},
                   {"consistency_proofs_per_s", consistency},
                   {"tiles_per_s", tiles},
                   {"load_average", testing::load_average()}};
  std::printf("%s\n", result.dump().c_str());
  if (chain) chain->stop();
  std::filesystem::remove_all(config.data_dir);
  return 0;
}
