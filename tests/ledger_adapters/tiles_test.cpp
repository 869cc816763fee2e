// The verifiable log served over HTTP as C2SP tlog-tiles: what a third party holding only the
// verifier key reads must be the log — checked here independently (entries hashed, tiles and
// root recomputed, proofs verified) and with chargegrid-verify tiles.

#include "chargegrid/ledger/tiles.hpp"

#include <catch2/catch.hpp>

#include "../ledger/run_tool.hpp"
#include "../server/server_fixture.hpp"
#include "chargegrid/ledger/merkle.hpp"
#include "support.hpp"

using namespace chargegrid;
using namespace chargegrid::ledger_testing;
using chargegrid::ledger::testing::run_verify;
using chargegrid::ledger::testing::write_temp;

namespace {

server::Config ledger_config(const TempDir& dir) {
  auto config = testing::test_config();
  config.data_dir = dir.path().string();
  config.ledger_key_file = (dir.path() / "log.key").string();
  config.checkpoint_interval_s = 1;
  return config;
}

ledger::Checkpoint checkpoint_of(const std::string& note, const ledger::NoteVerifier& vkey) {
  auto verified = ledger::verify_checkpoint(note, vkey);
  REQUIRE(verified.result.ok);
  return verified.checkpoint;
}

// The newest checkpoint once it covers `size` entries.
std::string checkpoint_at(std::uint16_t port, std::uint64_t size,
                          const ledger::NoteVerifier& vkey) {
  std::string note;
  REQUIRE(eventually([&] {
    auto got = get(port, "/ledger/checkpoint");
    if (got.status != 200) return false;
    note = got.body;
    return checkpoint_of(note, vkey).size >= size;
  }));
  return note;
}

// A server keeping the log, and the settlement service's stand-in appending to it.
struct LogServer {
  TempDir dir;
  const ledger::NoteSigner signer = make_key(dir.path(), "cpms.example/ledger");
  const ledger::NoteVerifier vkey = signer.verifier();
  testing::ServerFixture fx{ledger_config(dir)};
  const std::uint16_t port = fx.server().http_port();
  SettlementStandIn settlement{fx.database().url(), signer};
};

}  // namespace

