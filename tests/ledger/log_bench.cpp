// Benchmark of the PostgreSQL-backed verifiable log (results in docs/ledger.md).
//
// Measures appends per second in batches of 1, 100 and 1,000; inclusion and consistency proofs
// served per second at --entries entries; proof sizes against log2(n); and, as the limits next
// to them, SHA-256 tree building in memory and PostgreSQL's own insert rate for the same rows.
// Runs on a private embedded PostgreSQL cluster unless --url names a server.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <pqxx/pqxx>
#include <random>

#include "chargegrid/db/embedded_postgres.hpp"
#include "chargegrid/db/url.hpp"
#include "chargegrid/ledger/postgres_log.hpp"
#include "log_records.hpp"

using namespace chargegrid::ledger;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<std::string> make_records(std::uint64_t first, std::uint64_t count) {
  std::vector<std::string> out;
  out.reserve(count);
  for (std::uint64_t i = first; i < first + count; ++i) {
    out.push_back(canonical_record(testing::synthetic_record("bench-" + std::to_string(i))));
  }
  return out;
}

std::string fresh_database(const std::string& server_url, const std::string& name) {
  pqxx::connection admin(chargegrid::db::url_with_database(server_url, "postgres"));
  pqxx::nontransaction tx(admin);
  tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name));
  tx.exec("CREATE DATABASE " + tx.quote_name(name));
  return chargegrid::db::url_with_database(server_url, name);
}

// Appends `total` records in batches of `batch`; returns records per second.
double append_rate(PostgresLog& log, std::uint64_t first, std::uint64_t total,
                   std::uint64_t batch) {
  auto records = make_records(first, total);
  auto start = Clock::now();
  for (std::uint64_t i = 0; i < total; i += batch) {
    std::vector<std::string> chunk(records.begin() + i,
                                   records.begin() + std::min(total, i + batch));
    log.append(chunk);
  }
  return total / seconds_since(start);
}

