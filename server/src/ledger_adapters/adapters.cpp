// The adapters --ledger-adapter can name.

#include <stdexcept>

#include "chargegrid/server/config.hpp"
#include "ledger_adapters/adapter.hpp"
#include "ledger_adapters/evm_anchor.hpp"
#include "ledger_adapters/file.hpp"
#include "ledger_adapters/webhook.hpp"

namespace chargegrid::server::ledger_adapters {

std::unique_ptr<LedgerAdapter> make_adapter(const std::string& name, const Config& config) {
  if (name == "webhook")
    return std::make_unique<WebhookAdapter>(config.webhook_url, config.webhook_secret);
  if (name == "file") return std::make_unique<FileAdapter>(config.ledger_file);
  if (name == "evm")
    return std::make_unique<EvmAnchorAdapter>(EvmAnchorAdapter::Settings{
        config.evm_rpc_url, config.evm_key_file, config.evm_chain_id, config.evm_contract});
  throw std::invalid_argument("unknown ledger adapter " + name);
}

std::string entry_key(std::uint64_t index, std::string_view record) {
  auto parsed = nlohmann::json::parse(record, nullptr, false);
  if (parsed.is_object()) {
    if (auto it = parsed.find("settlement_id"); it != parsed.end() && it->is_string())
      return it->get<std::string>();
  }
  return "entry-" + std::to_string(index);
}

}  // namespace chargegrid::server::ledger_adapters