TEST_CASE_METHOD(LogServer,
                 "The log's tiles, entry bundles and proofs are the log, as a third party "
                 "checks them",
                 "[integration][ledger_adapters][tiles]") {
  // 600 entries: two full level-0 tiles and a partial one of 88, a partial level-1 tile of 2.
  std::vector<std::string> records;
  std::vector<std::string> batch;
  for (int i = 0; i < 600; ++i) {
    records.push_back(record_text("S-" + std::to_string(i)));
    batch.push_back(records.back());
  }
  settlement.log().append({batch.begin(), batch.begin() + 100});
  const auto early_note = checkpoint_at(port, 100, vkey);
  const auto early = checkpoint_of(early_note, vkey);
  settlement.log().append({batch.begin() + 100, batch.end()});
  const auto note = checkpoint_at(port, 600, vkey);
  const auto checkpoint = checkpoint_of(note, vkey);
  REQUIRE(checkpoint.size == 600);
  CHECK(checkpoint.origin == "cpms.example/ledger");

  SECTION("the verifier key is served as text") {
    auto key = get(port, "/ledger/verifier-key");
    CHECK(key.status == 200);
    CHECK(key.body == vkey.vkey() + "\n");
  }

  SECTION("the checkpoint may be cached for seconds, tiles for good") {
    auto got = get(port, "/ledger/checkpoint");
    CHECK(got.content_type == "text/plain; charset=utf-8");
    CHECK(got.headers["Cache-Control"] == "public, max-age=2");
    auto tile = get(port, "/ledger/tile/0/000");
    CHECK(tile.content_type == "application/octet-stream");
    CHECK(tile.headers["Cache-Control"] == "public, max-age=31536000, immutable");
    CHECK(tile.body.size() == 8192);
    // Beyond the log, and spellings the specification does not allow.
    CHECK(get(port, "/ledger/tile/0/003").status == 404);
    CHECK(get(port, "/ledger/tile/0/002.p/89").status == 404);
    CHECK(get(port, "/ledger/tile/0/2").status == 404);
    CHECK(get(port, "/ledger/tile/0/x000/002").status == 404);
    CHECK(get(port, "/ledger/tile/00/000").status == 404);
    CHECK(get(port, "/ledger/tile/0/000.p/0").status == 404);
    CHECK(get(port, "/ledger/tile/0/003").headers["Cache-Control"] == "no-store");
  }

  SECTION("entries hash to the level-0 tiles, and the tiles make the signed root") {
    ledger::MemoryMerkleTree tree;
    for (std::uint64_t n = 0; n < 3; ++n) {
      const unsigned width = n < 2 ? 256 : 88;
      auto bundle = get(port, "/ledger/" + ledger::entries_path(n, width));
      REQUIRE(bundle.status == 200);
      // Big-endian uint16 length prefixes, decoded by hand.
      std::vector<std::string> entries;
      std::string_view rest = bundle.body;
      while (rest.size() >= 2) {
        const std::size_t length =
            (static_cast<unsigned char>(rest[0]) << 8) | static_cast<unsigned char>(rest[1]);
        entries.emplace_back(rest.substr(2, length));
        rest.remove_prefix(2 + length);
      }
      REQUIRE(entries.size() == width);
      auto tile = get(port, "/ledger/" + ledger::tile_path(0, n, width));
      REQUIRE(tile.body.size() == 32 * width);
      for (unsigned i = 0; i < width; ++i) {
        CHECK(entries[i] == records[n * 256 + i]);
        const auto leaf = ledger::leaf_hash(entries[i]);
        CHECK(std::string(reinterpret_cast<const char*>(leaf.data()), 32) ==
              tile.body.substr(32 * i, 32));
        tree.append_leaf_hash(leaf);
      }
    }
    CHECK(tree.root() == checkpoint.root);
    // Level 1: each hash is the root of 256 entries.
    auto level1 = get(port, "/ledger/tile/1/000.p/2");
    REQUIRE(level1.body.size() == 64);
    for (int i = 0; i < 2; ++i) {
      const auto subtree = tree.reader()(8, i);
      CHECK(std::string(reinterpret_cast<const char*>(subtree.data()), 32) ==
            level1.body.substr(32 * i, 32));
    }
    CHECK(get(port, "/ledger/tile/1/000.p/3").status == 404);
  }

  SECTION("proofs and entries answer as JSON") {
    auto inclusion = get(port, "/ledger/proof/inclusion?index=417&size=600");
    REQUIRE(inclusion.status == 200);
    std::vector<ledger::Bytes> hashes;
    for (const auto& h : inclusion.data["hashes"])
      hashes.push_back(*ledger::base64_decode(h.get<std::string>()));
    const auto leaf = ledger::leaf_hash(records[417]);
    CHECK(ledger::verify_inclusion(ledger::Bytes(leaf.begin(), leaf.end()), 417, 600, hashes,
                                   ledger::Bytes(checkpoint.root.begin(), checkpoint.root.end()))
              .ok);
    auto consistency =
        get(port, "/ledger/proof/consistency?old=" + std::to_string(early.size) + "&new=600");
    REQUIRE(consistency.status == 200);
    hashes.clear();
    for (const auto& h : consistency.data["hashes"])
      hashes.push_back(*ledger::base64_decode(h.get<std::string>()));
    CHECK(ledger::verify_consistency(early.size, 600, hashes,
                                     ledger::Bytes(early.root.begin(), early.root.end()),
                                     ledger::Bytes(checkpoint.root.begin(), checkpoint.root.end()))
              .ok);
    auto entry = get(port, "/ledger/entries/417");
    CHECK(entry.status == 200);
    CHECK(entry.body == records[417]);
    CHECK(get(port, "/ledger/entries/600").status == 404);
    CHECK(get(port, "/ledger/proof/inclusion?index=600&size=600").status == 400);
    CHECK(get(port, "/ledger/proof/inclusion?index=1&size=601").status == 404);
    CHECK(get(port, "/ledger/proof/consistency?old=0&new=5").status == 400);
  }

  SECTION("chargegrid-verify audits the whole log, and settles one settlement offline") {
    const auto prefix = "http://127.0.0.1:" + std::to_string(port) + "/ledger";
    const auto early_file = write_temp(dir.path(), "early.checkpoint", early_note);
    auto audit = run_verify({"tiles", "--vkey", vkey.vkey(), "--previous", early_file.string(),
                             "--save", (dir.path() / "now.checkpoint").string(), prefix});
    INFO(audit.output);
    CHECK(audit.status == 0);
    CHECK(audit.output.find("OK: 600 entries") != std::string::npos);
    CHECK(audit.output.find("without rewriting it") != std::string::npos);
    CHECK(std::filesystem::exists(dir.path() / "now.checkpoint"));

    // Another log's key does not pass.
    auto other = ledger::NoteSigner::generate("cpms.example/ledger");
    CHECK(run_verify({"tiles", "--vkey", other.verifier().vkey(), prefix}).status == 1);

    const auto proof = get(port, "/ledger/proof/inclusion?index=5&size=600");
    const auto checkpoint_file = write_temp(dir.path(), "cp", note);
    const auto record_file = write_temp(dir.path(), "record.json", records[5]);
    const auto proof_file = write_temp(dir.path(), "proof.json", proof.body);
    auto one =
        run_verify({"settlement", "--vkey", vkey.vkey(), "--checkpoint", checkpoint_file.string(),
                    "--record", record_file.string(), "--proof", proof_file.string()});
    INFO(one.output);
    CHECK(one.status == 0);
    CHECK(one.output.find("settlement S-5") != std::string::npos);
    const auto wrong_file = write_temp(dir.path(), "wrong.json", records[6]);
    CHECK(run_verify({"settlement", "--vkey", vkey.vkey(), "--checkpoint", checkpoint_file.string(),
                      "--record", wrong_file.string(), "--proof", proof_file.string()})
              .status == 1);
  }
}

