#pragma once
// The EVM chain anchor: each published checkpoint's root hash and tree size written to an
// Ethereum-compatible chain, as a call of anchor(bytes32 root, uint64 size, string origin) on
// the ChargeGridAnchor contract (contracts/ChargeGridAnchor.sol), which emits
// Anchored(bytes32 root, uint64 size, string origin). Transactions are EIP-155 legacy
// transactions signed here (secp256k1, RLP, Keccak-256) and sent through the chain's JSON-RPC;
// a delivery waits for the receipt and returns the transaction hash and block. Without a
// contract address the adapter deploys the contract once and the database remembers it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "ledger_adapters/adapter.hpp"
#include "ledger_adapters/evm.hpp"

namespace chargegrid::server::ledger_adapters {

class EvmAnchorAdapter : public LedgerAdapter {
 public:
  struct Settings {
    std::string rpc_url;
    std::string key_file;
    std::uint64_t chain_id = 0;
    std::string contract;  // 0x...; empty: deploy
    std::chrono::seconds receipt_timeout{60};
  };
  // Reads the key; throws std::runtime_error when it is not a secp256k1 private key.
  explicit EvmAnchorAdapter(Settings settings);

  const std::string& name() const override { return name_; }
  Feed feed() const override { return Feed::Checkpoints; }
  nlohmann::json deliver(std::uint64_t size, std::string_view checkpoint_note,
                         const std::string& idempotency_key) override;
  nlohmann::json describe() const override;

  // Where a deployed contract is remembered (set by the service: the database).
  std::function<std::optional<std::string>(std::uint64_t chain_id)> find_contract;
  std::function<void(std::uint64_t chain_id, const std::string& address, const std::string& tx)>
      remember_contract;

  const std::string& sender() const { return sender_; }

 private:
  nlohmann::json rpc(const std::string& method, const nlohmann::json& params);
  // Signs and sends a transaction, waits for its receipt (throws if it reverted).
  nlohmann::json transact(const std::optional<evm::Bytes>& to, const evm::Bytes& data,
                          std::uint64_t gas);
  std::string contract_address();

  const std::string name_ = "evm";
  Settings settings_;
  evm::PrivateKey key_;
  std::string sender_;  // 0x address
  std::mutex mutex_;
  std::string contract_;
  std::uint64_t rpc_id_ = 0;
};

}  // namespace chargegrid::server::ledger_adapters
