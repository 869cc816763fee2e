// Benchmark of the PostgreSQL-backed verifiable log (results in docs/ledger.md).
//
// Measures appends per second in batches of 1, 100 and 1,000; inclusion and consistency proofs
// served per second at --entries entries, from one connection and from a pool of reader
// connections sharing one subtree cache; proof sizes against log2(n). The limits are measured
// in the same run: PostgreSQL inserting the same entry rows without the tree (the log's own
// statement form, and COPY), SHA-256 tree hashing of the same records in memory, and a bare
// one-row primary-key SELECT on the same connections (one round trip, the floor of a proof).
// Runs on a private embedded PostgreSQL cluster unless --url names a server.
// --after-fill-seconds S measures only single-record appends at --entries, right after the fill
// and once autovacuum is done (docs/benchmarks.md, settlement).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "chargegrid/db/embedded_postgres.hpp"
#include "chargegrid/db/migrations.hpp"
#include "chargegrid/db/url.hpp"
#include "chargegrid/ledger/postgres_log.hpp"
#include "chargegrid/testing/bench.hpp"
#include "log_records.hpp"

using namespace chargegrid::ledger;
using Clock = std::chrono::steady_clock;

namespace {

using chargegrid::testing::load_average;
using chargegrid::testing::seconds_since;

std::vector<std::string> make_records(std::uint64_t first, std::uint64_t count) {
  std::vector<std::string> out;
  out.reserve(count);
  for (std::uint64_t i = first; i < first + count; ++i) {
    out.push_back(canonical_record(testing::synthetic_record("bench-" + std::to_string(i))));
  }
  return out;
}

// A new, empty database; with `migrate`, ChargeGrid's schema (the log's tables) in it.
std::string fresh_database(const std::string& server_url, const std::string& name,
                           bool migrate = true) {
  {
    pqxx::connection admin(chargegrid::db::url_with_database(server_url, "postgres"));
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name));
    tx.exec("CREATE DATABASE " + tx.quote_name(name));
  }
  const auto url = chargegrid::db::url_with_database(server_url, name);
  if (migrate) {
    pqxx::connection connection(url);
    chargegrid::db::migrate(connection, chargegrid::db::builtin_migrations());
  }
  return url;
}

// Appends the records in batches of `batch`; returns records per second.
double append_rate(PostgresLog& log, const std::vector<std::string>& records, std::uint64_t batch) {
  auto start = Clock::now();
  for (std::uint64_t i = 0; i < records.size(); i += batch) {
    std::vector<std::string> chunk(records.begin() + i,
                                   records.begin() + std::min(records.size(), i + batch));
    log.append(chunk);
  }
  return records.size() / seconds_since(start);
}

// A text[] literal, escaped the way the log escapes its records.
std::string array_of_text(const std::vector<std::string>& items, std::size_t begin,
                          std::size_t end) {
  auto special = [](char c) { return c == '"' || c == '\\'; };
  std::string out = "{";
  for (std::size_t k = begin; k < end; ++k) {
    const std::string& text = items[k];
    std::size_t at = out.size();
    out.resize(at + text.size() + std::count_if(text.begin(), text.end(), special) + 3);
    char* p = out.data() + at;
    if (k > begin) *p++ = ',';
    *p++ = '"';
    for (char c : text) {
      if (special(c)) *p++ = '\\';
      *p++ = c;
    }
    *p++ = '"';
    out.resize(static_cast<std::size_t>(p - out.data()));
  }
  return out + "}";
}

