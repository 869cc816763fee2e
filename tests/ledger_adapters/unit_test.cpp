// The adapters' building blocks against published vectors: Keccak-256, RLP and the EIP-155
// signing payload, EIP-55 addresses, the anchoring call's ABI encoding, Standard Webhooks
// signatures, tlog-tiles paths and entry bundles, and the JSON Lines file's recovery.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "chargegrid/ledger/tiles.hpp"
#include "ledger_adapters/evm.hpp"
#include "ledger_adapters/file.hpp"
#include "ledger_adapters/http_client.hpp"
#include "ledger_adapters/webhook.hpp"

using namespace chargegrid;
using namespace chargegrid::server::ledger_adapters;

namespace {

std::string hex_of(const evm::Hash& hash) {
  return evm::hex0x(hash).substr(2);
}

}  // namespace

TEST_CASE("Keccak-256 is Ethereum's (original padding), over block boundaries",
          "[unit][ledger_adapters][evm]") {
  // Values from an independent implementation (npm js-sha3) and the Ethereum literature.
  CHECK(hex_of(evm::keccak256("")) ==
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  CHECK(hex_of(evm::keccak256("abc")) ==
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  CHECK(hex_of(evm::keccak256(std::string(135, 'a'))) ==
        "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446");
  CHECK(hex_of(evm::keccak256(std::string(136, 'a'))) ==
        "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e");
  CHECK(hex_of(evm::keccak256(std::string(137, 'a'))) ==
        "d869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39");
  CHECK(hex_of(evm::keccak256(std::string(200, 'a'))) ==
        "96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d");
  CHECK(hex_of(evm::keccak256(std::string(1000, 'a'))) ==
        "b6a4ac1f51884d71f30fa397a5e155de3099e11fc0edef5d08b646e621e19de9");
  CHECK(hex_of(evm::anchored_topic()) ==
        "3d0d96cfdf218224a8a58bb72b5faabc202ae2aed3b63d8bcbbf61c56caff54e");
}

TEST_CASE("RLP, the EIP-155 example transaction and the EIP-1559 envelope",
          "[unit][ledger_adapters][evm]") {
  using evm::Bytes;
  using evm::Rlp;
  CHECK(evm::rlp_encode(Rlp(Bytes{})) == Bytes{0x80});
  CHECK(evm::rlp_encode(Rlp(Bytes{0x0f})) == Bytes{0x0f});
  CHECK(evm::rlp_encode(Rlp(Bytes{0x80})) == Bytes{0x81, 0x80});
  CHECK(evm::rlp_encode(Rlp(std::vector<Rlp>{})) == Bytes{0xc0});
  CHECK(evm::rlp_encode(Rlp(Bytes{'d', 'o', 'g'})) == Bytes{0x83, 'd', 'o', 'g'});
  const Bytes lorem(56, 'x');
  auto long_string = evm::rlp_encode(Rlp(lorem));
  CHECK(long_string[0] == 0xb8);
  CHECK(long_string[1] == 56);
  CHECK(evm::be_bytes(0).empty());
  CHECK(evm::be_bytes(1024) == Bytes{0x04, 0x00});

  // EIP-155's example: nonce 9, 20 gwei, 21000 gas, to 0x3535..., 1 ether, chain id 1.
  std::vector<Rlp> fields{evm::be_bytes(9),
                          evm::quantity_bytes("0x4a817c800"),
                          evm::be_bytes(21000),
                          evm::from_hex("0x3535353535353535353535353535353535353535"),
                          evm::quantity_bytes("0xde0b6b3a7640000"),
                          Bytes{},
                          evm::be_bytes(1),
                          Bytes{},
                          Bytes{}};
  const auto signing_data = evm::rlp_encode(Rlp(fields));
  CHECK(evm::hex0x(signing_data) ==
        "0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018"
        "080");
  CHECK(evm::hex0x(evm::keccak256(signing_data)) ==
        "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
  auto key = evm::PrivateKey::from_hex(
      "0x4646464646464646464646464646464646464646464646464646464646464646");
  CHECK(evm::checksum_address(key.address()) == "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
  const auto signature = key.sign(evm::keccak256(signing_data));
  CHECK(signature.r.size() == 32);
  CHECK(signature.s.size() == 32);
  CHECK(signature.s[0] < 0x80);  // low s
  // EIP-1559: the EIP-2718 envelope is the type byte, then the RLP list of twelve fields.
  evm::FeeMarketTransaction typed;
  typed.nonce = 9;
  typed.max_priority_fee_per_gas = evm::be_bytes(1'000'000'000);
  typed.max_fee_per_gas = evm::quantity_bytes("0x4a817c800");
  typed.gas = 21000;
  typed.to = evm::from_hex("0x3535353535353535353535353535353535353535");
  const auto raw = evm::sign_transaction(typed, 1, key);
  REQUIRE(raw.size() > 2);
  CHECK(raw[0] == 0x02);
  CHECK(raw[1] == 0xf8);  // a list longer than 55 bytes, its length in one byte
  CHECK(raw.size() == 3u + raw[2]);
  CHECK_THROWS(evm::PrivateKey::from_hex("0x00"));
  CHECK_THROWS(evm::PrivateKey::from_hex(std::string(64, '0')));
}

TEST_CASE("The anchoring call is ABI-encoded as anchor(bytes32,uint64,string)",
          "[unit][ledger_adapters][evm]") {
  evm::Hash root{};
  root.fill(0xab);
  const auto call = evm::anchor_call(root, 600, "cpms.example/ledger");
  REQUIRE(call.size() == 4 + 32 * 5);
  CHECK(evm::hex0x(evm::Bytes(call.begin(), call.begin() + 4)) == "0x788c4531");
  CHECK(call[4] == 0xab);
  CHECK(call[4 + 32 + 30] == 0x02);  // 600 = 0x0258
  CHECK(call[4 + 32 + 31] == 0x58);
  CHECK(call[4 + 64 + 31] == 96);  // the string's offset
  CHECK(call[4 + 96 + 31] == 19);  // its length
  CHECK(std::string(call.begin() + 4 + 128, call.begin() + 4 + 128 + 19) == "cpms.example/ledger");
}

TEST_CASE("Standard Webhooks signatures match the specification's example",
          "[unit][ledger_adapters][webhook]") {
  CHECK(webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                          1614265330, R"({"test": 2432232314})") ==
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  CHECK_THROWS(webhook_signature("whsec_not base64!", "id", 1, ""));
  CHECK(parse_url("https://hooks.example/x?y=1").target == "/x?y=1");
  CHECK(parse_url("https://hooks.example/x").port == "443");
  CHECK(parse_url("http://[::1]:8080").host == "::1");
  CHECK_THROWS(parse_url("ftp://x"));
}

TEST_CASE("tlog-tiles paths and entry bundles", "[unit][ledger_adapters][tiles]") {
  CHECK(ledger::tile_index_path(1234067) == "x001/x234/067");
  CHECK(ledger::tile_index_path(5) == "005");
  CHECK(ledger::tile_index_path(1000) == "x001/000");
  CHECK(ledger::tile_path(0, 1234067, 256) == "tile/0/x001/x234/067");
  CHECK(ledger::tile_path(1, 2, 17) == "tile/1/002.p/17");
  CHECK(ledger::entries_path(0, 88) == "tile/entries/000.p/88");
  auto ref = ledger::parse_tile_path("2/x001/x234/067.p/255");
  REQUIRE(ref);
  CHECK(ref->level == 2);
  CHECK(ref->index == 1234067);
  CHECK(ref->width == 255);
  auto entries = ledger::parse_tile_path("entries/000");
  REQUIRE(entries);
  CHECK(entries->entries);
  CHECK(entries->width == 256);
  for (const char* bad : {"0/1", "0/0001", "0/x000/001", "01/000", "64/000", "0/000.p/256",
                          "0/000.p/0", "0/000.p/07", "0/x1/000", "0/abc", "x/000", "0/"})
    CHECK_FALSE(ledger::parse_tile_path(bad));
  // The specification's example: a tree of 70,000.
  CHECK(ledger::partial_width(0, 70000) == 112);
  CHECK(ledger::partial_width(1, 70000) == 17);
  CHECK(ledger::partial_width(2, 70000) == 1);
  CHECK(ledger::partial_width(1, 256) == 1);
  auto bundle = ledger::encode_bundle({"a", "", std::string(300, 'b')});
  CHECK(bundle.substr(0, 3) == std::string("\0\1a", 3));
  CHECK(ledger::decode_bundle(bundle) == std::vector<std::string>{"a", "", std::string(300, 'b')});
  CHECK_FALSE(ledger::decode_bundle(std::string("\0\5ab", 4)));
  CHECK_THROWS_AS(ledger::encode_bundle({std::string(65536, 'c')}), std::length_error);
}

TEST_CASE("The JSON Lines file resumes at its line count and never writes a line twice",
          "[unit][ledger_adapters][file]") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("chargegrid-ledger-file-" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  {
    FileAdapter file(path.string());
    file.deliver(0, R"({"n":0})", "a");
    file.deliver(1, R"({"n":1})", "b");
    file.deliver(1, R"({"n":1})", "b");  // again after a delivery that did not commit
    CHECK_THROWS(file.deliver(1, R"({"n":"other"})", "b"));  // not what line 1 holds
    CHECK_THROWS(file.deliver(3, R"({"n":3})", "d"));        // a gap is refused
    CHECK_THROWS(file.deliver(2, "{\"n\":\n2}", "c"));
    CHECK(file.lines() == 2);
  }
  {  // A line a crash left unfinished is cut on start.
    std::ofstream(path, std::ios::app) << R"({"n":2)";
    FileAdapter file(path.string());
    CHECK(file.lines() == 2);
    file.deliver(2, R"({"n":2})", "c");
  }
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
  std::filesystem::remove(path);
}
