#include "chargegrid/ledger/postgres_log.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "chargegrid/ledger/jcs.hpp"
#include "chargegrid/testing/database.hpp"
#include "log_records.hpp"
#include "run_tool.hpp"

using namespace chargegrid::ledger;
using namespace chargegrid::ledger::testing;
using chargegrid::testing::TestDatabase;

namespace {

const std::string kOrigin = "chargegrid.example/ledger";

std::vector<std::string> records(int first, int count) {
  std::vector<std::string> out;
  for (int i = first; i < first + count; ++i) {
    out.push_back(canonical_record(synthetic_record("stl-" + std::to_string(i))));
  }
  return out;
}

std::filesystem::path temp_dir() {
  return std::filesystem::temp_directory_path() /
         ("chargegrid-ledger-test-" + std::to_string(getpid()));
}

// Checks what a crash must never break: entries without gaps or duplicates, every stored
// subtree hash equal to a recomputation from the records, and every checkpoint signed, matching
// the tree and consistent with every later checkpoint.
void check_log_invariants(pqxx::connection& connection, PostgresLog& log) {
  std::uint64_t size = 0;
  MemoryMerkleTree tree;
  {
    // One snapshot for the size and every count.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(connection);
    size = tx.exec1("SELECT size FROM ledger_log_head")[0].as<std::uint64_t>();
    auto counts = tx.exec1(
        "SELECT count(*), coalesce(max(idx), -1), count(DISTINCT leaf_hash) FROM ledger_log_entry");
    REQUIRE(counts[0].as<std::uint64_t>() == size);
    REQUIRE(counts[1].as<std::int64_t>() == static_cast<std::int64_t>(size) - 1);
    REQUIRE(counts[2].as<std::uint64_t>() == size);
    for (const auto& row : tx.exec("SELECT idx, encode(leaf_hash, 'hex'), record FROM "
                                   "ledger_log_entry ORDER BY idx")) {
      auto record = row[2].as<std::string>();
      REQUIRE(row[1].as<std::string>() == hex_encode(leaf_hash(record)));
      REQUIRE(tree.append(record) == row[0].as<std::uint64_t>());
    }
    std::uint64_t expected_nodes = 0;
    for (std::uint64_t n = size >> 4; n > 0; n >>= 1) expected_nodes += n;  // levels >= 4
    REQUIRE(tx.exec1("SELECT count(*) FROM ledger_log_node")[0].as<std::uint64_t>() ==
            expected_nodes);
    auto read = tree.reader();
    for (const auto& row : tx.exec("SELECT level, idx, encode(hash, 'hex') FROM ledger_log_node")) {
      REQUIRE(row[2].as<std::string>() ==
              hex_encode(read(row[0].as<unsigned>(), row[1].as<std::uint64_t>())));
    }
  }
  auto checkpoints = log.checkpoints();
  auto verifier = log.signer().verifier();
  for (std::size_t i = 0; i < checkpoints.size(); ++i) {
    const auto& c = checkpoints[i];
    auto verified = verify_checkpoint(c.note, verifier);
    REQUIRE(verified.result.ok);
    REQUIRE(verified.checkpoint.size == c.size);
    REQUIRE(c.size <= size);
    REQUIRE(c.root == tree.root(c.size));
    if (i + 1 < checkpoints.size() && c.size > 0) {
      const auto& next = checkpoints[i + 1];
      auto proof = log.consistency(c.size, next.size);
      REQUIRE(verify_consistency(c.size, next.size, proof.hashes, c.root, next.root).ok);
    }
  }
}

// Checks a log's size, roots and a spread of its proofs against the reference tree, and that
// the proofs pass the RFC 9162 verifier.
void check_against(PostgresLog& log, const MemoryMerkleTree& reference) {
  const std::uint64_t size = reference.size();
  REQUIRE(log.size() == size);
  for (std::uint64_t tree_size : {std::uint64_t{1}, size / 3 + 1, size - 1, size}) {
    if (tree_size == 0 || tree_size > size) continue;
    INFO("tree size " << tree_size);
    Hash root = log.root(tree_size);
    REQUIRE(root == reference.root(tree_size));
    for (std::uint64_t index = 0; index < tree_size; index += 1 + tree_size / 9) {
      auto proof = log.inclusion(index, tree_size);
      REQUIRE(proof.hashes == reference.inclusion(index, tree_size));
      REQUIRE(
          verify_inclusion(leaf_hash(log.record(index)), index, tree_size, proof.hashes, root).ok);
    }
    for (std::uint64_t old_size = 1; old_size <= tree_size; old_size += 1 + tree_size / 7) {
      auto proof = log.consistency(old_size, tree_size);
      REQUIRE(proof.hashes == reference.consistency(old_size, tree_size));
      REQUIRE(
          verify_consistency(old_size, tree_size, proof.hashes, reference.root(old_size), root).ok);
    }
  }
}

// Every subtree the cache holds equals the reference tree's.
void check_cache(const SubtreeCache& cache, const MemoryMerkleTree& reference) {
  auto read = reference.reader();
  std::uint64_t size = cache.size();
  REQUIRE(size <= reference.size());
  for (unsigned level = cache.lowest_level(); (size >> level) > 0; ++level) {
    for (std::uint64_t index = 0; index < (size >> level); ++index) {
      REQUIRE(cache.find(level, index) == read(level, index));
    }
  }
}

}  // namespace