// PostgreSQL's own rate for the same entry rows (index, leaf hash, record, same unique indexes)
// in the same batches, one transaction per batch, without the tree: with one unnest INSERT
// per batch (the log's statement form) or with COPY.
double plain_insert_rate(pqxx::connection& connection, const std::vector<std::string>& records,
                         std::uint64_t batch, bool copy) {
  {
    pqxx::work tx(connection);
    tx.exec(
        "CREATE TABLE plain_rows (idx bigint PRIMARY KEY, leaf_hash bytea NOT NULL UNIQUE, "
        "record text NOT NULL)");
    tx.commit();
  }
  connection.prepare("plain_insert",
                     "INSERT INTO plain_rows SELECT * FROM unnest($1::bigint[], $2::bytea[], "
                     "$3::text[])");
  auto start = Clock::now();
  for (std::size_t i = 0; i < records.size(); i += batch) {
    std::size_t end = std::min<std::size_t>(records.size(), i + batch);
    pqxx::work tx(connection);
    if (copy) {
      pqxx::stream_to stream(tx, "plain_rows",
                             std::vector<std::string>{"idx", "leaf_hash", "record"});
      for (std::size_t k = i; k < end; ++k) {
        stream << std::make_tuple(k, "\\x" + hex_encode(leaf_hash(records[k])), records[k]);
      }
      stream.complete();
    } else {
      std::string indices = "{";
      std::string hashes = "{";
      for (std::size_t k = i; k < end; ++k) {
        if (k > i) {
          indices += ',';
          hashes += ',';
        }
        indices += std::to_string(k);
        hashes += "\\\\x" + hex_encode(leaf_hash(records[k]));
      }
      tx.exec_prepared("plain_insert", indices + "}", hashes + "}", array_of_text(records, i, end));
    }
    tx.commit();
  }
  return records.size() / seconds_since(start);
}

