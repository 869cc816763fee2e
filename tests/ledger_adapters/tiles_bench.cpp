// Benchmark (not a test) of the log over HTTP: ledger-tiles-bench [--entries N] [--seconds S]
// [--clients C]. A chargegridd server in this process on a fresh database; N synthetic records
// appended; then, for S seconds each with C keep-alive clients, requests per second of full
// level-0 tiles, full entry bundles, inclusion proofs and consistency proofs at random
// positions; and the time chargegrid-verify-style auditing takes (every bundle and tile read).
// Results in docs/settlement.md.

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <thread>

#include "../ledger/log_records.hpp"
#include "../server/server_fixture.hpp"
#include "chargegrid/ledger/postgres_log.hpp"
#include "chargegrid/ledger/tiles.hpp"
#include "chargegrid/testing/bench.hpp"
#include "chargegrid/testing/http_client.hpp"
#include "support.hpp"

using namespace chargegrid;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"ledger-tiles-bench: the verifiable log served over HTTP"};
  std::uint64_t entries = 100000;
  double seconds = 5;
  int clients = 2;
  app.add_option("--entries", entries);
  app.add_option("--seconds", seconds);
  app.add_option("--clients", clients);
  CLI11_PARSE(app, argc, argv);

  auto config = testing::test_config();
  const auto signer = ledger_testing::use_bench_ledger(config, "tiles-bench");
  testing::ServerFixture fx(config);
  const auto port = fx.server().http_port();
  {
    pqxx::connection c(fx.database().url());
    ledger::PostgresLog log(c, signer);
    const auto start = Clock::now();
    for (std::uint64_t n = 0; n < entries;) {
      std::vector<std::string> batch;
      for (int i = 0; i < 1000 && n < entries; ++i, ++n)
        batch.push_back(
            ledger::canonical_record(ledger::testing::synthetic_record("B-" + std::to_string(n))));
      log.append(batch);
    }
    std::printf("appended %llu entries in %.1f s\n", static_cast<unsigned long long>(entries),
                std::chrono::duration<double>(Clock::now() - start).count());
  }
  while (!testing::ServerFixture::eventually(
      [&] {
        auto got = testing::http_request(port, http::verb::get, "/ledger/checkpoint", "");
        return got.status == 200 &&
               ledger::Checkpoint::parse(ledger::parse_note(got.body).text).size == entries;
      },
      std::chrono::seconds(30))) {
  }
  const std::uint64_t full_tiles = entries / 256;
  auto tile = [&](std::mt19937_64& r) {
    return "/ledger/" + ledger::tile_path(0, r() % full_tiles, 256);
  };
  auto bundle = [&](std::mt19937_64& r) {
    return "/ledger/" + ledger::entries_path(r() % full_tiles, 256);
  };
  auto inclusion = [&](std::mt19937_64& r) {
    return "/ledger/proof/inclusion?index=" + std::to_string(r() % entries) +
           "&size=" + std::to_string(entries);
  };
  auto consistency = [&](std::mt19937_64& r) {
    return "/ledger/proof/consistency?old=" + std::to_string(1 + r() % (entries - 1)) +
           "&new=" + std::to_string(entries);
  };
  std::printf("%d clients, %.0f s each, %llu entries\n", clients, seconds,
              static_cast<unsigned long long>(entries));
  std::printf("level-0 tiles (8 KiB):        %8.0f requests/s\n",
              testing::http_get_rate(port, clients, seconds, tile));
  std::printf("entry bundles (256 records):  %8.0f requests/s\n",
              testing::http_get_rate(port, clients, seconds, bundle));
  std::printf("inclusion proofs:             %8.0f requests/s\n",
              testing::http_get_rate(port, clients, seconds, inclusion));
  std::printf("consistency proofs:           %8.0f requests/s\n",
              testing::http_get_rate(port, clients, seconds, consistency));
  // An audit's reads: every bundle and every tile, one client.
  {
    testing::BenchHttpClient client(port);
    const auto start = Clock::now();
    std::size_t bytes = 0;
    for (std::uint64_t n = 0; n * 256 < entries; ++n) {
      const unsigned width = (n + 1) * 256 <= entries ? 256 : ledger::partial_width(0, entries);
      bytes += client.get("/ledger/" + ledger::entries_path(n, width));
      bytes += client.get("/ledger/" + ledger::tile_path(0, n, width));
    }
    std::printf("a whole audit's reads: %.1f s for %.1f MB\n",
                std::chrono::duration<double>(Clock::now() - start).count(), bytes / 1e6);
  }
  std::filesystem::remove_all(config.data_dir);
  return 0;
}