TEST_CASE_METHOD(LogServer,
                 "An entry rewritten in the database is caught against an earlier checkpoint",
                 "[integration][ledger_adapters][tiles]") {
  const auto prefix = "http://127.0.0.1:" + std::to_string(port) + "/ledger";
  for (int i = 0; i < 10; ++i) settlement.settle("T-" + std::to_string(i));
  const auto before = checkpoint_at(port, 10, vkey);
  const auto saved = write_temp(dir.path(), "before.checkpoint", before);
  REQUIRE(
      run_verify({"tiles", "--vkey", vkey.vkey(), "--previous", saved.string(), prefix}).status ==
      0);

  // Someone with the database rewrites entry 3 (the triggers that forbid it bypassed).
  const auto forged = record_text("T-3-forged");
  {
    auto c = fx.sql();
    pqxx::work tx(c);
    tx.exec("SET session_replication_role = replica");
    tx.exec_params("UPDATE ledger_log_entry SET record = $1 WHERE idx = 3", forged);
    tx.commit();
  }
  SECTION("the record alone: it no longer hashes to its leaf") {
    auto audit = run_verify({"tiles", "--vkey", vkey.vkey(), prefix});
    INFO(audit.output);
    CHECK(audit.status == 1);
    CHECK(audit.output.find("entry 3 does not hash to its leaf") != std::string::npos);
  }
  SECTION("record and leaf hash, then a new checkpoint signed: history was rewritten") {
    {
      auto c = fx.sql();
      pqxx::work tx(c);
      tx.exec("SET session_replication_role = replica");
      const auto leaf = ledger::leaf_hash(forged);
      tx.exec_params("UPDATE ledger_log_entry SET leaf_hash = decode($1, 'hex') WHERE idx = 3",
                     ledger::hex_encode(leaf));
      tx.commit();
    }
    for (int i = 10; i < 12; ++i) settlement.settle("T-" + std::to_string(i));
    checkpoint_at(port, 12, vkey);
    auto fresh = run_verify({"tiles", "--vkey", vkey.vkey(), prefix});
    INFO(fresh.output);
    CHECK(fresh.status == 0);  // without history, the forged log looks whole
    auto audit = run_verify({"tiles", "--vkey", vkey.vkey(), "--previous", saved.string(), prefix});
    INFO(audit.output);
    CHECK(audit.status == 1);
    CHECK(audit.output.find("rewrote history") != std::string::npos);
  }
}
