#pragma once
// A ledger adapter: somewhere the verifiable log's entries (or its checkpoints) are also
// delivered — a webhook, a JSON Lines file, an EVM chain. Settlement never sees adapters: it
// appends a record to the log and a "settlement.recorded" outbox event in one transaction; a
// dispatcher per adapter (dispatcher.hpp) delivers the log in order, once per entry, with
// retries. Adding an adapter is a class here and a name in make_adapter().

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace chargegrid::server {
struct Config;
}

namespace chargegrid::server::ledger_adapters {

class LedgerAdapter {
 public:
  // What the adapter is fed: every log entry, or every published checkpoint.
  enum class Feed { Entries, Checkpoints };

  virtual ~LedgerAdapter() = default;
  // "webhook", "file", "evm": the --ledger-adapter name; its outbox consumer is ledger.<name>.
  virtual const std::string& name() const = 0;
  virtual Feed feed() const { return Feed::Entries; }
  // A new adapter starts at entry 0 (the whole log) rather than at the first event it sees.
  virtual bool from_start() const { return false; }
  // Delivers log entry `index` (its canonical RFC 8785 record), or for a checkpoint adapter the
  // signed checkpoint note of tree size `index`. `idempotency_key` is the same on every retry
  // (the settlement id). Throws when it was not delivered; the dispatcher retries later, so a
  // delivery may be repeated after a failure that happened past the point of delivery.
  // Returns what is worth keeping about the delivery (a transaction hash), or null.
  virtual nlohmann::json deliver(std::uint64_t index, std::string_view record,
                                 const std::string& idempotency_key) = 0;
  // Shown in GET /api/v1/ledger/adapters (the target, never a secret).
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
};

// The adapter --ledger-adapter `name` configures; throws std::invalid_argument for an unknown
// name or missing settings.
std::unique_ptr<LedgerAdapter> make_adapter(const std::string& name, const Config& config);

// The idempotency key of a log entry: its record's settlement_id, or "entry-<index>" for an
// entry that is not a settlement record.
std::string entry_key(std::uint64_t index, std::string_view record);

}  // namespace chargegrid::server::ledger_adapters
