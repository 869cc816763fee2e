// The EVM anchor against a local chain (ganache, started here): each published checkpoint's
// root and size reach the chain as an Anchored event of the ChargeGridAnchor contract (deployed
// by the server on first use), the transaction and block are stored with the checkpoint and
// shown by the API; while the chain's node is away anchors wait, then resume in order.

#include "ledger_adapters/evm.hpp"

#include <catch2/catch.hpp>

#include "../server/server_fixture.hpp"
#include "api/auth.hpp"
#include "support.hpp"

using namespace chargegrid;
using namespace chargegrid::ledger_testing;
using nlohmann::json;
namespace evm = server::ledger_adapters::evm;

namespace {

const std::string& kKey = kChainKey;

std::uint64_t anchored(testing::ServerFixture& fx) {
  auto text = fx.query_value("SELECT coalesce(max(size), 0) FROM ledger_checkpoint_anchor");
  return text.empty() ? 0 : std::stoull(text);
}

}  // namespace

TEST_CASE("Checkpoints are anchored on an EVM chain, in order, across an outage of its node",
          "[integration][ledger_adapters][evm]") {
  TempDir dir;
  Chain chain(CHARGEGRID_NODE, ganache_cli(CHARGEGRID_LEDGER_TESTS_DIR), free_port(),
              dir.path() / "chain", dir.path() / "ganache.log");
  chain.start();
  std::ofstream(dir.path() / "evm.key") << kKey << "\n";
  const auto signer = make_key(dir.path(), "cpms.example/ledger");
  auto config = testing::test_config();
  config.data_dir = dir.path().string();
  config.ledger_key_file = (dir.path() / "log.key").string();
  config.checkpoint_interval_s = 1;
  config.ledger_adapters = {"evm"};
  config.evm_rpc_url = chain.url();
  config.evm_key_file = (dir.path() / "evm.key").string();
  config.evm_chain_id = 1337;
  testing::ServerFixture fx(config);
  SettlementStandIn settlement(fx.database().url(), signer);

  for (int i = 0; i < 3; ++i) settlement.settle("E-" + std::to_string(i));
  REQUIRE(eventually([&] { return anchored(fx) == 3; }, 60s));

  const auto contract = fx.query_value("SELECT address FROM ledger_evm_contract");
  REQUIRE(contract.size() == 42);
  CHECK(chain.rpc("eth_getCode", {contract, "latest"}).get<std::string>().size() > 10);
  const auto tx_hash =
      fx.query_value("SELECT tx_hash FROM ledger_checkpoint_anchor WHERE size = 3");
  auto receipt = chain.rpc("eth_getTransactionReceipt", {tx_hash});
  REQUIRE(receipt.is_object());
  CHECK(receipt["status"] == "0x1");
  // The chain has a base fee, so the anchor went as an EIP-1559 transaction, which the node
  // accepted only because its signature recovers to the anchoring key's address.
  const auto sent = chain.rpc("eth_getTransactionByHash", {tx_hash});
  CHECK(sent["type"] == "0x2");
  CHECK(sent.contains("maxFeePerGas"));
  CHECK(evm::Bytes(evm::from_hex(sent["from"].get<std::string>())) ==
        evm::PrivateKey::from_hex(kKey).address());
  CHECK(evm::to_u64(receipt["blockNumber"].get<std::string>()) ==
        std::stoull(
            fx.query_value("SELECT block_number FROM ledger_checkpoint_anchor WHERE size = 3")));
  REQUIRE(receipt["logs"].size() == 1);
  const auto& event = receipt["logs"][0];
  CHECK(evm::Bytes(evm::from_hex(event["address"].get<std::string>())) == evm::from_hex(contract));
  CHECK(event["topics"][0] == evm::hex0x(evm::anchored_topic()));
  // data: root, size, then the origin string.
  const auto data = evm::from_hex(event["data"].get<std::string>());
  REQUIRE(data.size() >= 5 * 32);
  const auto root = settlement.log().root(3);
  CHECK(std::equal(root.begin(), root.end(), data.begin()));
  CHECK(data[63] == 3);
  CHECK(std::string(data.begin() + 128, data.begin() + 128 + 19) == "cpms.example/ledger");

  // The node goes away: checkpoints are still published; anchors wait and show as pending.
  chain.stop();
  for (int i = 3; i < 6; ++i) settlement.settle("E-" + std::to_string(i));
  std::string key;
  {
    auto c = fx.sql();
    pqxx::work tx(c);
    key = server::api::create_api_key(tx, "evm-test", server::api::Role::Admin, {}, {}).secret;
    tx.commit();
  }
  testing::ApiClient api(fx.server().http_port(), key);
  REQUIRE(eventually(
      [&] {
        auto status = api.get("/ledger/adapters");
        return status.data["log"]["checkpoint"]["size"] == 6 &&
               status.data["adapters"][0]["pending"].get<int>() >= 1 &&
               status.data["adapters"][0]["last_error"].is_string();
      },
      30s));
  CHECK(anchored(fx) == 3);

  chain.start();
  REQUIRE(eventually([&] { return anchored(fx) == 6; }, 120s));
  // Every checkpoint after the first anchored one, in order, each in its own transaction.
  CHECK(fx.query_value("SELECT string_agg(size::text, ',' ORDER BY size) FROM "
                       "ledger_checkpoint_anchor") ==
        fx.query_value("SELECT string_agg(size::text, ',' ORDER BY size) FROM "
                       "ledger_log_checkpoint WHERE size >= (SELECT min(size) FROM "
                       "ledger_checkpoint_anchor)"));
  auto status = api.get("/ledger/adapters");
  CHECK(status.data["log"]["checkpoint"]["anchors"][0]["size"] == 6);
  CHECK(status.data["log"]["checkpoint"]["anchors"][0]["tx_hash"].get<std::string>().size() == 66);
  CHECK(status.data["adapters"][0]["state"] == "ok");
}
