#pragma once
// What the ledger adapters have delivered and what waits, read from the database: for
// GET /api/v1/ledger/adapters, /metrics and a settlement's delivery state.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server {
struct Config;
}

namespace chargegrid::server::ledger_adapters {

struct AdapterStatus {
  std::string name;
  std::string feed;  // "entries" or "checkpoints"
  std::int64_t pending = 0;
  double oldest_pending_age_s = 0;
  // "ok" (nothing waits), "pending", or "alert" (something waits longer than
  // --ledger-alert-after).
  std::string state = "ok";
  std::uint64_t next_index = 0;
  std::uint64_t delivered = 0;
  std::optional<std::string> delivered_at;
  std::optional<std::string> last_error;
};

// The adapters --ledger-adapter configured, in name order.
std::vector<AdapterStatus> adapter_statuses(store::Tx& tx, const Config& config);
// The body of GET /api/v1/ledger/adapters: the log (size, newest checkpoint and its anchors,
// verifier key) and each adapter.
nlohmann::json status_json(store::Tx& tx, const Config& config);
// How far log entry `log_index` got with each adapter: [{"name", "state": "delivered" |
// "pending", "delivered_at"?, ...}] (a checkpoint adapter's entry is delivered once a
// checkpoint that covers it is anchored, with its transaction).
nlohmann::json delivery_of(store::Tx& tx, const Config& config, std::uint64_t log_index);

}  // namespace chargegrid::server::ledger_adapters