// PostgreSQL's own rate for the same entry rows, written the same way, without the tree.
double plain_insert_rate(pqxx::connection& connection, std::uint64_t total, std::uint64_t batch) {
  {
    pqxx::work tx(connection);
    tx.exec(
        "CREATE TABLE plain_rows (idx bigint PRIMARY KEY, leaf_hash bytea NOT NULL UNIQUE, "
        "record text NOT NULL)");
    tx.commit();
  }
  auto records = make_records(50000000, total);
  auto start = Clock::now();
  for (std::uint64_t i = 0; i < total; i += batch) {
    pqxx::work tx(connection);
    std::string values;
    for (std::uint64_t k = i; k < std::min(total, i + batch); ++k) {
      if (!values.empty()) values += ",";
      values += "(" + std::to_string(k) + ",'\\x" + hex_encode(leaf_hash(records[k])) +
                "'::bytea," + tx.quote(records[k]) + ")";
    }
    tx.exec("INSERT INTO plain_rows VALUES " + values);
    tx.commit();
  }
  return total / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark of the ledger's PostgreSQL-backed verifiable log"};
  std::string url;
  std::uint64_t entries = 1000000;
  double proof_seconds = 5;
  app.add_option("--url", url, "PostgreSQL server URL (default: a private embedded cluster)");
  app.add_option("--entries", entries, "log size for the proof measurements");
  app.add_option("--proof-seconds", proof_seconds, "how long each proof measurement runs");
  bool proofs_only = false;
  app.add_flag("--proofs-only", proofs_only, "skip the append measurements");
  CLI11_PARSE(app, argc, argv);

  std::optional<chargegrid::db::EmbeddedPostgres> embedded;
  std::filesystem::path data_dir = std::filesystem::temp_directory_path() /
                                   ("chargegrid-ledger-bench-" + std::to_string(getpid()));
  if (url.empty()) {
    chargegrid::db::EmbeddedPostgresOptions options;
    options.data_dir = data_dir;
    options.port = 50000 + getpid() % 10000;
    embedded.emplace(options);
    embedded->start();
    url = embedded->connection_url();
  }
  auto signer = NoteSigner::generate("bench.chargegrid.example/ledger");

  std::printf("## appends (durable commits, one transaction per batch)\n");
  std::printf("| batch | records | appends/s | plain INSERT rows/s (same rows, same batches) |\n");
  std::printf("|---|---|---|---|\n");
  for (std::uint64_t batch :
       proofs_only ? std::vector<std::uint64_t>{} : std::vector<std::uint64_t>{1, 100, 1000}) {
    std::uint64_t total = batch == 1 ? 3000 : batch == 100 ? 50000 : 200000;
    pqxx::connection connection(fresh_database(url, "bench_append_" + std::to_string(batch)));
    PostgresLog log(connection, signer);
    double rate = append_rate(log, 0, total, batch);
    pqxx::connection plain(fresh_database(url, "bench_plain_" + std::to_string(batch)));
    double plain_rate = plain_insert_rate(plain, total, batch);
    std::printf("| %llu | %llu | %.0f | %.0f |\n", static_cast<unsigned long long>(batch),
                static_cast<unsigned long long>(total), rate, plain_rate);
    std::fflush(stdout);
  }

  if (!proofs_only) {
    auto records = make_records(0, 200000);
    auto start = Clock::now();
    MemoryMerkleTree tree;
    for (const auto& r : records) tree.append(r);
    double rate = records.size() / seconds_since(start);
    std::printf("\nIn memory: SHA-256 leaf and node hashing of the same records: %.0f records/s\n",
                rate);
  }

  std::printf("\n## proofs at %llu entries\n", static_cast<unsigned long long>(entries));
  pqxx::connection connection(fresh_database(url, "bench_proofs"));
  PostgresLog log(connection, signer);
  auto fill_start = Clock::now();
  for (std::uint64_t i = 0; i < entries; i += 1000) {
    log.append(make_records(i, std::min<std::uint64_t>(1000, entries - i)));
  }
  std::printf("filled in %.0f s (%.0f appends/s in batches of 1,000 as the log grew)\n",
              seconds_since(fill_start), entries / seconds_since(fill_start));
  auto checkpoint = log.publish_checkpoint();
  std::mt19937_64 random(42);

  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  auto start = Clock::now();
  while (seconds_since(start) < proof_seconds) {
    std::uint64_t index = random() % checkpoint.size;
    auto proof = log.inclusion(index, checkpoint.size);
    bytes += proof.to_json().size();
    ++count;
  }
  std::printf("inclusion proofs: %.0f /s (one connection, %.0f bytes of JSON each)\n",
              count / seconds_since(start), static_cast<double>(bytes) / count);

  count = 0;
  start = Clock::now();
  while (seconds_since(start) < proof_seconds) {
    std::uint64_t old_size = 1 + random() % (checkpoint.size - 1);
    log.consistency(old_size, checkpoint.size);
    ++count;
  }
  std::printf("consistency proofs: %.0f /s (one connection)\n", count / seconds_since(start));

  std::printf(
      "\n## proof size against log2(n)\n| n | log2(n) | inclusion hashes (max) | "
      "consistency hashes (max) |\n|---|---|---|---|\n");
  for (std::uint64_t n = 10; n <= checkpoint.size; n *= 10) {
    std::size_t inclusion_max = 0;
    std::size_t consistency_max = 0;
    for (int k = 0; k < 200; ++k) {
      inclusion_max = std::max(inclusion_max, log.inclusion(random() % n, n).hashes.size());
      consistency_max =
          std::max(consistency_max, log.consistency(1 + random() % n, n).hashes.size());
    }
    std::printf("| %llu | %.1f | %zu | %zu |\n", static_cast<unsigned long long>(n),
                std::log2(static_cast<double>(n)), inclusion_max, consistency_max);
  }
  if (embedded) {
    embedded->stop();
    std::filesystem::remove_all(data_dir);
  }
  return 0;
}