TEST_CASE("the stored log matches the in-memory tree and serves valid proofs", "[log][pg]") {
  TestDatabase db;
  pqxx::connection connection(db.url());
  auto signer = NoteSigner::generate(kOrigin);
  PostgresLog log(connection, signer);
  MemoryMerkleTree reference;
  CHECK(log.size() == 0);
  CHECK(log.root(0) == empty_root());

  int next = 0;
  for (int batch : {1, 1, 2, 5, 100, 1, 37, 256}) {
    auto batch_records = records(next, batch);
    next += batch;
    auto result = log.append(batch_records);
    REQUIRE(result.indices.size() == batch_records.size());
    for (std::size_t i = 0; i < batch_records.size(); ++i) {
      REQUIRE(result.indices[i] == reference.append(batch_records[i]));
    }
    REQUIRE(result.tree_size == reference.size());
    REQUIRE(log.root(reference.size()) == reference.root());
  }
  std::uint64_t size = log.size();
  REQUIRE(size == 403);

  for (std::uint64_t tree_size : std::vector<std::uint64_t>{1, 2, 3, 64, 255, size}) {
    Hash root = log.root(tree_size);
    REQUIRE(root == reference.root(tree_size));
    for (std::uint64_t index = 0; index < tree_size; index += 7) {
      auto proof = log.inclusion(index, tree_size);
      REQUIRE(proof.hashes == reference.inclusion(index, tree_size));
      REQUIRE(
          verify_inclusion(leaf_hash(log.record(index)), index, tree_size, proof.hashes, root).ok);
    }
    for (std::uint64_t old_size = 1; old_size <= tree_size; old_size += 13) {
      auto proof = log.consistency(old_size, tree_size);
      REQUIRE(proof.hashes == reference.consistency(old_size, tree_size));
      REQUIRE(
          verify_consistency(old_size, tree_size, proof.hashes, reference.root(old_size), root).ok);
    }
  }
  auto by_leaf = log.inclusion_by_leaf(leaf_hash(records(42, 1)[0]), size);
  CHECK(by_leaf.index == 42);
  CHECK_THROWS_AS(log.inclusion_by_leaf(leaf_hash("not in the log"), size), std::out_of_range);
  CHECK_THROWS_AS(log.inclusion(size, size), std::out_of_range);
  CHECK_THROWS_AS(log.inclusion(0, size + 1), std::out_of_range);
  CHECK_THROWS_AS(log.consistency(0, size), std::out_of_range);

  // Appending records that are already there returns their index and adds nothing.
  auto again = log.append({records(3, 1)[0], records(1000, 1)[0], records(1000, 1)[0]});
  CHECK(again.indices == std::vector<std::uint64_t>{3, size, size});
  CHECK(again.duplicates == 2);
  CHECK(log.size() == size + 1);
  check_log_invariants(connection, log);
}

