#include "ledger_adapters/evm_anchor.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "chargegrid/ledger/note.hpp"
#include "ledger_adapters/anchor_contract.hpp"
#include "ledger_adapters/http_client.hpp"
#include "logging.hpp"

namespace chargegrid::server::ledger_adapters {

using nlohmann::json;

namespace {

std::string read_key(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the EVM key file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string key;
  for (char c : text.str())
    if (!std::isspace(static_cast<unsigned char>(c))) key += c;
  return key;
}

}  // namespace

EvmAnchorAdapter::EvmAnchorAdapter(Settings settings)
    : settings_(std::move(settings)),
      key_([&] {
        try {
          return evm::PrivateKey::from_hex(read_key(settings_.key_file));
        } catch (const std::invalid_argument& e) {
          throw std::runtime_error("the EVM key file " + settings_.key_file + ": " + e.what());
        }
      }()),
      sender_(evm::checksum_address(key_.address())),
      contract_(settings_.contract) {
  parse_url(settings_.rpc_url);
}

json EvmAnchorAdapter::describe() const {
  return {{"rpc_url", settings_.rpc_url},
          {"chain_id", settings_.chain_id},
          {"sender", sender_},
          {"contract", contract_.empty() ? json(nullptr) : json(contract_)}};
}

json EvmAnchorAdapter::rpc(const std::string& method, const json& params) {
  json request{{"jsonrpc", "2.0"}, {"id", ++rpc_id_}, {"method", method}, {"params", params}};
  auto answer = http_post(settings_.rpc_url, {}, request.dump(), std::chrono::seconds(15));
  if (answer.status < 200 || answer.status > 299)
    throw std::runtime_error(method + ": the node answered HTTP " + std::to_string(answer.status));
  auto reply = json::parse(answer.body, nullptr, false);
  if (!reply.is_object()) throw std::runtime_error(method + ": the answer is not JSON-RPC");
  if (reply.contains("error")) {
    const auto& e = reply["error"];
    throw std::runtime_error(method + ": " +
                             (e.is_object() ? e.value("message", e.dump()) : e.dump()));
  }
  return reply.value("result", json());
}

json EvmAnchorAdapter::transact(const std::optional<evm::Bytes>& to, const evm::Bytes& data,
                                std::uint64_t gas_floor) {
  json call{{"from", sender_}, {"data", evm::hex0x(data)}};
  if (to) call["to"] = evm::hex0x(*to);
  const auto estimate = evm::to_u64(rpc("eth_estimateGas", json::array({call})).get<std::string>());
  const auto nonce = evm::to_u64(
      rpc("eth_getTransactionCount", json::array({sender_, "pending"})).get<std::string>());
  const auto gas = std::max(gas_floor, estimate + estimate / 5);
  evm::Bytes raw;
  // A chain with a base fee (London and later) takes an EIP-1559 transaction: it pays the base
  // fee of its block, never more than twice today's plus the tip; older chains a legacy one.
  const auto latest = rpc("eth_getBlockByNumber", json::array({"latest", false}));
  if (latest.is_object() && latest.contains("baseFeePerGas")) {
    const auto base_fee = evm::to_u64(latest["baseFeePerGas"].get<std::string>());
    std::uint64_t tip = 1'000'000'000;  // 1 gwei where the node cannot suggest one
    try {
      tip = evm::to_u64(rpc("eth_maxPriorityFeePerGas", json::array()).get<std::string>());
    } catch (const std::exception&) {
    }
    evm::FeeMarketTransaction tx;
    tx.nonce = nonce;
    tx.max_priority_fee_per_gas = evm::be_bytes(tip);
    tx.max_fee_per_gas = evm::be_bytes(2 * base_fee + tip);
    tx.gas = gas;
    if (to) tx.to = *to;
    tx.data = data;
    raw = evm::sign_transaction(tx, settings_.chain_id, key_);
  } else {
    evm::LegacyTransaction tx;
    tx.nonce = nonce;
    tx.gas_price = evm::quantity_bytes(rpc("eth_gasPrice", json::array()).get<std::string>());
    tx.gas = gas;
    if (to) tx.to = *to;
    tx.data = data;
    raw = evm::sign_transaction(tx, settings_.chain_id, key_);
  }
  const auto hash =
      rpc("eth_sendRawTransaction", json::array({evm::hex0x(raw)})).get<std::string>();
  const auto deadline = std::chrono::steady_clock::now() + settings_.receipt_timeout;
  for (;;) {
    auto receipt = rpc("eth_getTransactionReceipt", json::array({hash}));
    if (receipt.is_object()) {
      if (receipt.value("status", "0x1") != "0x1")
        throw std::runtime_error("transaction " + hash + " reverted");
      receipt["transactionHash"] = hash;
      return receipt;
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("transaction " + hash + " not mined within " +
                               std::to_string(settings_.receipt_timeout.count()) + " s");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

std::string EvmAnchorAdapter::contract_address() {
  if (!contract_.empty()) return contract_;
  if (find_contract) {
    if (auto known = find_contract(settings_.chain_id)) return contract_ = *known;
  }
  const auto receipt = transact(std::nullopt, evm::from_hex(kAnchorContractBytecode), 0);
  const auto address = receipt.value("contractAddress", "");
  if (address.empty()) throw std::runtime_error("the contract deployment has no address");
  contract_ = evm::checksum_address(evm::from_hex(address));
  const auto deploy_tx = receipt.value("transactionHash", "");
  if (remember_contract) remember_contract(settings_.chain_id, contract_, deploy_tx);
  log::info("ledger_anchor_contract_deployed",
            {{"chain_id", settings_.chain_id}, {"contract", contract_}, {"tx_hash", deploy_tx}});
  return contract_;
}

json EvmAnchorAdapter::deliver(std::uint64_t size, std::string_view checkpoint_note,
                               const std::string&) {
  std::lock_guard lock(mutex_);
  ledger::Checkpoint checkpoint;
  try {
    checkpoint = ledger::Checkpoint::parse(ledger::parse_note(checkpoint_note).text);
  } catch (const ledger::MalformedInput& e) {
    throw std::runtime_error(std::string("not a checkpoint: ") + e.what());
  }
  if (checkpoint.size != size) throw std::runtime_error("the checkpoint's size differs");
  const auto contract = contract_address();
  evm::Hash root;
  std::copy(checkpoint.root.begin(), checkpoint.root.end(), root.begin());
  const auto receipt = transact(evm::from_hex(contract),
                                evm::anchor_call(root, checkpoint.size, checkpoint.origin), 60000);
  json out{{"tx_hash", receipt.value("transactionHash", "")},
           {"chain_id", settings_.chain_id},
           {"contract", contract}};
  if (receipt.contains("blockNumber") && receipt["blockNumber"].is_string())
    out["block_number"] = evm::to_u64(receipt["blockNumber"].get<std::string>());
  if (receipt.contains("blockHash") && receipt["blockHash"].is_string())
    out["block_hash"] = receipt["blockHash"];
  return out;
}

}  // namespace chargegrid::server::ledger_adapters