// Runs `work` on `readers` threads, each with its own connection and log sharing one subtree
// cache, for `seconds`; returns calls per second over all threads.
double pooled_rate(const std::string& url, const NoteSigner& signer,
                   const std::shared_ptr<SubtreeCache>& cache, int readers, double seconds,
                   const std::function<void(PostgresLog&, pqxx::connection&, std::mt19937_64&,
                                            std::uint64_t)>& work) {
  std::vector<std::unique_ptr<pqxx::connection>> connections;
  std::vector<std::unique_ptr<PostgresLog>> logs;
  for (int r = 0; r < readers; ++r) {
    connections.push_back(std::make_unique<pqxx::connection>(url));
    connections.back()->prepare("point", "SELECT leaf_hash FROM ledger_log_entry WHERE idx = $1");
    logs.push_back(std::make_unique<PostgresLog>(*connections.back(), signer, cache));
  }
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::vector<std::uint64_t> counts(readers, 0);
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937_64 random(1000 + r);
      while (!go) std::this_thread::yield();
      std::uint64_t n = 0;
      while (!stop) work(*logs[r], *connections[r], random, n++);
      counts[r] = n;
    });
  }
  auto start = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = seconds_since(start);
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  return total / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark of the ledger's PostgreSQL-backed verifiable log"};
  std::string url;
  std::uint64_t entries = 1000000;
  double proof_seconds = 5;
  int readers = 4;
  std::vector<unsigned> cache_levels = {SubtreeCache::kDefaultLowestLevel, 8};
  bool proofs_only = false;
  double after_fill_seconds = 0;
  app.add_option("--url", url, "PostgreSQL server URL (default: a private embedded cluster)");
  app.add_option("--entries", entries, "log size for the proof measurements");
  app.add_option("--proof-seconds", proof_seconds, "how long each proof measurement runs");
  app.add_option("--readers", readers, "reader connections in the pooled proof measurements")
      ->check(CLI::Range(1, 64));
  app.add_option("--cache-level", cache_levels,
                 "lowest tree level kept in the subtree cache (repeatable; each measured)")
      ->check(CLI::Range(4, 63));
  app.add_flag("--proofs-only", proofs_only, "skip the append measurements");
  app.add_option("--after-fill-seconds", after_fill_seconds,
                 "only this: on a non-durable cluster (as the server's tests and the settlement "
                 "bench run), single-record appends for this long right after filling the log to "
                 "--entries, and again once autovacuum has finished");
  CLI11_PARSE(app, argc, argv);

  std::optional<chargegrid::db::EmbeddedPostgres> embedded;
  std::filesystem::path data_dir = std::filesystem::temp_directory_path() /
                                   ("chargegrid-ledger-bench-" + std::to_string(getpid()));
  if (url.empty()) {
    chargegrid::db::EmbeddedPostgresOptions options;
    options.data_dir = data_dir;
    options.port = 50000 + getpid() % 10000;
    if (after_fill_seconds > 0) options.durable = false;
    embedded.emplace(options);
    embedded->start();
    url = embedded->connection_url();
  }
  auto signer = NoteSigner::generate("bench.chargegrid.example/ledger");
  std::printf("load average at start: %s (%u cores)\n\n", load_average().c_str(),
              std::thread::hardware_concurrency());

  if (!proofs_only && after_fill_seconds <= 0) {
    std::printf("## appends (durable commits, one transaction per batch)\n");
    std::printf(
        "| batch | records | log appends/s | same rows, unnest INSERT/s | same rows, COPY/s | "
        "load |\n|---|---|---|---|---|---|\n");
    for (std::uint64_t batch : {1, 100, 1000}) {
      std::uint64_t total = batch == 1 ? 3000 : batch == 100 ? 50000 : 200000;
      auto records = make_records(0, total);
      std::string suffix = std::to_string(batch);
      pqxx::connection connection(fresh_database(url, "bench_append_" + suffix));
      PostgresLog log(connection, signer);
      double rate = append_rate(log, records, batch);
      pqxx::connection plain(fresh_database(url, "bench_plain_" + suffix, false));
      double plain_rate = plain_insert_rate(plain, records, batch, false);
      pqxx::connection copied(fresh_database(url, "bench_copy_" + suffix, false));
      double copy_rate = plain_insert_rate(copied, records, batch, true);
      std::printf("| %llu | %llu | %.0f | %.0f | %.0f | %s |\n",
                  static_cast<unsigned long long>(batch), static_cast<unsigned long long>(total),
                  rate, plain_rate, copy_rate, load_average().c_str());
      std::fflush(stdout);
    }

    auto records = make_records(0, 200000);
    auto start = Clock::now();
    MemoryMerkleTree tree;
    for (const auto& r : records) tree.append(r);
    double rate = records.size() / seconds_since(start);
    std::printf("\nIn memory: SHA-256 leaf and node hashing of the same records: %.0f records/s\n",
                rate);
  }

  std::printf("\n## proofs at %llu entries\n", static_cast<unsigned long long>(entries));
  std::string proofs_url = fresh_database(url, "bench_proofs");
  pqxx::connection connection(proofs_url);
  auto fill_start = Clock::now();
  {
    PostgresLog log(connection, signer);
    for (std::uint64_t i = 0; i < entries; i += 1000) {
      log.append(make_records(i, std::min<std::uint64_t>(1000, entries - i)));
    }
  }
  std::printf("filled in %.0f s (%.0f appends/s in batches of 1,000 as the log grew), load %s\n",
              seconds_since(fill_start), entries / seconds_since(fill_start),
              load_average().c_str());

  if (after_fill_seconds > 0) {
    // Single appends, each its own transaction as a settlement's, while autovacuum works through
    // the rows the fill inserted, and again once it has finished.
    const auto autovacuum_active = [&](pqxx::connection& c) {
      pqxx::nontransaction q(c);
      return q.exec1(
                  "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                  "'autovacuum worker' AND state = 'active'")[0]
                 .as<int>() > 0;
    };
    pqxx::connection watch(proofs_url);
    std::uint64_t next = entries;
    const auto single = [&](const char* label) {
      int samples = 0, busy = 0, appended = 0;
      auto start = Clock::now(), sampled = start;
      while (seconds_since(start) < after_fill_seconds) {
        pqxx::work tx(connection);
        PostgresLog::append_in(tx, make_records(next++, 1));
        tx.commit();
        ++appended;
        if (seconds_since(sampled) >= 0.1) {
          sampled = Clock::now();
          ++samples;
          if (autovacuum_active(watch)) ++busy;
        }
      }
      std::printf(
          "single appends at %llu entries, %s: %.0f/s, autovacuum active in %d of %d "
          "samples, load %s\n",
          static_cast<unsigned long long>(entries), label, appended / seconds_since(start), busy,
          samples, load_average().c_str());
      std::fflush(stdout);
    };
    single("right after the fill");
    const auto waiting = Clock::now();
    double quiet_since = 0;
    bool quiet = false;
    while (!quiet && seconds_since(waiting) < 600) {
      if (autovacuum_active(watch)) quiet_since = seconds_since(waiting);
      quiet = seconds_since(waiting) - quiet_since >= 3;
      if (!quiet) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::printf(
        quiet ? "autovacuum done %.0f s later\n" : "autovacuum still running %.0f s later\n",
        quiet ? quiet_since : seconds_since(waiting));
    single("after autovacuum");
    if (embedded) {
      embedded->stop();
      std::filesystem::remove_all(data_dir);
    }
    return 0;
  }

  PostgresLog log(connection, signer);
  auto checkpoint = log.publish_checkpoint();
  const std::uint64_t size = checkpoint.size;

  auto inclusion = [&](PostgresLog& reader, pqxx::connection&, std::mt19937_64& random,
                       std::uint64_t n) {
    std::uint64_t index = random() % size;
    auto proof = reader.inclusion(index, size);
    if (n % 64 == 0) {
      // Spot checks keep the figures honest: what is served verifies against the checkpoint.
      auto leaf = leaf_hash(reader.record(index));
      if (!verify_inclusion(leaf, index, size, proof.hashes, checkpoint.root)) {
        throw std::runtime_error("benchmark: an inclusion proof did not verify");
      }
    }
  };
  auto consistency = [&](PostgresLog& reader, pqxx::connection&, std::mt19937_64& random,
                         std::uint64_t n) {
    std::uint64_t old_size = 1 + random() % (size - 1);
    auto proof = reader.consistency(old_size, size);
    if (n % 64 == 0) {
      if (!verify_consistency(old_size, size, proof.hashes, reader.root(old_size),
                              checkpoint.root)) {
        throw std::runtime_error("benchmark: a consistency proof did not verify");
      }
    }
  };
  auto point_read = [&](PostgresLog&, pqxx::connection& c, std::mt19937_64& random, std::uint64_t) {
    pqxx::nontransaction tx(c);
    tx.exec_prepared("point", random() % size);
  };

  for (unsigned level : cache_levels) {
    // A fresh cache: the first proof loads the cached levels from storage.
    auto cache = std::make_shared<SubtreeCache>(level);
    pqxx::connection cold_connection(proofs_url);
    PostgresLog cold(cold_connection, signer, cache);
    auto cold_start = Clock::now();
    cold.inclusion(size / 2, size);
    std::printf(
        "\nsubtree cache from level %u: loaded on first use in %.0f ms, ~%.0f KB at this size\n",
        level, seconds_since(cold_start) * 1000,
        32.0 * static_cast<double>(size) / std::ldexp(1.0, static_cast<int>(level) - 1) / 1024);
    std::printf(
        "| readers | inclusion proofs/s | consistency proofs/s | one-row SELECTs/s (limit) | "
        "load |\n|---|---|---|---|---|\n");
    for (int pool : readers == 1 ? std::vector<int>{1} : std::vector<int>{1, readers}) {
      double inclusion_rate =
          pooled_rate(proofs_url, signer, cache, pool, proof_seconds, inclusion);
      double consistency_rate =
          pooled_rate(proofs_url, signer, cache, pool, proof_seconds, consistency);
      double point_rate = pooled_rate(proofs_url, signer, cache, pool, proof_seconds, point_read);
      std::printf("| %d | %.0f | %.0f | %.0f | %s |\n", pool, inclusion_rate, consistency_rate,
                  point_rate, load_average().c_str());
      std::fflush(stdout);
    }
  }
  std::printf("inclusion proof at this size: %zu bytes of JSON\n",
              log.inclusion(size / 3, size).to_json().size());

  std::printf(
      "\n## proof size against log2(n)\n| n | log2(n) | inclusion hashes (max) | "
      "consistency hashes (max) |\n|---|---|---|---|\n");
  std::mt19937_64 random(42);
  for (std::uint64_t n = 10; n <= size; n *= 10) {
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
  std::printf("\nload average at end: %s\n", load_average().c_str());
  if (embedded) {
    embedded->stop();
    std::filesystem::remove_all(data_dir);
  }
  return 0;
}