TEST_CASE("entries, subtrees and checkpoints refuse updates and deletes", "[log][pg]") {
  TestDatabase db;
  pqxx::connection connection(db.url());
  PostgresLog log(connection, NoteSigner::generate(kOrigin));
  log.append(records(0, 40));
  log.publish_checkpoint();
  for (const char* sql :
       {"UPDATE ledger_log_entry SET record = 'x' WHERE idx = 1",
        "DELETE FROM ledger_log_entry WHERE idx = 2",
        "UPDATE ledger_log_node SET hash = hash WHERE level = 4",
        "DELETE FROM ledger_log_checkpoint", "TRUNCATE ledger_log_entry",
        "TRUNCATE ledger_log_node", "TRUNCATE ledger_log_checkpoint", "TRUNCATE ledger_log_head",
        "DELETE FROM ledger_log_head", "UPDATE ledger_log_head SET size = 2",
        "UPDATE ledger_log_head SET origin = 'other.example/log'"}) {
    INFO(sql);
    pqxx::work tx(connection);
    CHECK_THROWS_AS(tx.exec(sql), pqxx::sql_error);
  }
  CHECK(log.size() == 40);
  CHECK(log.root(40) == log.checkpoints().back().root);
  // A second log with another name is refused on the same database.
  CHECK_THROWS_AS(PostgresLog(connection, NoteSigner::generate("other.example/log")),
                  std::runtime_error);
}

TEST_CASE("a database without the migrations' ledger tables is refused, not changed", "[log][pg]") {
  TestDatabase db(TestDatabase::Options{.migrate = false});
  pqxx::connection connection(db.url());
  CHECK_THROWS_WITH(PostgresLog(connection, NoteSigner::generate(kOrigin)),
                    Catch::Contains("0009_ledger_log.sql"));
  pqxx::work tx(connection);
  CHECK(tx.exec1("SELECT to_regclass('ledger_log_entry') IS NULL")[0].as<bool>());
}

TEST_CASE("checkpoints are published on demand and when due", "[log][pg][checkpoint]") {
  TestDatabase db;
  pqxx::connection connection(db.url());
  PostgresLog log(connection, NoteSigner::generate(kOrigin));
  auto empty = log.publish_checkpoint();
  CHECK(empty.size == 0);
  CHECK(empty.root == empty_root());
  log.append(records(0, 10));
  // Due: the last checkpoint is older than a zero interval and the tree grew.
  auto due = log.publish_if_due(std::chrono::seconds(0));
  REQUIRE(due.has_value());
  CHECK(due->size == 10);
  // Not due: nothing was appended since.
  CHECK_FALSE(log.publish_if_due(std::chrono::seconds(0)).has_value());
  log.append(records(10, 5));
  // Not due: the interval has not passed.
  CHECK_FALSE(log.publish_if_due(std::chrono::hours(1)).has_value());
  auto again = log.publish_checkpoint();
  CHECK(again.size == 15);
  CHECK(log.publish_checkpoint().note == again.note);  // same size, same checkpoint
  CHECK(log.latest_checkpoint()->size == 15);
  CHECK(log.checkpoints().size() == 3);
  check_log_invariants(connection, log);
}

