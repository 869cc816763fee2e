#include "chargegrid/ledger/merkle.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "test_data.hpp"

using namespace chargegrid::ledger;
using chargegrid::ledger::testing::data_dir;
using chargegrid::ledger::testing::read_file;

namespace {

// Vector fields as raw bytes: the verifier itself must refuse hashes of the wrong length.
Bytes vector_bytes(const nlohmann::json& value) {
  auto bytes = base64_decode(value.get<std::string>());
  REQUIRE(bytes.has_value());
  return *bytes;
}

std::vector<Bytes> vector_proof(const nlohmann::json& value) {
  std::vector<Bytes> out;
  for (const auto& item : value) out.push_back(vector_bytes(item));
  return out;
}

bool check_inclusion(const nlohmann::json& v) {
  return verify_inclusion(vector_bytes(v["leafHash"]), v["leafIdx"].get<std::uint64_t>(),
                          v["treeSize"].get<std::uint64_t>(), vector_proof(v["proof"]),
                          vector_bytes(v["root"]))
      .ok;
}

bool check_consistency(const nlohmann::json& v) {
  return verify_consistency(v["size1"].get<std::uint64_t>(), v["size2"].get<std::uint64_t>(),
                            vector_proof(v["proof"]), vector_bytes(v["root1"]),
                            vector_bytes(v["root2"]))
      .ok;
}

std::vector<std::filesystem::path> vector_files(const std::string& kind) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(data_dir() / "merkle-vectors" / kind)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The classic RFC 6962 test tree the vectors are built on.
std::vector<std::string> rfc6962_leaves() {
  std::vector<std::string> out;
  for (const char* hex : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                          "606162636465666768696a6b6c6d6e6f"}) {
    auto bytes = hex_decode(hex);
    out.emplace_back(bytes->begin(), bytes->end());
  }
  return out;
}

// Each of the 98 vectors of `kind` gives the outcome it expects (an error or none) from `check`.
void check_vectors(const std::string& kind, bool (*check)(const nlohmann::json&)) {
  auto files = vector_files(kind);
  REQUIRE(files.size() == 98);
  for (const auto& file : files) {
    auto v = nlohmann::json::parse(read_file(file));
    INFO(file.string() << ": " << v["desc"].get<std::string>());
    CHECK(check(v) == !v["wantErr"].get<bool>());
  }
}

}  // namespace

TEST_CASE("every transparency-dev inclusion vector gives its expected outcome", "[merkle]") {
  check_vectors("inclusion", check_inclusion);
}

TEST_CASE("every transparency-dev consistency vector gives its expected outcome", "[merkle]") {
  check_vectors("consistency", check_consistency);
}

TEST_CASE("the in-memory tree reproduces the RFC 6962 reference roots", "[merkle]") {
  const char* roots[] = {"6e340b9c", "fac54203", "aeb6bcfe", "d37ee418",
                         "4e3bbb1f", "76e67dad", "ddb89be4", "5dc9da79"};
  MemoryMerkleTree tree;
  CHECK(tree.root() == empty_root());
  CHECK(hex_encode(empty_root()) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto leaves = rfc6962_leaves();
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    CHECK(tree.append(leaves[i]) == i);
    CHECK(hex_encode(tree.root()).substr(0, 8) == roots[i]);
  }
}

TEST_CASE("generated proofs verify for every index and size pair and fail when altered",
          "[merkle]") {
  MemoryMerkleTree tree;
  for (int i = 0; i < 70; ++i) tree.append("leaf " + std::to_string(i));
  for (std::uint64_t size = 1; size <= tree.size(); ++size) {
    Hash root = tree.root(size);
    for (std::uint64_t index = 0; index < size; ++index) {
      auto proof = tree.inclusion(index, size);
      Hash leaf = leaf_hash("leaf " + std::to_string(index));
      REQUIRE(verify_inclusion(leaf, index, size, proof, root).ok);
      if (!proof.empty()) {
        auto bad = proof;
        bad.back()[0] ^= 1;
        REQUIRE_FALSE(verify_inclusion(leaf, index, size, bad, root).ok);
      }
      if (index + 1 < size) {
        REQUIRE_FALSE(verify_inclusion(leaf, index + 1, size, proof, root).ok);
      }
    }
    for (std::uint64_t old_size = 1; old_size <= size; ++old_size) {
      auto proof = tree.consistency(old_size, size);
      REQUIRE(verify_consistency(old_size, size, proof, tree.root(old_size), root).ok);
      if (!proof.empty()) {
        auto bad = proof;
        bad.front()[31] ^= 0x80;
        REQUIRE_FALSE(verify_consistency(old_size, size, bad, tree.root(old_size), root).ok);
        REQUIRE_FALSE(
            verify_consistency(old_size, size, proof, tree.root(old_size), tree.root(old_size)).ok);
      }
    }
  }
}

TEST_CASE("proof requests outside the tree are refused", "[merkle]") {
  MemoryMerkleTree tree;
  for (int i = 0; i < 5; ++i) tree.append(std::to_string(i));
  CHECK_THROWS_AS(tree.inclusion(5, 5), std::out_of_range);
  CHECK_THROWS_AS(tree.consistency(0, 5), std::out_of_range);
  CHECK_THROWS_AS(tree.consistency(4, 3), std::out_of_range);
  CHECK_THROWS_AS(tree.root(6), std::out_of_range);
}