TEST_CASE("a third party verifies the log with chargegrid-verify and rejects forgeries",
          "[log][pg][verify-tool]") {
  TestDatabase db;
  pqxx::connection connection(db.url());
  auto signer = NoteSigner::generate(kOrigin);
  PostgresLog log(connection, signer);
  log.append(records(0, 20));
  auto old_checkpoint = log.publish_checkpoint();
  log.append(records(20, 17));
  auto checkpoint = log.publish_checkpoint();

  auto dir = temp_dir();
  auto vkey = signer.verifier().vkey();
  auto cp = write_temp(dir, "new.note", checkpoint.note);
  auto old_cp = write_temp(dir, "old.note", old_checkpoint.note);
  // The record as a third party might hold it: same JSON, other spelling.
  auto record_json = nlohmann::json::parse(log.record(13)).dump(2);
  auto record = write_temp(dir, "record.json", record_json);
  auto proof = write_temp(dir, "proof.json", log.inclusion(13, checkpoint.size).to_json());
  auto consistency = write_temp(dir, "consistency.json",
                                log.consistency(old_checkpoint.size, checkpoint.size).to_json());
  auto inclusion_args = [&](const std::filesystem::path& c, const std::filesystem::path& r,
                            const std::filesystem::path& p) {
    return std::vector<std::string>{"inclusion", "--vkey",   vkey,      "--checkpoint", c.string(),
                                    "--record",  r.string(), "--proof", p.string()};
  };

  CHECK(run_verify({"checkpoint", "--vkey", vkey, cp.string()}).status == 0);
  auto included = run_verify(inclusion_args(cp, record, proof));
  INFO(included.output);
  CHECK(included.status == 0);
  CHECK(run_verify({"consistency", "--vkey", vkey, "--old", old_cp.string(), "--new", cp.string(),
                    "--proof", consistency.string()})
            .status == 0);

  // A tampered record: one Wh more.
  auto tampered_json = nlohmann::json::parse(record_json);
  tampered_json["meter_stop"]["register_wh"] =
      tampered_json["meter_stop"]["register_wh"].get<int>() + 1;
  auto tampered = write_temp(dir, "tampered.json", tampered_json.dump());
  auto tampered_run = run_verify(inclusion_args(cp, tampered, proof));
  CHECK(tampered_run.status == 1);
  CHECK(tampered_run.output.find("inclusion") != std::string::npos);

  // Forged checkpoints: another key under the log's name, an altered size, an altered root.
  auto impostor = NoteSigner::generate(kOrigin);
  auto forged =
      write_temp(dir, "forged.note",
                 impostor.sign(Checkpoint{kOrigin, checkpoint.size, checkpoint.root, {}}.body()));
  CHECK(run_verify({"checkpoint", "--vkey", vkey, forged.string()}).status == 1);
  CHECK(run_verify(inclusion_args(forged, record, proof)).status == 1);
  std::string altered_size = checkpoint.note;
  altered_size.replace(altered_size.find("\n37\n"), 4, "\n36\n");
  auto resized = write_temp(dir, "resized.note", altered_size);
  CHECK(run_verify({"checkpoint", "--vkey", vkey, resized.string()}).status == 1);
  std::string altered_root = checkpoint.note;
  auto root_text = base64_encode(checkpoint.root);
  altered_root.replace(altered_root.find(root_text), root_text.size(),
                       base64_encode(sha256("another root")));
  auto rerooted = write_temp(dir, "rerooted.note", altered_root);
  CHECK(run_verify({"checkpoint", "--vkey", vkey, rerooted.string()}).status == 1);

  // Wrong proofs: for another index, with a hash changed, for another size.
  auto wrong_index =
      write_temp(dir, "wrong-index.json", log.inclusion(14, checkpoint.size).to_json());
  CHECK(run_verify(inclusion_args(cp, record, wrong_index)).status == 1);
  auto proof_obj = nlohmann::json::parse(log.inclusion(13, checkpoint.size).to_json());
  proof_obj["hashes"][1] = base64_encode(sha256("x"));
  auto bad_hash = write_temp(dir, "bad-hash.json", proof_obj.dump());
  CHECK(run_verify(inclusion_args(cp, record, bad_hash)).status == 1);
  auto wrong_size = write_temp(dir, "wrong-size.json", log.inclusion(13, 20).to_json());
  CHECK(run_verify(inclusion_args(cp, record, wrong_size)).status == 1);
  CHECK(run_verify(inclusion_args(old_cp, record, wrong_size)).status == 0);
  auto reversed = run_verify({"consistency", "--vkey", vkey, "--old", cp.string(), "--new",
                              old_cp.string(), "--proof", consistency.string()});
  CHECK(reversed.status == 1);
  auto bad_consistency_json =
      nlohmann::json::parse(log.consistency(old_checkpoint.size, checkpoint.size).to_json());
  bad_consistency_json["hashes"][0] = base64_encode(sha256("y"));
  auto bad_consistency = write_temp(dir, "bad-consistency.json", bad_consistency_json.dump());
  CHECK(run_verify({"consistency", "--vkey", vkey, "--old", old_cp.string(), "--new", cp.string(),
                    "--proof", bad_consistency.string()})
            .status == 1);
  // Malformed proof files are usage errors, not failed checks.
  auto malformed = write_temp(dir, "malformed.json", R"({"index": -1, "size": 37, "hashes": []})");
  CHECK(run_verify(inclusion_args(cp, record, malformed)).status == 2);
  auto short_hash =
      write_temp(dir, "short.json", R"({"index": 0, "size": 37, "hashes": ["AAAA"]})");
  CHECK(run_verify(inclusion_args(cp, record, short_hash)).status == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a kill -9 during appends leaves no gap, duplicate or inconsistent checkpoint",
          "[log][pg][crash]") {
  TestDatabase db;
  auto signer = NoteSigner::generate(kOrigin);
  auto dir = temp_dir();
  auto key_file = write_temp(dir, "log.key", signer.skey());
  pqxx::connection connection(db.url());
  PostgresLog log(connection, signer);

  std::uint64_t previous_size = 0;
  for (int round = 0; round < 4; ++round) {
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      execl(CHARGEGRID_LOG_APPEND_HELPER, CHARGEGRID_LOG_APPEND_HELPER, db.url().c_str(),
            key_file.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Let the helper get well into appending (the first round barely started), then kill it.
    std::uint64_t target = previous_size + (round == 0 ? 1 : 500 * round);
    for (int waited = 0; waited < 1200 && log.size() < target; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    // The killed session's open transaction is rolled back by PostgreSQL, or committed when
    // its COMMIT was already sent; either way the batch is whole. Wait for its session to end.
    for (int waited = 0; waited < 500; ++waited) {
      pqxx::nontransaction tx(connection);
      if (tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND pid <> pg_backend_pid()")[0]
              .as<int>() == 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(log.size() >= target);
    check_log_invariants(connection, log);
    previous_size = log.size();
  }
  // After the crashes the log keeps growing from where the last commit left it.
  auto result = log.append(records(0, 10));
  CHECK(result.tree_size == previous_size + 10);
  log.publish_checkpoint();
  check_log_invariants(connection, log);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a batch that rolls back leaves nothing in the subtree cache or the right edge",
          "[log][pg][cache]") {
  TestDatabase db;
  pqxx::connection connection(db.url());
  auto signer = NoteSigner::generate(kOrigin);
  auto cache = std::make_shared<SubtreeCache>(4);
  PostgresLog log(connection, signer, cache);
  MemoryMerkleTree reference;
  int next = 0;
  auto add = [&](PostgresLog& to, int count) {
    auto batch = records(next, count);
    next += count;
    auto result = to.append(batch);
    for (const auto& r : batch) reference.append(r);
    REQUIRE(result.tree_size == reference.size());
  };
  add(log, 37);
  check_cache(*cache, reference);
  {
    // Records carrying a marker fail: one marker when its row is written, the other only at
    // commit (a deferred constraint trigger), after the batch's subtrees were computed.
    pqxx::work tx(connection);
    tx.exec(R"SQL(
      CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
        IF strpos(NEW.record, TG_ARGV[0]) > 0 THEN RAISE EXCEPTION 'refused record'; END IF;
        RETURN NEW;
      END$$;
      CREATE TRIGGER refuse_on_write BEFORE INSERT ON ledger_log_entry
        FOR EACH ROW EXECUTE FUNCTION refuse_marked('fails-on-write');
      CREATE CONSTRAINT TRIGGER refuse_on_commit AFTER INSERT ON ledger_log_entry
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_marked('fails-on-commit');
    )SQL");
    tx.commit();
  }
  for (const char* marker : {"fails-on-write", "fails-on-commit"}) {
    INFO(marker);
    auto batch = records(next, 20);
    batch.push_back(canonical_record(synthetic_record(marker)));
    CHECK_THROWS(log.append(batch));
    CHECK(log.size() == 37);
    CHECK(cache->size() == 37);
    check_cache(*cache, reference);
  }
  // Another writer commits as many records as the refused batch held, so the log's size is
  // the one the refused batch would have reached: the log must still build on what was
  // committed, not on the subtrees it computed for the refused batch.
  pqxx::connection other_connection(db.url());
  PostgresLog other(other_connection, signer, std::make_shared<SubtreeCache>(5));
  add(other, 21);
  add(log, 20);
  check_cache(*cache, reference);
  check_against(log, reference);
  add(other, 11);
  add(log, 5);
  check_cache(*cache, reference);
  check_against(log, reference);
  check_against(other, reference);
  check_log_invariants(connection, log);
}

TEST_CASE("logs on several connections and caches agree with the reference tree",
          "[log][pg][cache]") {
  TestDatabase db;
  auto signer = NoteSigner::generate(kOrigin);
  pqxx::connection a_connection(db.url());
  pqxx::connection b_connection(db.url());
  pqxx::connection reader_connection(db.url());
  auto shared = std::make_shared<SubtreeCache>(4);
  PostgresLog a(a_connection, signer, shared);
  PostgresLog b(b_connection, signer, std::make_shared<SubtreeCache>(5));
  PostgresLog reader(reader_connection, signer, shared);
  MemoryMerkleTree reference;
  std::mt19937 random(7);
  int next = 0;
  for (int round = 0; round < 12; ++round) {
    // Mostly the writer that shares the reader's cache, now and then the other one, whose
    // batches the shared cache learns from storage.
    PostgresLog& writer = round % 3 == 2 ? b : a;
    int count = 1 + static_cast<int>(random() % 40);
    auto batch = records(next, count);
    next += count;
    REQUIRE(writer.append(batch).tree_size == reference.size() + count);
    for (const auto& r : batch) reference.append(r);
    INFO("round " << round << ", size " << reference.size());
    REQUIRE(reader.root(reference.size()) == reference.root());
    std::uint64_t index = random() % reference.size();
    REQUIRE(reader.inclusion(index, reference.size()).hashes ==
            reference.inclusion(index, reference.size()));
    check_cache(*shared, reference);
  }
  // A log that starts late, with an empty cache, catches up in one go.
  pqxx::connection late_connection(db.url());
  PostgresLog late(late_connection, signer, std::make_shared<SubtreeCache>(4));
  check_against(late, reference);
  check_against(a, reference);
  check_against(b, reference);
  CHECK_THROWS_AS(late.root(reference.size() + 1), std::out_of_range);
  // Subtrees below level 4 are not stored, so a cache cannot start below it.
  CHECK_THROWS_AS(PostgresLog(late_connection, signer, std::make_shared<SubtreeCache>(3)),
                  std::invalid_argument);
  CHECK_THROWS_AS(late.consistency(1, reference.size() + 1), std::out_of_range);
}

TEST_CASE("reader connections serve verifiable proofs while a writer appends", "[log][pg][cache]") {
  TestDatabase db;
  auto signer = NoteSigner::generate(kOrigin);
  auto verifier = signer.verifier();
  pqxx::connection writer_connection(db.url());
  auto cache = std::make_shared<SubtreeCache>(4);
  PostgresLog writer(writer_connection, signer, cache);
  writer.append(records(0, 50));
  const auto first = writer.publish_checkpoint();

  std::atomic<bool> done{false};
  std::atomic<int> verified{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      try {
        pqxx::connection connection(db.url());
        PostgresLog log(connection, signer, cache);
        std::mt19937_64 random(r);
        while (!done) {
          auto checkpoint = *log.latest_checkpoint();
          auto checked = verify_checkpoint(checkpoint.note, verifier);
          std::uint64_t index = random() % checkpoint.size;
          auto inclusion = log.inclusion(index, checkpoint.size);
          auto consistency = log.consistency(first.size, checkpoint.size);
          if (!checked.result.ok ||
              !verify_inclusion(leaf_hash(log.record(index)), index, checkpoint.size,
                                inclusion.hashes, checked.checkpoint.root) ||
              !verify_consistency(first.size, checkpoint.size, consistency.hashes, first.root,
                                  checked.checkpoint.root)) {
            std::lock_guard lock(failures_mutex);
            failures.push_back("a proof at size " + std::to_string(checkpoint.size) +
                               " did not verify");
          }
          ++verified;
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(failures_mutex);
        failures.push_back(e.what());
      }
    });
  }
  std::mt19937 random(11);
  int next = 50;
  for (int round = 0; round < 40; ++round) {
    int count = 1 + static_cast<int>(random() % 60);
    writer.append(records(next, count));
    next += count;
    writer.publish_checkpoint();
  }
  // Let the readers finish a few rounds at the final size too.
  for (int waited = 0; waited < 100 && verified < 30; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  done = true;
  for (auto& t : readers) t.join();
  for (const auto& failure : failures) FAIL_CHECK(failure);
  CHECK(failures.empty());
  CHECK(verified >= 30);
}
